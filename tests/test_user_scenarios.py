"""Scenarios written the way a user of the plugin writes them, black-box, from the README and the public API.

Each test is a realistic callback flow (payment webhooks, vendor quotes in a parallel ``for``, approvals
with GET callbacks in parallel branches, validation retried around ``await_callback``, a service that
calls back from the test's event loop) and asserts what such a user checks: the result, the virtual
duration, the answers the callback sender saw, logs, history and branch order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from pytest_wfcallbacks import (
    EventKind,
    ExecutionCancelled,
    WorkflowFailed,
    WorkflowRuntime,
    WorkflowServer,
    assert_branch_order,
    assert_callback_response,
    assert_slot_state,
)

# ------------------------------------------------------------------ payment webhooks through a subworkflow
PAYMENT = """
main:
  params: [args]
  steps:
    - create_cb:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: cb
    - charge:
        try:
          call: http.post
          args:
            url: https://pay.example.com/v1/charges
            body:
              amount: ${args.amount}
              webhook: ${cb.url}
          result: charge
        retry: ${http.default_retry_non_idempotent}
    - wait_webhook:
        call: await_payment
        args: {cb: '${cb}'}
        result: event
    - ship:
        call: http.post
        args:
          url: https://ship.example.com/v1/shipments
          body: {charge: '${charge.body.id}'}
        result: shipment
    - done:
        return: {charge: '${charge.body.id}', event: '${event}', shipment: '${shipment.code}'}
await_payment:
  params: [cb, max_events: 5]
  steps:
    - loop:
        for:
          value: i
          range: [1, ${max_events}]
          steps:
            - wait:
                call: events.await_callback
                args: {callback: '${cb}', timeout: 600}
                result: req
            - log:
                call: sys.log
                args: {data: '${req.http_request.body}', severity: DEBUG}
            - check:
                switch:
                  - condition: ${req.http_request.body.type == "charge.succeeded"}
                    return: ${req.http_request.body.type}
                  - condition: ${req.http_request.body.type == "charge.failed"}
                    raise: {code: 402, message: "payment failed", tags: [PaymentError]}
    - too_many:
        raise: "too many webhook events"
"""


def payment_service(runtime: WorkflowRuntime, events: list[tuple[float, str]]) -> Callable[[httpx.Request], httpx.Response]:
    """A mocked payment provider: accepts the charge and schedules its webhooks on the virtual timeline."""

    def charge(request: httpx.Request) -> httpx.Response:
        callback = runtime.find_callback(json.loads(request.content)["webhook"])
        for delay, kind in events:
            callback.send_after(delay, json={"type": kind})
        return httpx.Response(201, json={"id": "ch_1"})

    return charge


def test_payment_webhooks_after_a_503_then_shipping(workflow_runtime: WorkflowRuntime) -> None:
    charges = workflow_runtime.http.post("https://pay.example.com/v1/charges").mock(side_effect=[
        httpx.Response(503),
        payment_service(workflow_runtime, [(5, "charge.pending"), (30, "charge.succeeded")]),
    ])
    shipments = workflow_runtime.http.post("https://ship.example.com/v1/shipments").respond(201, json={})

    execution = workflow_runtime.execute(PAYMENT, {"amount": 100})

    assert execution.result() == {"charge": "ch_1", "event": "charge.succeeded", "shipment": 201}
    assert charges.call_count == 2  # the 503 was retried after the default 1 s backoff
    assert json.loads(shipments.calls[0].request.content) == {"charge": "ch_1"}
    assert execution.duration == 31.0  # webhooks were scheduled at t+1, when the charge succeeded
    assert [(log.severity, log.payload) for log in execution.logs] == [
        ("DEBUG", {"type": "charge.pending"}),
        ("DEBUG", {"type": "charge.succeeded"}),
    ]
    assert [log.time - execution.logs[0].time for log in execution.logs][1].total_seconds() == 25
    assert execution.callbacks[0].responses == [200, 200]


def test_failed_payment_raises_the_custom_error_through_the_subworkflow(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.post("https://pay.example.com/v1/charges").mock(
        side_effect=payment_service(workflow_runtime, [(5, "charge.failed")]))
    execution = workflow_runtime.execute(PAYMENT, {"amount": 100})

    with pytest.raises(WorkflowFailed) as failure:
        execution.result()

    assert failure.value.error == {"code": 402, "message": "payment failed", "tags": ["PaymentError"]}
    assert failure.value.tags == ["PaymentError"]
    assert "routine 'await_payment'" in str(failure.value)  # the report says where it was raised
    # the webhook provider retries a late duplicate: the execution is gone
    assert_callback_response(execution.callbacks[0].send(json={"type": "charge.failed"}), 404)


def test_webhook_that_never_comes_fails_after_the_await_timeout(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.post("https://pay.example.com/v1/charges").respond(201, json={"id": "ch_1"})
    execution = workflow_runtime.execute(PAYMENT, {"amount": 100})

    with pytest.raises(WorkflowFailed) as failure:
        execution.result()

    assert failure.value.tags == ["TimeoutError"]
    assert execution.duration == 600.0
    assert execution.callbacks[0].responses == []


# ------------------------------------------------------------------ vendor quotes: parallel for + callbacks
QUOTES = """
main:
  params: [vendors]
  steps:
    - init:
        assign:
          - quotes: {}
    - ask:
        parallel:
          shared: [quotes]
          concurrency_limit: 2
          for:
            value: v
            in: ${vendors}
            steps:
              - mk:
                  call: events.create_callback_endpoint
                  result: cb
              - post:
                  call: http.post
                  args:
                    url: ${"https://" + v + ".example.com/quote"}
                    body: {reply_to: '${cb.url}'}
              - wait:
                  call: events.await_callback
                  args: {callback: '${cb}', timeout: 100}
                  result: r
              - store:
                  assign:
                    - quotes[v]: ${r.http_request.body.price}
    - best:
        return: ${quotes}
