"""Strict HTTP parsing on the loopback server: every request the service's front end refuses gets a 4xx here.

A workflow reads a callback's headers as data, so any leniency (a request cut off in
its headers, a header without a colon, a folded line...) would hand it headers no
real sender can produce. Each case is answered 4xx in Google's error envelope and
touches no slot; the server keeps serving.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_wfcallbacks import SlotState, WorkflowRuntime, WorkflowServer, connection, server
from tests.test_server import error_of, raw_exchange, start, still_serves

CASES = {
    "header without colon": "Host: x\r\nNoColonHere\r\nContent-Length: 1\r\n\r\n1",
    "space before colon": "Host: x\r\nX-Name : v\r\nContent-Length: 1\r\n\r\n1",
    "bare CR in a header": "Host: x\r\nX-A: 1\rX-B: 2\r\nContent-Length: 1\r\n\r\n1",
    "folded header": "Host: x\r\nX-A: 1\r\n\tmore\r\nContent-Length: 1\r\n\r\n1",
    "Content-Length and Transfer-Encoding": "Host: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            "1\r\n1\r\n0\r\n\r\n",
    "unknown transfer coding": "Host: x\r\nTransfer-Encoding: gzip\r\n\r\n1",
    "two different Content-Lengths": "Host: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12",
    "missing Host on HTTP/1.1": "Content-Length: 1\r\n\r\n1",
}


@pytest.mark.parametrize("rest", list(CASES.values()), ids=list(CASES))
def test_malformed_head_is_4xx_and_touches_no_slot(workflow_runtime: WorkflowRuntime, rest: str) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, headers, body = raw_exchange(callback.url, f"POST {path} HTTP/1.1\r\n{rest}".encode())
    assert 400 <= status < 500
    assert error_of(body)["code"] == status
    assert headers["connection"] == "close"
    assert callback.requests == []
    still_serves(workflow_runtime, execution, callback)


def test_path_starting_with_two_slashes_is_400(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, _, body = raw_exchange(callback.url,
                                   f"POST /{path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1".encode())
    assert status == 400
    assert "//" in error_of(body)["message"]
    assert callback.requests == []
    still_serves(workflow_runtime, execution, callback)


def test_headers_over_the_total_size_limit_are_431(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    many = "".join(f"X-H{i}: {'v' * 1500}\r\n" for i in range(50))  # 75 KB in 50 lines, each line legal
    status, _, body = raw_exchange(callback.url, f"POST {path} HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert status == 431
    assert "in all" in error_of(body)["message"]
    still_serves(workflow_runtime, execution, callback)


def test_request_cut_off_in_its_headers_is_not_delivered(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    parts = urlsplit(callback.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: applica".encode())
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536)
    assert answer == b"" or answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400"))
    assert callback.requests == []
    still_serves(workflow_runtime, execution, callback)


@pytest.fixture
def short_body_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(connection, "BODY_TIMEOUT", 0.3)
    return 0.3


def test_a_stalled_body_is_answered_400_and_frees_the_clock(workflow_runtime: WorkflowRuntime,
                                                            short_body_timeout: float) -> None:
    execution, callback = start(workflow_runtime)
    other = workflow_runtime.execute("main:\n  steps:\n    - s:\n        call: sys.sleep\n        args: {seconds: 60}\n"
                                     "    - r:\n        return: done\n")
    parts = urlsplit(callback.url)
    answers: list[bytes] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        # Headers and Content-Length, then nothing: the sender stalled.
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".encode())
        reader = threading.Thread(target=lambda: answers.append(sock.recv(65536)))
        reader.start()
        # Meanwhile the other execution's drive moves virtual time; it is held only until the body timeout.
        assert other.result() == "done"
        reader.join(10)
    assert answers
    assert answers[0].startswith(b"HTTP/1.1 400")
    body = answers[0].partition(b"\r\n\r\n")[2]
    assert "did not arrive" in error_of(body)["message"]
    assert callback.slot_state is SlotState.WAITING
    still_serves(workflow_runtime, execution, callback)


def test_a_drive_ends_while_a_sender_stalls_on_its_body(workflow_runtime: WorkflowRuntime) -> None:
    # The stalled request is still open (unanswered, within the default BODY_TIMEOUT) when the
    # other executions' drives end: the drive waited a bounded while, not for the sender.
    execution, callback = start(workflow_runtime)
    sleeper = "main:\n  steps:\n    - s:\n        call: sys.sleep\n        args: {seconds: 600}\n" \
              "    - r:\n        return: ${sys.now()}\n"
    parts = urlsplit(callback.url)
    answers: list[bytes] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=server.BODY_TIMEOUT + 10) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".encode())
        reader = threading.Thread(target=lambda: answers.append(sock.recv(65536)))
        reader.start()
        first = workflow_runtime.execute(sleeper)
        second = workflow_runtime.execute(sleeper)
        assert first.result() == second.result()  # both slept ten minutes of virtual time
        assert first.duration == second.duration == 600.0
        open_while_driving = not answers
        reader.join(server.BODY_TIMEOUT + 10)  # bounded: the server answers at BODY_TIMEOUT
    assert open_while_driving
    assert answers[0].startswith((b"HTTP/1.1 400", b"HTTP/1.1 408"))
    assert "did not arrive" in error_of(answers[0].partition(b"\r\n\r\n")[2])["message"]
    assert [(r.status, r.outcome) for r in callback.requests] == [(400, "bad-request")]  # answered, not delivered
    assert callback.slot_state is SlotState.WAITING
    still_serves(workflow_runtime, execution, callback)


# ---------------------------------------------------------------- load and abuse
LOOP = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: []
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 31536000
        result: request
    - check:
        switch:
          - condition: ${request.http_request.body == "stop"}
            return: ${got}
    - add:
        assign:
          - got: ${list.concat(got, request.http_request.body)}
        next: wait
"""

