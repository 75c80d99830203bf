"""A workflow's own doing never becomes an internal error (issue #13).

Values nested past `MAX_VALUE_DEPTH`, retry backoff past a double's range and strings
asked for past the string limit each end as a Workflows error with its tag at the step
that caused it, never as ``SystemError: internal error`` (a RecursionError, OverflowError
or MemoryError inside the plugin). The huge strings are refused before they are built:
were they built, these tests would need gigabytes.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wfcallbacks import WfCallbacksError, WorkflowFailed, WorkflowRuntime
from pytest_wfcallbacks.history import EventKind
from pytest_wfcallbacks.values import MAX_VALUE_DEPTH

NEST_LIST = """
main:
  steps:
    - init:
        assign:
          - x: 1
          - i: 0
    - wrap:
        assign:
          - x: ${[x]}
          - i: ${i + 1}
    - again:
        switch:
          - condition: ${i < 3000}
            next: wrap
    - done:
        return: ${i}
"""

NEST_PATH = """
main:
  steps:
    - init:
        assign:
          - x: {}
          - i: 0
    - wrap:
        assign:
          - y: ${x}
          - x: {}
          - x.inner: ${y}
          - i: ${i + 1}
    - again:
        switch:
          - condition: ${i < 3000}
            next: wrap
    - done:
        return: ${i}
"""


def failure(runtime: WorkflowRuntime, source: str, argument: object = None) -> WorkflowFailed:
    execution = runtime.execute(source, argument)
    with pytest.raises(WorkflowFailed) as caught:
        execution.result()
    assert "SystemError" not in caught.value.tags
    return caught.value


@pytest.mark.parametrize("source", [NEST_LIST, NEST_PATH], ids=["list-literal", "path-assign"])
def test_a_value_nested_too_deep_is_a_resource_limit_error_at_its_step(
        workflow_runtime: WorkflowRuntime, source: str) -> None:
    error = failure(workflow_runtime, source)
    assert error.tags == ["ResourceLimitError"]
    assert f"nested more than {MAX_VALUE_DEPTH} levels" in error.error["message"]
    assert "in step 'wrap'" in str(error)


def test_a_value_at_the_depth_limit_is_kept(workflow_runtime: WorkflowRuntime) -> None:
    source = NEST_LIST.replace("3000", str(MAX_VALUE_DEPTH - 1))
    assert workflow_runtime.run(source).result() == MAX_VALUE_DEPTH - 1


def test_deep_json_compared_at_once_is_a_workflows_error(workflow_runtime: WorkflowRuntime) -> None:
    # Never stored, so never metered: the comparison itself is too deep for any walk.
    deep = "[" * 900 + "]" * 900
    source = """
main:
  params: [args]
  steps:
    - compare:
        return: ${json.decode(args.text) == json.decode(args.text)}
"""
    error = failure(workflow_runtime, source, {"text": deep})
    assert error.tags == ["ResourceLimitError"]
    assert "in step 'compare'" in str(error)


RETRY_FOREVER = """
main:
  steps:
    - attempt:
        try:
          steps:
            - fail:
                raise: boom
        retry:
          predicate: ${retry.always}
          max_retries: 1100
          backoff:
            initial_delay: 1
            max_delay: 60
            multiplier: 2
"""


def test_backoff_past_a_doubles_range_stays_at_max_delay(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, RETRY_FOREVER)
    assert error.error == "boom"
    execution = workflow_runtime.executions[-1]
    delays = [e.details["delay"] for e in execution.history if e.kind is EventKind.RETRY]
    assert len(delays) == 1100
    # 1, 2, 4 ... 32, then max_delay for every later attempt, 2**1024 and beyond included.
    assert delays[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert set(delays[6:]) == {60}


def grow(expression: str, doublings: int = 17) -> str:
    """A workflow doubling ``s`` to 2**doublings characters, then returning ``expression``."""
    return f"""
main:
  steps:
    - init:
        assign:
          - s: "x"
          - i: 0
    - double:
        assign:
          - s: ${{s + s}}
          - i: ${{i + 1}}
    - again:
        switch:
          - condition: ${{i < {doublings}}}
            next: double
    - big:
        return: '${{{expression}}}'
"""


@pytest.mark.parametrize(("expression", "culprit"), [
    # 128 Ki characters, each replaced by the whole string: 17 G characters asked for.
    ('len(text.replace_all(s, "x", s))', "text.replace_all"),
    ('len(text.replace_all_regex(s, "x", s))', "text.replace_all_regex"),
    ("len(s + s + s)", "'+'"),
    ('len(json.encode_to_string(text.split(s, ""), {"prefix": s}))', "json.encode_to_string"),
    ('len(json.encode(text.split(text.substring(s, 0, 4096), ""), {"indent": s}))', "json.encode"),
], ids=["replace_all", "replace_all_regex", "concatenation", "encode_prefix", "encode_indent"])
def test_a_string_past_the_limit_is_refused_before_it_is_built(
        workflow_runtime: WorkflowRuntime, expression: str, culprit: str) -> None:
    error = failure(workflow_runtime, grow(expression))
    assert error.tags == ["ResourceLimitError"]
    message = error.error["message"]
    assert message.startswith(f"ResourceLimitError: {culprit} would build a string of ")
    assert "limit `string_bytes`" in message
    assert "in step 'big'" in str(error)


@pytest.mark.parametrize(("expression", "length"), [
    ('len(text.replace_all(s, "x", "yy"))', 2 ** 16),
    ('len(text.replace_all_regex(s, "x+", "y"))', 1),
    ("len(s + s)", 2 ** 16),
    ('len(json.encode_to_string(text.split(text.substring(s, 0, 3), ""), {"prefix": "ab"}))', 37),
], ids=["replace_all", "replace_all_regex", "concatenation", "encode_prefix"])
def test_strings_within_the_limit_are_built(workflow_runtime: WorkflowRuntime, expression: str, length: int) -> None:
    assert workflow_runtime.run(grow(expression, doublings=15)).result() == length


@pytest.mark.parametrize("value", [
    None, 1, -12.5, True, "", "é\u0001", [], {}, [1, [2, [3, {}]], "x"], {"a": {"b": [None, "c"]}, "": []},
])
@pytest.mark.parametrize("indent", [False, True, {"prefix": "> ", "indent": "\t"}, {"indent": ""}])
def test_the_json_size_estimate_never_exceeds_the_text(value: object, indent: object) -> None:
    # A lower bound: refusing on it never refuses a text that would have fitted.
    from pytest_wfcallbacks.stdlib.encoding import _encode_chars, encode_to_string

    assert _encode_chars(value, indent) <= len(encode_to_string(value, indent))  # type: ignore[arg-type]


@pytest.mark.parametrize("wrap", [lambda item: [item], lambda item: (item,), lambda item: {"k": item}],
                         ids=["list", "tuple", "map"])
def test_a_test_argument_nested_past_recursion_is_a_clear_error(
        workflow_runtime: WorkflowRuntime, wrap: Any) -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = wrap(deep)
    with pytest.raises(WfCallbacksError, match="nested too deeply"):
        workflow_runtime.execute("main:\n  params: [a]\n  steps:\n    - r:\n        return: 1\n", deep)
