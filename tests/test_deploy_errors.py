"""Deploy-time validation: every error the service gives at deploy, with its exact location.

Each case is a workflow that a deploy rejects, the line, column and step path
the error must point at, and words the message must contain (what is wrong and
what to do about it).
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError


def deploy_error(runtime: WorkflowRuntime, source: str, **settings: Any) -> WorkflowSyntaxError:
    """Deploy ``source`` (dedented) and return the `WorkflowSyntaxError` it must raise."""
    with pytest.raises(WorkflowSyntaxError) as info:
        runtime.deploy(textwrap.dedent(source).lstrip("\n"))
    return info.value


def check(error: WorkflowSyntaxError, line: int, column: int, step: str, *fragments: str) -> None:
    """The error is at ``line:column`` of ``step`` and its message holds every fragment."""
    assert (error.line, error.column, error.step) == (line, column, step), str(error)
    for fragment in fragments:
        assert fragment in error.message, f"{fragment!r} not in {error.message!r}"
    # The rendered text starts with the location, like a compiler diagnostic.
    assert str(error).startswith(f"<workflow>:{line}:{column} (step {step}): " if step else f"<workflow>:{line}:")


# --------------------------------------------------------------------------- keys

KEY_CASES = [
    pytest.param(
        """
        - a:
            asign:
              - x: 1
        """,
        (2, 5, "main/a"), ("unknown key 'asign'", "did you mean 'assign'", "allowed keys"),
        id="unknown step key with suggestion",
    ),
    pytest.param(
        """
        - a:
            assign:
              - x: 1
            args: {y: 2}
        """,
        (4, 5, "main/a"), ("`args` needs `call`",),
        id="args without call",
    ),
    pytest.param(
        """
        - a:
            return: 1
            retry: ${http.default_retry}
        """,
        (3, 5, "main/a"), ("`retry` needs `try`",),
        id="retry without try",
    ),
    pytest.param(
        """
        - a:
            assign:
              - x: 1
            return: ${x}
        """,
        (4, 5, "main/a"), ("both 'assign' and 'return'", "split it in two steps"),
        id="two actions in one step",
    ),
    pytest.param(
        """
        - a:
            return: 1
            next: b
        - b:
            return: 2
        """,
        (3, 5, "main/a"), ("`next` beside `return`",),
        id="next beside return",
    ),
    pytest.param(
        """
        main:
          param: [x]
          steps:
            - a:
                return: 1
        """,
        (2, 3, ""), ("unknown key 'param' in routine 'main'", "only `params` and `steps`"),
        id="unknown routine key",
    ),
    pytest.param(
        """
        - a:
            for:
              value: v
              list: [1]
              steps:
                - b:
                    assign:
                      - x: 1
        """,
        (4, 7, "main/a"), ("unknown key 'list' in `for`", "allowed:"),
        id="unknown for key",
    ),
    pytest.param(
        """
        - a:
            try:
              return: 1
            except:
              as: e
        """,
        (4, 5, "main/a"), ("`except` needs `steps`",),
        id="except without steps",
    ),
    pytest.param(
        """
        - a:
            try:
              return: 1
            retry:
              predicate: ${retry.always}
              max_retries: 2
              backof: {initial_delay: 1}
        """,
        (7, 7, "main/a"), ("unknown key 'backof' in `retry`",),
        id="unknown retry key",
    ),
    pytest.param(
        """
        - a:
            parallel:
              branches:
                - b1:
                    steps:
                      - x:
                          assign:
                            - v: 1
                - b2:
                    steps:
                      - y:
                          assign:
                            - w: 1
              exception_policy: abort
        """,
        (14, 25, "main/a"), ("`exception_policy` can only be `continueAll`",),
        id="bad exception policy",
    ),
    pytest.param(
        """
        - a:
            switch:
              - conditon: true
                next: end
        """,
        (3, 9, "main/a/condition[0]"), ("needs a `condition`",),
        id="switch entry without condition",
    ),
    pytest.param(
        """
        - a:
            switch:
              - condition: true
                asign:
                  - x: 1
        """,
        (4, 9, "main/a/condition[0]"), ("unknown key 'asign'",),
        id="unknown key in switch arm",
    ),
    pytest.param(
        """
        - end:
            return: 1
        """,
        (1, 3, "main/end"), ("'end' is reserved",),
        id="reserved step name",
    ),
    pytest.param(
        """
        - a:
            next: end
          b:
            return: 1
        """,
        (1, 3, "main"), ("exactly one key, the step name",),
        id="step map with two names",
    ),
]


@pytest.mark.parametrize(("source", "where", "fragments"), KEY_CASES)
def test_unknown_and_misplaced_keys(
    workflow_runtime: WorkflowRuntime, source: str, where: tuple[int, int, str], fragments: tuple[str, ...]
) -> None:
    check(deploy_error(workflow_runtime, source), *where, *fragments)


def test_duplicate_step_names_in_nested_blocks(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - a:
            steps:
              - b:
                  assign:
                    - x: 1
        - b:
            return: 2
        """)
    check(error, 6, 3, "main/b", "duplicate step name 'b'", "first used at line 3", "unique within a routine")


