"""Step semantics (docs/semantics.md §2, docs/decisions.md #14, #23, #26): what each step type does when it runs."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from pytest_wfcallbacks import Execution, WorkflowFailed, WorkflowRuntime, WorkflowSyntaxError


def run(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Execution:
    """Run a dedented YAML workflow to its end."""
    return runtime.run(textwrap.dedent(source).lstrip("\n"), argument)


def result(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Any:
    """The value a workflow returns (fails the test if the execution fails)."""
    return run(runtime, source, argument).result()


def failure(runtime: WorkflowRuntime, source: str, argument: Any = None) -> Any:
    """The error value of a workflow that must fail."""
    execution = run(runtime, source, argument)
    assert execution.state == "FAILED", f"expected a failure, got {execution.state} {execution.value!r}"
    return execution.error


# --------------------------------------------------------------------------- assign


def test_assign_items_see_earlier_items_and_paths(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - a:
            assign:
              - a: {"b": [{"c": 1}, {"c": 2}]}
              - a.b[0].c: 10
              - key: "dyn"
              - a[key]: ${a.b[1].c + 1}
              - a.b[1]["c"]: 20
              - a.new.deep: true
              - i: 0
              - a.b[i + 1].c: ${a.b[i + 1].c * 2}
        - r:
            return: ${a}
        """) == {"b": [{"c": 10}, {"c": 40}], "dyn": 3, "new": {"deep": True}}


@pytest.mark.parametrize(
    ("target", "tag", "words"),
    [
        ("l[2]", "IndexError", "out of range"),
        ("l[-1]", "IndexError", "out of range"),
        ('l["0"]', "TypeError", "list index must be an integer"),
        ("m[1]", "TypeError", "map key must be a string"),
        ("s.x", "TypeError", "cannot assign into a string"),
        ("l[0].x.y", "TypeError", "cannot assign into a integer"),
    ],
)
def test_assign_path_errors(workflow_runtime: WorkflowRuntime, target: str, tag: str, words: str) -> None:
    error = failure(workflow_runtime, f"""
        - a:
            assign:
              - l: [1, 2]
              - m: {{}}
              - s: "text"
              - {target}: 0
        """)
    assert error["tags"] == [tag]
    assert words in error["message"]


def test_assignment_copies_never_alias(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - a:
            assign:
              - a: [[1], {"k": 1}]
              - b: ${a}
              - b[0][0]: 99
              - b[1].k: 99
              - c: ${list.concat(a, 3)}
              - c[0][0]: 77
              - d: ${a[1]}
              - d.k: 55
              - e: ${default(a, null)}
              - e[1].k: 44
        - r:
            return: [${a}, ${b}, ${c}, ${d}]
        """) == [[[1], {"k": 1}], [[99], {"k": 99}], [[77], {"k": 1}, 3], {"k": 55}]


def test_call_arguments_and_returns_are_copies(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        main:
          steps:
            - a:
                assign:
                  - data: {"items": [1]}
            - mutate:
                call: change
                args:
                  value: ${data}
                result: returned
            - again:
                assign:
                  - returned.items[0]: 3
                  - viaexpr: ${change(data)}
                  - viaexpr.items[0]: 4
            - r:
                return: [${data}, ${returned}, ${viaexpr}]
        change:
          params: [value]
          steps:
            - m:
                assign:
                  - value.items[0]: 2
            - r:
                return: ${value}
        """) == [{"items": [1]}, {"items": [3]}, {"items": [4]}]


def test_for_loop_value_is_a_copy(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - a:
            assign:
              - rows: [{"n": 1}, {"n": 2}]
        - loop:
            for:
              value: row
              in: ${rows}
              steps:
                - m:
                    assign:
                      - row.n: 0
        - r:
            return: ${rows}
        """) == [{"n": 1}, {"n": 2}]


# --------------------------------------------------------------------------- call


SUBWORKFLOWS = """
        greet:
          params: [first, last: "Doe", punct: "!"]
          steps:
            - r:
                return: ${first + " " + last + punct}
        """


def test_call_named_positional_and_defaults(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        main:
          steps:
            - named:
                call: greet
                args: {first: "Ada", punct: "?"}
                result: a
            - positional:
                call: greet
                args: ["Alan", "Turing"]
                result: b
            - r:
                return: [${a}, ${b}, ${greet("Grace")}, ${greet("Kurt", "Gödel", ".")}]
        """ + SUBWORKFLOWS) == ["Ada Doe?", "Alan Turing!", "Grace Doe!", "Kurt Gödel."]


