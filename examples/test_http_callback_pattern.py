"""The main pattern: the workflow hands a callback URL to a service over HTTP and awaits its callback.

The service is mocked on ``workflow_runtime.http`` (a respx router). Its side
effect receives the workflow's `httpx.Request`, reads the callback URL from the
JSON body, answers the request, and schedules the callback on the virtual
timeline with ``Callback.send_after``: a real HTTP request to the loopback
callback server, sent when the virtual clock gets there. No wall time passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from pytest_wfcallbacks import SlotState, WorkflowRuntime, assert_slot_state

JOBS = "https://jobs.example.com/v1/jobs"


@pytest.fixture
def workflow(workflow_runtime: WorkflowRuntime, workflows: Path):
    return workflow_runtime.deploy(workflows / "http_callback_service.yaml")


def test_service_calls_back_when_the_job_is_done(workflow_runtime: WorkflowRuntime, workflow) -> None:
    def jobs_service(request: httpx.Request) -> httpx.Response:
        job = json.loads(request.content)
        callback = workflow_runtime.find_callback(job["callback_url"])
        # The job takes 90 s; then the service POSTs the result to the callback URL.
        callback.send_after(90, json={"status": "done", "pages": len(job["document"])})
        return httpx.Response(202, json={"id": "job-1"})

    route = workflow_runtime.http.post(JOBS).mock(side_effect=jobs_service)

    execution = workflow.execute({"document": ["page 1", "page 2"]})

    assert execution.result() == {"job": "job-1", "status": "done", "pages": 2}
    assert execution.duration == 90  # virtual seconds
    callback = execution.callbacks[0]
    assert callback.responses == [200]  # the service's callback was accepted
    assert route.call_count == 1
    assert route.calls.last.request.headers["Authorization"].startswith("Bearer ")  # asked for an OIDC token


def test_service_unavailable_at_first_is_retried(workflow_runtime: WorkflowRuntime, workflow) -> None:
    def accept(request: httpx.Request) -> httpx.Response:
        callback_url = json.loads(request.content)["callback_url"]
        workflow_runtime.find_callback(callback_url).send_after(30, json={"status": "done", "pages": 1})
        return httpx.Response(202, json={"id": "job-2"})

    route = workflow_runtime.http.post(JOBS).mock(side_effect=[httpx.Response(503), accept])

    execution = workflow.execute({"document": ["only page"]})

    assert execution.result() == {"job": "job-2", "status": "done", "pages": 1}
    assert route.call_count == 2
    assert execution.duration == 1 + 30  # one second of backoff, then 30 s of work


def test_service_that_never_calls_back(workflow_runtime: WorkflowRuntime, workflow) -> None:
    workflow_runtime.http.post(JOBS).respond(202, json={"id": "job-3"})

    execution = workflow.execute({"document": []})

    assert execution.result() == {"job": "job-3", "status": "timed out"}
    assert execution.duration == 3600


def test_a_second_callback_after_the_workflow_ended_gets_404(workflow_runtime: WorkflowRuntime, workflow) -> None:
    def flaky_service(request: httpx.Request) -> httpx.Response:
        callback = workflow_runtime.find_callback(json.loads(request.content)["callback_url"])
        callback.send_after(60, json={"status": "done", "pages": 1})
        callback.send_after(120, json={"status": "done", "pages": 1})  # a duplicate delivery
        return httpx.Response(202, json={"id": "job-4"})

    workflow_runtime.http.post(JOBS).mock(side_effect=flaky_service)

    execution = workflow.execute({"document": ["p"]})
    assert execution.result()["status"] == "done"
    workflow_runtime.clock.advance(120)  # let the duplicate go out

    callback = execution.callbacks[0]
    assert callback.responses == [200, 404]
    assert_slot_state(callback, SlotState.CLOSED)


def test_a_callback_sent_before_the_workflow_awaits_is_kept(workflow_runtime: WorkflowRuntime, workflow) -> None:
    def instant_service(request: httpx.Request) -> httpx.Response:
        callback = workflow_runtime.find_callback(json.loads(request.content)["callback_url"])
        response = callback.send(json={"status": "cached", "pages": 0})  # before answering the request
        assert response.status_code == 200  # stored in the endpoint's slot
        return httpx.Response(200, json={"id": "job-5"})

    workflow_runtime.http.post(JOBS).mock(side_effect=instant_service)

    execution = workflow.execute({"document": ["p"]})

    assert execution.result() == {"job": "job-5", "status": "cached", "pages": 0}
    assert execution.duration == 0