def test_same_step_name_in_two_routines_is_fine(workflow_runtime: WorkflowRuntime) -> None:
    workflow = workflow_runtime.deploy(textwrap.dedent("""
        main:
          steps:
            - a:
                call: sub
                result: r
            - done:
                return: ${r}
        sub:
          steps:
            - a:
                return: 5
        """))
    assert workflow.run().result() == 5


def test_duplicate_mapping_key_is_reported_where_it_is(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - a:
            assign:
              - x: 1
            assign:
              - y: 2
        """)
    assert (error.line, error.column) == (4, 5)
    assert "duplicate key 'assign'" in error.message


# --------------------------------------------------------------------------- jumps

JUMP_CASES = [
    pytest.param(
        """
        - a:
            next: finish
        - finsh:
            return: 1
        """,
        (2, 11, "main/a"), ("jumps to 'finish'", "no step of that name", "did you mean 'finsh'"),
        id="unknown target",
    ),
    pytest.param(
        """
        - a:
            next: inner
        - b:
            steps:
              - inner:
                  return: 1
        """,
        (2, 11, "main/a"), ("cannot jump to 'inner'", "cannot enter a nested block"),
        id="into a nested steps block",
    ),
    pytest.param(
        """
        - a:
            for:
              value: v
              in: [1, 2]
              steps:
                - b:
                    next: after
        - after:
            return: 1
        """,
        (7, 19, "main/a/b"), ("cannot jump to 'after'", "cannot leave a for loop body", "next: break"),
        id="out of a for body",
    ),
    pytest.param(
        """
        - a:
            next: body
        - loop:
            for:
              value: v
              in: [1]
              steps:
                - body:
                    assign:
                      - x: 1
        """,
        (2, 11, "main/a"), ("cannot enter a nested block",),
        id="into a for body",
    ),
    pytest.param(
        """
        - p:
            parallel:
              branches:
                - one:
                    steps:
                      - s1:
                          next: s2
                - two:
                    steps:
                      - s2:
                          assign:
                            - x: 1
        """,
        (7, 25, "main/p/one/s1"), ("cannot jump to 's2'", "cannot enter a nested block"),
        id="across parallel branches",
    ),
    pytest.param(
        """
        - p:
            parallel:
              branches:
                - one:
                    steps:
                      - s1:
                          next: out
                - two:
                    steps:
                      - s2:
                          assign:
                            - x: 1
        - out:
            return: 1
        """,
        (7, 25, "main/p/one/s1"), ("cannot leave a parallel branch",),
        id="out of a parallel branch",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                next: helper_step
        sub:
          steps:
            - helper_step:
                return: 1
        """,
        (4, 15, "main/a"), ("no step of that name", "step of routine 'sub'", "call that subworkflow"),
        id="into another routine",
    ),
    pytest.param(
        """
        - a:
            next: break
        """,
        (2, 11, "main/a"), ("`next: break` is only allowed inside a for loop",),
        id="break outside a loop",
    ),
    pytest.param(
        """
        - a:
            switch:
              - condition: true
                next: continue
        """,
        (4, 15, "main/a"), ("`next: continue` is only allowed inside a for loop",),
        id="continue in a switch outside a loop",
    ),
    pytest.param(
        """
        - a:
            for:
              value: v
              in: [1]
              steps:
                - p:
                    parallel:
                      branches:
                        - one:
                            steps:
                              - s:
                                  next: break
                        - two:
                            steps:
                              - t:
                                  next: continue
        """,
        (12, 33, "main/a/p/one/s"), ("only allowed inside a for loop body",),
        id="break inside a branch inside a for",
    ),
    pytest.param(
        """
        - a:
            parallel:
              for:
                value: v
                in: [1, 2]
                steps:
                  - s:
                      next: break
        """,
        (8, 21, "main/a/s"), ("cannot leave a parallel for", "next: continue"),
        id="break in a parallel for",
    ),
    pytest.param(
        """
        - a:
            next: ${"b"}
        - b:
            return: 1
        """,
        (2, 11, "main/a"), ("not an expression", "switch"),
        id="expression as next",
    ),
    pytest.param(
        """
        - a:
            parallel:
              branches:
                - one:
                    steps:
                      - s:
                          return: 1
                - two:
                    steps:
                      - t:
                          next: end
        """,
        (7, 19, "main/a/one/s"), ("`return` cannot be used inside a parallel branch", "shared"),
        id="return in a branch",
    ),
    pytest.param(
        """
        - a:
            parallel:
              for:
                value: v
                in: [1]
                steps:
                  - t:
                      next: end
        """,
        (8, 21, "main/a/t"), ("`next: end` cannot be used inside a parallel branch",),
        id="end in a parallel for",
    ),
]