ABUSE = [
    b"POST {path} HTTP/1.1\r\nHost: x\r\nNoColon\r\nContent-Length: 1\r\n\r\n1",
    b"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /{path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1",
    b"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
    b"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n",
    b"\x00\x01garbage\r\n\r\n",
    b"GET /v1/projects/test-project/locations/us-central1/workflows/-/executions?filter=((( HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/projects/test-project/locations/us-central1/workflows/-/executions?pageToken=eyJvZmZzZXQiOiAxZTk5OTl9 HTTP/1.1\r\n"
    b"Host: x\r\n\r\n",
    b"POST /v1/projects/test-project/locations/us-central1/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"
    + b"[" * 100_000 + b"]" * 100_000,
]


def _sender(base: str, paths: list[str], per: int, first: int, results: list[tuple[int, int]]) -> None:
    """Send ``per`` distinct numbered bodies round-robin over ``paths``, retrying each 429 on the next path."""
    import http.client

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    pending = list(range(first, first + per))
    turn = first
    while pending:
        number = pending[0]
        path = paths[turn % len(paths)]
        turn += 1
        conn.request("POST", path, body=json.dumps(str(number)), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        results.append((number, response.status))
        if response.status == 200:
            pending.pop(0)
        elif response.status != 429:
            break
    conn.close()


def test_many_senders_and_abuse_lose_nothing_and_never_500(workflow_runtime: WorkflowRuntime) -> None:
    executions = [workflow_runtime.execute(LOOP) for _ in range(10)]
    callbacks = [e.wait_for_callback() for e in executions]
    paths = [urlsplit(cb.url).path for cb in callbacks]
    senders, per = 20, 25
    results: list[tuple[int, int]] = []
    threads = [threading.Thread(target=_sender, args=(callbacks[0].url, paths, per, i * per, results))
               for i in range(senders)]
    abuse_status: list[int] = []

    def abuse() -> None:
        for raw in ABUSE * 2:
            data = raw.replace(b"{path}", paths[0].encode())
            try:
                status, _, _ = raw_exchange(callbacks[0].url, data, timeout=20)
            except (OSError, ValueError, IndexError):
                continue  # a connection the server closed on garbage has no status line to read
            abuse_status.append(status)

    abuser = threading.Thread(target=abuse)
    for thread in [*threads, abuser]:
        thread.start()
    deadline = time.monotonic() + 60
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        workflow_runtime.run_until_idle()
        time.sleep(0.002)
    for thread in [*threads, abuser]:
        thread.join(20)
    for cb in callbacks:
        while cb.send("stop").status_code == 429:
            workflow_runtime.run_until_idle()
    received = [item for e in executions for item in e.result()]
    accepted = [str(n) for n, status in results if status == 200]
    assert sorted(received, key=int) == sorted(accepted, key=int)  # nothing lost
    assert len(set(received)) == len(received)  # nothing twice
    assert len(accepted) == senders * per
    assert {status for _, status in results} <= {200, 429}
    assert abuse_status
    assert all(400 <= s < 500 for s in abuse_status), abuse_status
    workflow_runtime.check()  # no server error was recorded
    assert workflow_runtime.run("main:\n  steps:\n    - r:\n        return: 1\n").value == 1


# ---------------------------------------------------------------- hosts, ports, callback_auth
def test_ipv6_loopback_gives_bracketed_urls_that_work() -> None:
    with WorkflowServer(host="::1") as ipv6, WorkflowRuntime(server=ipv6) as runtime:
        assert ipv6.base_url == f"http://[::1]:{ipv6.port}"
        execution, callback = start(runtime)
        assert callback.url.startswith(f"http://[::1]:{ipv6.port}/v1/projects/")
        assert callback.send({"over": "ipv6"}).status_code == 200
        assert execution.result()["body"] == {"over": "ipv6"}


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_ports_outside_the_tcp_range_are_refused(port: int) -> None:
    with pytest.raises(ValueError, match=f"port {port} is not a TCP port: use 0 to 65535"):
        WorkflowServer(port=port)


CANCELLED_BY_AUTH: list[Any] = []


def cancel_then_allow(headers: dict[str, str]) -> bool:
    for execution in CANCELLED_BY_AUTH:
        execution.cancel()
    return True


@pytest.mark.workflow_runtime(callback_auth=cancel_then_allow)
def test_callback_auth_that_cancels_the_execution_gets_404_not_stored(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    CANCELLED_BY_AUTH[:] = [execution]
    try:
        response = callback.send({"late": True})
    finally:
        CANCELLED_BY_AUTH.clear()
    assert response.status_code == 404
    assert "CANCELLED" in response.json()["error"]["message"]
    assert execution.state == "CANCELLED"
    assert callback.slot_state is SlotState.CLOSED
    assert [r.outcome for r in callback.requests] == ["not-found"]


def test_a_trickling_chunked_body_is_cut_off_in_bounded_time(workflow_runtime: WorkflowRuntime,
                                                             short_body_timeout: float) -> None:
    execution, callback = start(workflow_runtime)
    parts = urlsplit(callback.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        answer = b""
        for _ in range(40):  # one byte every 50 ms: each read is quick, the whole body never comes
            try:
                sock.sendall(b"1\r\na\r\n")
            except OSError:
                break
            sock.settimeout(0.05)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 400")
    assert "did not arrive" in error_of(answer.partition(b"\r\n\r\n")[2])["message"]
    assert callback.slot_state is SlotState.WAITING
    still_serves(workflow_runtime, execution, callback)
