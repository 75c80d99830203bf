"""Variable scopes (docs/semantics.md §3.9): only for bodies, except blocks and parallel branches make child
scopes; writes to an existing outer name update it; names first created in a child scope vanish."""

from __future__ import annotations

import textwrap
from typing import Any

from pytest_wfcallbacks import WorkflowRuntime


def run_value(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Any:
    """The result of a workflow that must succeed."""
    return runtime.run(textwrap.dedent(source).lstrip("\n"), argument).result()


def run_error(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Any:
    """The error value of a workflow that must fail."""
    execution = runtime.run(textwrap.dedent(source).lstrip("\n"), argument)
    assert execution.state == "FAILED", execution.value
    return execution.error


def test_for_body_updates_outer_names_and_drops_its_own(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - total: 0
        - loop:
            for:
              value: v
              in: [1, 2, 3]
              steps:
                - local:
                    assign:
                      - doubled: ${v * 2}
                      - total: ${total + doubled}
        - r:
            return: ${total}
        """) == 12


def test_each_iteration_starts_with_a_clean_scope(workflow_runtime: WorkflowRuntime) -> None:
    """A name created in iteration 1 is gone in iteration 2 (KeyError at run time)."""
    error = run_error(workflow_runtime, """
        - loop:
            for:
              value: v
              in: [1, 2]
              steps:
                - first:
                    switch:
                      - condition: ${v == 1}
                        assign:
                          - made: 1
                - second:
                    switch:
                      - condition: ${v == 2}
                        return: ${made}
        """)
    assert error["tags"] == ["KeyError"]
    assert "made" in error["message"]


def test_loop_variable_name_can_be_reused_by_later_loops(workflow_runtime: WorkflowRuntime) -> None:
    """docs/semantics.md §2.4: the loop variable is gone after its loop, so a later loop may use the name again."""
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - seen: []
        - first:
            for:
              value: v
              in: [1, 2]
              steps:
                - a:
                    assign:
                      - seen: ${list.concat(seen, v)}
        - second:
            for:
              value: v
              in: [3]
              steps:
                - b:
                    assign:
                      - seen: ${list.concat(seen, v)}
        - r:
            return: ${seen}
        """) == [1, 2, 3]


def test_except_block_scope(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - status: "unknown"
        - t:
            try:
              raise: {"code": 9}
            except:
              as: e
              steps:
                - handle:
                    assign:
                      - local_code: ${e.code}
                      - status: ${"failed with " + string(local_code)}
        - r:
            return: ${status}
        """) == "failed with 9"


def test_except_variable_is_a_copy(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - err: {"code": 1}
        - t:
            try:
              raise: ${err}
            except:
              as: e
              steps:
                - change:
                    assign:
                      - e.code: 2
        - r:
            return: ${err}
        """) == {"code": 1}


def test_branches_write_shared_names_and_keep_their_own(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - out: []
              - config: "x"
        - par:
            parallel:
              shared: [out]
              branches:
                - one:
                    steps:
                      - a:
                          assign:
                            - mine: ${config + "1"}
                            - out: ${list.concat(out, mine)}
                - two:
                    steps:
                      - b:
                          assign:
                            - mine: ${config + "2"}
                      - wait:
                          call: sys.sleep
                          args: {seconds: 1}
                      - c:
                          assign:
                            - out: ${list.concat(out, mine)}
        - r:
            return: ${out}
        """) == ["x1", "x2"]


def test_shared_writes_are_visible_to_other_branches_at_once(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - init:
            assign:
              - flag: false
              - seen: null
        - par:
            parallel:
              shared: [flag, seen]
              branches:
                - setter:
                    steps:
                      - set:
                          assign:
                            - flag: true
                - reader:
                    steps:
                      - wait:
                          call: sys.sleep
                          args: {seconds: 1}
                      - read:
                          assign:
                            - seen: ${flag}
        - r:
            return: ${seen}
        """) is True


def test_subworkflows_see_only_their_params(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        main:
          steps:
            - init:
                assign:
                  - x: 1
            - c:
                call: sub
                args: {x: 10}
                result: r
            - done:
                return: [${x}, ${r}]
        sub:
          params: [x]
          steps:
            - change:
                assign:
                  - x: ${x + 1}
                  - y: 5
            - r:
                return: ${x + y}
        """) == [1, 16]


def test_switch_steps_and_try_share_the_enclosing_scope(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, """
        - s:
            switch:
              - condition: true
                steps:
                  - inner:
                      assign:
                        - a: 1
        - t:
            try:
              steps:
                - inner2:
                    assign:
                      - b: ${a + 1}
            retry: ${http.default_retry}
        - r:
            return: ${a + b}
        """) == 3


def test_main_param_is_null_without_argument(workflow_runtime: WorkflowRuntime) -> None:
    source = """
        main:
          params: [args]
          steps:
            - r:
                return: ${args}
        """
    assert run_value(workflow_runtime, source) is None
    assert run_value(workflow_runtime, source, {"a": [1]}) == {"a": [1]}


def test_main_without_params_ignores_the_argument(workflow_runtime: WorkflowRuntime) -> None:
    assert run_value(workflow_runtime, "- r:\n    return: 1\n", {"ignored": True}) == 1