@pytest.mark.parametrize(("source", "where", "fragments"), JUMP_CASES)
def test_jump_rules(
    workflow_runtime: WorkflowRuntime, source: str, where: tuple[int, int, str], fragments: tuple[str, ...]
) -> None:
    check(deploy_error(workflow_runtime, source), *where, *fragments)


def test_legal_jumps_deploy_and_run(workflow_runtime: WorkflowRuntime) -> None:
    """Same list, enclosing list from steps / switch / except, backwards, continue in a parallel for."""
    workflow = workflow_runtime.deploy(textwrap.dedent("""
        - init:
            assign:
              - n: 0
              - seen: []
        - again:
            assign:
              - n: ${n + 1}
        - nested:
            steps:
              - check:
                  switch:
                    - condition: ${n < 3}
                      next: again
              - boom:
                  try:
                    raise: oops
                  except:
                    as: e
                    steps:
                      - out:
                          next: par
              - never:
                  return: never
        - par:
            parallel:
              shared: [seen]
              for:
                value: v
                in: [1, 2]
                steps:
                  - skip:
                      switch:
                        - condition: ${v == 1}
                          next: continue
                  - add:
                      assign:
                        - seen: ${list.concat(seen, v)}
        - done:
            return: [${n}, ${seen}]
        """))
    assert workflow.run().result() == [3, [2]]


# --------------------------------------------------------------------------- calls

