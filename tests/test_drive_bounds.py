"""Every drive ends (issue #13): the wall-clock budget inside the step loop, bounded waits, warnings.

No test here times anything: a drive that did not stop at its budget would hang the test (and
the suite), which is the failure these tests exist to catch. Speed lives in bench/.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from typing import Any

import pytest

from pytest_wfcallbacks import DeadlockError, ExecutionState, RealTimeBudgetExceeded, WorkflowRuntime

LOOP = """
main:
  steps:
    - init:
        assign:
          - i: 0
    - loop:
        assign:
          - i: ${i + 1}
        next: loop
"""

CONCAT = """
main:
  steps:
    - init:
        assign:
          - items: []
          - i: 0
    - grow:
        assign:
          - items: ${list.concat(items, i)}
          - i: ${i + 1}
    - again:
        switch:
          - condition: ${i < 6000}
            next: grow
    - over_again:
        next: init
"""

BIG_MAP = """
main:
  steps:
    - init:
        assign:
          - m: {}
          - i: 0
    - add:
        assign:
          - m[string(i)]: ${i}
          - i: ${i + 1}
        next: add
"""


def _runtime(server: Any, **settings: Any) -> WorkflowRuntime:
    return WorkflowRuntime(server=server, real_time_budget=0.5, limits={"steps": 10**9}, **settings)


def _check_budget_error(error: RealTimeBudgetExceeded, step: str) -> None:
    assert isinstance(error, DeadlockError)  # callers catching DeadlockError keep working
    assert error.step == step
    assert error.steps > 64
    assert f"(step main/{step})" in str(error)
    assert "<workflow>:" in str(error)
    assert "real_time_budget" in str(error)
    assert "virtual now is" in str(error)


def _start_and_wait(runtime: WorkflowRuntime) -> None:
    runtime.start(LOOP).result()


def _execute(runtime: WorkflowRuntime) -> None:
    runtime.execute(LOOP)


def _runtime_until_idle(runtime: WorkflowRuntime) -> None:
    runtime.start(LOOP)
    runtime.run_until_idle()


def _execution_until_idle(runtime: WorkflowRuntime) -> None:
    runtime.start(LOOP).run_until_idle()


def _explore(runtime: WorkflowRuntime) -> None:
    runtime.explore(LOOP, runs=2)


@pytest.mark.parametrize("drive", [_start_and_wait, _execute, _runtime_until_idle, _execution_until_idle, _explore])
def test_a_workflow_looping_in_pure_computation_stops_at_the_budget(workflow_server: Any, drive: Any) -> None:
    with _runtime(workflow_server) as runtime:
        with pytest.raises(RealTimeBudgetExceeded) as caught:
            drive(runtime)
        _check_budget_error(caught.value, "loop")


def test_the_async_drive_stops_at_the_budget_too(workflow_server: Any) -> None:
    with _runtime(workflow_server) as runtime:
        execution = runtime.start(LOOP)
        with pytest.raises(RealTimeBudgetExceeded) as caught:
            asyncio.run(execution.result_async())
        _check_budget_error(caught.value, "loop")


def test_a_stopped_execution_goes_on_at_the_next_drive(workflow_server: Any) -> None:
    # The budget stops the drive, not the execution: its thread is queued again where it was.
    with _runtime(workflow_server) as runtime:
        execution = runtime.start(LOOP)
        with pytest.raises(RealTimeBudgetExceeded) as first:
            execution.wait()
        with pytest.raises(RealTimeBudgetExceeded) as second:
            execution.wait()
        assert second.value.steps > first.value.steps
        assert execution.state is ExecutionState.ACTIVE


def test_rounds_of_six_thousand_list_concat_steps_stop_at_the_budget(workflow_server: Any) -> None:
    # Each step copies a list of up to 6,000 items: the check every few steps still comes in time.
    with _runtime(workflow_server) as runtime:
        with pytest.raises(RealTimeBudgetExceeded) as caught:
            runtime.run(CONCAT)
        assert caught.value.step in ("init", "grow", "again", "over_again")


def test_filling_a_big_map_is_metered_per_member(workflow_server: Any) -> None:
    # The memory meter charges the change of one key, not a walk of the whole map per step:
    # the loop gets far within the budget and ends with the memory limit, not the budget.
    with WorkflowRuntime(server=workflow_server, real_time_budget=20, limits={"steps": 10**9}) as runtime:
        execution = runtime.execute(BIG_MAP)
        execution.wait()
        assert execution.state is ExecutionState.FAILED
        assert "ResourceLimitError" in execution.tags
        assert "memory limit" in execution.error["message"]


def test_metering_by_member_matches_a_full_count(workflow_runtime: Any) -> None:
    from pytest_wfcallbacks.values import value_size

    source = """
