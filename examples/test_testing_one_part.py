"""Testing one part of a workflow: fake a subworkflow, run one on its own, stop at a step.

``checkout.yaml`` has a ``main`` that totals a cart and calls the ``payment``
subworkflow. The test of ``main`` fakes ``payment`` (no HTTP mock needed); the test
of ``payment`` runs it on its own with ``entry="payment"``; the last test stops
``main`` before its ``pay`` step and looks at its variables.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from pytest_wfcallbacks import SubworkflowError, WorkflowRuntime

CART = {"items": [{"price": 12, "quantity": 2}, {"price": 6, "quantity": 1}]}
CHARGES = "https://payments.example.com/v1/charges"


def test_main_with_payment_faked(workflow_runtime: WorkflowRuntime, workflows: Path) -> None:
    payment = workflow_runtime.subworkflows.fake("payment", returns={"status": "paid", "id": "ch_1"})

    execution = workflow_runtime.run(workflows / "checkout.yaml", CART)

    assert execution.value == {"status": "paid", "amount": 30}
    assert payment.calls[0].args == {"amount": 30, "currency": "EUR"}  # the default currency applies
    assert [entry.step for entry in execution.step_entries if entry.faked] == ["pay"]


def test_main_when_payment_fails(workflow_runtime: WorkflowRuntime, workflows: Path) -> None:
    workflow_runtime.subworkflows.fake("payment", raises={"message": "card declined", "tags": ["Declined"]})

    execution = workflow_runtime.run(workflows / "checkout.yaml", CART)

    assert execution.state == "FAILED"
    assert execution.tags == ["Declined"]
    assert isinstance(SubworkflowError("x"), Exception)


def test_payment_on_its_own(workflow_runtime: WorkflowRuntime, workflows: Path) -> None:
    workflow_runtime.http.post(CHARGES).mock(side_effect=[
        httpx.Response(503), httpx.Response(200, json={"status": "paid", "id": "ch_2"})])

    execution = workflow_runtime.run(workflows / "checkout.yaml", {"amount": 30, "currency": "USD"},
                                     entry="payment")

    assert execution.value == {"status": "paid", "id": "ch_2"}
    assert workflow_runtime.clock.elapsed == 1  # one retry after the 503, 1 virtual second later


def test_stop_before_paying_and_look_inside(workflow_runtime: WorkflowRuntime, workflows: Path) -> None:
    workflow_runtime.subworkflows.fake("payment", returns={"status": "paid", "id": "ch_3"})
    execution = workflow_runtime.start(workflows / "checkout.yaml", CART)

    execution.run_until_step("pay")

    assert execution.variables()["amount"] == 30
    assert execution.result()["status"] == "paid"
