"""Deterministic scheduling, seeds, exploration, deadlocks and the wall-time budget (issue 6)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wfcallbacks import DeadlockError, EventKind, ExecutionState, WorkflowRuntime

TEN_BRANCHES = """
main:
  steps:
    - init:
        assign:
          - total: 0
          - order: []
    - fan_out:
        parallel:
          shared: [total, order]
          for:
            value: n
            range: [1, 10]
            steps:
              - first:
                  assign:
                    - order: ${list.concat(order, n)}
              - nap:
                  call: sys.sleep
                  args: {seconds: ${11 - n}}
              - add:
                  assign:
                    - total: ${total + n}
              - second:
                  assign:
                    - order: ${list.concat(order, n)}
    - done:
        return: {total: ${total}, order: ${order}}
"""

RACY = """
main:
  steps:
    - init:
        assign:
          - counter: 0
    - race:
        parallel:
          shared: [counter]
          branches:
            - left:
                steps:
                  - read:
                      assign:
                        - seen: ${counter}
                  - write:
                      assign:
                        - counter: ${seen + 1}
            - right:
                steps:
                  - read:
                      assign:
                        - seen: ${counter}
                  - write:
                      assign:
                        - counter: ${seen + 1}
    - done:
        return: ${counter}
"""


def _history(execution: Any) -> list[tuple[Any, ...]]:
    return [(e.kind, e.ns, e.branch, e.step, tuple(sorted((k, repr(v)) for k, v in e.details.items())))
            for e in execution.history]


def test_ordered_schedule_starts_branches_in_declaration_order(workflow_runtime) -> None:
    execution = workflow_runtime.execute(TEN_BRANCHES)
    result = execution.result()
    assert result["total"] == 55
    # every branch runs until it blocks (the sleep) in order; wakes come in deadline order: 10 first
    assert result["order"] == list(range(1, 11)) + list(range(10, 0, -1))
    assert execution.branch_order("first") == list(range(1, 11))
    assert execution.branch_order("second") == list(range(10, 0, -1))


@pytest.mark.parametrize("seed", range(20))
def test_random_schedule_is_reproducible_per_seed(workflow_server, seed: int) -> None:
    runs = []
    for _ in range(2):
        with WorkflowRuntime(server=workflow_server, seed=seed, schedule="random") as runtime:
            execution = runtime.execute(TEN_BRANCHES)
            value = execution.result()
            runs.append((execution.id, value, _history(execution)))
    assert runs[0] == runs[1]
    assert runs[0][1]["total"] == 55


def test_random_schedules_differ_across_seeds(workflow_server) -> None:
    orders = set()
    for seed in range(20):
        with WorkflowRuntime(server=workflow_server, seed=seed, schedule="random") as runtime:
            orders.add(tuple(runtime.run(TEN_BRANCHES).value["order"][:10]))
    assert len(orders) > 1


def test_explore_finds_both_outcomes_of_a_racy_read_modify_write(workflow_runtime) -> None:
    outcomes = workflow_runtime.explore(RACY, runs=30)
    values = sorted(outcome.value for outcome in outcomes)
    assert values == [1, 2]
    assert all(outcome.state is ExecutionState.SUCCEEDED for outcome in outcomes)
    lost_update = next(o for o in outcomes if o.value == 1)
    # the seed reproduces the outcome
    with WorkflowRuntime(server=workflow_runtime._server, seed=lost_update.seed, schedule="random") as runtime:
        assert runtime.run(RACY).value == 1


def test_ordered_schedule_has_no_race(workflow_runtime) -> None:
    assert workflow_runtime.run(RACY).value == 2


def test_concurrency_limit_queues_branches(workflow_runtime) -> None:
    source = """
main:
  steps:
    - p:
        parallel:
          concurrency_limit: 2
          for:
            value: n
            in: [1, 2, 3, 4, 5]
            steps:
              - nap:
                  call: sys.sleep
                  args: {seconds: 10}
"""
    execution = workflow_runtime.execute(source)
    execution.result()
    assert execution.duration == 30  # 2 + 2 + 1 branches, 10 s each
    started = [e.ns for e in execution.history if e.kind is EventKind.BRANCH_STARTED]
    assert [(ns - started[0]) // 10**9 for ns in started] == [0, 0, 10, 10, 20]


def test_per_execution_branch_cap_queues_the_rest(workflow_server) -> None:
    source = """
main:
  steps:
    - p:
        parallel:
          for:
            value: n
            range: [1, 6]
            steps:
              - nap:
                  call: sys.sleep
                  args: {seconds: 5}