CALL_CASES = [
    pytest.param(
        """
        - a:
            assign:
              - r: ${http.get("https://example.com")}
        """,
        (3, 14, "main/a"), ("http.get is a blocking function", "call it from a call step"),
        id="http in an expression",
    ),
    pytest.param(
        """
        - a:
            assign:
              - r: ${1 + sys.sleep(1)}
        """,
        (3, 18, "main/a"), ("sys.sleep is a blocking function",),
        id="sys.sleep in an expression",
    ),
    pytest.param(
        """
        - a:
            return: ${sys.log("x")}
        """,
        (2, 15, "main/a"), ("sys.log is a blocking function",),
        id="sys.log in an expression",
    ),
    pytest.param(
        """
        - a:
            assign:
              - cb: ${events.create_callback_endpoint("POST")}
        """,
        (3, 15, "main/a"), ("events.create_callback_endpoint is a blocking function",),
        id="events in an expression",
    ),
    pytest.param(
        """
        - a:
            return: ${txt.upper("x")}
        """,
        (2, 15, "main/a"), ("unknown function 'txt.upper'",),
        id="unknown function in an expression",
    ),
    pytest.param(
        """
        - a:
            call: htp.get
            args: {url: "https://example.com"}
        """,
        (2, 11, "main/a"), ("unknown function or subworkflow 'htp.get'", "did you mean 'http.get'"),
        id="unknown call target",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                call: helpr
        helper:
          steps:
            - b:
                return: 1
        """,
        (4, 15, "main/a"), ("unknown function or subworkflow 'helpr'", "did you mean 'helper'"),
        id="unknown subworkflow",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                call: add
                args:
                  x: 1
                result: r
        add:
          params: [x, y]
          steps:
            - b:
                return: ${x + y}
        """,
        (5, 9, "main/a"), ("subworkflow add needs the argument 'y'",),
        id="missing required subworkflow arg",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                call: add
                args:
                  x: 1
                  y: 2
                  z: 3
        add:
          params: [x, y: 0]
          steps:
            - b:
                return: ${x + y}
        """,
        (8, 11, "main/a"), ("subworkflow add has no parameter 'z'", "parameters: x, y"),
        id="unknown subworkflow arg",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                return: ${add(1, 2, 3)}
        add:
          params: [x, y]
          steps:
            - b:
                return: ${x + y}
        """,
        (4, 19, "main/a"), ("takes at most 2 argument",),
        id="too many args in an expression",
    ),
    pytest.param(
        """
        - a:
            call: http.get
            args:
              uri: https://example.com
        """,
        (4, 7, "main/a"), ("function http.get has no parameter 'uri'",),
        id="unknown stdlib arg name",
    ),
    pytest.param(
        """
        - a:
            call: sys.sleep
        """,
        (2, 11, "main/a"), ("function sys.sleep needs the argument 'seconds'",),
        id="missing stdlib arg",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                return: ${waits(1)}
        waits:
          params: [n]
          steps:
            - b:
                call: sys.sleep
                args: {seconds: ${n}}
        """,
        (4, 17, "main/a"), ("subworkflow 'waits' blocks (http", "call it from a call step"),
        id="blocking subworkflow in an expression",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                try:
                  return: 1
                retry:
                  predicate: ${check}
                  max_retries: 2
        check:
          params: [e, extra]
          steps:
            - b:
                return: true
        """,
        (7, 22, "main/a"), ("predicate subworkflow 'check' must take exactly one parameter",),
        id="predicate with two params",
    ),
]


@pytest.mark.parametrize(("source", "where", "fragments"), CALL_CASES)
def test_calls(
    workflow_runtime: WorkflowRuntime, source: str, where: tuple[int, int, str], fragments: tuple[str, ...]
) -> None:
    check(deploy_error(workflow_runtime, source), *where, *fragments)


# --------------------------------------------------------------------------- variables

