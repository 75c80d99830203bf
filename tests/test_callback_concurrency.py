"""Callback requests arriving at once on the server's threads: every request is atomic under the runtime lock."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from urllib.parse import urlsplit

from pytest_wfcallbacks import EventKind, Execution, SlotState, WorkflowRuntime

# N branches of a parallel for await the same endpoint; after them one more await takes the stored payload.
FAN_IN = """
main:
  params: [n]
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: []
    - fan:
        parallel:
          shared: [got]
          for:
            value: worker
            range: ${[1, n]}
            steps:
              - wait:
                  call: events.await_callback
                  args:
                    callback: ${cb}
                    timeout: 600
                  result: request
              - keep:
                  assign:
                    - got: ${list.concat(got, request.http_request.body)}
    - last:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 600
        result: request
    - done:
        return: ${list.concat(got, request.http_request.body)}
"""

SENDERS = 200


def burst(urls: list[str]) -> list[tuple[str, str, int]]:
    """SENDERS threads, each with its own connection, released together; returns (url, body, status)."""
    barrier = threading.Barrier(SENDERS)
    results: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        url = urls[index % len(urls)]
        parts = urlsplit(url)
        body = f"payload-{index}"
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.connect()
            barrier.wait(timeout=30)
            conn.request("POST", parts.path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            status = conn.getresponse().status
        finally:
            conn.close()
        with lock:
            results.append((url, body, status))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == SENDERS, "some senders never got an answer"
    return results


def check_answers(execution: Execution, results: list[tuple[str, str, int]], waiters: int) -> None:
    """Before driving: exactly N + 1 accepted (N delivered, 1 stored), the rest 429."""
    callback = execution.callbacks[0]
    mine = [(body, status) for url, body, status in results if url == callback.url]
    statuses = Counter(status for _, status in mine)
    assert statuses == {200: waiters + 1, 429: len(mine) - waiters - 1}, statuses
    assert sorted(callback.responses) == sorted(status for _, status in mine)
    assert Counter(r.outcome for r in callback.requests) == {
        "delivered": waiters, "stored": 1, "rejected": len(mine) - waiters - 1}
    assert callback.slot_state is SlotState.FILLED


def check_deliveries(execution: Execution, results: list[tuple[str, str, int]], waiters: int) -> None:
    """After driving: each accepted payload reached exactly one await, in await order."""
    callback = execution.callbacks[0]
    mine = [(body, status) for url, body, status in results if url == callback.url]
    accepted = sorted(body for body, status in mine if status == 200)
    received = execution.result()
    # every accepted payload reaches exactly one await; no rejected one does
    assert sorted(received) == accepted
    assert len(set(received)) == len(received)
    # deliveries went to the waiting awaits in the order those awaits were made
    history = execution.history
    awaited = [e.branch for e in history if e.kind is EventKind.CALLBACK_AWAITED and e.branch is not None]
    delivered = [e.branch for e in history if e.kind is EventKind.CALLBACK_DELIVERED and not e.stored]
    assert len(awaited) == waiters
    assert delivered == awaited
    # the stored payload went to the final await, after the parallel step
    stored = [e for e in history if e.kind is EventKind.CALLBACK_DELIVERED and e.stored]
    assert [(e.branch, e.step) for e in stored] == [(None, "last")]


def test_burst_on_one_endpoint_with_n_waiters(workflow_runtime: WorkflowRuntime) -> None:
    waiters = 10
    execution = workflow_runtime.execute(FAN_IN, waiters)
    callback = execution.wait_for_callback()
    assert callback.waiters == waiters
    results = burst([callback.url])
    check_answers(execution, results, waiters)
    check_deliveries(execution, results, waiters)


def test_burst_across_many_executions(workflow_runtime: WorkflowRuntime) -> None:
    waiters = 3
    executions = [workflow_runtime.execute(FAN_IN, waiters) for _ in range(20)]
    urls = [execution.wait_for_callback().url for execution in executions]
    assert all(execution.callbacks[0].waiters == waiters for execution in executions)
    results = burst(urls)
    for execution in executions:
        check_answers(execution, results, waiters)
    for execution in executions:
        check_deliveries(execution, results, waiters)


def test_burst_while_the_test_thread_drives(workflow_runtime: WorkflowRuntime) -> None:
    # The interpreter keeps consuming while requests arrive: accepted = awaits made + 1, nothing lost.
    source = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: []
    - loop:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 600
        result: request
    - check:
        switch:
          - condition: ${request.http_request.body == "stop"}
            return: ${got}
    - keep:
        assign:
          - got: ${list.concat(got, request.http_request.body)}
        next: loop
"""
    execution = workflow_runtime.execute(source)
    callback = execution.wait_for_callback()
    done = threading.Event()
    results: list[tuple[str, str, int]] = []

    def send_all() -> None:
        try:
            results.extend(burst([callback.url]))
        finally:
            done.set()

    sender = threading.Thread(target=send_all)
    with workflow_runtime.clock.auto_advance_disabled():
        sender.start()
        while not done.is_set():
            execution.run_until_idle()
            done.wait(0.001)
        sender.join()
        execution.run_until_idle()
        while callback.send("stop").status_code != 200:
            execution.run_until_idle()
    received = execution.result()
    accepted = sorted(body for _, body, status in results if status == 200)
    assert sorted(received) == accepted
    assert len(set(received)) == len(received)
    awaits = sum(1 for e in execution.history if e.kind is EventKind.CALLBACK_AWAITED)
    assert len(accepted) + 1 == awaits  # every accepted request (and "stop") was taken by exactly one await
    assert Counter(status for _, _, status in results).keys() <= {200, 429}
