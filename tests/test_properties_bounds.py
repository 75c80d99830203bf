"""Property tests (Hypothesis) for the two promises of issue #13 the example tests cannot cover.

* Deploy: whatever text or structure arrives, the deploy path (`deploy_definition`, what
  `WorkflowRuntime.deploy`, ``wfcallbacks validate`` and the REST API call) gives a
  definition or a `WorkflowSyntaxError` whose every problem has a location; nothing else.
* Run time: workflows that grow values in a loop (nesting, doubling strings, replacing,
  encoding with a prefix) end SUCCEEDED or FAILED with a Workflows error tag, never the
  ``SystemError`` of an internal error, and within the step limit.

Examples are few and derandomized (the profile in tests/conftest.py), so the file runs in
seconds and the same way every time.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.definition import STEP_KEYS
from pytest_wfcallbacks.deploy_cache import deploy_definition
from pytest_wfcallbacks.server import WorkflowServer
from pytest_wfcallbacks.settings import Limits
from pytest_wfcallbacks.stdlib import load_all

REGISTRY = load_all()
LIMITS = Limits()
DEPLOYS = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])

_KEYS = [*sorted(STEP_KEYS), "params", "steps", "main", "value", "in", "range", "condition", "branches",
         "shared", "predicate", "max_retries", "backoff", "as", "x", "junk"]
_EXPRESSIONS = st.sampled_from(["${x}", "${1 +}", "${len(x)}", "${sys.sleep(1)}", "${[1, 2][0]}", "${", "$${}",
                                "${no.such(1)}", '${"a" + "b"}', "${x.y[0]}", "${http.get(\"u\")}"])
_SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "end", "next", "a b"]) | _EXPRESSIONS
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=3),
    max_leaves=12,
)
_STEPS = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "end"]),
                                  st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=3), min_size=1, max_size=1),
                  max_size=4)
_WORKFLOWS = (_STEPS | st.fixed_dictionaries({"main": st.fixed_dictionaries({"steps": _STEPS})},
                                             optional={"sub": st.dictionaries(st.sampled_from(_KEYS), _VALUES)})
              | _VALUES)


def _deploy(text: str) -> None:
    try:
        deploy_definition(text, REGISTRY, LIMITS)
    except WorkflowSyntaxError as error:
        caught = error
    else:
        return
    # Anything but WorkflowSyntaxError escaped above and fails the test; the problems are located.
    assert caught.problems[0].message == caught.message
    for problem in caught.problems:
        assert problem.message
        assert problem.location.file == "<workflow>"
        assert problem.line >= 0
        assert problem.column >= 0


@DEPLOYS
@given(_WORKFLOWS)
def test_deploy_of_any_structure_is_a_definition_or_a_located_syntax_error(data: Any) -> None:
    _deploy(yaml.safe_dump(data, sort_keys=False))


@DEPLOYS
@given(st.text(alphabet=st.sampled_from([*"main:steps-  \n\t{}[]&*!|>'\"#%@`,?$", "\x00", "\u0085"]),
               max_size=120))
def test_deploy_of_any_text_is_a_definition_or_a_located_syntax_error(text: str) -> None:
    _deploy(text)


#: One growth step each: an expression that makes ``v`` bigger or deeper every iteration.
_GROWTH = st.sampled_from([
    "${[v]}",
    '${{"k": v}}',
    "${v + v}",
    '${text.replace_all(v, "a", v)}',
    '${text.replace_all_regex(v, "a*", v)}',
    '${json.encode_to_string(text.split(v, ""), {"prefix": v})}',
    '${json.encode_to_string(v)}',
    "${list.concat([v], v)}",
    "${string(len(v)) + v}",
])
_START = st.sampled_from(['"a"', '"ab"', "[1]", "{}"])

WORKFLOW = """
main:
  steps:
    - init:
        assign:
          - v: ${{{start}}}
          - i: 0
    - grow:
        try:
          assign:
            - v: '{growth}'
            - i: ${{i + 1}}
        except:
          as: e
          steps:
            - known:
                raise: ${{e}}
    - again:
        switch:
          - condition: ${{i < 400}}
            next: grow
    - done:
        return: ${{i}}
"""


@settings(max_examples=30)
@given(_START, _GROWTH)
def test_growing_values_end_in_a_workflows_error_never_an_internal_one(
        workflow_server: WorkflowServer, start: str, growth: str) -> None:
    with WorkflowRuntime(server=workflow_server, check_at_teardown=False) as runtime:
        execution = runtime.run(WORKFLOW.format(start=start, growth=growth))
    if execution.state == "SUCCEEDED":
        assert execution.value == 400
    else:
        assert execution.state == "FAILED", execution.state
        tags = execution.error["tags"] if isinstance(execution.error, dict) else []
        assert len(tags) == 1, execution.error
        assert tags[0] in {"ResourceLimitError", "TypeError", "ValueError"}, execution.error