VARIABLE_CASES = [
    pytest.param(
        """
        - a:
            parallel:
              branches:
                - one:
                    steps:
                      - s:
                          assign:
                            - total: 1
                - two:
                    steps:
                      - t:
                          assign:
                            - other: 2
        """,
        None, (),
        id="branch-local names are fine",
    ),
    pytest.param(
        """
        - init:
            assign:
              - total: 0
        - a:
            parallel:
              branches:
                - one:
                    steps:
                      - s:
                          assign:
                            - total: 1
                - two:
                    steps:
                      - t:
                          assign:
                            - x: 2
        """,
        (11, 23, "main/a/one/s"), ("writes 'total'", "not listed in `shared`", "shared: [...]"),
        id="write to a parent variable not in shared",
    ),
    pytest.param(
        """
        - init:
            assign:
              - total: 0
        - a:
            parallel:
              for:
                value: v
                in: [1]
                steps:
                  - s:
                      call: math.max
                      args: [1, 2]
                      result: total
        """,
        (13, 23, "main/a/s"), ("writes 'total'",),
        id="call result into a parent variable not in shared",
    ),
    pytest.param(
        """
        - a:
            parallel:
              shared: [total]
              branches:
                - one:
                    steps:
                      - s:
                          assign:
                            - x: 1
                - two:
                    steps:
                      - t:
                          assign:
                            - y: 2
        """,
        (3, 16, "main/a"), ("shared variable 'total' must be assigned before the parallel step",),
        id="shared name not assigned before",
    ),
    pytest.param(
        """
        - a:
            return: ${missing + 1}
        """,
        (2, 13, "main/a"), ("variable 'missing' is read but never assigned",),
        id="read of a name nothing assigns",
    ),
    pytest.param(
        """
        - a:
            for:
              value: v
              in: [1, 2]
              steps:
                - s:
                    assign:
                      - last: ${v}
        - b:
            return: ${last}
        """,
        (10, 13, "main/b"), ("variable 'last' is read but never assigned", "for loop"),
        id="name first assigned in a for body, read after",
    ),
    pytest.param(
        """
        - a:
            for:
              value: v
              in: [1, 2]
              steps:
                - s:
                    assign:
                      - x: 1
        - b:
            return: ${v}
        """,
        (10, 13, "main/b"), ("variable 'v' is read",),
        id="loop variable after the loop",
    ),
    pytest.param(
        """
        - a:
            try:
              raise: boom
            except:
              as: e
              steps:
                - s:
                    assign:
                      - message: ${e}
        - b:
            return: ${message}
        """,
        (11, 13, "main/b"), ("variable 'message' is read",),
        id="name first assigned in an except block, read after",
    ),
    pytest.param(
        """
        - a:
            try:
              raise: boom
            except:
              as: e
              steps:
                - s:
                    assign:
                      - x: 1
        - b:
            return: ${e}
        """,
        (11, 13, "main/b"), ("variable 'e' is read",),
        id="except variable after the block",
    ),
    pytest.param(
        """
        - a:
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
                            - y: ${made}
        """,
        (13, 26, "main/a/two/t"), ("variable 'made' is read",),
        id="name of another branch",
    ),
    pytest.param(
        """
        main:
          steps:
            - a:
                assign:
                  - x: 1
            - b:
                call: sub
        sub:
          steps:
            - c:
                return: ${x}
        """,
        (11, 17, "sub/c"), ("variable 'x' is read",),
        id="caller's variable in a subworkflow",
    ),
    pytest.param(
        """
        - a:
            assign:
              - m.key: 1
        """,
        (3, 9, "main/a"), ("variable 'm' is read",),
        id="path assignment on an unassigned root",
    ),
]


@pytest.mark.parametrize(("source", "where", "fragments"), VARIABLE_CASES)
def test_variables(
    workflow_runtime: WorkflowRuntime, source: str, where: tuple[int, int, str] | None, fragments: tuple[str, ...]
) -> None:
    if where is None:
        workflow_runtime.deploy(textwrap.dedent(source))
        return
    check(deploy_error(workflow_runtime, source), *where, *fragments)


def test_switch_arm_and_nested_steps_do_not_make_scopes(workflow_runtime: WorkflowRuntime) -> None:
    """Names first assigned in switch arms, nested steps and try bodies stay visible (docs/semantics.md §3.9)."""
    workflow = workflow_runtime.deploy(textwrap.dedent("""
        - a:
            switch:
              - condition: true
                assign:
                  - from_switch: 1
        - b:
            steps:
              - c:
                  assign:
                    - from_steps: 2
        - d:
            try:
              assign:
                - from_try: 3
            except:
              steps:
                - e:
                    return: 0
        - f:
            return: ${from_switch + from_steps + from_try}
        """))
    assert workflow.run().result() == 6