"""


def vendor(runtime: WorkflowRuntime, delay: float, price: int) -> Callable[[httpx.Request], httpx.Response]:
    """A vendor that answers 202 at once and posts its quote to the callback ``delay`` virtual seconds later."""

    def handler(request: httpx.Request) -> httpx.Response:
        runtime.find_callback(json.loads(request.content)["reply_to"]).send_after(delay, json={"price": price})
        return httpx.Response(202)

    return handler


def test_quotes_respect_the_concurrency_limit(workflow_runtime: WorkflowRuntime) -> None:
    for name, delay, price in [("a", 30, 10), ("b", 10, 12), ("c", 5, 9)]:
        workflow_runtime.http.post(f"https://{name}.example.com/quote").mock(
            side_effect=vendor(workflow_runtime, delay, price))

    execution = workflow_runtime.execute(QUOTES, ["a", "b", "c"])

    assert execution.result() == {"a": 10, "b": 12, "c": 9}
    # c waits for a free slot (limit 2): it starts when b ends at t+10 and gets its quote at t+15
    assert_branch_order(execution, "store", ["b", "c", "a"])
    starts = {e.branch: e.time for e in execution.history if e.kind is EventKind.BRANCH_STARTED}
    assert (starts["ask[2]"] - starts["ask[0]"]).total_seconds() == 10
    assert execution.duration == 30.0


def test_a_vendor_error_lets_the_others_finish_then_fails_once(workflow_runtime: WorkflowRuntime) -> None:
    """continueAll (docs/decisions.md #14): b's 500 ends b only; a still gets its quote at t+30."""
    workflow_runtime.http.post("https://a.example.com/quote").mock(side_effect=vendor(workflow_runtime, 30, 10))
    workflow_runtime.http.post("https://b.example.com/quote").respond(500)

    execution = workflow_runtime.execute(QUOTES, ["a", "b"])

    with pytest.raises(WorkflowFailed) as failure:
        execution.result()
    assert failure.value.tags == ["UnhandledBranchError"]
    assert [b["id"] for b in failure.value.error["branches"]] == ["1"]
    assert "HttpError" in json.loads(failure.value.error["branches"][0]["error"]["payload"])["tags"]
    assert execution.callbacks[0].responses == [200]  # vendor a's quote was delivered
    assert [e.step for e in execution.step_entries if e.branch == "ask[0]"][-1] == "store"
    assert execution.duration == 30.0
    for callback in execution.callbacks:
        assert_slot_state(callback, "CLOSED")


# ------------------------------------------------------------------ approvals: GET callbacks in parallel branches
APPROVALS = """
main:
  steps:
    - init:
        assign:
          - results: {}
    - fan:
        parallel:
          shared: [results]
          branches:
            - legal:
                steps:
                  - mk_legal:
                      call: events.create_callback_endpoint
                      args: {http_callback_method: GET}
                      result: cb_legal
                  - wait_legal:
                      call: events.await_callback
                      args: {callback: '${cb_legal}', timeout: 3600}
                      result: r
                  - save_legal:
                      assign:
                        - results.legal: ${r.http_request.query.ok[0]}
            - finance:
                steps:
                  - mk_fin:
                      call: events.create_callback_endpoint
                      args: {http_callback_method: GET}
                      result: cb_fin
                  - wait_fin:
                      call: events.await_callback
                      args: {callback: '${cb_fin}', timeout: 3600}
                      result: r
                  - save_fin:
                      assign:
                        - results.finance: ${r.http_request.query.ok[0]}
    - done:
        return: ${results}
"""


def test_two_approvers_answer_their_own_get_links(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(APPROVALS)
    legal, finance = execution.wait_for_callback(), execution.wait_for_callback()
    assert (legal.method, finance.method) == ("GET", "GET")

    # an approver clicking the link with the wrong method is told which one the endpoint expects
    wrong = legal.send(method="POST")
    assert_callback_response(wrong, 404)
    assert "accepts GET requests only" in wrong.json()["error"]["message"]

    finance.send_after(10, query={"ok": "yes"})
    legal.send_after(20, query={"ok": "no"})

    assert execution.result() == {"legal": "no", "finance": "yes"}
    assert execution.branch_order("save_fin") == ["finance"]
    assert_branch_order(execution, "save_legal", ["legal"])
    assert legal.responses == [404, 200]
    assert finance.responses == [200]


# ------------------------------------------------------------------ validation retried around await_callback
SIGNED = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - wait:
        try:
          steps:
            - await:
                call: events.await_callback
                args: {callback: '${cb}', timeout: 300}
                result: req
            - validate:
                switch:
                  - condition: ${not("signature" in req.http_request.body)}
                    raise: {tags: [BadCallback], message: "unsigned"}
        retry:
          predicate: ${should_retry}
          max_retries: 3
          backoff: {initial_delay: 10, max_delay: 60, multiplier: 3}
        except:
          as: e
          steps:
            - log:
                call: sys.log
                args: {severity: ERROR, json: '${e}'}
            - give_up:
                return: {ok: false, tags: '${e.tags}'}
    - ok:
        return: {ok: true, body: '${req.http_request.body}'}
should_retry:
  params: [e]
  steps:
    - check:
        switch:
          - condition: ${"TimeoutError" in e.tags or "BadCallback" in e.tags}
            steps:
              - note:
                  call: sys.log
                  args: {severity: WARNING, text: '${"retrying after " + e.tags[0]}'}
              - yes_retry:
                  return: true
    - no_retry:
        return: false
"""


def test_an_unsigned_callback_is_retried_until_a_signed_one_arrives(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(SIGNED)
    callback = execution.wait_for_callback()
    callback.send_after(5, json={"x": 1})
    callback.send_after(20, json={"x": 2, "signature": "abc"})  # during the 10 s backoff: kept in the slot

    assert execution.result() == {"ok": True, "body": {"x": 2, "signature": "abc"}}
    assert [log.payload for log in execution.logs] == ["retrying after BadCallback"]
    retries = [e for e in execution.history if e.kind is EventKind.RETRY]
    assert [(e.details["attempt"], e.details["delay"]) for e in retries] == [(1, 10.0)]
    assert execution.duration == 20.0
    assert callback.responses == [200, 200]


def test_four_timeouts_with_capped_backoff_end_in_the_except_block(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(SIGNED)

    assert execution.result() == {"ok": False, "tags": ["TimeoutError"]}
    assert execution.duration == 4 * 300 + 10 + 30 + 60  # backoff 10, 30, then capped at 60
    assert [log.severity for log in execution.logs] == ["WARNING"] * 3 + ["ERROR"]
    assert execution.logs[-1].payload["tags"] == ["TimeoutError"]


# ------------------------------------------------------------------ a loop of awaits on one endpoint
LOOP = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        args: {http_callback_method: PUT}
        result: cb
    - init:
        assign:
          - got: []
    - loop:
        for:
          value: i
          range: [1, 3]
          steps:
            - wait:
                call: events.await_callback
                args: {callback: '${cb}', timeout: 60}
                result: req
            - add:
                assign:
                  - got: ${list.concat(got, req.http_request.body.n)}
            - nap:
                call: sys.sleep
                args: {seconds: 30}
    - done:
        return: ${got}
"""


def test_queued_send_on_await_feeds_one_await_each(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(LOOP)
    callback = execution.wait_for_callback()
    assert callback.send(json={"n": 1}).status_code == 200  # the first await is already waiting
    callback.send_on_await(json={"n": 2})
    callback.send_on_await(json={"n": 3})

    assert execution.result() == [1, 2, 3]
    assert callback.responses == [200, 200, 200]
    assert execution.duration == 90.0  # three naps, no waiting for callbacks


def test_a_sender_that_ignores_429_loses_its_update(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(LOOP)
    callback = execution.wait_for_callback()
    callback.send_after(10, json={"n": 1})  # delivered to the waiting await
    callback.send_after(20, json={"n": 2})  # during the nap: stored in the slot
    callback.send_after(25, json={"n": 3})  # slot full, nobody waits: 429

    with pytest.raises(WorkflowFailed) as failure:
        execution.result()

    assert callback.responses == [200, 200, 429]
    assert failure.value.tags == ["TimeoutError"]
    # the third await started at t+70 (10 + 30 nap, stored payload, 30 nap) and timed out 60 s later
    assert execution.duration == 130.0


# ------------------------------------------------------------------ a service that calls back in real time
JOB = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - start:
        call: http.post
        args:
          url: https://jobs.example.com/v1/jobs
          body: {callback_url: '${cb.url}'}
    - wait:
        call: events.await_callback
        args: {callback: '${cb}', timeout: 3600}
        result: done
    - report:
        return: ${done.http_request.body}
"""


@pytest.mark.asyncio
async def test_an_async_service_calls_back_from_the_event_loop(workflow_runtime: WorkflowRuntime) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def call_back_later(url: str) -> None:
        await asyncio.sleep(0.02)  # the service takes real time before it calls back
        async with httpx.AsyncClient() as client:
            assert_callback_response(await client.post(url, json={"status": "done"}), 200)

    def jobs(request: httpx.Request) -> httpx.Response:
        url = json.loads(request.content)["callback_url"]
        tasks.append(asyncio.get_running_loop().create_task(call_back_later(url)))
        return httpx.Response(202)

    workflow_runtime.http.post("https://jobs.example.com/v1/jobs").mock(side_effect=jobs)
    execution = workflow_runtime.execute(JOB)
    callback = await execution.wait_for_callback_async()
    await execution.wait_until_awaiting_async(callback)  # the clock has not moved: nothing drove it

    # Waiting on the service's own task, not on a settle heuristic: however slow the machine,
    # the callback is in before the drive may move virtual time towards the one-hour timeout.
    await asyncio.gather(*tasks)
    assert await execution.result_async() == {"status": "done"}
    assert execution.duration == 0.0


# ------------------------------------------------------------------ lifecycle edges a user runs into
def test_cancelled_execution_refuses_callbacks(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.post("https://jobs.example.com/v1/jobs").respond(202)
    execution = workflow_runtime.execute(JOB)
    callback = execution.wait_for_callback()

    execution.cancel()

    assert execution.state == "CANCELLED"
    answer = callback.send(json={"status": "done"})
    assert_callback_response(answer, 404)
    assert answer.json()["error"]["status"] == "NOT_FOUND"
    with pytest.raises(ExecutionCancelled):
        execution.result()


def test_two_runtimes_on_one_server_never_share_a_callback(
    workflow_runtime: WorkflowRuntime, workflow_server: WorkflowServer,
) -> None:
    with WorkflowRuntime(server=workflow_server, seed=workflow_runtime.settings.seed) as other:
        for runtime in (workflow_runtime, other):
            runtime.http.post("https://jobs.example.com/v1/jobs").respond(202)
        mine, theirs = workflow_runtime.execute(JOB), other.execute(JOB)
        my_callback, their_callback = mine.wait_for_callback(), theirs.wait_for_callback()

        assert mine.id != theirs.id
        assert my_callback.url != their_callback.url
        their_callback.send(json="theirs")
        my_callback.send(json="mine")
        assert (mine.result(), theirs.result()) == ("mine", "theirs")


def test_a_callback_at_the_exact_deadline_is_accepted_but_too_late(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.post("https://jobs.example.com/v1/jobs").respond(202)
    execution = workflow_runtime.execute(JOB)
    callback = execution.wait_for_callback()
    callback.send_after(3600, json={"status": "done"})  # timers fire before scheduled actions at one instant

    with pytest.raises(WorkflowFailed) as failure:
        execution.result()

    assert failure.value.tags == ["TimeoutError"]
    assert callback.responses == [200]  # stored in the free slot while the execution was still running