"""
    with WorkflowRuntime(server=workflow_server, limits={"concurrent_branches": 4}) as runtime:
        execution = runtime.run(source)
        assert execution.duration == 10


def test_deadlock_error_when_auto_advance_is_off(workflow_runtime) -> None:
    execution = workflow_runtime.execute("- s:\n    call: sys.sleep\n    args: {seconds: 60}\n")
    with workflow_runtime.clock.auto_advance_disabled(), pytest.raises(DeadlockError) as error:
        execution.result()
    message = str(error.value)
    assert "auto-advance is off" in message
    assert "sleep until" in message  # the thread table says what each thread waits for
    workflow_runtime.clock.advance(60)
    assert execution.state is ExecutionState.SUCCEEDED


def test_real_time_budget_stops_a_runaway_drive(workflow_server) -> None:
    source = """
- loop:
    for:
      value: i
      range: [1, 30000]
      steps:
        - nap:
            call: sys.sleep
            args: {seconds: 1}
"""
    with WorkflowRuntime(server=workflow_server, real_time_budget=0.05) as runtime:
        execution = runtime.execute(source)
        with pytest.raises(DeadlockError, match="real_time_budget") as error:
            execution.result()
        assert "waiting for" in str(error.value)


def test_clock_advance_runs_what_each_instant_wakes(workflow_runtime) -> None:
    source = """
- a:
    call: sys.sleep
    args: {seconds: 10}
- b:
    call: sys.sleep
    args: {seconds: 10}
- r:
    return: ${sys.now()}
"""
    execution = workflow_runtime.execute(source)
    workflow_runtime.clock.advance(15)
    assert execution.state is ExecutionState.ACTIVE
    workflow_runtime.clock.advance(5)
    assert execution.state is ExecutionState.SUCCEEDED
    assert execution.value == workflow_runtime.clock.time()


def test_one_year_sleep_and_twelve_hour_await_take_no_wall_time(workflow_runtime) -> None:
    sleep = workflow_runtime.run("- s:\n    call: sys.sleep\n    args: {seconds: 31536000}\n")
    assert sleep.state is ExecutionState.SUCCEEDED
    assert sleep.duration == 31_536_000
    await_default = workflow_runtime.execute(
        "- c:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- w:\n    call: events.await_callback\n    args: {callback: ${cb}}\n")
    await_default.wait()
    assert "TimeoutError" in await_default.error["tags"]
    assert await_default.duration == 43_200


def test_the_execution_duration_limit_fails_longer_executions(workflow_server) -> None:
    source = "- a:\n    call: sys.sleep\n    args: {seconds: 20}\n- b:\n    call: sys.sleep\n    args: {seconds: 20}\n"
    with WorkflowRuntime(server=workflow_server, limits={"execution_seconds": 30}) as runtime:
        execution = runtime.run(source)
        assert execution.state is ExecutionState.FAILED
        assert "TimeoutError" in execution.error["tags"]
        assert execution.duration == pytest.approx(30)  # fails 1 ns after the limit: the limit itself is allowed


def test_deadlock_and_budget_reports_as_a_user_sees_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

WAITS = """
- create:
    call: events.create_callback_endpoint
    result: cb
- fan_out:
    parallel:
      branches:
        - approver:
            steps:
              - wait_approval:
                  call: events.await_callback
                  args: {callback: ${cb}, timeout: 600}
        - timer:
            steps:
              - nap:
                  call: sys.sleep
                  args: {seconds: 30}
"""

def test_deadlock(workflow_runtime):
    execution = workflow_runtime.execute(WAITS)
    with workflow_runtime.clock.auto_advance_disabled():
        execution.result()

@pytest.mark.workflow_runtime(real_time_budget=0.05, seed=9)
def test_budget(workflow_runtime):
    looping = "- loop:\\n    for:\\n      value: i\\n      range: [1, 50000]\\n      steps:\\n        - s:\\n            call: sys.sleep\\n            args: {seconds: 1}\\n"
    workflow_runtime.execute(looping).result()
''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*DeadlockError*auto-advance is off*",
        "*seed=0 (rerun with --wf-seed=0)*",
        "*thread*routine*step*state*waiting for*",
        "*branch fan_out/approver*wait_approval*blocked*await_callback on POST callback*",
        "*branch fan_out/timer*nap*blocked*sleep until*",
        "*RealTimeBudgetExceeded*real_time_budget*",
        "*seed=9 (rerun with --wf-seed=9)*",
    ])


# ---------------------------------------------------------------- regressions found in review

def test_nested_parallel_steps_at_the_branch_cap_do_not_deadlock(workflow_runtime) -> None:
    # 20 outer iterations fill the per-execution cap; each waits on an inner parallel step,
    # whose branches need slots too: a waiting branch gives its slot back.
    source = """
