"""A service tested end to end: it starts executions with Google's client and answers their callbacks.

The service below is what a real project would have: it starts the
``order-approval`` workflow through the Executions API with the official
``google-api-python-client``, receives the workflow's ``http.post`` (carrying the
callback URL) and later sends the decision to that URL, retrying on 429 as the
callback contract asks. The test points the client at ``workflow_runtime.base_url``
and routes the workflow's ``http.post`` to the service with a respx route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build

WORKFLOW = Path(__file__).parent / "workflows" / "order_approval.yaml"
PARENT = "projects/test-project/locations/us-central1/workflows/order-approval"


class ApprovalService:
    """The service under test: starts reviews, takes review requests, sends decisions."""

    def __init__(self, api_endpoint: str) -> None:
        client = build("workflowexecutions", "v1", client_options={"api_endpoint": api_endpoint},
                       credentials=AnonymousCredentials(), static_discovery=True)
        self.executions = client.projects().locations().workflows().executions()
        self.pending: dict[str, str] = {}  # order id -> callback URL
        self.decide_at_once = False

    def start_review(self, order: dict[str, Any]) -> str:
        """Start the workflow for an order; returns the execution's name."""
        created = self.executions.create(parent=PARENT, body={"argument": json.dumps(order)}).execute()
        return str(created["name"])

    def status(self, name: str) -> dict[str, Any]:
        """The execution as the Executions API reports it."""
        return dict(self.executions.get(name=name).execute())

    def receive(self, request: httpx.Request) -> httpx.Response:
        """The service's HTTP endpoint for review requests (the workflow's http.post)."""
        body = json.loads(request.content)
        self.pending[body["order_id"]] = body["callback_url"]
        if self.decide_at_once:
            self.decide(body["order_id"], approved=True)
        return httpx.Response(202, json={"queued": body["order_id"]})

    def decide(self, order_id: str, *, approved: bool) -> int:
        """Send the decision to the workflow's callback URL; retry while the slot is full (429)."""
        url = self.pending.pop(order_id)
        with httpx.Client(trust_env=False, timeout=10) as http:
            for _ in range(5):
                answer = http.post(url, json={"approved": approved})
                if answer.status_code != 429:
                    return answer.status_code
        return answer.status_code


def test_service_starts_the_execution_and_calls_back(workflow_runtime):
    workflow_runtime.deploy(WORKFLOW, name="order-approval")
    service = ApprovalService(workflow_runtime.base_url)
    workflow_runtime.http.post("https://approvals.example.com/reviews").mock(side_effect=service.receive)

    name = service.start_review({"id": "A-7"})
    assert service.status(name)["state"] == "ACTIVE"
    execution = next(e for e in workflow_runtime.executions if e.name == name)

    execution.wait_until_awaiting()  # the workflow asked the service and now waits for the decision
    assert set(service.pending) == {"A-7"}
    assert service.decide("A-7", approved=False) == 200

    assert execution.result() == {"order_id": "A-7", "approved": False}
    status = service.status(name)
    assert status["state"] == "SUCCEEDED"
    assert json.loads(status["result"]) == {"order_id": "A-7", "approved": False}


def test_a_decision_sent_before_the_await_is_kept_for_it(workflow_runtime):
    workflow_runtime.deploy(WORKFLOW, name="order-approval")
    service = ApprovalService(workflow_runtime.base_url)
    service.decide_at_once = True  # answers inside the http.post, before the workflow awaits
    workflow_runtime.http.post("https://approvals.example.com/reviews").mock(side_effect=service.receive)

    name = service.start_review({"id": "B-1"})
    execution = next(e for e in workflow_runtime.executions if e.name == name)
    assert execution.result() == {"order_id": "B-1", "approved": True}
    (callback,) = execution.callbacks
    assert callback.responses == [200]  # stored in the endpoint's free slot, then taken by the await