main:
  steps:
    - build:
        assign:
          - m: {"a": 1, "nested": {"k": [1, 2, "some text"]}}
          - m.b: "a string value of some length, more than sixty-four characters long......"
          - m.nested.k[2]: {"x": "y"}
          - m.nested.fresh.deep: [1, 2, 3]
          - m.a: "replaced"
    - done:
        return: ${m}
"""
    execution = workflow_runtime.execute(source)
    value = execution.result()
    engine = execution._engine
    scope = execution._main.scope
    assert engine.meter.used == value_size(value) == scope.sizes["m"]


def test_a_sync_drive_inside_a_busy_event_loop_warns_once(workflow_runtime: Any) -> None:
    async def scenario() -> list[warnings.WarningMessage]:
        other = asyncio.create_task(asyncio.sleep(5))
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                workflow_runtime.run("main:\n  steps:\n    - done:\n        return: 1\n")
                workflow_runtime.run("main:\n  steps:\n    - done:\n        return: 2\n")
            return list(seen)
        finally:
            other.cancel()

    seen = asyncio.run(scenario())
    messages = [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert "result_async()" in messages[0]


def test_a_sync_drive_in_a_loop_without_other_tasks_does_not_warn(workflow_runtime: Any) -> None:
    async def scenario() -> None:
        workflow_runtime.run("main:\n  steps:\n    - done:\n        return: 1\n")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(scenario())


COUNTED_LOOP = """
main:
  steps:
    - init:
        assign:
          - i: 0
    - loop:
        assign:
          - i: ${i + 1}
    - again:
        switch:
          - condition: ${i < 3000}
            next: loop
    - done:
        return: ${i}
"""


def test_a_long_history_is_capped_behind_one_marker(workflow_server: Any) -> None:
    from pytest_wfcallbacks import EventKind

    with WorkflowRuntime(server=workflow_server, limits={"record_entries": 1000}) as runtime:
        execution = runtime.run(COUNTED_LOOP)
        assert execution.value == 3000
        history = execution.history
        assert len(history) < 1200  # trimmed at step checkpoints: the limit plus a batch
        markers = [item for item in history if item.kind is EventKind.RECORD_TRUNCATED]
        assert len(markers) == 1
        # Every event is either kept or counted by the marker (the marker itself is not an event of the run).
        assert len(history) - 1 + markers[0].details["dropped"] == execution.steps_executed + 2
        assert history[0].kind is EventKind.EXECUTION_STARTED
        assert history[-1].kind is EventKind.EXECUTION_ENDED
        assert "SUCCEEDED" in execution.timeline()  # readers take the marker in their stride


def test_step_entries_are_capped_with_the_record_and_keep_their_ids(workflow_server: Any) -> None:
    with WorkflowRuntime(server=workflow_server, limits={"record_entries": 1000}) as runtime:
        execution = runtime.run(COUNTED_LOOP)
        entries = execution.step_entries
        assert len(entries) < 1200
        ids = [entry.entry_id for entry in entries]
        assert ids == sorted(ids)
        assert ids[0] == 1
        # The dropped middle shows as one gap in the ids; the newest entries are all there.
        gaps = [(a, b) for a, b in itertools.pairwise(ids) if b != a + 1]
        assert len(gaps) == 1
        assert ids[-1] == execution.steps_executed
        assert len(entries) + (gaps[0][1] - gaps[0][0] - 1) == execution.steps_executed