def test_call_stdlib_with_named_and_positional_args(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - a:
            call: text.split
            args: {source: "a-b", separator: "-"}
            result: named
        - b:
            call: text.split
            args: ["c-d", "-"]
            result: positional
        - r:
            return: [${named}, ${positional}]
        """) == [["a", "b"], ["c", "d"]]


def test_missing_argument_at_run_time_is_a_type_error(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, """
        main:
          steps:
            - a:
                call: greet
                args: '${ {"last": "x"} }'
        """ + SUBWORKFLOWS)
    assert error["tags"] == ["TypeError"]
    assert "'first'" in error["message"]


def test_recursion_until_the_depth_limit(workflow_server: Any) -> None:
    source = textwrap.dedent("""
        main:
          params: [n]
          steps:
            - r:
                return: ${fact(n)}
        fact:
          params: [n]
          steps:
            - base:
                switch:
                  - condition: ${n <= 1}
                    return: 1
            - rec:
                return: ${n * fact(n - 1)}
        """)
    with WorkflowRuntime(server=workflow_server, limits={"call_depth": 6}) as runtime:
        assert runtime.run(source, 5).result() == 120
        execution = runtime.run(source, 6)
    assert execution.error["tags"] == ["RecursionError"]
    assert "call depth (6)" in execution.error["message"]


def test_default_call_depth_is_20(workflow_runtime: WorkflowRuntime) -> None:
    source = textwrap.dedent("""
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
                  - condition: ${n == 0}
                    return: 0
            - rec:
                call: down
                args: {n: ${n - 1}}
                result: r
            - r:
                return: ${r + 1}
        """)
    assert workflow_runtime.run(source, 18).result() == 18
    assert workflow_runtime.run(source, 19).error["tags"] == ["RecursionError"]


# --------------------------------------------------------------------------- switch


def test_switch_first_true_wins_and_arms_take_any_body(workflow_runtime: WorkflowRuntime) -> None:
    source = """
        main:
          params: [x]
          steps:
            - init:
                assign:
                  - log: []
            - s:
                switch:
                  - condition: ${x == 1}
                    steps:
                      - a1:
                          assign:
                            - log: ${list.concat(log, "steps")}
                  - condition: ${x <= 2}
                    return: "returned"
                  - condition: ${x <= 3}
                    raise: {"code": 3}
                  - condition: ${x <= 4}
                    for:
                      value: v
                      in: [1, 2]
                      steps:
                        - add:
                            assign:
                              - log: ${list.concat(log, v)}
                  - condition: ${x <= 5}
                    next: jumped
                  - condition: true
                    assign:
                      - log: ${list.concat(log, "default")}
                next: after
            - skipped:
                assign:
                  - log: ${list.concat(log, "skipped")}
            - after:
                return: ${log}
            - jumped:
                return: "jumped"
        """
    assert result(workflow_runtime, source, 1) == ["steps"]
    assert result(workflow_runtime, source, 2) == "returned"
    assert failure(workflow_runtime, source, 3) == {"code": 3}
    assert result(workflow_runtime, source, 4) == [1, 2]
    assert result(workflow_runtime, source, 5) == "jumped"
    assert result(workflow_runtime, source, 6) == ["default"]


def test_switch_without_match_goes_to_its_next_or_the_following_step(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - s:
            switch:
              - condition: false
                return: "arm"
            next: elsewhere
        - following:
            return: "following"
        - elsewhere:
            return: "elsewhere"
        """) == "elsewhere"
    assert result(workflow_runtime, """
        - s:
            switch:
              - condition: false
                return: "arm"
        - following:
            return: "following"
        """) == "following"


@pytest.mark.parametrize("condition", ["null", "1", '""', "[true]"])
def test_switch_condition_must_be_boolean(workflow_runtime: WorkflowRuntime, condition: str) -> None:
    error = failure(workflow_runtime, f"""
        - s:
            switch:
              - condition: ${{{condition}}}
                return: 1
        """)
    assert error["tags"] == ["TypeError"]
    assert "must be a boolean" in error["message"]


