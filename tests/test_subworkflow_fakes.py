"""Fakes for subworkflows (``workflow_runtime.subworkflows``, subworkflows.py): issue 17."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wfcallbacks import (
    EventKind,
    SubworkflowCall,
    SubworkflowError,
    WfCallbacksError,
    WorkflowRuntime,
    WorkflowSyntaxError,
)
from pytest_wfcallbacks.report.html import render_html
from pytest_wfcallbacks.report.record import read_execution

CHECKOUT = """
main:
  params: [order]
  steps:
    - pay:
        call: charge
        args: {amount: ${order.total}}
        result: receipt
    - done:
        return: ${receipt.status}
charge:
  params: [amount, currency: "EUR"]
  steps:
    - really:
        raise: "the real charge must not run in these tests"
"""


def test_a_call_step_is_answered_by_the_fake_with_the_params_as_a_map(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.subworkflows.fake("charge", returns={"status": "paid"})
    execution = workflow_runtime.run(CHECKOUT, {"total": 30})
    assert execution.value == "paid"
    assert fake.call_count == 1
    call = fake.calls[0]
    assert isinstance(call, SubworkflowCall)
    assert call.args == {"amount": 30, "currency": "EUR"}  # the default applies, as for the real call
    assert call.workflow == "workflow"
    assert call.execution is execution
    assert call.time == execution.start_time
    assert execution.path() == ["pay", "done"]  # the subworkflow's own steps never ran
    faked = [entry for entry in execution.step_entries if entry.faked]
    assert [(entry.step, entry.step_type, entry.state) for entry in faked] == [
        ("pay", "STEP_SUBWORKFLOW_CALL", "STATE_SUCCEEDED")]
    events = [item for item in execution.history if item.kind is EventKind.SUBWORKFLOW_FAKED]
    assert [(item.step, item.subworkflow) for item in events] == [("pay", "charge")]
    marks = [mark.detail for mark in read_execution(execution).marks]
    assert any(detail.endswith("main, step pay: faked call of subworkflow charge") for detail in marks), marks
    html = render_html(execution)
    assert html.count('<span class="badge faked">faked</span>') == 1  # the step table marks the faked call


def test_an_expression_call_is_answered_too(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.subworkflows.fake("double", handler=lambda call: call.args["x"] * 10)
    source = """
    main:
      steps:
        - compute:
            assign:
              - y: ${double(4) + 1}
        - done:
            return: ${y}
    double:
      params: [x]
      steps:
        - r:
            return: ${x * 2}
    """
    execution = workflow_runtime.run(source)
    assert execution.value == 41
    assert [call.args for call in fake.calls] == [{"x": 4}]
    assert not any(entry.faked for entry in execution.step_entries)  # an assign step, not a call step
    assert [item.subworkflow for item in execution.history if item.kind is EventKind.SUBWORKFLOW_FAKED] == ["double"]


def test_an_expression_call_cannot_wait(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.subworkflows.fake("double", returns=1, after=5)
    source = """
    main:
      steps:
        - compute:
            return: ${double(4)}
    double:
      params: [x]
      steps:
        - r:
            return: ${x * 2}
    """
    execution = workflow_runtime.run(source)
    assert execution.state == "FAILED"
    assert "cannot wait" in execution.error["message"]


RETRYING = """
main:
  steps:
    - attempt:
        try:
          call: charge
          args: {amount: 5}
          result: receipt
        retry:
          predicate: ${is_busy}
          max_retries: 3
          backoff: {initial_delay: 2, max_delay: 10, multiplier: 2}
        except:
          as: e
          steps:
            - failed:
                return: '${"gave up: " + e.message}'
    - ok:
        return: ${receipt}
is_busy:
  params: [e]
  steps:
    - check:
        return: ${"Busy" in e.tags}
charge:
  params: [amount]
  steps:
    - real:
        return: "real"