def test_read_before_a_later_assignment_in_the_same_scope_is_a_runtime_key_error(
    workflow_runtime: WorkflowRuntime,
) -> None:
    """docs/decisions.md #32: some path assigns the name, so the read is left to run time (KeyError)."""
    execution = workflow_runtime.run(textwrap.dedent("""
        - a:
            switch:
              - condition: false
                assign:
                  - maybe: 1
        - b:
            return: ${maybe}
        """))
    assert execution.state == "FAILED"
    assert execution.error["tags"] == ["KeyError"]
    assert "maybe" in execution.error["message"]


def test_module_names_can_be_variables(workflow_runtime: WorkflowRuntime) -> None:
    """The official iterate_list / iterate_map samples assign variables called ``list`` and ``map``."""
    execution = workflow_runtime.run(textwrap.dedent("""
        - a:
            assign:
              - list: [1, 2]
              - map: {"k": 3}
              - text: ${list.concat(list, map.get(map, "k"))}
        - b:
            return: ${text}
        """))
    assert execution.result() == [1, 2, 3]


def test_module_name_never_assigned_is_still_a_module(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - a:
            return: ${len(list)}
        """)
    assert error.line == 2
    assert "'list' is a standard-library module" in error.message


# --------------------------------------------------------------------------- limits


def _assign_items(count: int) -> str:
    return "\n".join(f"      - v{i}: {i}" for i in range(count))


def test_assign_limit(workflow_runtime: WorkflowRuntime) -> None:
    ok = "- a:\n    assign:\n" + _assign_items(50) + "\n- b:\n    return: ${v49}\n"
    assert workflow_runtime.run(ok).result() == 49
    error = deploy_error(workflow_runtime, "- a:\n    assign:\n" + _assign_items(51) + "\n")
    check(error, 2, 5, "main/a", "`assign` has 51 items; at most 50", "split it")


def test_assign_limit_is_a_setting(workflow_server: Any) -> None:
    with WorkflowRuntime(server=workflow_server, limits={"assign_items": 2}) as runtime:
        error = deploy_error(runtime, "- a:\n    assign:\n" + _assign_items(3) + "\n")
    assert "at most 2" in error.message


def test_switch_limit(workflow_runtime: WorkflowRuntime) -> None:
    arms = "\n".join(f"      - condition: ${{{i} == 0}}\n        next: end" for i in range(51))
    error = deploy_error(workflow_runtime, "- a:\n    switch:\n" + arms + "\n")
    check(error, 2, 5, "main/a", "`switch` has 51 conditions; at most 50")
    fifty = "\n".join(f"      - condition: ${{{i} == 0}}\n        next: end" for i in range(50))
    workflow_runtime.deploy("- a:\n    switch:\n" + fifty + "\n")


def _branches(count: int) -> str:
    return "\n".join(
        f"        - b{i}:\n            steps:\n              - s{i}:\n                  assign:\n                    - x: 1"
        for i in range(count)
    )


@pytest.mark.parametrize("count", [1, 11])
def test_branch_count_limits(workflow_runtime: WorkflowRuntime, count: int) -> None:
    error = deploy_error(workflow_runtime, "- a:\n    parallel:\n      branches:\n" + _branches(count) + "\n")
    check(error, 3, 7, "main/a", f"`branches` has {count} entries", "2 to 10 branches", "parallel `for`")


def test_ten_branches_deploy(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy("- a:\n    parallel:\n      branches:\n" + _branches(10) + "\n")


def test_subworkflow_param_limit(workflow_runtime: WorkflowRuntime) -> None:
    params = ", ".join(f"p{i}" for i in range(11))
    error = deploy_error(workflow_runtime, f"""
        main:
          steps:
            - a:
                return: 1
        sub:
          params: [{params}]
          steps:
            - b:
                return: 1
        """)
    check(error, 6, 3, "", "routine 'sub' declares 11 parameters", "at most 10")


def test_main_takes_at_most_one_param(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        main:
          params: [a, b]
          steps:
            - s:
                return: 1
        """)
    check(error, 2, 3, "", "`main` takes at most 1 parameter")