- outer:
    parallel:
      for:
        value: i
        range: [1, 20]
        steps:
          - inner:
              parallel:
                branches:
                  - x:
                      steps:
                        - a: {assign: [{v: 1}]}
                  - y:
                      steps:
                        - b: {assign: [{w: 2}]}
- done:
    return: ok
"""
    execution = workflow_runtime.run(source)
    assert (execution.state, execution.value, execution.duration) == (ExecutionState.SUCCEEDED, "ok", 0.0)


def test_two_async_drives_at_once_share_one_timeline(pytester: pytest.Pytester) -> None:
    # Two drives on two OS threads used to see an idle kernel while the other ran a thread,
    # and jumped to the one-year duration limit.
    pytester.makepyfile('''
import asyncio
import pytest

SOURCE = """
- init:
    assign:
      - n: 0
- loop:
    for:
      value: i
      range: [1, 5000]
      steps:
        - add:
            assign:
              - n: ${n + i}
- nap:
    call: sys.sleep
    args: {seconds: 1}
- done:
    return: ${n}
"""

@pytest.mark.asyncio
async def test_gather(workflow_runtime):
    first = workflow_runtime.execute(SOURCE)
    second = workflow_runtime.execute(SOURCE)
    await asyncio.gather(first.wait_async(), second.wait_async())
    assert (first.value, second.value) == (12502500, 12502500)
    assert workflow_runtime.clock.elapsed == 1.0
''')
    for _ in range(3):
        pytester.runpytest("-p", "asyncio", "-o", "asyncio_mode=strict").assert_outcomes(passed=1)


def test_cancel_while_the_thread_runs_leaves_nothing_behind(workflow_runtime) -> None:
    import httpx

    from pytest_wfcallbacks import respond_after

    source = "- call_service:\n    call: http.get\n    args: {url: 'https://svc.example.com/start'}\n    result: r\n"
    workflow = workflow_runtime.deploy(source, name="wf")
    started = {}

    def service(request: httpx.Request) -> httpx.Response:
        # The service under test cancels the execution through the Executions API, mid-call.
        answer = httpx.post(f"{workflow_runtime.base_url}/v1/{started['execution'].name}:cancel", json={})
        assert answer.status_code == 200
        return respond_after(30, 200, json={"ok": True})

    workflow_runtime.http.get("https://svc.example.com/start").mock(side_effect=service)
    execution = started["execution"] = workflow_runtime.start(workflow)
    workflow_runtime.run_until_idle()
    assert execution.state is ExecutionState.CANCELLED
    assert workflow_runtime.clock.pending() == []  # no timer of a thread that kept running
    assert execution._threads() == []
    kinds = [event.kind for event in execution.history]
    assert kinds[-1] is EventKind.EXECUTION_ENDED  # nothing recorded after the end


def test_a_workflow_that_cancels_itself_through_the_api(workflow_runtime) -> None:
    source = """
- cancel_me:
    call: http.post
    args:
      url: ${BASE + "/v1/projects/test-project/locations/us-central1/workflows/wf/executions/" + sys.get_env("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID") + ":cancel"}
    result: r
- done:
    return: ${r.code}
""".replace("BASE", '"' + workflow_runtime.base_url + '"')
    execution = workflow_runtime.execute(workflow_runtime.deploy(source, name="wf"))
    assert execution.state is ExecutionState.CANCELLED


def test_explore_outcomes_do_not_differ_by_ids(workflow_runtime) -> None:
    # Ids are seeded (docs/decisions.md #29), so an error naming a callback id differs per seed;
    # the same outcome must still count once.
    source = ("- c:\n    call: events.create_callback_endpoint\n    result: cb\n"
              "- w:\n    call: events.await_callback\n    args: {callback: ${cb}, timeout: 10}\n")
    outcomes = workflow_runtime.explore(source, runs=5)
    assert len(outcomes) == 1
    assert outcomes[0].tags == ["TimeoutError"]


def test_explore_probes_run_the_revision_the_test_deployed(workflow_runtime) -> None:
    source = "- r:\n    return: ${sys.get_env(\"GOOGLE_CLOUD_WORKFLOW_REVISION_ID\")}\n"
    workflow_runtime.deploy(source, name="rev")
    workflow = workflow_runtime.deploy(source + "# again\n", name="rev")  # the second revision
    outcomes = workflow_runtime.explore(workflow, runs=3)
    assert [outcome.value for outcome in outcomes] == [workflow.revision_id]
    assert workflow.revision_id.startswith("000002-")
