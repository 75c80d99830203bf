"""Deploy-time checks that match what the service refuses at deploy (issue 12).

A `for` as the direct body of `try`, an expression over the `expression_length` limit, and a
literal `http_callback_method` outside the service's methods each fail at deploy, at the
file:line:column of the offending text, with what to do about it.
"""

from __future__ import annotations

import textwrap

import pytest

from pytest_wfcallbacks import ExecutionState, WorkflowRuntime, WorkflowServer, WorkflowSyntaxError


def deploy_error(runtime: WorkflowRuntime, source: str) -> WorkflowSyntaxError:
    with pytest.raises(WorkflowSyntaxError) as info:
        runtime.deploy(textwrap.dedent(source).lstrip("\n"))
    return info.value


# ---------------------------------------------------------------- `for` as the body of `try`

def test_a_for_as_the_direct_body_of_try_is_a_deploy_error_naming_the_fix(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - guarded:
            try:
              for:
                value: v
                in: [1, 2]
                steps:
                  - s:
                      assign:
                        - x: ${v}
            except:
              as: e
              steps:
                - r:
                    return: failed
        """)
    assert (error.line, error.column, error.step) == (3, 7, "main/guarded")
    assert "a `for` loop cannot be the direct body of `try`" in error.message
    assert "put the loop in a named step under `try: steps:`" in error.message
    assert str(error).startswith("<workflow>:3:7 (step main/guarded): ")


def test_the_same_loop_in_a_named_step_under_try_steps_deploys_and_runs(workflow_runtime: WorkflowRuntime) -> None:
    source = textwrap.dedent("""
        - init:
            assign:
              - total: 0
        - guarded:
            try:
              steps:
                - loop:
                    for:
                      value: v
                      in: [1, 2]
                      steps:
                        - s:
                            assign:
                              - total: ${total + v}
            except:
              as: e
              steps:
                - r:
                    return: failed
        - done:
            return: ${total}
        """)
    assert workflow_runtime.run(source).result() == 3


# ---------------------------------------------------------------- expression_length

def _assign(expression: str) -> str:
    return f"- a:\n    assign:\n      - x: {expression}\n- r:\n    return: ${{x}}\n"


def test_expression_length_default_is_400_characters_of_the_dollar_brace_text(
    workflow_runtime: WorkflowRuntime,
) -> None:
    at_limit = "${" + "+".join(["1"] * 198) + "+1}"  # 2 + 397 + 1 = 400 characters with the delimiters
    assert len(at_limit) == 400
    assert workflow_runtime.run(_assign(at_limit)).result() == 199
    over = at_limit.replace("${1+", "${1 +", 1)
    assert len(over) == 401
    error = deploy_error(workflow_runtime, _assign(over))
    assert (error.line, error.column, error.step) == (3, 12, "main/a")
    assert "expression is 401 characters long" in error.message
    assert "at most 400" in error.message
    assert "limit `expression_length`" in error.message


def test_expression_length_is_a_named_limit(workflow_server: WorkflowServer) -> None:
    with WorkflowRuntime(server=workflow_server, limits={"expression_length": 10}) as runtime:
        assert runtime.run(_assign("${1 + 2}")).result() == 3
        with pytest.raises(WorkflowSyntaxError, match="at most 10 are allowed"):
            runtime.deploy(_assign("${1 + 2 + 3}"))


def test_a_long_expression_anywhere_is_found_at_its_own_line_and_column(workflow_runtime: WorkflowRuntime) -> None:
    long = "${" + " + ".join(["1"] * 140) + "}"
    error = deploy_error(workflow_runtime, f"""
        - a:
            switch:
              - condition: true
                next: b
        - b:
            call: sys.log
            args:
              data: {long}
        """)
    assert (error.line, error.column, error.step) == (8, 13, "main/b")


# ---------------------------------------------------------------- http_callback_method

@pytest.mark.parametrize("args", ["{http_callback_method: FETCH}", "[get]", "{http_callback_method: 3}"])
def test_a_literal_callback_method_outside_the_service_s_methods_is_a_deploy_error(
    workflow_runtime: WorkflowRuntime, args: str
) -> None:
    error = deploy_error(workflow_runtime, f"""
        - c:
            call: events.create_callback_endpoint
            args: {args}
        """)
    assert (error.line, error.step) == (3, "main/c")
    assert "http_callback_method must be one of GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH" in error.message


def test_a_computed_callback_method_is_checked_at_run_time(workflow_runtime: WorkflowRuntime) -> None:
    source = textwrap.dedent("""
        main:
          params: [method]
          steps:
            - c:
                call: events.create_callback_endpoint
                args: {http_callback_method: '${method}'}
                result: cb
        """)
    assert workflow_runtime.run(source, "PUT").state is ExecutionState.SUCCEEDED
    assert workflow_runtime.run(source, "FETCH").error["tags"] == ["ValueError"]