def test_parallel_nesting_limit(workflow_runtime: WorkflowRuntime) -> None:
    def level(depth: int, indent: str) -> str:
        if depth == 0:
            return f"{indent}- leaf:\n{indent}    assign:\n{indent}      - x: 1\n"
        inner = level(depth - 1, indent + "          ")
        return (f"{indent}- p{depth}:\n{indent}    parallel:\n{indent}      for:\n"
                f"{indent}        value: v{depth}\n{indent}        in: [1]\n{indent}        steps:\n" + inner)

    workflow_runtime.deploy(level(2, ""))
    error = deploy_error(workflow_runtime, level(3, ""))
    assert (error.line, error.step) == (14, "main/p3/p2/p1")
    assert "nested 3 deep; at most 2" in error.message


# --------------------------------------------------------------------------- expressions


EXPRESSION_CASES = [
    pytest.param("- a:\n    return: ${1 +* 2}\n", (2, 18), "a value was expected", id="operator without operand"),
    pytest.param("- a:\n    return: ${(1 + 2}\n", (2, 21), "expected ')'", id="unclosed parenthesis"),
    pytest.param('- a:\n    return: ${"abc}\n', (2, 15), "unterminated string", id="unterminated string"),
    pytest.param("- a:\n    return: ${1 = 1}\n", (2, 17), "use '=='", id="single equals"),
    pytest.param("- a:\n    return: ${true && false}\n", (2, 20), "use the keyword 'and'", id="C operator"),
    pytest.param("- a:\n    return: ${}\n", (2, 15), "empty expression", id="empty"),
    pytest.param(
        '- a:\n    return: "${[1, 2,, 3]}"\n', (2, 22), "a value was expected", id="inside a quoted scalar"
    ),
]


@pytest.mark.parametrize(("source", "where", "fragment"), EXPRESSION_CASES)
def test_malformed_expression_has_a_caret(
    workflow_runtime: WorkflowRuntime, source: str, where: tuple[int, int], fragment: str
) -> None:
    error = deploy_error(workflow_runtime, source)
    check(error, *where, "main/a", fragment)
    line_text = source.splitlines()[where[0] - 1]
    assert error.snippet.splitlines() == [f"    {line_text}", " " * (3 + where[1]) + "^"]
    assert str(error).endswith(error.snippet)


def test_caret_in_a_json_file(workflow_runtime: WorkflowRuntime, tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "main": {\n    "steps": [\n      {"a": {"return": "${1 +}"}}\n    ]\n  }\n}\n')
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(path)
    error = info.value
    assert (error.file, error.line, error.column, error.step) == (str(path), 4, 30, "main/a")
    assert "ends too early" in error.message
    assert error.snippet.splitlines()[1].index("^") == 4 + 29


