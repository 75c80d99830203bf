"""WorkflowRuntime / Workflow / Execution: the public API outside and inside pytest."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from pytest_wfcallbacks import (
    EventKind,
    ExecutionCancelled,
    ExecutionFinished,
    ExecutionState,
    WfCallbacksError,
    WorkflowFailed,
    WorkflowRuntime,
    WorkflowSyntaxError,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workflows"

SLEEPY = """
main:
  params: [args]
  steps:
    - nap:
        call: sys.sleep
        args: {seconds: ${args.seconds}}
    - done:
        return: ${sys.now()}
"""


def test_runtime_works_outside_pytest_as_a_context_manager() -> None:
    with WorkflowRuntime(seed=3) as runtime:
        execution = runtime.execute(EXAMPLES / "basic_callback.yaml")
        callback = execution.wait_for_callback()
        assert callback.url.startswith("http://127.0.0.1:")
        assert httpx.get(callback.url, params={"ok": "1"}).status_code == 200
        assert execution.result()["query"] == {"ok": ["1"]}
    # closed: the runtime's own server is gone
    with pytest.raises(httpx.ConnectError):
        httpx.get(callback.url)


def test_deploy_names_workflows_after_the_file(workflow_runtime) -> None:
    workflow = workflow_runtime.deploy(EXAMPLES / "basic_callback.yaml")
    assert workflow.name == "basic-callback"
    assert workflow.source.endswith("basic_callback.yaml")
    named = workflow_runtime.deploy("- r:\n    return: 1\n", name="custom")
    assert workflow_runtime.workflows["custom"] is named
    assert named.run().value == 1


def test_execute_does_not_move_the_clock_and_run_drives_to_the_end(workflow_runtime) -> None:
    start = workflow_runtime.clock.time()
    execution = workflow_runtime.execute(SLEEPY, {"seconds": 90})
    assert execution.state is ExecutionState.ACTIVE
    assert execution.state == "ACTIVE"  # str enum
    assert workflow_runtime.clock.time() == start
    assert execution.result() == start + 90
    assert execution.duration == 90
    assert workflow_runtime.run(SLEEPY, {"seconds": 1.5}).value == start + 91.5


def test_start_time_setting(workflow_server) -> None:
    when = datetime(2031, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    with WorkflowRuntime(server=workflow_server, start_time=when) as runtime:
        assert runtime.run(SLEEPY, {"seconds": 0}).value == when.timestamp()
    with WorkflowRuntime(server=workflow_server, start_time="2031-02-03T04:05:06Z") as runtime:
        assert runtime.clock.now() == when


def test_result_raises_workflow_failed_with_tags_and_location(workflow_runtime) -> None:
    source = "- a:\n    assign:\n      - x: 1\n- b:\n    raise: {tags: [MyError], message: boom}\n"
    execution = workflow_runtime.execute(source)
    with pytest.raises(WorkflowFailed) as failure:
        execution.result()
    assert failure.value.tags == ["MyError"]
    assert failure.value.error == {"tags": ["MyError"], "message": "boom"}
    message = str(failure.value)
    assert "step 'b'" in message
    assert "<workflow>:4:3" in message
    assert "seed=0" in message


def test_cancel_stops_threads_and_closes_endpoints(workflow_runtime) -> None:
    execution = workflow_runtime.execute(EXAMPLES / "basic_callback.yaml")
    callback = execution.wait_for_callback()
    execution.cancel()
    assert execution.state is ExecutionState.CANCELLED
    assert callback.send().status_code == 404
    with pytest.raises(ExecutionCancelled):
        execution.result()


def test_wait_for_callback_on_an_execution_without_one(workflow_runtime) -> None:
    execution = workflow_runtime.execute("- r:\n    return: 1\n")
    with pytest.raises(ExecutionFinished, match="without creating"):
        execution.wait_for_callback()


def test_wait_for_callback_returns_each_endpoint_once(workflow_runtime) -> None:
    source = """
- a:
    call: events.create_callback_endpoint
    result: one
- b:
    call: events.create_callback_endpoint
    args: {http_callback_method: PUT}
    result: two
- w:
    call: events.await_callback
    args: {callback: ${two}}
    result: got
- r:
    return: ${got.http_request.body}
