"""Testing a workflow that calls connectors (Firestore, Pub/Sub) and runs a child workflow.

``workflow_runtime.connectors.fake(name, ...)`` answers ``call: googleapis.*``
steps: a constant (``returns=``), an API error (``raises=ConnectorError.http(404)``),
a handler that sees the call's ``args``, and ``after=`` virtual seconds for slow
operations. The child-execution connector runs a workflow deployed on the same
runtime as a real child execution, on the same virtual clock; here the child
calls a payment provider over HTTP, mocked on ``workflow_runtime.http``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_wfcallbacks import ConnectorCall, ConnectorError, Workflow, WorkflowRuntime, respond_after

GET_DOC = "googleapis.firestore.v1.projects.databases.documents.get"
PUBLISH = "googleapis.pubsub.v1.projects.topics.publish"
CHARGES = "https://payments.example.com/v1/charges"
ORDER = {"id": "o-17", "sku": "mug", "quantity": 2, "amount": 1800}


@pytest.fixture
def fulfilment(workflow_runtime: WorkflowRuntime, workflows: Path) -> Workflow:
    # The child is deployed under the name the parent passes as workflow_id.
    workflow_runtime.deploy(workflows / "charge_payment.yaml", name="charge-payment")
    return workflow_runtime.deploy(workflows / "order_fulfilment.yaml")


def stock(quantity: int) -> dict[str, Any]:
    """A Firestore document as the connector returns it (integers are strings in its JSON)."""
    return {"name": "projects/test-project/databases/(default)/documents/stock/mug",
            "fields": {"quantity": {"integerValue": str(quantity)}}}


def test_order_is_charged_and_announced(workflow_runtime: WorkflowRuntime, fulfilment: Workflow) -> None:
    workflow_runtime.connectors.fake(GET_DOC, returns=stock(5))
    publish = workflow_runtime.connectors.fake(PUBLISH, returns={"messageIds": ["m-1"]})
    # The payment provider takes 3 virtual seconds to answer the child workflow.
    charge = workflow_runtime.http.post(CHARGES).mock(
        return_value=respond_after(3, 200, json={"id": "ch_1", "status": "succeeded"}))

    execution = fulfilment.run(ORDER)

    assert execution.result() == {"status": "accepted", "payment": "ch_1", "message": "m-1"}
    assert json.loads(charge.calls.last.request.content) == {"reference": "o-17", "amount": 1800}
    message = publish.calls[0].args["body"]["messages"][0]["data"]
    assert json.loads(base64.b64decode(message)) == {"order": "o-17", "payment": "ch_1"}
    assert execution.duration == 3.0


def test_unknown_sku_is_rejected_without_charging(workflow_runtime: WorkflowRuntime, fulfilment: Workflow) -> None:
    def documents(args: dict[str, Any], call: ConnectorCall) -> Any:
        assert args["name"].endswith("/documents/stock/mug")
        raise ConnectorError.http(404, "Document not found")

    workflow_runtime.connectors.fake(GET_DOC, documents)

    execution = fulfilment.run(ORDER)

    assert execution.result() == {"status": "rejected", "reason": "unknown sku"}
    assert workflow_runtime.connectors.calls_to(PUBLISH) == []
    assert len(workflow_runtime.executions) == 1  # no child execution started


def test_too_little_stock_is_rejected_without_charging(workflow_runtime: WorkflowRuntime,
                                                       fulfilment: Workflow) -> None:
    workflow_runtime.connectors.fake(GET_DOC, returns=stock(1))

    assert fulfilment.run(ORDER).result() == {"status": "rejected", "reason": "out of stock"}
    assert len(workflow_runtime.executions) == 1  # no child execution started


def test_another_firestore_error_fails_the_order(workflow_runtime: WorkflowRuntime, fulfilment: Workflow) -> None:
    workflow_runtime.connectors.fake(GET_DOC, raises=ConnectorError.http(503, "Firestore unavailable"))

    execution = fulfilment.run(ORDER)

    assert execution.state == "FAILED"
    assert execution.error["code"] == 503
    assert workflow_runtime.connectors.calls_to(PUBLISH) == []


def test_declined_card_fails_the_child_and_rejects_the_order(workflow_runtime: WorkflowRuntime,
                                                            fulfilment: Workflow) -> None:
    workflow_runtime.connectors.fake(GET_DOC, returns=stock(5))
    workflow_runtime.http.post(CHARGES).respond(200, json={"id": "ch_2", "status": "declined"})

    execution = fulfilment.run(ORDER)

    assert execution.result() == {"status": "rejected", "reason": "payment failed"}
    child = workflow_runtime.connectors.calls[1].child
    assert child is not None
    assert child.state == "FAILED"
    assert child.tags == ["PaymentDeclined"]


def test_slow_payment_hits_the_connector_timeout(workflow_runtime: WorkflowRuntime, fulfilment: Workflow) -> None:
    workflow_runtime.connectors.fake(GET_DOC, returns=stock(5))

    workflow_runtime.connectors.fake(PUBLISH, returns={"messageIds": ["m-3"]})
    workflow_runtime.http.post(CHARGES).mock(
        return_value=respond_after(290, 200, json={"id": "ch_3", "status": "succeeded"}))

    # The provider answers the child after 290 s: within the parent's 600 s connector timeout.
    on_time = fulfilment.run(ORDER)
    assert on_time.result()["status"] == "accepted"
    assert on_time.duration == 290.0

    # A fake for the child-execution connector replaces the child: here it takes longer than the timeout.
    workflow_runtime.connectors.fake(
        "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run", returns={"id": "x"},
        after=900)
    late = fulfilment.run(ORDER)
    assert late.result() == {"status": "pending", "reason": "TimeoutError"}
    assert late.duration == 600.0