def test_switch_condition_after_a_true_one_is_not_evaluated(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - s:
            switch:
              - condition: true
                return: 1
              - condition: ${1 / 0 == 1}
                return: 2
        """) == 1


# --------------------------------------------------------------------------- for


def test_for_in_with_index_break_and_continue(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - init:
            assign:
              - seen: []
        - loop:
            for:
              value: v
              index: i
              in: ["a", "b", "c", "d", "e"]
              steps:
                - skip_b:
                    switch:
                      - condition: ${v == "b"}
                        next: continue
                - stop_at_d:
                    switch:
                      - condition: ${v == "d"}
                        steps:
                          - deep:
                              next: break
                - add:
                    assign:
                      - seen: ${list.concat(seen, string(i) + v)}
        - r:
            return: ${seen}
        """) == ["0a", "2c"]


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ("[1, 9]", 45),
        ("${[0, -1]}", 0),
        ("[3, 3]", 3),
        ("[-2, 2]", 0),
        ("[1.5, 4]", 7.5),
        ("[1, 3.5]", 6),
    ],
)
def test_for_range_is_inclusive(workflow_runtime: WorkflowRuntime, bounds: str, expected: Any) -> None:
    value = result(workflow_runtime, f"""
        - init:
            assign:
              - total: 0
        - loop:
            for:
              value: v
              range: {bounds}
              steps:
                - add:
                    assign:
                      - total: ${{total + v}}
        - r:
            return: ${{total}}
        """)
    assert value == expected
    assert type(value) is type(expected)


def test_for_range_doubles_and_index(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - init:
            assign:
              - seen: []
              - n: 2
        - loop:
            for:
              value: v
              index: i
              range: ${[0.5, n]}
              steps:
                - add:
                    assign:
                      - seen: ${list.concat(seen, [i, v])}
        - r:
            return: ${seen}
        """) == [[0, 0.5], [1, 1.5]]


@pytest.mark.parametrize(("clause", "words"), [
    ('in: ${"abc"}', "needs a list"),
    ("in: '${{\"a\": 1}}'", "keys(m)"),
    ('range: ${[1]}', "two numbers"),
    ('range: ${["a", 2]}', "must be numbers"),
])
def test_for_needs_a_list_or_numeric_range(workflow_runtime: WorkflowRuntime, clause: str, words: str) -> None:
    error = failure(workflow_runtime, f"""
        - loop:
            for:
              value: v
              {clause}
              steps:
                - s:
                    assign:
                      - x: ${{v}}
        """)
    assert error["tags"] == ["TypeError"]
    assert words in error["message"]


def test_for_list_is_evaluated_once(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - init:
            assign:
              - items: [1, 2]
              - count: 0
        - loop:
            for:
              value: v
              in: ${items}
              steps:
                - grow:
                    assign:
                      - items: ${list.concat(items, v)}
                      - count: ${count + 1}
        - r:
            return: [${count}, ${items}]
        """) == [2, [1, 2, 1, 2]]