"""
    execution = workflow_runtime.execute(source)
    first = execution.wait_for_callback()
    second = execution.wait_for_callback()
    assert (first.method, second.method) == ("POST", "PUT")
    assert [c.id for c in execution.callbacks] == [first.id, second.id]
    execution.wait_until_awaiting(second)
    assert second.send(json={"v": 1}).status_code == 200
    assert execution.result() == {"v": 1}


def test_at_and_after_run_actions_on_the_virtual_timeline(workflow_runtime) -> None:
    seen: list[float] = []
    workflow_runtime.after(30, lambda: seen.append(workflow_runtime.clock.elapsed))
    workflow_runtime.at(workflow_runtime.clock.time() + 10, lambda: seen.append(workflow_runtime.clock.elapsed))
    workflow_runtime.run(SLEEPY, {"seconds": 60})
    assert seen == [10.0, 30.0]
    with pytest.raises(WfCallbacksError, match="past"):
        workflow_runtime.at(0, lambda: None)


def test_history_records_steps_callbacks_and_the_end(workflow_runtime) -> None:
    execution = workflow_runtime.execute(EXAMPLES / "basic_callback.yaml")
    callback = execution.wait_for_callback()
    callback.send()
    execution.result()
    kinds = [event.kind for event in execution.history]
    assert kinds[0] is EventKind.EXECUTION_STARTED
    assert EventKind.CALLBACK_CREATED in kinds
    answered = [e for e in execution.history if e.kind is EventKind.CALLBACK_REQUEST]
    assert [(e.status, e.outcome) for e in answered] == [(200, "delivered")]
    assert kinds[-1] is EventKind.EXECUTION_ENDED
    steps = [e.step for e in execution.history if e.kind is EventKind.STEP_ENTERED]
    assert steps == ["create_callback", "print_callback_details", "await_callback", "print_callback_request",
                     "return_callback_result"]
    assert all(e.time.tzinfo is not None for e in execution.history)


def test_deploy_errors_are_workflow_syntax_errors(workflow_runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a:\n    assign:\n      - x: ${1 +}\n", encoding="utf-8")
    with pytest.raises(WorkflowSyntaxError) as error:
        workflow_runtime.deploy(bad)
    assert error.value.file == str(bad)
    assert error.value.line == 3
    assert "^" in str(error.value)
    with pytest.raises(WorkflowSyntaxError, match="not found"):
        workflow_runtime.deploy(tmp_path / "missing.yaml")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown workflow_runtime setting"):
        WorkflowRuntime(sead=1)
    with pytest.raises(ValueError, match="schedule"):
        WorkflowRuntime(schedule="fifo")
    # A wrong type is refused where it is given, naming the setting, not later from inside a deploy.
    wrong = {"limits": 5, "start_time": [2026], "auto_advance": "no", "real_time_budget": "3", "project": 3,
             "env": [("A", "b")], "implicit_string_concat": 1, "async_settle": None}
    for name, value in wrong.items():
        with pytest.raises(TypeError, match=f"^{name} must be"):
            WorkflowRuntime(**{name: value})
    with pytest.raises(ValueError, match="async_settle must not be negative"):
        WorkflowRuntime(async_settle=-1)
    with WorkflowRuntime(limits=None) as runtime:  # None is the default: the documented limits
        assert runtime.settings.limits.steps == 100_000
        assert runtime.run("- r:\n    return: 1\n").value == 1


def test_argument_must_be_a_workflows_value(workflow_runtime) -> None:
    with pytest.raises(WfCallbacksError, match="not a Workflows value"):
        workflow_runtime.execute("- r:\n    return: 1\n", object())


def test_same_seed_same_ids(workflow_server) -> None:
    def ids(seed: int) -> list[str]:
        with WorkflowRuntime(server=workflow_server, seed=seed) as runtime:
            execution = runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
            return [execution.id, execution.wait_for_callback().id]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


def test_history_records_where_errors_were_raised(workflow_runtime) -> None:
    source = """
- guarded:
    try:
      steps:
        - boom:
            raise: {tags: [Oops], message: first}
    except:
      as: e
      steps:
        - again:
            raise: {tags: [Oops], message: second}
"""
    execution = workflow_runtime.run(source)
    raised = [e for e in execution.history if e.kind is EventKind.ERROR_RAISED]
    assert [(e.step, e.error["message"]) for e in raised] == [("boom", "first"), ("again", "second")]
    assert execution.error == {"tags": ["Oops"], "message": "second"}


def test_workflow_failed_summarizes_branch_errors(workflow_runtime) -> None:
    source = """
- p:
    parallel:
      exception_policy: continueAll
      for:
        value: n
        in: [1, 2]
        steps:
          - boom:
              raise: {tags: [Oops], message: ${"bad " + string(n)}, code: 7}
"""
    with pytest.raises(WorkflowFailed) as failure:
        workflow_runtime.execute(source).result()
    first_lines = str(failure.value).splitlines()[:4]
    assert "UnhandledBranchError" in first_lines[0]
    assert "[tags: UnhandledBranchError]" in first_lines[0]
    assert first_lines[1].strip() == "branch 0: bad 1"
    assert first_lines[2].strip() == "branch 1: bad 2"
    assert '"payload"' not in str(failure.value)  # JSON payloads are summarized, not dumped


def test_send_on_await_sends_at_once_when_an_await_is_already_waiting(workflow_runtime) -> None:
    execution = workflow_runtime.execute(EXAMPLES / "callback_timeout.yaml")
    callback = execution.wait_for_callback()  # the workflow already waits
    callback.send_on_await(json={"decision": "yes"})
    assert execution.result() == {"decision": "yes"}
    assert execution.duration == 0
    assert callback.responses == [200]


def test_unsent_send_on_await_is_reported(workflow_runtime) -> None:
    execution = workflow_runtime.execute(EXAMPLES / "basic_callback.yaml")
    callback = execution.wait_for_callback()
    callback.send()
    execution.result()
    callback.send_on_await(json={"late": True})  # nothing will ever await again
    with pytest.raises(WfCallbacksError, match="send_on_await that were never sent"):
        workflow_runtime.check()
    workflow_runtime.check()  # reported once: the fixture's teardown check stays quiet


def test_send_after_timers_are_labelled_in_reports(workflow_runtime) -> None:
    execution = workflow_runtime.execute(EXAMPLES / "callback_timeout.yaml")
    callback = execution.wait_for_callback()
    callback.send_after(20, json={})
    assert f"send_after POST to callback {callback.id[:8]}" in workflow_runtime.render_state()
