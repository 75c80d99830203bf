"""Step entries (issue 16): one record per step entered, the path assertions and the stepEntries API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from pytest_wfcallbacks import (
    StateAssertionError,
    StepEntry,
    WorkflowRuntime,
    assert_not_visited,
    assert_path,
)

PARENT = "projects/test-project/locations/us-central1"

ORDER_WF = """\
main:
  params: [order]
  steps:
    - init:
        assign:
          - total: ${order.amount}
    - check:
        switch:
          - condition: ${total > 100}
            next: review
        next: ship
    - review:
        call: sys.sleep
        args: {seconds: 5}
    - ship:
        call: pack
        args: {n: ${total}}
        result: box
    - fan:
        parallel:
          branches:
            - left:
                steps:
                  - l1:
                      call: sys.sleep
                      args: {seconds: 1}
            - right:
                steps:
                  - r1:
                      assign:
                        - y: 1
    - guarded:
        try:
          steps:
            - boom:
                raise: {message: "no stock", tags: ["StockError"]}
        except:
          as: e
          steps:
            - recover:
                assign:
                  - handled: true
    - done:
        return: ${box}
pack:
  params: [n]
  steps:
    - wrap:
        return: ${"box-" + string(n)}
"""


def run(runtime: WorkflowRuntime, amount: int) -> object:
    return runtime.run(runtime.deploy(ORDER_WF, name="orders"), {"amount": amount})


def test_every_step_entered_has_one_entry_shaped_like_the_services(workflow_runtime):
    execution = run(workflow_runtime, 150)
    entries = execution.step_entries
    assert [e.entry_id for e in entries] == list(range(1, len(entries) + 1))
    assert [(e.routine, e.step, e.step_type, e.state) for e in entries] == [
        ("main", "init", "STEP_ASSIGN", "STATE_SUCCEEDED"),
        ("main", "check", "STEP_SWITCH", "STATE_SUCCEEDED"),
        ("main", "review", "STEP_STD_LIB_CALL", "STATE_SUCCEEDED"),
        ("main", "ship", "STEP_SUBWORKFLOW_CALL", "STATE_SUCCEEDED"),
        ("pack", "wrap", "STEP_RETURN", "STATE_SUCCEEDED"),
        ("main", "fan", "STEP_PARALLEL_BRANCH", "STATE_SUCCEEDED"),
        ("main", "l1", "STEP_STD_LIB_CALL", "STATE_SUCCEEDED"),
        ("main", "r1", "STEP_ASSIGN", "STATE_SUCCEEDED"),
        ("main", "guarded", "STEP_TRY_RETRY_EXCEPT", "STATE_SUCCEEDED"),
        ("main", "boom", "STEP_RAISE", "STATE_FAILED"),
        ("main", "recover", "STEP_ASSIGN", "STATE_SUCCEEDED"),
        ("main", "done", "STEP_RETURN", "STATE_SUCCEEDED"),
    ]
    by_name = {e.step: e for e in entries}
    start = execution.start_time
    # The sleep's entry is created when the step is entered and updated when it ends, on the virtual clock.
    assert by_name["review"].create_time == start
    assert by_name["review"].update_time == start + timedelta(seconds=5)
    assert by_name["review"].create_time.tzinfo is not None
    assert by_name["l1"].update_time - by_name["l1"].create_time == timedelta(seconds=1)
    assert by_name["fan"].update_time == by_name["l1"].update_time  # the parallel step ends with its branches
    assert by_name["boom"].exception == {"message": "no stock", "tags": ["StockError"]}
    assert by_name["guarded"].exception is None
    assert (by_name["l1"].branch, by_name["r1"].branch, by_name["init"].branch) == ("fan/left", "fan/right", None)
    lines = ORDER_WF.splitlines()
    assert (by_name["init"].location.line, by_name["init"].location.column) == (lines.index("    - init:") + 1, 7)
    assert by_name["wrap"].location.line == lines.index("    - wrap:") + 1
    assert isinstance(by_name["init"], StepEntry)


def test_a_failing_step_fails_every_step_it_leaves_and_a_stopped_one_is_cancelled(workflow_runtime):
    failing = workflow_runtime.run("""
