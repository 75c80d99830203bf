"""Decisions of docs/decisions.md that no other test file pins precisely.

The rule is "every decision needs a test". Most decisions are pinned where their
module is tested (test_callback_contract.py for #1-#13, test_expressions.py for
#15 and #18-#21, test_steps.py for #14 and #23, ...). This file holds one test
(or a few) for each decision, or each part of a decision, that was not asserted
there: every docstring names the decision and states what it decides. The
limits of #23 are each exercised as a named setting (``limits={...}``).
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import (
    EventKind,
    ExecutionState,
    Limits,
    WfCallbacksError,
    WorkflowRuntime,
    WorkflowServer,
    WorkflowSyntaxError,
)

KB = 1024
API = "https://api.example.com/things"


def dedent(source: str) -> str:
    """YAML text written indented inside a test, made flush."""
    return textwrap.dedent(source).lstrip("\n")


def error_tags(runtime: WorkflowRuntime, source: Any, argument: Any = None) -> list[str]:
    """Run ``source`` to the end; it must fail; return its error's tags."""
    execution = runtime.run(dedent(source) if isinstance(source, str) else source, argument)
    assert execution.state is ExecutionState.FAILED, execution.value
    return list(execution.error["tags"])


def deploy_message(runtime: WorkflowRuntime, source: str) -> str:
    """Deploy ``source``; it must be rejected; return the message."""
    with pytest.raises(WorkflowSyntaxError) as info:
        runtime.deploy(dedent(source))
    return info.value.message


def branches(count: int) -> str:
    """A ``parallel`` step with ``count`` trivial branches."""
    body = "\n".join(
        f"          - b{i}:\n              steps:\n                - s{i}:\n                    assign:\n"
        f"                      - x: {i}"
        for i in range(count)
    )
    return "- p:\n    parallel:\n      branches:\n" + textwrap.indent(textwrap.dedent(body), "        ") + "\n"


# ---------------------------------------------------------------- #14 parallel exception_policy

STOPPING = """
main:
  steps:
    - par:
        parallel:
          branches:
            - bad:
                steps:
                  - wait:
                      call: sys.sleep
                      args: {seconds: 1}
                  - boom:
                      raise: "bad failed"
            - busy:
                steps:
                  - loop:
                      for:
                        value: v
                        range: [1, 10]
                        steps:
                          - note:
                              call: sys.log
                              args: {data: "${v}"}
                          - nap:
                              call: sys.sleep
                              args: {seconds: 0.3}
"""


