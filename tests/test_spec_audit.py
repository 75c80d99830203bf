"""Claims of docs/semantics.md (§1-§7, §11) that no other test pinned, found by a claim-by-claim audit.

Each test names the section it comes from. Everything runs through the public
API (`WorkflowRuntime`), and results are compared *with their Workflows types*
(int 3 is not double 3.0, true is not 1). Where docs/decisions.md settles an open
point (for example #15: ``"n=" + 5`` is a TypeError by default), the test
follows docs/decisions.md.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import Execution, ExecutionState, WorkflowRuntime

ERROR = "error:"  # prefix of an expected value that means "fails with this tag"


def same(left: Any, right: Any) -> bool:
    """Equal and of the same Workflows types all the way down (maps in the same key order)."""
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is dict:
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


def run(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Execution:
    """Run a YAML workflow (dedented) to its end."""
    return runtime.run(textwrap.dedent(source), argument)


def succeeded(execution: Execution) -> Any:
    """The result of an execution that must have succeeded."""
    assert execution.state is ExecutionState.SUCCEEDED, execution.error
    return execution.value


def log_times(execution: Execution) -> list[float]:
    """The gaps between successive `sys.log` entries whose payload is `sys.now()`."""
    times = [float(entry.payload) for entry in execution.logs]
    return [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]


# ---------------------------------------------------------------- §11 vectors

# docs/semantics.md §11, "Expressions" table, row by row (the CONFLICT row as docs/decisions.md #15 settles it).
SECTION_11_EXPRESSIONS: list[tuple[str, Any]] = [
    ("7 / 2", 3.5),
    ("4 / 2", 2.0),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 % 3", 1),
    ("-7 % 2", 1),
    ("1 + 2.0", 3.0),
    ("1 / 0", ERROR + "ZeroDivisionError"),
    ("1 // 0", ERROR + "ZeroDivisionError"),
    ("1 % 0", ERROR + "ZeroDivisionError"),
    ("1.0 / 0", ERROR + "ZeroDivisionError"),
    ("1 == 1.0", True),
    ('"a" == 1', False),
    ('"a" < 1', ERROR + "TypeError"),
    ("not true == false", True),
    ("not 1 == 1", ERROR + "TypeError"),
    ("-2 * 3", -6),
    ('"k" in {"k": null}', True),
    ("2 in [1, 2]", True),
    ('{"a": 1}.b', ERROR + "KeyError"),
    ('{"a":1}["b"]', ERROR + "KeyError"),
    ("[1,2][2]", ERROR + "IndexError"),
    ("[1,2][-1]", ERROR + "IndexError"),
    ('[1,2]["0"]', ERROR + "TypeError"),
    ("null.x", ERROR + "TypeError"),
    ('"ab" + "c"', "abc"),
    ('"n=" + 5', ERROR + "TypeError"),
    ("true and null", ERROR + "TypeError"),
    ("default(null, 3)", 3),
    ("default(0, 3)", 0),
    ('map.get({"a": {"b": 1}}, ["a", "b"])', 1),
    ('map.get({"a": 1}, ["a", "b"])', None),
    ('map.get("x", "a")', None),
    ('len("héllo")', 5),
    ('int("42")', 42),
    ("int(2.7)", 2),
    ("int(-2.7)", -2),
    ('int("x")', ERROR + "ValueError"),
    ('double("2.5")', 2.5),
    ("double(2)", 2.0),
    ("string(true)", "true"),
    ("string(1.5)", "1.5"),
    ("get_type(1)", "integer"),
    ("get_type(1.0)", "double"),
    ("get_type(true)", "boolean"),
    ("get_type(null)", "null"),
    ('keys({"a": 1, "b": 2})', ["a", "b"]),
    ("list.concat([1], [2])", [1, [2]]),
    ("list.prepend([2, 3], 1)", [1, 2, 3]),
    ('text.find_all("00000", "00")', [0, 2]),
    ('text.find_all_regex("HelloWorld", "Hello|World")',
     [{"index": 0, "match": "Hello"}, {"index": 5, "match": "World"}]),
    ('text.replace_all_regex("one two", "one|two", "three")', "three three"),
    ('text.url_encode("a/b/c?item=d+e f")', "a%2Fb%2Fc%3Fitem%3Dd%2Be%20f"),
    ('text.url_encode_plus("a/b/c?item=d+e f")', "a%2Fb%2Fc%3Fitem%3Dd%2Be+f"),
    ("time.format(1720788633)", "2024-07-12T12:50:33.000000Z"),
    ('time.format(1720788633, "Europe/Paris")', "2024-07-12T14:50:33.000000+02:00"),
    ('sys.get_env("NOPE")', None),
    ('sys.get_env("NOPE", "d")', "d"),
    ('base64.encode(text.encode("hi"))', "aGk="),
    ('json.encode_to_string({"a": [1, 2]})', '{"a":[1,2]}'),
    ("if(true, 1, 1/0)", ERROR + "ZeroDivisionError"),
]


def test_section_11_expression_vectors_as_written(workflow_runtime: WorkflowRuntime) -> None:
    """§11 "Expressions": every row of the table, exactly as the spec writes it."""
    wrong = []
    for text, expected in SECTION_11_EXPRESSIONS:
        execution = workflow_runtime.run([{"r": {"return": "${" + text + "}"}}])
        if isinstance(expected, str) and expected.startswith(ERROR):
            tags = execution.error.get("tags") if isinstance(execution.error, dict) else None
            ok = execution.state is ExecutionState.FAILED and isinstance(tags, list) and expected[len(ERROR):] in tags
            got = execution.error if execution.state is ExecutionState.FAILED else execution.value
        else:
            ok = execution.state is ExecutionState.SUCCEEDED and same(execution.value, expected)
            got = execution.value if execution.state is ExecutionState.SUCCEEDED else execution.error
        if not ok:
            wrong.append(f"${{{text}}}: expected {expected!r}, got {execution.state.value} {got!r}")
    assert not wrong, "\n".join(wrong)


def test_section_11_retry_backoff_doubles_until_max_delay(workflow_runtime: WorkflowRuntime) -> None:
    """§11 "Steps" / §2.6: max_retries 3, initial 1, multiplier 2, max 10 → 4 attempts, sleeps 1, 2, 4 s."""
    execution = run(workflow_runtime, """
        - attempt:
            try:
              steps:
                - note:
                    call: sys.log
                    args: {text: "${sys.now()}"}
                - fail:
                    raise: "boom"
            retry:
              predicate: ${retry.always}
              max_retries: 3
              backoff: {initial_delay: 1, max_delay: 10, multiplier: 2}
        """)
    assert execution.state is ExecutionState.FAILED
    assert execution.error == "boom"  # the last error propagates unchanged
    assert log_times(execution) == [1.0, 2.0, 4.0]
    assert execution.duration == 7.0


# ------------------------------------------------------------------ §1 steps

def test_a_step_with_only_next_is_a_pure_jump(workflow_runtime: WorkflowRuntime) -> None:
    """§1.3: `next` alone is a valid step (a pure jump, as ts2workflows emits)."""
    assert succeeded(run(workflow_runtime, """
        - start:
            next: target
        - skipped:
            return: "skipped"
        - target:
            return: "target"
        """)) == "target"


def test_nested_steps_fall_through_to_the_parents_next_or_the_following_step(
        workflow_runtime: WorkflowRuntime) -> None:
    """§1.3: after a nested `steps` block, control goes to the parent's `next`, else to the step after it."""
    source = """
        main:
          params: [jump]
          steps:
            - init:
                assign:
                  - trail: []
            - choose:
                switch:
                  - condition: ${jump}
                    next: block_with_next
            - block:
                steps:
                  - inner:
                      assign:
                        - trail: ${list.concat(trail, "block")}
            - after_block:
                assign:
                  - trail: ${list.concat(trail, "after_block")}
                next: done
            - block_with_next:
                steps:
                  - inner2:
                      assign:
                        - trail: ${list.concat(trail, "block_with_next")}
                next: done
            - skipped:
                assign:
                  - trail: ${list.concat(trail, "skipped")}
            - done:
                return: ${trail}
        """
    assert succeeded(run(workflow_runtime, source, False)) == ["block", "after_block"]
    assert succeeded(run(workflow_runtime, source, True)) == ["block_with_next"]