"""


def test_raises_reach_the_callers_retry_with_a_predicate_and_except(workflow_runtime: WorkflowRuntime) -> None:
    busy = {"message": "busy", "tags": ["Busy"]}
    fake = workflow_runtime.subworkflows.fake(
        "charge", results=[SubworkflowError(busy), SubworkflowError(busy), "charged"], after=1)
    execution = workflow_runtime.run(RETRYING)
    assert execution.value == "charged"
    assert fake.call_count == 3
    # each call takes 1 s; the backoff waits 2 s then 4 s
    assert [round((c.ns - fake.calls[0].ns) / 1e9) for c in fake.calls] == [0, 3, 8]
    # a try body of one step is part of the try step (no entry of its own); the history has each call,
    # in the caller's step even after the predicate subworkflow ran in between
    faked = [item for item in execution.history if item.kind is EventKind.SUBWORKFLOW_FAKED]
    assert [item.step for item in faked] == ["attempt"] * 3


def test_an_error_the_predicate_refuses_goes_to_except(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.subworkflows.fake("charge", raises={"message": "card declined", "tags": ["Declined"]})
    assert workflow_runtime.run(RETRYING).value == "gave up: card declined"
    assert fake.call_count == 1


def test_a_used_up_results_list_fails_the_call_and_is_reported(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.subworkflows.fake("charge", results=[{"status": "paid"}])
    assert workflow_runtime.run(CHECKOUT, {"total": 1}).value == "paid"
    second = workflow_runtime.run(CHECKOUT, {"total": 2})
    assert second.state == "FAILED"
    assert second.tags == ["SystemError"]
    assert "used up at call 2" in second.error["message"]
    with pytest.raises(WfCallbacksError, match="called 2 times but results= has only 1 outcomes"):
        workflow_runtime.check()


def test_a_handler_that_breaks_fails_the_call_and_is_reported(workflow_runtime: WorkflowRuntime) -> None:
    def broken(call: SubworkflowCall) -> Any:
        raise KeyError("oops")

    workflow_runtime.subworkflows.fake("charge", broken)
    assert workflow_runtime.run(CHECKOUT, {"total": 1}).tags == ["SystemError"]
    with pytest.raises(WfCallbacksError, match="the handler raised KeyError"):
        workflow_runtime.check()


def test_the_calls_checks_still_apply(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.subworkflows.fake("charge", returns={"status": "paid"})
    with pytest.raises(WorkflowSyntaxError, match="currencyy"):
        workflow_runtime.deploy(CHECKOUT.replace("args: {amount: ${order.total}}",
                                                 "args: {amount: 1, currencyy: EUR}"))
    dynamic = CHECKOUT.replace("args: {amount: ${order.total}}", "args: ${order}")
    execution = workflow_runtime.run(dynamic, {"total": 3})
    assert execution.state == "FAILED"
    assert execution.tags == ["TypeError"]
    assert workflow_runtime.subworkflows["charge"].call_count == 0


def test_after_takes_virtual_time_and_the_handler_sees_each_call(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.subworkflows.fake(
        "charge", lambda call: {"status": "paid" if call.args["amount"] < 100 else "refused"}, after=30)
    assert workflow_runtime.run(CHECKOUT, {"total": 300}).value == "refused"
    assert workflow_runtime.clock.elapsed == 30
    assert "fake charge" in workflow_runtime.executions[0].timeline()  # the 30 s the call took, labelled
    assert fake.calls[0].args["amount"] == 300


def test_check_reports_a_fake_no_workflow_can_call_with_a_did_you_mean(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHECKOUT, name="checkout")
    workflow_runtime.subworkflows.fake("chrage", returns=1)
    workflow_runtime.subworkflows.fake("charge", returns=1, workflow="chekout")
    with pytest.raises(WfCallbacksError) as caught:
        workflow_runtime.check()
    text = str(caught.value)
    assert "did you mean 'charge'?" in text
    assert "did you mean 'checkout'?" in text
    workflow_runtime.check()  # reported once


def test_workflow_limits_the_fake_to_one_deployed_workflow(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHECKOUT, name="checkout")
    other = workflow_runtime.deploy(CHECKOUT, name="other")
    workflow_runtime.subworkflows.fake("charge", returns={"status": "paid"}, workflow="checkout")
    assert workflow_runtime.run(workflow_runtime.workflows["checkout"], {"total": 1}).value == "paid"
    assert workflow_runtime.run(other, {"total": 1}).state == "FAILED"  # the real one raised


def test_fakes_inside_parallel_branches(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.subworkflows.fake("charge", lambda call: {"status": f"paid {call.args['amount']}"},
                                              after=2)
    source = """
    main:
      steps:
        - init:
            assign:
              - out: ""
        - all:
            parallel:
              shared: [out]
              for:
                value: n
                in: [1, 2, 3]
                steps:
                  - pay:
                      call: charge
                      args: {amount: ${n}}
                      result: r
                  - keep:
                      assign:
                        - out: ${out + r.status + ";"}
        - done:
            return: ${out}
    charge:
      params: [amount]
      steps:
        - real:
            raise: "not in tests"
    """
    execution = workflow_runtime.run(source)
    assert execution.state == "SUCCEEDED", execution.error
    assert sorted(call.branch for call in fake.calls) == ["all[0]", "all[1]", "all[2]"]
    assert workflow_runtime.clock.elapsed == 2  # the branches wait together
    assert sorted(entry.branch for entry in execution.step_entries if entry.faked) == ["all[0]", "all[1]", "all[2]"]


def test_fakes_answer_inside_a_child_execution(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHECKOUT, name="checkout")
    fake = workflow_runtime.subworkflows.fake("charge", returns={"status": "paid by fake"})
    parent = """
    main:
      steps:
        - child:
            call: experimental.executions.run
            args:
              workflow_id: checkout
              argument: {total: 7}
            result: r
        - done:
            return: ${r}
    """
    assert workflow_runtime.run(parent).value == "paid by fake"
    assert fake.calls[0].workflow == "checkout"
    assert fake.calls[0].execution.workflow.name == "checkout"


def test_bad_options_are_refused() -> None:
    with WorkflowRuntime() as runtime:
        with pytest.raises(WfCallbacksError, match="give one of handler"):
            runtime.subworkflows.fake("charge", returns=1, raises="x")
        with pytest.raises(WfCallbacksError, match="main is the execution itself"):
            runtime.subworkflows.fake("main", returns=1)
        with pytest.raises(WfCallbacksError, match="after= must be"):
            runtime.subworkflows.fake("charge", after=-1)