def test_14_a_failing_branch_ends_alone_and_the_others_run_to_their_end(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """#14: without ``exception_policy`` (continueAll, the only policy) an unhandled error ends its own branch only.

    The busy branch logs at 0, 0.3, ... 2.7 s; the error comes at 1 s, while it sleeps; it goes on to
    its tenth log and its last nap, then the parallel step raises one UnhandledBranchError.
    """
    execution = workflow_runtime.run(STOPPING)
    assert execution.state is ExecutionState.FAILED
    assert execution.error["tags"] == ["UnhandledBranchError"]
    assert [b["id"] for b in execution.error["branches"]] == ["bad"]
    assert [entry.payload for entry in execution.logs] == list(range(1, 11))
    assert execution.duration == pytest.approx(3.0)


def test_14_continue_all_lets_every_branch_run_to_its_end(workflow_runtime: WorkflowRuntime) -> None:
    """#14: with ``exception_policy: continueAll`` every branch runs to its end, then one UnhandledBranchError."""
    source = STOPPING.replace("          branches:\n", "          exception_policy: continueAll\n"
                                                      "          branches:\n", 1)
    execution = workflow_runtime.run(source)
    assert execution.error["tags"] == ["UnhandledBranchError"]
    assert [b["id"] for b in execution.error["branches"]] == ["bad"]
    assert [entry.payload for entry in execution.logs] == list(range(1, 11))
    assert execution.duration == pytest.approx(3.0)  # the busy branch's ten naps, not cut short


QUEUED = """
main:
  steps:
    - par:
        parallel:
          concurrency_limit: 1
          for:
            value: item
            in: ["bad", "second", "third"]
            steps:
              - check:
                  switch:
                    - condition: ${item == "bad"}
                      raise: ${"failed " + item}
              - note:
                  call: sys.log
                  args: {data: "${item}"}
"""


@pytest.mark.parametrize("policy", ["default", "continueAll"])
def test_14_queued_branches_still_start_after_a_failure(workflow_runtime: WorkflowRuntime, policy: str) -> None:
    """#14: branches still queued when a branch fails start and run to their end, with or without the policy."""
    source = QUEUED if policy == "default" else QUEUED.replace(
        "          concurrency_limit: 1\n", f"          concurrency_limit: 1\n          exception_policy: {policy}\n")
    execution = workflow_runtime.run(source)
    assert execution.error["tags"] == ["UnhandledBranchError"]
    assert len(execution.error["branches"]) == 1
    assert sum(e.kind is EventKind.BRANCH_STARTED for e in execution.history) == 3
    assert [entry.payload for entry in execution.logs] == ["second", "third"]


SLOW_FIRST = """
main:
  steps:
    - par:
        parallel:
          for:
            value: n
            in: [3, 1, 2]
            steps:
              - nap:
                  call: sys.sleep
                  args: {seconds: ${n}}
              - boom:
                  raise: ${"failed " + string(n)}
"""


@pytest.mark.parametrize("seed", range(5))
def test_14_branch_errors_are_listed_in_iteration_order_whatever_order_they_happened_in(
    workflow_server: WorkflowServer, seed: int
) -> None:
    """#14: the errors happen at t+1, t+2, t+3 (iterations 1, 2, 0); the list is in iteration order."""
    with WorkflowRuntime(server=workflow_server, seed=seed, schedule="random") as runtime:
        execution = runtime.run(SLOW_FIRST)
    assert [b["id"] for b in execution.error["branches"]] == ["0", "1", "2"]
    assert [b["error"]["payload"] for b in execution.error["branches"]] == ['"failed 3"', '"failed 1"', '"failed 2"']
    assert execution.duration == 3.0


def test_14_explore_sees_one_outcome_when_only_the_order_of_branch_errors_varies(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """#14: two branches fail at the same instant in either order: one outcome, not two."""
    source = """
main:
  steps:
    - par:
        parallel:
          branches:
            - left:
                steps:
                  - l:
                      raise: left failed
            - right:
                steps:
                  - r:
                      raise: right failed
"""
    outcomes = workflow_runtime.explore(source, runs=20)
    assert len(outcomes) == 1
    assert [b["id"] for b in outcomes[0].error["branches"]] == ["left", "right"]


def test_14_another_exception_policy_is_a_deploy_error_naming_continue_all(workflow_runtime: WorkflowRuntime) -> None:
    """#14: ``exception_policy`` other than continueAll fails at deploy, at its line, naming the one value."""
    source = branches(2).replace("    parallel:\n", "    parallel:\n      exception_policy: abortAll\n", 1)
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert info.value.line == 3
    assert "`continueAll`" in str(info.value)


# ---------------------------------------------------------------- #15 implicit_string_concat on the runtime object

def test_15_implicit_string_concat_on_the_runtime_object(workflow_server: WorkflowServer) -> None:
    """#15: ``"a" + 1`` raises TypeError by default; with ``implicit_string_concat=True`` int, double and
    bool are converted with string(), and other types still raise TypeError."""
    source = "- r:\n    return: ${\"a\" + 1}\n"
    with WorkflowRuntime(server=workflow_server) as runtime:
        assert runtime.settings.implicit_string_concat is False
        execution = runtime.run(source)
        assert execution.error["tags"] == ["TypeError"]
    with WorkflowRuntime(server=workflow_server, implicit_string_concat=True) as runtime:
        assert runtime.settings.implicit_string_concat is True
        assert runtime.run(source).result() == "a1"
        mixed = '- r:\n    return: ${1.5 + "|" + 2.0 + "|" + false + "|" + string(2.0)}\n'
        assert runtime.run(mixed).result() == "1.5|2.0|false|2.0"
        assert runtime.run('- r:\n    return: ${"a" + null}\n').error["tags"] == ["TypeError"]
        assert runtime.run("- r:\n    return: ${1 + 2}\n").result() == 3  # numbers still add


# ---------------------------------------------------------------- #16 connection errors

@pytest.mark.parametrize(
    ("raised", "tag"),
    [
        (httpx.ConnectError("[Errno 101] Network is unreachable"), "ConnectionFailedError"),
        (httpx.ConnectError("[Errno 113] No route to host"), "ConnectionFailedError"),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "ConnectionError"),
    ],
    ids=["network-unreachable", "host-unreachable", "reset-after-connect"],
)
def test_16_unreachable_is_connection_failed_broken_is_connection_error(
    workflow_runtime: WorkflowRuntime, raised: Exception, tag: str
) -> None:
    """#16: an unreachable network or host is ConnectionFailedError; a connection broken after it was
    made is ConnectionError (refused and DNS failures are in test_http.py)."""
    workflow_runtime.http.get(API).mock(side_effect=raised)
    source = {"main": {"steps": [{"c": {"call": "http.get", "args": {"url": API}, "result": "r"}},
                                 {"r": {"return": "${r}"}}]}}
    assert error_tags(workflow_runtime, source) == [tag]


# ---------------------------------------------------------------- #23 limits, each a named setting

def test_23_default_limits_are_the_decided_values() -> None:
    """#23 (and #24): the defaults of every named limit are the decided values."""
    assert dataclasses.asdict(Limits()) == {
        "steps": 100_000,
        "call_depth": 20,
        "parallel_nesting": 2,
        "branches_min": 2,
        "branches_max": 10,
        "concurrent_branches": 20,
        "assign_items": 50,
        "switch_conditions": 50,
        "subworkflow_params": 10,
        "memory_bytes": 512 * KB,
        "string_bytes": 256 * KB,
        "sleep_seconds": 31_536_000,
        "execution_seconds": 31_536_000,
        "await_timeout_default": 43_200.0,
        "argument_bytes": 512 * KB,
        "callback_body_bytes": 1024 * KB,
        "http_response_bytes": 2 * 1024 * KB,
        "expression_length": 400,
        "record_entries": 100_000,  # not a service limit: bounds the double's memory (docs/semantics.md §7)
    }


def test_23_limits_are_named_settings_and_unknown_names_are_refused(workflow_server: WorkflowServer) -> None:
    """#23: each limit is a named setting: a dict changes only the named ones; a misspelt name is an error."""
    with WorkflowRuntime(server=workflow_server, limits={"steps": 7, "sleep_seconds": 9}) as runtime:
        assert runtime.settings.limits == Limits().replace(steps=7, sleep_seconds=9)
    with pytest.raises(TypeError, match=r"unknown limit.*stepz"):
        WorkflowRuntime(server=workflow_server, limits={"stepz": 7})


@pytest.mark.workflow_runtime(limits={"steps": 5})
def test_23_steps_limit_setting_boundary(workflow_runtime: WorkflowRuntime) -> None:
    """#23: at most ``steps`` steps per execution (here 5 through the marker); one more is ResourceLimitError."""
    def steps(count: int) -> str:
        return "".join(f"- s{i}:\n    assign:\n      - x: {i}\n" for i in range(count))

    assert workflow_runtime.run(steps(5)).state is ExecutionState.SUCCEEDED
    execution = workflow_runtime.run(steps(6))
    assert execution.error["tags"] == ["ResourceLimitError"]
    assert "more than 5 steps" in execution.error["message"]


def test_23_steps_limit_default_is_100000(workflow_runtime: WorkflowRuntime) -> None:
    """#23: by default an execution may run 100,000 steps; the 100,001st raises ResourceLimitError."""
    execution = workflow_runtime.run(dedent("""
        - loop:
            for:
              value: v
              range: [1, 100000]
              steps:
                - s:
                    assign:
                      - x: ${v}
        """))  # the for step + 100,000 iterations of one step = 100,001 steps
    assert execution.error["tags"] == ["ResourceLimitError"]
    assert "more than 100000 steps" in execution.error["message"]


NESTED_THREE = """
- p1:
    parallel:
      for:
        value: a
        in: [1]
        steps:
          - p2:
              parallel:
                for:
                  value: b
                  in: [1]
                  steps:
                    - leaf:
                        assign:
                          - x: 1
"""


def test_23_parallel_nesting_is_a_setting(workflow_server: WorkflowServer) -> None:
    """#23: parallel nesting depth (default 2) is the setting ``parallel_nesting``: with 1, a nested
    parallel step is rejected at deploy, and one reached through a subworkflow raises ParallelNestingError."""
    through_call = dedent("""
        main:
          steps:
            - p1:
                parallel:
                  for:
                    value: a
                    in: [1]
                    steps:
                      - c:
                          call: inner
        inner:
          steps:
            - p2:
                parallel:
                  for:
                    value: b
                    in: [1]
                    steps:
                      - leaf:
                          assign:
                            - x: 1
        """)
    with WorkflowRuntime(server=workflow_server) as runtime:
        assert runtime.run(dedent(NESTED_THREE)).state is ExecutionState.SUCCEEDED
        assert runtime.run(through_call).state is ExecutionState.SUCCEEDED
    with WorkflowRuntime(server=workflow_server, limits={"parallel_nesting": 1}) as runtime:
        assert "at most 1" in deploy_message(runtime, NESTED_THREE)
        execution = runtime.run(through_call)
        assert execution.error["tags"] == ["UnhandledBranchError"]
        assert "ParallelNestingError" in execution.error["branches"][0]["error"]["payload"]


def test_23_branch_count_bounds_are_settings(workflow_server: WorkflowServer) -> None:
    """#23: a ``branches`` step has 2-10 branches by default; ``branches_min``/``branches_max`` change it."""
    with WorkflowRuntime(server=workflow_server, limits={"branches_min": 1, "branches_max": 3}) as runtime:
        runtime.deploy(branches(1))
        runtime.deploy(branches(3))
        assert "`branches` has 4 entries" in deploy_message(runtime, branches(4))
    with WorkflowRuntime(server=workflow_server, limits={"branches_min": 3}) as runtime:
        assert "`branches` has 2 entries" in deploy_message(runtime, branches(2))


SLEEPERS = """
main:
  params: [n]
  steps:
    - p:
        parallel:
          for:
            value: i
            range: [1, ${n}]
            steps:
              - nap:
                  call: sys.sleep
                  args: {seconds: 5}
"""


def test_23_twenty_concurrent_branches_by_default_the_rest_queued(workflow_runtime: WorkflowRuntime) -> None:
    """#23: at most 20 branches of an execution run at once by default; the rest wait in a queue."""
    assert workflow_runtime.run(SLEEPERS, 20).duration == 5
    execution = workflow_runtime.run(SLEEPERS, 25)
    assert execution.state is ExecutionState.SUCCEEDED
    assert execution.duration == 10
    started = [e.ns - execution.history[0].ns for e in execution.history if e.kind is EventKind.BRANCH_STARTED]
    assert [ns // 10**9 for ns in started] == [0] * 20 + [5] * 5


def test_23_assign_switch_and_param_counts_are_settings(workflow_server: WorkflowServer) -> None:
    """#23: ``assign`` items (50), ``switch`` conditions (50) and subworkflow params (10) are the settings
    ``assign_items``, ``switch_conditions`` and ``subworkflow_params``."""
    assign3 = "- a:\n    assign:\n      - x: 1\n      - y: 2\n      - z: 3\n"
    switch3 = "- s:\n    switch:\n" + "".join(f"      - condition: ${{{i} == 0}}\n        next: end\n"
                                               for i in range(3))
    params3 = ("main:\n  steps:\n    - a:\n        return: 1\n"
               "sub:\n  params: [p, q, r]\n  steps:\n    - b:\n        return: 1\n")
    with WorkflowRuntime(server=workflow_server) as runtime:
        for source in (assign3, switch3, params3):
            runtime.deploy(source)
    limits = {"assign_items": 2, "switch_conditions": 2, "subworkflow_params": 2}
    with WorkflowRuntime(server=workflow_server, limits=limits) as runtime:
        assert "at most 2" in deploy_message(runtime, assign3)
        assert "`switch` has 3 conditions; at most 2" in deploy_message(runtime, switch3)
        assert "declares 3 parameters" in deploy_message(runtime, params3)


def test_23_string_length_default_is_256_kb(workflow_runtime: WorkflowRuntime) -> None:
    """#23: a string of 256 KB (262,144 characters) may be stored; one character more is ResourceLimitError."""
    source = """
        - init:
            assign:
              - s: "x"
        - grow:
            for:
              value: v
              range: [1, 18]
              steps:
                - twice:
                    assign:
                      - s: ${s + s}
        - check:
            assign:
              - n: ${len(s)}
        - more:
            assign:
              - s: ${s + "y"}
        """
    execution = workflow_runtime.run(dedent(source))
    assert execution.error["tags"] == ["ResourceLimitError"]
    assert "262145" in execution.error["message"]
    assert "string" in execution.error["message"]
    assert [e.step for e in execution.history if e.kind is EventKind.ERROR_RAISED][-1] == "more"


def test_23_variable_memory_default_is_512_kb(workflow_runtime: WorkflowRuntime) -> None:
    """#23: variables may hold 512 KB together by default: four 128 KB strings fit exactly, a little more fails
    with ResourceLimitError."""
    source = """
        - init:
            assign:
              - s: "x"
        - grow:
            for:
              value: v
              range: [1, 17]
              steps:
                - twice:
                    assign:
                      - s: ${s + s}
        - copies:
            assign:
              - a: ${s}
              - b: ${s}
              - c: ${s}
        - extra:
            assign:
              - d: ${text.substring(s, 0, 100)}
        """
    execution = workflow_runtime.run(dedent(source))
    assert execution.error["tags"] == ["ResourceLimitError"]
    assert "524388 bytes" in execution.error["message"]
    assert "524288-byte memory limit" in execution.error["message"]
    assert [e.step for e in execution.history if e.kind is EventKind.ERROR_RAISED][-1] == "extra"


def test_23_sleep_limit_is_a_setting(workflow_server: WorkflowServer) -> None:
    """#23: ``sys.sleep`` accepts at most ``sleep_seconds`` (default 31,536,000); more is ValueError."""
    def nap(seconds: float) -> str:
        return f"- s:\n    call: sys.sleep\n    args: {{seconds: {seconds}}}\n"

    with WorkflowRuntime(server=workflow_server, limits={"sleep_seconds": 10}) as runtime:
        assert runtime.run(nap(10)).duration == 10
        assert error_tags(runtime, nap(10.5)) == ["ValueError"]


def test_23_execution_duration_default_is_one_year(workflow_runtime: WorkflowRuntime) -> None:
    """#23: an execution may last one year (31,536,000 virtual seconds); past that it fails."""
    source = """
        - year:
            call: sys.sleep
            args: {seconds: 31536000}
        - one_more:
            call: sys.sleep
            args: {seconds: 1}
        """
    execution = workflow_runtime.run(dedent(source))
    assert execution.state is ExecutionState.FAILED
    assert "TimeoutError" in execution.error["tags"]
    assert execution.duration == pytest.approx(31_536_000)


def test_23_await_timeout_default_is_a_setting(workflow_server: WorkflowServer) -> None:
    """#23: an ``await_callback`` without ``timeout`` waits ``await_timeout_default`` seconds (default 43,200)."""
    source = """
        - c:
            call: events.create_callback_endpoint
            result: cb
        - w:
            call: events.await_callback
            args: {callback: "${cb}"}
        """
    with WorkflowRuntime(server=workflow_server, limits={"await_timeout_default": 90}) as runtime:
        execution = runtime.run(dedent(source))
        assert execution.error["tags"] == ["TimeoutError"]
        assert execution.duration == 90


# ---------------------------------------------------------------- #24 argument size

def test_24_execution_argument_is_at_most_512_kb(workflow_server: WorkflowServer) -> None:
    """#24: an execution argument may be 512 KB of JSON; a larger one is refused (setting ``argument_bytes``)."""
    source = "main:\n  params: [args]\n  steps:\n    - r:\n        return: ${len(args)}\n"
    with WorkflowRuntime(server=workflow_server) as runtime:
        fits = "x" * (512 * KB - 2)  # the two quotes of the JSON string make it exactly 512 KB
        assert runtime.run(source, fits).result() == 512 * KB - 2
        with pytest.raises(WfCallbacksError, match="524289 bytes; the limit is 524288"):
            runtime.execute(source, fits + "x")
        assert len(runtime.executions) == 1  # the refused one never started
    with WorkflowRuntime(server=workflow_server, limits={"argument_bytes": 10}) as runtime:
        assert runtime.run(source, "12345678").result() == 8
        with pytest.raises(WfCallbacksError, match="11 bytes; the limit is 10"):
            runtime.execute(source, "123456789")


# ---------------------------------------------------------------- #27 YAML booleans

def test_27_only_the_six_spellings_are_booleans(workflow_runtime: WorkflowRuntime) -> None:
    """#27: only true/false/True/False/TRUE/FALSE are booleans; yes/no/on/off in any case, y/n stay strings."""
    source = "- r:\n    return: [true, false, True, False, TRUE, FALSE, Yes, NO, On, OFF, y, n, Y, N]\n"
    assert workflow_runtime.run(source).result() == [
        True, False, True, False, True, False, "Yes", "NO", "On", "OFF", "y", "n", "Y", "N"]


# ---------------------------------------------------------------- #29 seeded ids

def test_29_uuid_generate_follows_the_runtime_seed(workflow_server: WorkflowServer) -> None:
    """#29: ``uuid.generate()`` draws from a random source seeded per runtime: same seed, same ids."""
    source = "- r:\n    return: [${uuid.generate()}, ${uuid.generate()}]\n"

    def ids(seed: int) -> list[str]:
        with WorkflowRuntime(server=workflow_server, seed=seed) as runtime:
            first = runtime.run(source)
            return [first.id, *first.result(), *runtime.run(source).result()]

    same = ids(11)
    assert same == ids(11)
    assert len(set(same)) == 5
    assert ids(12) != same


# ---------------------------------------------------------------- #30 map key order

def test_30_insertion_order_in_keys_iteration_and_json(workflow_runtime: WorkflowRuntime) -> None:
    """#30: maps keep insertion order everywhere: ``keys``, iteration, ``json.encode``, returned values.

    Overwriting an existing key keeps its place.
    """
    source = """
        - build:
            assign:
              - m: {}
              - m.zebra: 1
              - m["apple"]: 2
              - m.mango: 3
              - m.zebra: 4
              - seen: []
        - walk:
            for:
              value: k
              in: ${keys(m)}
              steps:
                - add:
                    assign:
                      - seen: ${list.concat(seen, k)}
        - r:
            return:
              keys: ${keys(m)}
              seen: ${seen}
              text: ${json.encode_to_string(m)}
              bytes: ${text.decode(json.encode(m))}
              map: ${m}
        """
    value = workflow_runtime.run(dedent(source)).result()
    order = ["zebra", "apple", "mango"]
    assert value["keys"] == order
    assert value["seen"] == order
    assert value["text"] == value["bytes"] == '{"zebra":4,"apple":2,"mango":3}'
    assert list(value["map"]) == order
    assert list(value) == ["keys", "seen", "text", "bytes", "map"]


# ---------------------------------------------------------------- #32 maybe-unassigned reads

def test_32_name_first_assigned_in_a_parallel_branch_read_after_it_is_a_deploy_error(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """#32: a name first assigned inside a parallel branch and read after the parallel step is a deploy error."""
    message = deploy_message(workflow_runtime, """
        - p:
            parallel:
              branches:
                - one:
                    steps:
                      - s:
                          assign:
                            - made: 1
                - two:
                    steps:
                      - t:
                          assign:
                            - other: 2
        - r:
            return: ${made}
        """)
    assert "variable 'made' is read" in message


# ---------------------------------------------------------------- #33 a raised string, caught

def test_33_a_raised_string_is_caught_as_that_string(workflow_runtime: WorkflowRuntime) -> None:
    """#33: ``raise: "text"`` caught with ``except: as: e`` gives e == "text", a string (not a map)."""
    source = dedent("""
        - guarded:
            try:
              raise: "out of stock"
            except:
              as: e
              steps:
                - r:
                    return: [${e}, ${get_type(e)}]
        """)
    assert workflow_runtime.run(source).result() == ["out of stock", "string"]


def test_33_reading_message_or_tags_of_a_raised_string_fails_here_as_it_would_in_production(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """#33: a handler that treats the string as a map (``e.message``, ``"tags" in e``) fails here."""
    def handler(expression: str) -> str:
        return dedent(f"""
            - guarded:
                try:
                  raise: "out of stock"
                except:
                  as: e
                  steps:
                    - r:
                        return: ${{{expression}}}
            """)
    assert error_tags(workflow_runtime, handler("e.message")) == ["TypeError"]
    assert error_tags(workflow_runtime, handler('"tags" in e')) == ["TypeError"]
    uncaught = workflow_runtime.run("- boom:\n    raise: out of stock\n")
    assert uncaught.error == "out of stock"


# ---------------------------------------------------------------- #34 response header names

def test_34_response_header_names_are_canonical_whatever_the_server_wrote(workflow_runtime: WorkflowRuntime) -> None:
    """#34: ``content-type`` from an HTTP/2-style server reads as ``Content-Type`` in http.* results and errors."""
    workflow_runtime.http.get(API).respond(200, json={"ok": True},
                                           headers={"content-type": "application/json", "x-goog-trace": "t1"})
    workflow_runtime.http.get(API + "/missing").respond(404, headers={"X-REQUEST-ID": "r9"})
    source = dedent(f"""
        - ok:
            call: http.get
            args: {{url: "{API}"}}
            result: r
        - missing:
            try:
              call: http.get
              args: {{url: "{API}/missing"}}
            except:
              as: e
              steps:
                - done:
                    return: [${{keys(r.headers)}}, ${{keys(e.headers)}}]
        """)
    ok_names, error_names = workflow_runtime.run(source).result()
    assert "Content-Type" in ok_names
    assert "X-Goog-Trace" in ok_names
    assert "content-type" not in ok_names
    assert "X-Request-Id" in error_names


# ---------------------------------------------------------------- #35 the call depth counts main

DEPTH = """
main:
  params: [n]
  steps:
    - c:
        call: down
        args: {n: ${n}}
        result: r
    - r:
        return: ${r}
down:
  params: [n]
  steps:
    - base:
        switch:
          - condition: ${n == 1}
            return: 1
    - rec:
        call: down
        args: {n: ${n - 1}}
        result: r
    - r:
        return: ${r + 1}
"""


def test_35_the_call_depth_limit_counts_main(workflow_runtime: WorkflowRuntime) -> None:
    """#35: at most 20 frames with main among them: 19 nested subworkflow calls run, 20 raise RecursionError."""
    assert workflow_runtime.run(DEPTH, 19).result() == 19
    execution = workflow_runtime.run(DEPTH, 20)
    assert execution.error["tags"] == ["RecursionError"]
    assert "maximum call depth (20)" in execution.error["message"]


# ---------------------------------------------------------------- #36 a subworkflow named like a helper

def test_36_a_call_step_goes_to_the_workflow_s_own_subworkflow_named_like_a_helper(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """#36: ``call: double`` (and ``len``, ``string``) runs the workflow's subworkflow, not the helper."""
    source = dedent("""
        main:
          steps:
            - a:
                call: double
                args: {n: 21}
                result: x
            - b:
                call: len
                args: [abc]
                result: y
            - c:
                call: string
                args: {value: 5}
                result: z
            - r:
                return: [${x}, ${y}, ${z}, ${double(4)}, ${int("7")}]
        double:
          params: [n]
          steps:
            - r:
                return: ${n * 2}
        len:
          params: [s]
          steps:
            - r:
                return: "own len"
        string:
          params: [value]
          steps:
            - r:
                return: ${"own string " + text.substring("ok!", 0, 2)}
        """)
    execution = workflow_runtime.run(source)
    assert execution.state is ExecutionState.SUCCEEDED, execution.error
    assert execution.result() == [42, "own len", "own string ok", 8, 7]