# ------------------------------------------------------------------- §2.5

def test_concurrency_limit_may_be_an_expression(workflow_runtime: WorkflowRuntime) -> None:
    """§2.5: `concurrency_limit` is a positive integer, literal *or expression*."""
    execution = run(workflow_runtime, """
        - init:
            assign:
              - limit: 1
        - fan_out:
            parallel:
              concurrency_limit: ${limit}
              for:
                value: v
                in: [1, 2, 3]
                steps:
                  - nap:
                      call: sys.sleep
                      args: {seconds: 10}
        """)
    succeeded(execution)
    assert execution.duration == 30.0  # one iteration at a time


def test_concurrency_limit_does_not_cascade_into_nested_parallel_steps(workflow_runtime: WorkflowRuntime) -> None:
    """§2.5: the limit applies to this parallel step only, not to a parallel step nested in its iterations."""
    execution = run(workflow_runtime, """
        - outer:
            parallel:
              concurrency_limit: 1
              for:
                value: o
                in: [1, 2]
                steps:
                  - inner:
                      parallel:
                        for:
                          value: i
                          in: [1, 2]
                          steps:
                            - nap:
                                call: sys.sleep
                                args: {seconds: 10}
        """)
    succeeded(execution)
    # Outer iterations one after the other (2 x 10 s); each one's inner iterations side by side.
    assert execution.duration == 20.0


# ------------------------------------------------------------------- §2.6