def test_zero_iterations_and_return_inside_a_loop(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - empty:
            for:
              value: v
              in: []
              steps:
                - never:
                    return: "ran"
        - loop:
            for:
              value: v
              in: [1, 2, 3]
              steps:
                - nested:
                    steps:
                      - check:
                          switch:
                            - condition: ${v == 2}
                              return: ${"returned at " + string(v)}
        - r:
            return: "fell through"
        """) == "returned at 2"


# --------------------------------------------------------------------------- parallel


def test_parallel_branches_with_shared_variables(workflow_runtime: WorkflowRuntime) -> None:
    execution = run(workflow_runtime, """
        - init:
            assign:
              - results: {}
              - total: 0
        - par:
            parallel:
              shared: [results, total]
              branches:
                - slow:
                    steps:
                      - wait:
                          call: sys.sleep
                          args: {seconds: 5}
                      - set:
                          assign:
                            - results.slow: ${sys.now()}
                            - total: ${total + 1}
                - fast:
                    steps:
                      - wait:
                          call: sys.sleep
                          args: {seconds: 2}
                      - set:
                          assign:
                            - results.fast: ${sys.now()}
                            - total: ${total + 1}
        - r:
            return: [${results.fast - results.slow}, ${total}, ${sys.now()}]
        """)
    start = workflow_runtime.clock.time() - execution.value[2]
    assert execution.value[:2] == [-3.0, 2]
    assert start == 0 or execution.value[2] - 5 >= 0


def test_parallel_concurrency_limit_queues_iterations(workflow_runtime: WorkflowRuntime) -> None:
    value = result(workflow_runtime, """
        - init:
            assign:
              - start: ${sys.now()}
              - ends: []
        - par:
            parallel:
              shared: [ends]
              concurrency_limit: 2
              for:
                value: v
                in: [1, 2, 3, 4, 5]
                steps:
                  - wait:
                      call: sys.sleep
                      args: {seconds: 10}
                  - done:
                      assign:
                        - ends: ${list.concat(ends, sys.now() - start)}
        - r:
            return: ${ends}
        """)
    assert sorted(value) == [10.0, 10.0, 20.0, 20.0, 30.0]


def test_parallel_for_iterations_have_their_own_loop_variables(workflow_runtime: WorkflowRuntime) -> None:
    value = result(workflow_runtime, """
        - init:
            assign:
              - out: {}
        - par:
            parallel:
              shared: [out]
              for:
                value: name
                index: i
                in: ["a", "b", "c"]
                steps:
                  - wait:
                      call: sys.sleep
                      args: {seconds: ${3 - i}}
                  - done:
                      assign:
                        - out[name]: ${i}
        - r:
            return: ${out}
        """)
    assert value == {"c": 2, "b": 1, "a": 0}


PARALLEL_FAILING = """
        main:
          params: [policy]
          steps:
            - init:
                assign:
                  - finished: []
            - guarded:
                try:
                  steps:
                    - par:
                        parallel:
                          shared: [finished]
                          exception_policy: ${policy}
                          for:
                            value: item
                            in: ["ok1", "bad1", "ok2", "bad2", "ok3"]
                            steps:
                              - wait:
                                  call: sys.sleep
                                  args: {seconds: 1}
                              - check:
                                  switch:
                                    - condition: ${text.match_regex(item, "^bad")}
                                      raise: ${"failed " + item}
                              - wait_more:
                                  call: sys.sleep
                                  args: {seconds: 1}
                              - done:
                                  assign:
                                    - finished: ${list.concat(finished, item)}
                except:
                  as: e
                  steps:
                    - r:
                        return: [${e}, ${finished}]
        """


def _with_policy(policy: str | None) -> str:
    line = "                          exception_policy: ${policy}\n"
    source = textwrap.dedent(PARALLEL_FAILING.replace(line, "" if policy is None else
                                                      line.replace("${policy}", policy)))
    return source.replace("          params: [policy]\n", "")


def test_parallel_default_policy_is_continue_all(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #14: without a policy every branch runs to its end; errors in iteration order."""
    error, finished = workflow_runtime.run(_with_policy(None)).result()
    assert finished == ["ok1", "ok2", "ok3"]
    assert error["tags"] == ["UnhandledBranchError"]
    assert [b["id"] for b in error["branches"]] == ["1", "3"]
    assert [b["error"]["payload"] for b in error["branches"]] == ['"failed bad1"', '"failed bad2"']


def test_parallel_continue_all_runs_everything_then_raises_once(workflow_runtime: WorkflowRuntime) -> None:
    error, finished = workflow_runtime.run(_with_policy("continueAll")).result()
    assert sorted(finished) == ["ok1", "ok2", "ok3"]
    assert error["tags"] == ["UnhandledBranchError"]
    assert error["message"].startswith("UnhandledBranchError: 2 branches")
    assert sorted(b["id"] for b in error["branches"]) == ["1", "3"]
    for branch in error["branches"]:
        assert set(branch) == {"id", "error"}
        assert set(branch["error"]) == {"context", "payload"}


def test_unhandled_branch_error_of_named_branches(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, """
        - par:
            parallel:
              branches:
                - good:
                    steps:
                      - a:
                          assign:
                            - x: 1
                - broken:
                    steps:
                      - b:
                          raise: {"code": 7, "message": "broken"}
        """)
    assert error["tags"] == ["UnhandledBranchError"]
    assert error["branches"] == [
        {"id": "broken", "error": {"context": "broken", "payload": '{"code":7,"message":"broken"}'}}
    ]


def test_nested_parallel_steps(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - init:
            assign:
              - total: 0
        - outer:
            parallel:
              shared: [total]
              for:
                value: a
                in: [1, 2]
                steps:
                  - inner:
                      parallel:
                        shared: [total]
                        for:
                          value: b
                          in: [10, 20]
                          steps:
                            - add:
                                assign:
                                  - total: ${total + a * b}
        - r:
            return: ${total}
        """) == 90


def test_parallel_nesting_through_a_subworkflow_fails_at_run_time(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, """
        main:
          steps:
            - p:
                parallel:
                  for:
                    value: a
                    in: [1]
                    steps:
                      - q:
                          parallel:
                            for:
                              value: b
                              in: [1]
                              steps:
                                - c:
                                    call: third
        third:
          steps:
            - p3:
                parallel:
                  for:
                    value: c
                    in: [1]
                    steps:
                      - x:
                          assign:
                            - y: 1
        """)
    inner = error["branches"][0]["error"]["payload"]
    assert "ParallelNestingError" in inner


# --------------------------------------------------------------------------- try / retry / except


def test_retry_backoff_on_the_virtual_clock(workflow_runtime: WorkflowRuntime) -> None:
    """4 attempts (max_retries excludes the first); delays min(initial * multiplier^(k-1), max_delay)."""
    execution = run(workflow_runtime, """
        - init:
            assign:
              - times: []
              - start: ${sys.now()}
        - attempt:
            try:
              steps:
                - note:
                    assign:
                      - times: ${list.concat(times, sys.now() - start)}
                - fail:
                    raise: "again"
            retry:
              predicate: ${retry.always}
              max_retries: 3
              backoff:
                initial_delay: 1
                max_delay: 3
                multiplier: 2
            except:
              as: e
              steps:
                - r:
                    return: [${e}, ${times}]
        """)
    assert execution.result() == ["again", [0.0, 1.0, 3.0, 6.0]]


def test_retry_policy_by_value(workflow_runtime: WorkflowRuntime) -> None:
    """${http.default_retry}: 5 retries of 503 with retry.default_backoff (1 s, x1.25, max 60 s)."""
    value = result(workflow_runtime, """
        - init:
            assign:
              - times: []
              - start: ${sys.now()}
        - attempt:
            try:
              steps:
                - note:
                    assign:
                      - times: ${list.concat(times, sys.now() - start)}
                - fail:
                    raise: {"code": 503, "tags": ["HttpError"], "message": "unavailable"}
            retry: ${http.default_retry}
            except:
              as: e
              steps:
                - r:
                    return: [${e.code}, ${times}]
        """)
    assert value[0] == 503
    delays = [b - a for a, b in zip(value[1], value[1][1:], strict=False)]
    assert delays == pytest.approx([1.0, 1.25, 1.5625, 1.953125, 2.44140625])


def test_retry_policy_by_value_skips_errors_it_does_not_match(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - init:
            assign:
              - n: 0
        - attempt:
            try:
              steps:
                - count:
                    assign:
                      - n: ${n + 1}
                - fail:
                    raise: {"code": 404, "tags": ["HttpError"]}
            retry: ${http.default_retry}
            except:
              steps:
                - r:
                    return: ${n}
        """) == 1


def test_predicate_subworkflow_and_whole_body_rerun(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        main:
          steps:
            - init:
                assign:
                  - first_steps: 0
                  - second_steps: 0
            - attempt:
                try:
                  steps:
                    - one:
                        assign:
                          - first_steps: ${first_steps + 1}
                    - two:
                        assign:
                          - second_steps: ${second_steps + 1}
                    - three:
                        switch:
                          - condition: ${second_steps < 3}
                            raise: {"retry_me": true}
                retry:
                  predicate: ${should_retry}
                  max_retries: 5
                  backoff: {initial_delay: 0.5, max_delay: 10, multiplier: 1}
            - r:
                return: [${first_steps}, ${second_steps}]
        should_retry:
          params: [e]
          steps:
            - decide:
                return: ${map.get(e, "retry_me") == true}
        """) == [3, 3]


def test_predicate_false_goes_to_except_and_without_except_propagates(workflow_runtime: WorkflowRuntime) -> None:
    source = """
        - attempt:
            try:
              raise: "nope"
            retry:
              predicate: ${retry.never}
              max_retries: 3
        """
    assert failure(workflow_runtime, source) == "nope"


def test_predicate_errors_propagate(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, """
        main:
          steps:
            - attempt:
                try:
                  raise: "first"
                retry:
                  predicate: ${broken}
                  max_retries: 3
                except:
                  as: e
                  steps:
                    - caught:
                        return: ${"caught " + e}
        broken:
          params: [e]
          steps:
            - r:
                return: ${e.tags}
        """)
    assert error["tags"] == ["TypeError"]


def test_predicate_must_return_a_boolean(workflow_runtime: WorkflowRuntime) -> None:
    error = failure(workflow_runtime, """
        main:
          steps:
            - attempt:
                try:
                  raise: "first"
                retry:
                  predicate: ${yes}
                  max_retries: 1
        yes:
          params: [e]
          steps:
            - r:
                return: 1
        """)
    assert error["tags"] == ["TypeError"]
    assert "must return a boolean" in error["message"]


@pytest.mark.parametrize(("raised", "expected"), [
    ('"boom"', "boom"),
    ('{"code": 55, "message": "x"}', {"code": 55, "message": "x"}),
    ("${[1, 2]}", [1, 2]),
])
def test_raise_values_pass_through_unchanged(workflow_runtime: WorkflowRuntime, raised: str, expected: Any) -> None:
    assert result(workflow_runtime, f"""
        - t:
            try:
              raise: {raised}
            except:
              as: e
              steps:
                - r:
                    return: ${{e}}
        """) == expected
    assert failure(workflow_runtime, f"- t:\n    raise: {raised}\n") == expected


def test_errors_raised_in_except_propagate_and_rethrow(workflow_runtime: WorkflowRuntime) -> None:
    assert failure(workflow_runtime, """
        - t:
            try:
              raise: {"code": 1}
            except:
              as: e
              steps:
                - again:
                    raise: ${e}
        """) == {"code": 1}


def test_except_falls_through_to_the_try_steps_next(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - t:
            try:
              raise: "x"
            except:
              steps:
                - handled:
                    assign:
                      - y: 1
            next: target
        - skipped:
            return: "skipped"
        - target:
            return: "target"
        """) == "target"


def test_built_in_errors_are_caught_with_their_tags(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        - t:
            try:
              assign:
                - x: ${1 / 0}
            except:
              as: e
              steps:
                - r:
                    return: ${e.tags}
        """) == ["ZeroDivisionError"]


# --------------------------------------------------------------------------- return / end


def test_next_end_in_main_and_in_a_subworkflow(workflow_runtime: WorkflowRuntime) -> None:
    assert result(workflow_runtime, """
        main:
          steps:
            - c:
                call: stop
                result: r
            - check:
                switch:
                  - condition: ${r == null}
                    next: end
            - never:
                return: "not reached"
        stop:
          steps:
            - s:
                next: end
            - never:
                return: "not reached"
        """) is None
    execution = run(workflow_runtime, "- s:\n    assign:\n      - x: 1\n")
    assert execution.state == "SUCCEEDED"
    assert execution.value is None


# --------------------------------------------------------------------------- run-time limits


def test_step_limit(workflow_server: Any) -> None:
    source = """
        - loop:
            for:
              value: v
              range: [1, 100]
              steps:
                - s:
                    assign:
                      - x: ${v}
        """
    with WorkflowRuntime(server=workflow_server, limits={"steps": 50}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]
    assert "more than 50 steps" in error["message"]


def test_steps_count_retries_and_loop_iterations(workflow_server: Any) -> None:
    source = """
        - init:
            assign:
              - n: 0
        - t:
            try:
              steps:
                - a:
                    assign:
                      - n: ${n + 1}
                - b:
                    raise: "x"
            retry:
              predicate: ${retry.always}
              max_retries: 100
              backoff: {initial_delay: 0, max_delay: 0, multiplier: 1}
        """
    with WorkflowRuntime(server=workflow_server, limits={"steps": 30}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]


def test_string_size_limit(workflow_server: Any) -> None:
    source = """
        - init:
            assign:
              - s: "0123456789"
        - grow:
            for:
              value: v
              range: [1, 10]
              steps:
                - double:
                    assign:
                      - s: ${s + s}
        """
    with WorkflowRuntime(server=workflow_server, limits={"string_bytes": 1000}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]
    assert "1000-byte string limit" in error["message"]


def test_memory_limit(workflow_server: Any) -> None:
    source = """
        - init:
            assign:
              - items: []
        - grow:
            for:
              value: v
              range: [1, 400]
              steps:
                - add:
                    assign:
                      - items: ${list.concat(items, "some text of a certain length")}
        """
    with WorkflowRuntime(server=workflow_server, limits={"memory_bytes": 4000}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]
    assert "memory limit" in error["message"]


def test_default_limits() -> None:
    from pytest_wfcallbacks.settings import Limits

    limits = Limits()
    assert (limits.steps, limits.call_depth, limits.memory_bytes, limits.string_bytes) == (
        100_000, 20, 512 * 1024, 256 * 1024)


# --------------------------------------------------------------------------- failures


def test_workflow_failed_names_the_step_routine_line_and_time(workflow_runtime: WorkflowRuntime) -> None:
    execution = run(workflow_runtime, """
        main:
          steps:
            - wait:
                call: sys.sleep
                args: {seconds: 7}
            - go:
                call: inner
        inner:
          steps:
            - fine:
                assign:
                  - x: 1
            - explode:
                assign:
                  - y: ${x / 0}
        """)
    assert execution.error["tags"] == ["ZeroDivisionError"]
    with pytest.raises(WorkflowFailed) as info:
        execution.result()
    message = str(info.value)
    assert "ZeroDivisionError" in message
    assert "step 'explode'" in message
    assert "routine 'inner'" in message
    assert "<workflow>:13:7" in message
    assert "t+7s" in message
    assert info.value.tags == ["ZeroDivisionError"]


def test_memory_limit_counts_nested_values_and_call_results(workflow_server: Any) -> None:
    source = """
        - init:
            assign:
              - chunk: "0123456789012345678901234567890123456789"
        - build:
            call: text.split
            args: ['${chunk + "," + chunk + "," + chunk + "," + chunk}', ","]
            result: parts
        """
    with WorkflowRuntime(server=workflow_server, limits={"memory_bytes": 100}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]
    assert "storing parts" in error["message"]


def test_try_body_may_not_be_a_single_for_step(workflow_runtime: WorkflowRuntime) -> None:
    """docs/semantics.md §2.4: the service refuses `try: {for: ...}` at deploy; so does the double (issue 12)."""
    with pytest.raises(WorkflowSyntaxError, match="put the loop in a named step under `try: steps:`"):
        workflow_runtime.deploy(textwrap.dedent("""
            - init:
                assign:
                  - t: 0
            - a:
                try:
                  for:
                    value: v
                    range: [1, 3]
                    steps:
                      - s:
                          assign:
                            - t: ${t + v}
                except:
                  steps:
                    - x:
                        return: -1
            - r:
                return: ${t}
            """))


def test_memory_limit_counts_all_variables_together(workflow_server: Any) -> None:
    # Each list (about 380 bytes) fits in the 1,000-byte budget; three together do not
    # (docs/decisions.md #23: one budget for all variables).
    source = """
        - a:
            assign:
              - first: '${text.split(text.replace_all("a,b,c,d,e,f,g,h,i,j", ",", "0123456789012345678901234567890123456789,") + "x", ",")}'
        - b:
            assign:
              - second: ${first}
        - c:
            assign:
              - third: ${first}
        """
    with WorkflowRuntime(server=workflow_server, limits={"memory_bytes": 1000}) as runtime:
        error = failure(runtime, source)
    assert error["tags"] == ["ResourceLimitError"]
    assert "storing third" in error["message"]


def test_memory_is_given_back_when_scopes_end_and_values_are_nulled(workflow_server: Any) -> None:
    source = """
        - loop:
            for:
              value: i
              range: [1, 50]
              steps:
                - local:
                    assign:
                      - scratch: ${text.split("0123456789012345678901234567890123456789,0123456789012345678901234567890123456789", ",")}
        - big:
            assign:
              - held: ${text.split("0123456789012345678901234567890123456789,0123456789012345678901234567890123456789", ",")}
              - held: null
              - held2: ${text.split("0123456789012345678901234567890123456789,0123456789012345678901234567890123456789", ",")}
        - done:
            return: ${len(held2)}
        """
    with WorkflowRuntime(server=workflow_server, limits={"memory_bytes": 300}) as runtime:
        assert result(runtime, source) == 2
