"""The loopback server under bad input: never crashes, never 500 for a client mistake, never loses a 200."""

from __future__ import annotations

import json
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from pytest_wfcallbacks import Limits, SlotState, WorkflowRuntime, WorkflowServer

AWAIT_ONE = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 3600
        result: request
    - done:
        return: ${request.http_request}
"""


def start(runtime: WorkflowRuntime) -> Any:
    execution = runtime.execute(AWAIT_ONE)
    return execution, execution.wait_for_callback()


def raw_exchange(url: str, data: bytes, *, finish: bool = True, timeout: float = 10) -> tuple[int, dict[str, str],
                                                                                                bytes]:
    """Send raw bytes to the server, read one response: (status, lower-cased headers, body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        if finish:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def error_of(body: bytes) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "status"}
    return dict(error)


def still_serves(runtime: WorkflowRuntime, execution: Any, callback: Any) -> None:
    """The server is alive and the slot was untouched: a good request is still delivered."""
    assert callback.slot_state is SlotState.WAITING
    assert callback.send({"good": True}).status_code == 200
    assert execution.result()["body"] == {"good": True}


# ---------------------------------------------------------------- size limit
def test_default_body_limit_is_one_mebibyte(workflow_runtime: WorkflowRuntime) -> None:
    assert Limits().callback_body_bytes == 1024 * 1024
    execution, callback = start(workflow_runtime)
    too_big = callback.send(b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/octet-stream"})
    assert too_big.status_code == 413
    assert callback.slot_state is SlotState.WAITING
    exactly = callback.send("y" * (1024 * 1024))
    assert exactly.status_code == 200
    assert [r.outcome for r in callback.requests] == ["too-large", "delivered"]
    execution.cancel()  # a 1 MiB string is over the workflow's own memory limit: the endpoint's part ends here


@pytest.mark.workflow_runtime(limits={"callback_body_bytes": 1000})
def test_oversized_body_is_413_with_the_envelope(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    response = callback.send("z" * 1001)
    assert response.status_code == 413
    error = error_of(response.content)
    assert error["code"] == 413
    assert error["status"] == "INVALID_ARGUMENT"
    for part in (execution.id, callback.id, "1000-byte limit", "callback_body_bytes", "WAITING"):
        assert part in error["message"]
    assert callback.requests[-1].outcome == "too-large"
    still_serves(workflow_runtime, execution, callback)


@pytest.mark.workflow_runtime(limits={"callback_body_bytes": 4096})
def test_chunked_body_over_the_limit_is_refused_without_reading_it_all(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    chunks = b"".join(b"400\r\n" + b"a" * 1024 + b"\r\n" for _ in range(5))  # 5 KiB and no final chunk:
    # a server reading the whole body would wait forever; this one stops at limit + 1 bytes and answers.
    status, headers, body = raw_exchange(callback.url, head.encode() + chunks, finish=False)
    assert status == 413
    assert headers["connection"] == "close"
    assert "4096-byte limit" in error_of(body)["message"]
    still_serves(workflow_runtime, execution, callback)


def test_chunked_body_within_the_limit_is_delivered(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    data = head.encode() + b"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n"
    status, _, body = raw_exchange(callback.url, data)
    assert (status, body) == (200, b"{}")
    assert execution.result()["body"] == {"a": 1}


def test_broken_chunked_encoding_is_400(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    data = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".encode()
    status, _, body = raw_exchange(callback.url, data)
    assert status == 400
    assert error_of(body)["status"] == "INVALID_ARGUMENT"
    still_serves(workflow_runtime, execution, callback)


@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_invalid_content_length_is_400(workflow_runtime: WorkflowRuntime, length: str) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, headers, body = raw_exchange(
        callback.url, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\nabc".encode())
    assert status == 400
    assert "Content-Length" in error_of(body)["message"]
    assert headers["connection"] == "close"
    still_serves(workflow_runtime, execution, callback)


# ---------------------------------------------------------------- odd bytes and absurd headers
def test_invalid_utf8_in_headers_and_query_is_accepted(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    data = (f"POST {path}?q=%FF%FEok HTTP/1.1\r\nHost: x\r\nX-Odd: ".encode() + b"caf\xc3\xa9 \xff\r\n"
            + b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
    status, _, _ = raw_exchange(callback.url, data)
    assert status == 200
    request = execution.result()
    assert request["headers"]["X-Odd"] == "café \ufffd"
    assert request["query"] == {"q": ["%FF%FEok"]}  # undecodable escapes are kept as sent
    assert request["body"] == "hi"


def test_very_long_header_line_is_431(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, _, body = raw_exchange(callback.url, f"POST {path} HTTP/1.1\r\nX-Big: {'a' * 70000}\r\n\r\n".encode())
    assert status == 431
    assert error_of(body)["status"] == "INVALID_ARGUMENT"
    still_serves(workflow_runtime, execution, callback)


def test_too_many_headers_is_431(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    many = "".join(f"X-H{i}: {i}\r\n" for i in range(150))
    status, _, body = raw_exchange(callback.url, f"POST {path} HTTP/1.1\r\n{many}\r\n".encode())
    assert status == 431
    assert error_of(body)["code"] == 431
    still_serves(workflow_runtime, execution, callback)


def test_large_but_legal_headers_are_delivered(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    headers = {f"X-H{i}": str(i) for i in range(60)}
    headers["X-Big"] = "b" * 16000
    assert callback.send("ok", headers=headers).status_code == 200
    received = execution.result()["headers"]
    assert received["X-Big"] == "b" * 16000
    assert received["X-H59"] == "59"


def test_very_long_request_line_is_414(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    status, _, body = raw_exchange(callback.url, f"POST /{'p' * 70000} HTTP/1.1\r\n\r\n".encode())
    assert status == 414
    assert error_of(body)["code"] == 414
    still_serves(workflow_runtime, execution, callback)


@pytest.mark.parametrize("line", [b"GARBAGE\r\n\r\n", b"POST / HTTP/9.9\r\n\r\n", b"POST / HTTP/x\r\n\r\n",
                                  b"\x00\x01\x02 \xff HTTP/1.1\r\n\r\n", b"GET /only-a-path\r\n\r\n"])
def test_malformed_requests_are_4xx(workflow_runtime: WorkflowRuntime, line: bytes) -> None:
    execution, callback = start(workflow_runtime)
    status, _, _ = raw_exchange(callback.url, line)
    assert 400 <= status < 500
    still_serves(workflow_runtime, execution, callback)


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/v1/projects/../../../etc/passwd",
        "{callback}/../../other",
        "{callback}%2F..%2F..",
        "{callback}/extra",
        "{base}/%2e%2e",
        "{base}/%00",
        "{base}/%FF%FE",
        "{base}/a b",
        "/v1/projects/p/locations/l/workflows/w/executions/{execution}/callbacks/%0d%0aX-Injected:%201",
    ],
)
def test_odd_paths_are_404_and_touch_nothing(workflow_runtime: WorkflowRuntime, path: str) -> None:
    execution, callback = start(workflow_runtime)
    callback_path = urlsplit(callback.url).path
    target = path.format(callback=callback_path, base=callback_path.rsplit("/", 1)[0], execution=execution.id)
    status, headers, body = raw_exchange(
        callback.url, f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1".encode())
    assert status in (400, 404)
    assert error_of(body)["code"] == status
    assert "x-injected" not in headers
    still_serves(workflow_runtime, execution, callback)


# ---------------------------------------------------------------- connections
def test_keep_alive_serves_several_requests_on_one_connection(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    one = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n"
    parts = urlsplit(callback.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall((one + "a" + one + "b" + one + "c").encode())  # pipelined on one connection
        received = b""
        while received.count(b"HTTP/1.1 ") < 3 or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3})", received)]
    assert statuses == [200, 200, 429]
    assert b"connection: close" not in received.lower()
    assert execution.result()["body"] == "a"


def test_http10_request_is_answered(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, _, body = raw_exchange(
        callback.url, f"POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}".encode())
    assert (status, body) == (200, b"{}")
    assert execution.result()["body"] == {}


def test_expect_100_continue(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    parts = urlsplit(callback.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 4\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 100")
        sock.sendall(b"body")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert execution.result()["body"] == "body"


# ---------------------------------------------------------------- routing and lifecycle
def test_unknown_paths_get_the_envelope(workflow_runtime: WorkflowRuntime) -> None:
    response = httpx.get(workflow_runtime.base_url + "/nothing/here", trust_env=False)
    assert response.status_code == 404
    error = error_of(response.content)
    assert error["status"] == "NOT_FOUND"
    assert "/nothing/here" in error["message"]


def test_extra_handlers_hook(workflow_server: WorkflowServer) -> None:
    def handler(server: WorkflowServer, request: Request) -> Response | None:
        if request.path == "/custom":
            return Response("handled", status=201)
        return None

    workflow_server.handlers.append(handler)
    try:
        assert httpx.get(workflow_server.base_url + "/custom", trust_env=False).status_code == 201
        assert httpx.get(workflow_server.base_url + "/other", trust_env=False).status_code == 404
    finally:
        workflow_server.handlers.remove(handler)


def test_a_failing_handler_is_500_and_recorded_but_the_server_lives(workflow_server: WorkflowServer) -> None:
    def broken(server: WorkflowServer, request: Request) -> Response | None:
        raise RuntimeError("handler bug")

    with WorkflowRuntime(server=workflow_server) as runtime:
        execution, callback = start(runtime)
        workflow_server.handlers.append(broken)
        try:
            response = httpx.get(workflow_server.base_url + "/boom", trust_env=False)
        finally:
            workflow_server.handlers.remove(broken)
        assert response.status_code == 500
        assert error_of(response.content)["status"] == "INTERNAL"
        assert any("handler bug" in item for item in runtime._server_errors)
        still_serves(runtime, execution, callback)


def test_server_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        WorkflowServer(host="0.0.0.0")


def test_own_server_and_closed_runtime() -> None:
    with WorkflowRuntime() as runtime:
        _, callback = start(runtime)
        url = callback.url
        assert url.startswith(runtime.base_url)
        assert callback.send("x").status_code == 200
        shared = WorkflowRuntime(server=runtime._server)
        other = shared.execute(AWAIT_ONE)
        other_cb = other.wait_for_callback()
        shared.close()  # its executions are cancelled and unrouted: 404 from now on
        assert other.state == "CANCELLED"
        assert other_cb.send("late").status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json=1, trust_env=False)


# ---------------------------------------------------------------- fast path and standard path agree
def exchange_many(url: str, data: bytes, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw bytes on one connection and read ``count`` responses from it."""
    parts = urlsplit(url)
    answers: list[tuple[int, dict[str, str], bytes]] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        buffer = b""
        for _ in range(count):
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {len(answers)} of {count} responses"
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                chunk = sock.recv(65536)
                assert chunk
                buffer += chunk
            answers.append((int(lines[0].split()[1]), headers, buffer[:length]))
            buffer = buffer[length:]
    return answers


@pytest.mark.parametrize(("count", "expected"), [(99, 200), (100, 431)])
def test_header_count_limit_is_the_same_on_callback_and_other_paths(workflow_runtime: WorkflowRuntime, count: int,
                                                                    expected: int) -> None:
    execution, callback = start(workflow_runtime)
    many = "".join(f"X-H{i}: {i}\r\n" for i in range(count - 1))
    path = urlsplit(callback.url).path
    status, _, _ = raw_exchange(callback.url, f"POST {path} HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert status == expected
    other, _, _ = raw_exchange(callback.url, f"POST /elsewhere HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert other == (404 if expected == 200 else 431)
    if expected == 200:
        assert execution.result()["headers"]["X-H97"] == "97"
    else:
        still_serves(workflow_runtime, execution, callback)


def test_folded_header_is_refused_and_touches_no_slot(workflow_runtime: WorkflowRuntime) -> None:
    # Obsolete line folding is refused by the service's front end (RFC 9112 section 5.2 lets a
    # server refuse it); unfolding it would hand the workflow a header the sender never meant.
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    data = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Fold: first\r\n second\r\nContent-Type: text/plain\r\n"
            "Content-Length: 2\r\n\r\nhi").encode()
    status, _, body = raw_exchange(callback.url, data)
    assert status == 400
    assert "folded" in error_of(body)["message"]
    assert callback.requests == []
    still_serves(workflow_runtime, execution, callback)


def test_escaped_callback_path_gets_the_same_answer_as_the_plain_one(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    escaped = path[:-1] + f"%{ord(path[-1]):02X}"  # the last character of the callback id, percent-encoded
    data = f"POST {escaped}?a=1&a=2&b=&c=%41 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    status, _, _ = raw_exchange(callback.url, data)
    assert status == 200
    request = execution.result()
    assert request["query"] == {"a": ["1", "2"], "b": [""], "c": ["A"]}
    assert request["url"] == f"{escaped}?a=1&a=2&b=&c=%41"


def test_query_and_url_on_the_plain_path(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    data = f"POST {path}?a=1&a=2&b=&c=%41 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    assert raw_exchange(callback.url, data)[0] == 200
    request = execution.result()
    assert request["query"] == {"a": ["1", "2"], "b": [""], "c": ["A"]}
    assert request["url"] == f"{path}?a=1&a=2&b=&c=%41"
    assert request["body"] is None


def test_http10_keep_alive_is_honoured(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    one = (f"POST {path} HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: text/plain\r\n"
           "Content-Length: 1\r\n\r\n")
    first, second = exchange_many(callback.url, (one + "a" + one + "b").encode(), 2)
    assert (first[0], first[1]["connection"]) == (200, "keep-alive")
    assert second[0] == 200  # stored: the await already took "a"
    assert execution.result()["body"] == "a"
    assert [r.outcome for r in callback.requests] == ["delivered", "stored"]


@pytest.mark.workflow_runtime(limits={"callback_body_bytes": 1000})
def test_small_oversized_body_is_drained_and_the_connection_goes_on(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    big = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1001\r\n\r\n" + "z" * 1001
    good = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    too_large, delivered = exchange_many(callback.url, (big + good).encode(), 2)
    assert too_large[0] == 413
    assert "connection" not in too_large[1]  # kept open: the 1001 bytes were drained
    assert delivered[0] == 200
    assert execution.result()["body"] == "ok"


def test_body_shorter_than_its_content_length_is_400(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    status, headers, body = raw_exchange(
        callback.url, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc".encode())
    assert status == 400
    assert headers["connection"] == "close"
    assert "ended after 3 of the 10 bytes" in error_of(body)["message"]
    still_serves(workflow_runtime, execution, callback)


def test_head_request_is_answered_without_a_body(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    path = urlsplit(callback.url).path
    ok = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    head, post = exchange_many(callback.url, (f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n" + ok).encode(), 2)
    assert (head[0], head[2]) == (404, b"")  # the endpoint takes POST; no body follows a HEAD answer
    assert (post[0], post[2]) == (200, b"{}")  # so the next answer on the connection is read intact
    assert [r.outcome for r in callback.requests] == ["bad-method", "delivered"]
    assert execution.result()["body"] is None


def test_a_port_in_use_is_a_clear_error() -> None:
    import socket

    from pytest_wfcallbacks import WfCallbacksError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WfCallbacksError, match=f"cannot listen on 127.0.0.1:{port}.*choose another port"):
            WorkflowServer(port=port)


def test_close_stops_the_serving_thread_and_the_port() -> None:
    # close() wakes the accept loop at once (no poll interval); bench/lifecycle.py has the figures.
    server = WorkflowServer()
    port = server.port
    assert httpx.get(f"{server.base_url}/nowhere").status_code == 404
    server.close()
    assert not server._thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.close()  # closing twice is harmless
