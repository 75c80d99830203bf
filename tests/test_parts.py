"""Running a part of a workflow (parts.py): entry=, run_until_step, variables (issue 17)."""

from __future__ import annotations

import asyncio

import pytest

from pytest_wfcallbacks import ExecutionFinished, WfCallbacksError, WorkflowRuntime, WorkflowServer

SOURCE = """
main:
  params: [args]
  steps:
    - first:
        assign:
          - total: 0
          - items: [1, 2, 3]
    - loop:
        for:
          value: n
          in: ${items}
          steps:
            - add:
                assign:
                  - total: ${total + n}
    - nap:
        call: sys.sleep
        args: {seconds: 10}
    - pay:
        call: charge
        args: {amount: ${total}}
        result: receipt
    - done:
        return: ${receipt}
charge:
  params: [amount, currency: "EUR"]
  steps:
    - build:
        assign:
          - text: ${string(amount) + " " + currency}
    - give:
        return: ${text}
"""


def test_entry_runs_one_subworkflow_with_its_params_and_defaults(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(SOURCE, {"amount": 5}, entry="charge")
    assert execution.value == "5 EUR"
    assert execution.path() == ["build", "give"]
    workflow = workflow_runtime.deploy(SOURCE, name="shop")
    assert workflow.run({"amount": 1, "currency": "USD"}, entry="charge").value == "1 USD"
    started = workflow.start({"amount": 2}, entry="charge")
    assert started.state == "ACTIVE"
    assert started.result() == "2 EUR"


@pytest.mark.parametrize(("argument", "message"), [
    ({}, "missing the argument 'amount'"),
    ({"amount": 1, "curency": "USD"}, "has no parameter 'curency'"),
])
def test_entry_with_a_bad_param_fails_like_a_call_before_any_step(workflow_runtime: WorkflowRuntime,
                                                                  argument: dict[str, object], message: str) -> None:
    execution = workflow_runtime.run(SOURCE, argument, entry="charge")
    assert execution.state == "FAILED"
    assert execution.tags == ["TypeError"]
    assert message in execution.error["message"]
    assert execution.step_entries == []


def test_entry_errors_say_what_to_do(workflow_runtime: WorkflowRuntime) -> None:
    with pytest.raises(WfCallbacksError, match="did you mean 'charge'"):
        workflow_runtime.execute(SOURCE, {"amount": 1}, entry="chrage")
    with pytest.raises(WfCallbacksError, match="the argument is the map of charge's params"):
        workflow_runtime.execute(SOURCE, [1], entry="charge")


def test_entry_uses_fakes_and_callbacks_like_main(workflow_runtime: WorkflowRuntime) -> None:
    source = """
    main:
      steps:
        - never:
            return: 0
    approve:
      params: [order]
      steps:
        - make:
            call: events.create_callback_endpoint
            args: {http_callback_method: POST}
            result: cb
        - wait:
            call: events.await_callback
            args: {callback: ${cb}, timeout: 60}
            result: req
        - check:
            call: risk
            args: {order: ${order}}
            result: score
        - done:
            return: ${[req.http_request.body.ok, score]}
    risk:
      params: [order]
      steps:
        - r:
            return: 100
    """
    workflow_runtime.subworkflows.fake("risk", returns=3)
    execution = workflow_runtime.execute(source, {"order": "o1"}, entry="approve")
    execution.wait_for_callback().send(json={"ok": True})
    assert execution.result() == [True, 3]


def test_run_until_step_stops_before_the_step_and_variables_show_that_moment(
        workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(SOURCE)
    assert execution.run_until_step("pay") is execution
    assert execution.state == "ACTIVE"
    assert workflow_runtime.clock.elapsed == 10  # time moved only as far as the step needed
    assert "pay" not in execution.path()  # about to enter it, not entered
    seen = execution.variables()
    assert seen == {"args": None, "total": 6, "items": [1, 2, 3]}
    seen["items"].append(99)  # a copy: the execution does not see it
    assert execution.variables()["items"] == [1, 2, 3]
    assert execution.result() == "6 EUR"


def test_run_until_step_inside_a_subworkflow_and_a_loop(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.start(SOURCE)  # nothing ran yet
    execution.run_until_step("add")
    assert execution.variables()["n"] == 1
    execution.run_until_step("add")
    assert execution.variables()["n"] == 2
    assert execution.variables()["total"] == 1
    execution.run_until_step("give")
    assert execution.variables() == {"amount": 6, "currency": "EUR", "text": "6 EUR"}  # the subworkflow's scope
    assert execution.result() == "6 EUR"


def test_run_until_step_raises_when_the_execution_ends_first(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(SOURCE, entry="charge", argument={"amount": 1})
    with pytest.raises(ExecutionFinished, match="before the main thread reached step 'nap'"):
        execution.run_until_step("nap")
    assert execution.value == "1 EUR"
    assert isinstance(ExecutionFinished("x"), WfCallbacksError)


def test_run_until_step_names_a_step_the_workflow_does_not_have(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(SOURCE)
    with pytest.raises(WfCallbacksError, match="did you mean 'pay'"):
        execution.run_until_step("paay")


PARALLEL = """
main:
  steps:
    - init:
        assign:
          - log: []
    - fan:
        parallel:
          shared: [log]
          for:
            value: city
            in: ["Oslo", "Lima", "Pune"]
            steps:
              - wait:
                  call: sys.sleep
                  args: {seconds: ${len(city)}}
              - local:
                  assign:
                    - mine: ${city + "!"}
              - note:
                  assign:
                    - log: ${list.concat(log, mine)}
    - done:
        return: ${log}
"""


def test_run_until_step_in_a_branch_by_loop_value_and_its_variables(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.start(PARALLEL)
    execution.run_until_step("note", branch="Lima")
    seen = execution.variables(branch="Lima")
    assert seen["city"] == "Lima"
    assert seen["mine"] == "Lima!"
    assert "log" in seen  # the parent's shared variable is visible to the branch
    with pytest.raises(WfCallbacksError, match="no running branch"):
        execution.variables(branch="Paris")
    assert sorted(execution.result()) == ["Lima!", "Oslo!", "Pune!"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stopping_changes_nothing_same_seed_same_history(workflow_server: WorkflowServer, seed: int) -> None:
    def history(stops: list[tuple[str, str | None]]) -> list[str]:
        with WorkflowRuntime(server=workflow_server, seed=seed, schedule="random") as runtime:
            execution = runtime.start(PARALLEL)
            for step, branch in stops:
                execution.run_until_step(step, branch=branch)
                execution.variables(branch)
            execution.wait()
            return [item.describe() for item in execution.history]

    plain = history([])
    assert history([("local", "Oslo"), ("note", "Oslo"), ("done", None)]) == plain
    assert history([("fan", None), ("wait", "Lima")]) == plain


def test_run_until_step_async_twin() -> None:
    async def scenario() -> tuple[int, str]:
        with WorkflowRuntime() as runtime:
            execution = runtime.execute(SOURCE)
            await execution.run_until_step_async("pay")
            total = execution.variables()["total"]
            return total, await execution.result_async()

    assert asyncio.run(scenario()) == (6, "6 EUR")