def test_retry_settings_may_be_expressions_and_doubles(workflow_runtime: WorkflowRuntime) -> None:
    """§2.6: max_retries and backoff values may be expressions; delays may be doubles (0.5, x1.5)."""
    execution = run(workflow_runtime, """
        - init:
            assign:
              - retries: 2
        - attempt:
            try:
              steps:
                - note:
                    call: sys.log
                    args: {text: "${sys.now()}"}
                - fail:
                    raise: "boom"
            retry:
              predicate: ${retry.always}
              max_retries: ${retries}
              backoff:
                initial_delay: 0.5
                max_delay: ${retries * 10}
                multiplier: 1.5
        """)
    assert execution.state is ExecutionState.FAILED
    assert len(execution.logs) == 3  # 1 + max_retries attempts
    assert log_times(execution) == [0.5, 0.75]


# ------------------------------------------------------------------- §2.7

def test_a_raised_string_has_no_tags(workflow_runtime: WorkflowRuntime) -> None:
    """§2.7: a raised string stays a string, so `e.tags` on it fails with a TypeError (no tags are added)."""
    error = succeeded(run(workflow_runtime, """
        - outer:
            try:
              steps:
                - inner:
                    try:
                      raise: "plain text"
                    except:
                      as: e
                      steps:
                        - read_tags:
                            return: ${e.tags}
            except:
              as: outer_error
              steps:
                - report:
                    return: ${outer_error}
        """))
    assert error["tags"] == ["TypeError"]


# ------------------------------------------------------------------- §2.8

def test_returning_bytes_nested_in_a_value_fails(workflow_runtime: WorkflowRuntime) -> None:
    """§2.8: bytes cannot be JSON-encoded, so a result holding bytes anywhere inside fails the execution."""
    execution = run(workflow_runtime, """
        - r:
            return:
              wrapped: ["ok", '${text.encode("raw")}']
        """)
    assert execution.state is ExecutionState.FAILED
    assert execution.error["tags"] == ["TypeError"]  # docs/semantics.md recommends TypeError or ValueError
    assert "bytes" in execution.error["message"]


def test_return_inside_an_except_block_returns_from_the_routine(workflow_runtime: WorkflowRuntime) -> None:
    """§2.8: `return` inside `except` (even in nested `steps`) ends the enclosing routine."""
    assert succeeded(run(workflow_runtime, """
        main:
          steps:
            - c:
                call: sub
                result: r
            - done:
                return: ["main continued", "${r}"]
        sub:
          steps:
            - t:
                try:
                  raise: "x"
                except:
                  steps:
                    - nested:
                        steps:
                          - r:
                              return: "from except"
            - not_reached:
                return: "after the try"
        """)) == ["main continued", "from except"]


# ------------------------------------------------------------------- §6.3

@pytest.fixture
def client(workflow_runtime: WorkflowRuntime) -> Iterator[httpx.Client]:
    """A plain HTTP client for the runtime's loopback REST API."""
    with httpx.Client(base_url=workflow_runtime.base_url, trust_env=False, timeout=10) as http:
        yield http


FOUR_CALLBACKS = """
- a: {call: events.create_callback_endpoint, result: c1}
- b: {call: events.create_callback_endpoint, result: c2}
- c: {call: events.create_callback_endpoint, result: c3}
- d: {call: events.create_callback_endpoint, result: c4}
- nap: {call: sys.sleep, args: {seconds: 10}}
"""


def test_callbacks_list_is_ordered_by_callback_id_and_paged(workflow_runtime: WorkflowRuntime,
                                                            client: httpx.Client) -> None:
    """§6.3: callbacks.list is ordered by callback id and pages with pageSize / nextPageToken."""
    execution = workflow_runtime.execute(FOUR_CALLBACKS)
    ids: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"pageSize": 3}
        if token:
            params["pageToken"] = token
        body = client.get(f"/v1/{execution.name}/callbacks", params=params).json()
        pages += 1
        ids += [item["name"].rsplit("/", 1)[1] for item in body["callbacks"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 2
    assert sorted(ids) == ids
    assert sorted(ids) == sorted(callback.id for callback in execution.callbacks)


def test_get_defaults_to_the_full_view_and_list_to_the_basic_view(workflow_runtime: WorkflowRuntime,
                                                                  client: httpx.Client) -> None:
    """§6.3: executions.get defaults to view FULL; executions.list defaults to view BASIC."""
    execution = workflow_runtime.run([{"r": {"return": 1}}], {"x": 1})
    full = client.get(f"/v1/{execution.name}").json()
    assert {"argument", "result", "createTime", "callLogLevel"} <= set(full)
    parent = execution.name.rsplit("/executions/", 1)[0]
    (listed,) = client.get(f"/v1/{parent}/executions").json()["executions"]
    assert set(listed) <= {"name", "startTime", "endTime", "duration", "state", "workflowRevisionId"}
    assert listed["name"] == execution.name