main:
  steps:
    - outer:
        call: inner
    - never:
        return: 1
inner:
  steps:
    - bad:
        raise: "boom"
""")
    assert [(e.step, e.state, e.exception) for e in failing.step_entries] == [
        ("outer", "STATE_FAILED", "boom"), ("bad", "STATE_FAILED", "boom")]

    waiting = workflow_runtime.start("""
main:
  steps:
    - make:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: ${cb}, timeout: 3600}
""")
    waiting.wait_until_awaiting()
    assert [e.state for e in waiting.step_entries] == ["STATE_SUCCEEDED", "STATE_IN_PROGRESS"]
    workflow_runtime.clock.advance(60)
    waiting.cancel()
    last = waiting.step_entries[-1]
    assert (last.step, last.state) == ("wait", "STATE_CANCELLED")
    assert last.update_time - last.create_time == timedelta(seconds=60)


def test_path_is_one_thread_and_the_assertions_pass_on_what_happened(workflow_runtime):
    execution = run(workflow_runtime, 150)
    assert execution.path() == ["init", "check", "review", "ship", "wrap", "fan", "guarded", "boom", "recover",
                                "done"]
    assert execution.path("left") == ["l1"] == execution.path("fan/left")
    assert_path(execution, ["init", "review", "wrap", "recover"])
    assert_path(execution, ["r1"], branch="right")
    cheap = run(workflow_runtime, 10)
    assert_not_visited(cheap, "review")


def test_assert_path_failure_shows_the_path_with_times_and_marks_where_it_broke(workflow_runtime):
    execution = run(workflow_runtime, 10)
    with pytest.raises(StateAssertionError) as failure:
        assert_path(execution, ["init", "review", "ship"])
    message = str(failure.value)
    assert message.startswith("path of the main thread does not contain ['init', 'review', 'ship'] in this order: "
                              "'review' was not entered after 'init' (entry #1); the main thread never entered it")
    lines = message.splitlines()
    marked = lines.index("  ✗  expected 'review' next: not entered after this point")
    assert lines[marked - 1].startswith("  ✓  #1")
    assert "main/init  STEP_ASSIGN  SUCCEEDED" in lines[marked - 1]
    assert "t+0s" in lines[marked - 1]
    assert "callbacks" in message  # the state table follows

    with pytest.raises(StateAssertionError, match="it was entered earlier, at entry #1"):
        assert_path(execution, ["check", "init"])


def test_assert_not_visited_failure_lists_each_visit_with_its_thread(workflow_runtime):
    execution = run(workflow_runtime, 150)
    with pytest.raises(StateAssertionError) as failure:
        assert_not_visited(execution, "review", "r1")
    message = str(failure.value)
    assert message.startswith("'r1', 'review' were entered (2 times; first at entry #3, t+0s)")
    assert any(line.startswith("  ✗  #8") and line.endswith("[fan/right]") for line in message.splitlines())


def test_names_that_are_no_step_fail_with_did_you_mean(workflow_runtime):
    execution = run(workflow_runtime, 10)
    with pytest.raises(StateAssertionError, match="'reveiw' is not a step of workflow 'orders'; did you mean "
                                                  "'review' or 'recover'"):
        assert_not_visited(execution, "reveiw")
    with pytest.raises(StateAssertionError, match="did you mean 'ship'"):
        assert_path(execution, ["init", "shipp"])
    with pytest.raises(StateAssertionError, match="has no branch 'middle'; its branches: fan/left, fan/right, "
                                                  "left, right"):
        assert_path(execution, ["l1"], branch="middle")
    with pytest.raises(TypeError, match="not one string"):
        assert_path(execution, "init")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the stepEntries REST resource


@pytest.fixture
def client(workflow_runtime: WorkflowRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=workflow_runtime.base_url, trust_env=False, timeout=10) as http:
        yield http


def entries_url(execution: object) -> str:
    return f"/v1/{execution.name}/stepEntries"  # type: ignore[attr-defined]


def test_list_and_get_step_entries_over_rest(workflow_runtime, client):
    execution = run(workflow_runtime, 150)
    body = client.get(entries_url(execution)).json()
    assert body["totalSize"] == 12
    assert "nextPageToken" not in body
    first = body["stepEntries"][0]
    assert first == {"name": f"{execution.name}/stepEntries/1", "createTime": "2026-01-01T00:00:00Z",
                     "updateTime": "2026-01-01T00:00:00Z", "routine": "main", "step": "init",
                     "stepType": "STEP_ASSIGN", "state": "STATE_SUCCEEDED", "entryId": "1"}
    boom = client.get(f"{entries_url(execution)}/10").json()
    assert boom["step"] == "boom"
    assert boom["state"] == "STATE_FAILED"
    assert boom["exception"] == {"payload": '{"message":"no stock","tags":["StockError"]}'}
    assert client.get(f"{entries_url(execution)}/7").json()["stepEntryMetadata"] == {"threadId": "fan/left"}
    review = client.get(f"{entries_url(execution)}/3").json()
    assert review["updateTime"] == "2026-01-01T00:00:05Z"

    def steps(**params: object) -> list[str]:
        answer = client.get(entries_url(execution), params=params)
        assert answer.status_code == 200, answer.text
        return [item["step"] for item in answer.json().get("stepEntries", [])]

    assert steps(filter='state="FAILED"') == ["boom"] == steps(filter='state="STATE_FAILED"')
    assert steps(filter='routine="pack" OR stepType="STEP_PARALLEL_BRANCH"') == ["wrap", "fan"]
    assert steps(filter="entryId>10") == ["recover", "done"]
    assert steps(filter='updateTime>="2026-01-01T00:00:05Z" AND entryId<=4') == ["review", "ship"]
    assert steps(filter=f'parent="{execution.name}" AND step="init"') == ["init"]
    assert steps(orderBy="entryId desc", pageSize=3) == ["done", "recover", "boom"]
    assert steps(orderBy="step", pageSize=2) == ["boom", "check"]
    assert steps(skip=10) == ["recover", "done"]

    seen: list[str] = []
    params: dict[str, object] = {"pageSize": 5}
    while True:
        page = client.get(entries_url(execution), params=params).json()
        seen.extend(item["step"] for item in page["stepEntries"])
        if "nextPageToken" not in page:
            break
        params["pageToken"] = page["nextPageToken"]
    assert seen == [e.step for e in execution.step_entries]


@pytest.mark.parametrize(("suffix", "params", "status", "text"), [
    ("", {"filter": 'colour="red"'}, 400, "filtering step entries on 'colour' is not supported"),
    ("", {"filter": 'state="DONE"'}, 400, "state 'DONE' is not one of"),
    ("", {"filter": "entryId>x"}, 400, "entryId is a number"),
    ("", {"orderBy": "duration"}, 400, "orderBy 'duration' is not supported"),
    ("", {"pageSize": "-1"}, 400, "pageSize must not be negative"),
    ("", {"pageToken": "nonsense"}, 400, "pageToken 'nonsense' is invalid"),
    ("", {"view": "FULL"}, 400, "view 'FULL' is invalid"),
    ("/99", {}, 404, "stepEntries/99 not found (the execution has entries 1 to 12)"),
    ("/first", {}, 404, "not found"),
])
def test_step_entries_mistakes_are_clear_4xx(workflow_runtime, client, suffix, params, status, text):
    execution = run(workflow_runtime, 150)
    answer = client.get(entries_url(execution) + suffix, params=params)
    assert answer.status_code == status
    assert text in answer.json()["error"]["message"]


def test_step_entries_of_an_unknown_execution_is_404(workflow_runtime, client):
    run(workflow_runtime, 1)
    answer = client.get(f"/v1/{PARENT}/workflows/orders/executions/nope/stepEntries")
    assert answer.status_code == 404
    assert client.post(entries_url(workflow_runtime.executions[0])).status_code == 404
