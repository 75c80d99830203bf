"""What a run leaves behind (record.py): plain data the readers use instead of the interpreter."""

from __future__ import annotations

from pytest_wfcallbacks import EventKind, WorkflowRuntime
from pytest_wfcallbacks.record import ExecutionRecord, LogEntry, ThreadSnapshot

WAITING = """
main:
  steps:
    - hello:
        call: sys.log
        args: {text: "waiting"}
    - make:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: ${cb}, timeout: 60}
        result: got
    - done:
        return: ${got.http_request.body}
"""


def test_the_record_holds_history_logs_and_the_step_count(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(WAITING)
    record = execution.record
    assert isinstance(record, ExecutionRecord)
    assert [entry.payload for entry in record.logs] == ["waiting"]
    assert isinstance(record.logs[0], LogEntry)
    assert record.steps == execution.steps_executed == 3
    kinds = [item.kind for item in record.history]
    assert EventKind.CALLBACK_CREATED in kinds
    assert EventKind.CALLBACK_AWAITED in kinds
    assert record.history == execution.history


def test_live_threads_show_what_each_thread_waits_for(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(WAITING)
    [thread] = execution.live_threads()
    assert isinstance(thread, ThreadSnapshot)
    assert (thread.thread, thread.routine, thread.step, thread.state) == ("main", "main", "wait", "blocked")
    assert thread.waiting_for.startswith("await_callback on POST callback ")
    execution.callbacks[0].send({"ok": True})
    assert execution.result() == {"ok": True}
    assert execution.live_threads() == []
    assert execution.record.steps == 4