def test_malformed_assignment_target(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - a:
            assign:
              - x[: 1
        """)
    check(error, 3, 9, "main/a", "invalid assignment target 'x['")


def test_yaml_syntax_error_location(workflow_runtime: WorkflowRuntime) -> None:
    error = deploy_error(workflow_runtime, """
        - a:
            return: ${"a: " + "b"}
        """)
    assert error.line == 2
    assert "quote expressions" in error.message


def test_json_files_are_parsed_strictly(tmp_path, workflow_runtime) -> None:
    bad = tmp_path / "trailing.json"
    bad.write_text('{"main": {"steps": [{"a": {"return": 1}},]}}', encoding="utf-8")
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(bad)
    assert info.value.message.startswith("JSON syntax error")
    assert (info.value.line, info.value.column) == (1, 42)
    good = tmp_path / "good.json"
    good.write_text('{"main": {"steps": [{"a": {"return": 1}}]}}', encoding="utf-8")
    assert workflow_runtime.deploy(good).run().value == 1


def test_tabs_in_indentation_get_a_tab_hint(workflow_runtime) -> None:
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy("main:\n\tsteps:\n\t\t- a:\n\t\t\treturn: 1\n")
    assert "not tabs" in info.value.message


def test_a_step_key_beside_the_step_name_says_to_indent_it(workflow_runtime) -> None:
    source = """\
- create:
    call: events.create_callback_endpoint
  result: cb
"""
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert "indent it under 'create'" in info.value.message
    assert (info.value.line, info.value.column) == (3, 3)


@pytest.mark.parametrize("target", ["m.k", "m[v]", "l[0]"])
def test_a_branch_writing_into_a_parent_variable_needs_shared(workflow_runtime, target: str) -> None:
    # docs/semantics.md §2.5: writing a parent variable not listed in `shared` is a deploy error,
    # also when the write changes only part of it.
    source = f"""
- a:
    assign:
      - m: {{}}
      - l: [0]
- p:
    parallel:
      for:
        value: v
        in: ["a", "b"]
        steps:
          - x:
              assign:
                - {target}: 1
"""
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert "shared" in info.value.message
    assert info.value.line == 14  # the `- target: 1` item
    shared = source.replace("      for:", f"      shared: [{target[0]}]\n      for:")
    assert workflow_runtime.run(shared).state == "SUCCEEDED"


@pytest.mark.parametrize("body", [
    "    - t:\n        try:\n          raise: boom\n        retry:\n          predicate: ${retry.always}\n"
    "          max_retries: 2\n          backoff: {initial_delay: 5, max_delay: 5, multiplier: 1}\n",
    "    - p:\n        parallel:\n          branches:\n            - a:\n                steps:\n"
    "                  - x: {assign: [{v: 1}]}\n            - b:\n                steps:\n"
    "                  - y: {assign: [{w: 1}]}\n",
])
def test_a_subworkflow_that_waits_cannot_be_called_in_an_expression(workflow_runtime, body: str) -> None:
    # A retry sleeps its backoff and a parallel step waits for its branches: both block,
    # so the routine may not run inside an expression (docs/semantics.md §2.2).
    source = "main:\n  steps:\n    - a:\n        assign:\n          - x: ${helper()}\nhelper:\n  steps:\n" + body
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert "cannot be called inside an expression" in info.value.message
    assert info.value.line == 5


@pytest.mark.parametrize(("predicate", "expected"), [
    ("http.default_retry_predicate", "must be an expression naming a predicate"),
    ("${http.default_retry}", "is a retry policy, not a predicate"),
])
def test_wrong_retry_predicates_are_deploy_errors(workflow_runtime, predicate: str, expected: str) -> None:
    # A happy-path test would never reach the predicate: catch the mistake at deploy time.
    source = f"""\
- t:
    try:
      call: http.get
      args: {{url: "https://example.com"}}
    retry:
      predicate: {predicate}
      max_retries: 3
"""
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert expected in info.value.message
    assert info.value.line == 6


def test_except_indented_into_the_try_body_says_so(workflow_runtime) -> None:
    source = """\
- t:
    try:
      call: http.get
      args: {url: "https://example.com"}
      except:
        as: e
        steps:
          - s: {return: 1}
"""
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert "indented too deep" in info.value.message


def test_a_misspelt_except_key_is_named(workflow_runtime) -> None:
    source = """\
- t:
    try:
      call: sys.get_env
      args: {name: X}
    except:
      as: e
      step:
        - s: {return: 1}
"""
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert "unknown key 'step' in `except` (did you mean 'steps'?)" in info.value.message
