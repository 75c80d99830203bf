"""The callback contract, one test (or a few) per row of docs/decisions.md #1-#13."""

from __future__ import annotations

import base64
import http.client
import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pytest_wfcallbacks import EventKind, SlotState, WorkflowRuntime, WorkflowServer

AWAIT_ONE = """
main:
  params: [args]
  steps:
    - create:
        call: events.create_callback_endpoint
        args:
          http_callback_method: ${args.method}
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 3600
        result: request
    - done:
        return: ${request}
"""

CREATE_ONLY = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - pause:
        call: sys.sleep
        args:
          seconds: 100
    - done:
        return: ${cb}
"""

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def start(runtime: WorkflowRuntime, method: str = "POST") -> Any:
    execution = runtime.execute(AWAIT_ONE, {"method": method})
    return execution, execution.wait_for_callback()


def envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == response.status_code
    return dict(body["error"])


# ---------------------------------------------------------------- #1 slot model
def test_1_one_slot_after_creation_then_429(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(CREATE_ONLY)
    callback = execution.wait_for_callback()
    assert callback.slot_state is SlotState.EMPTY
    assert callback.send("first").status_code == 200
    assert callback.slot_state is SlotState.FILLED
    assert callback.available_payloads == 1
    rejected = callback.send("second")
    assert rejected.status_code == 429
    assert callback.responses == [200, 429]
    assert callback.available_payloads == 1


def test_1_each_await_in_progress_opens_one_more_slot(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    assert callback.slot_state is SlotState.WAITING
    assert callback.waiters == 1
    statuses = [callback.send(f"r{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 429]  # one delivered to the await, one stored, then full
    assert [r.outcome for r in callback.requests] == ["delivered", "stored", "rejected"]
    assert execution.result()["http_request"]["body"] == "r0"


def test_1_stored_request_is_taken_by_the_next_await_at_once(workflow_runtime: WorkflowRuntime) -> None:
    source = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - later:
        call: sys.sleep
        args:
          seconds: 10
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 5
        result: request
    - done:
        return: ${request.http_request.body}
"""
    execution = workflow_runtime.execute(source)
    callback = execution.wait_for_callback()
    assert callback.send({"early": True}).status_code == 200
    assert execution.result() == {"early": True}  # no timeout: the stored payload was waiting
    assert execution.duration == 10


def test_1_waiting_awaits_are_served_in_the_order_they_were_made(workflow_runtime: WorkflowRuntime) -> None:
    source = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: {}
    - fan:
        parallel:
          shared: [got]
          branches:
            - first:
                steps:
                  - w1:
                      call: events.await_callback
                      args: {callback: "${cb}", timeout: 100}
                      result: r
                  - s1:
                      assign:
                        - got.first: ${r.http_request.body}
            - second:
                steps:
                  - pause:
                      call: sys.sleep
                      args: {seconds: 1}
                  - w2:
                      call: events.await_callback
                      args: {callback: "${cb}", timeout: 100}
                      result: r
                  - s2:
                      assign:
                        - got.second: ${r.http_request.body}
    - done:
        return: ${got}
"""
    execution = workflow_runtime.execute(source)
    callback = execution.wait_for_callback()
    workflow_runtime.clock.advance(2)  # the second branch now waits too, after the first
    assert callback.waiters == 2
    assert callback.send("A").status_code == 200
    assert callback.send("B").status_code == 200
    assert execution.result() == {"first": "A", "second": "B"}


def test_1_finished_failed_and_cancelled_executions_answer_404(workflow_runtime: WorkflowRuntime) -> None:
    finished, cb_finished = start(workflow_runtime)
    cb_finished.send("done")
    finished.wait()
    assert finished.state == "SUCCEEDED"

    failing = workflow_runtime.execute("""
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - boom:
        raise: "boom"
""")
    cb_failed = failing.wait_for_callback()
    failing.wait()
    assert failing.state == "FAILED"

    cancelled, cb_cancelled = start(workflow_runtime)
    cancelled.cancel()

    for callback, state in ((cb_finished, "SUCCEEDED"), (cb_failed, "FAILED"), (cb_cancelled, "CANCELLED")):
        response = callback.send("late")
        assert response.status_code == 404
        error = envelope(response)
        assert error["status"] == "NOT_FOUND"
        assert state in error["message"]
        assert "CLOSED" in error["message"]
        assert callback.slot_state is SlotState.CLOSED


# ---------------------------------------------------------------- #2 success body
def test_2_success_is_an_empty_json_object(workflow_runtime: WorkflowRuntime) -> None:
    _, callback = start(workflow_runtime)
    response = callback.send("x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"{}"


# ---------------------------------------------------------------- #3 error envelope
def test_3_error_envelopes_name_execution_callback_and_slot(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(CREATE_ONLY)
    callback = execution.wait_for_callback()
    callback.send("stored")
    error = envelope(callback.send("rejected"))
    assert error == {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": error["message"]}
    for part in (execution.id, callback.id, "FILLED"):
        assert part in error["message"]


@pytest.mark.workflow_runtime(callback_auth="s3cret")
def test_3_auth_envelopes(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    unauthenticated = envelope(callback.send("x"))
    forbidden = envelope(callback.send("x", token="wrong"))
    assert (unauthenticated["code"], unauthenticated["status"]) == (401, "UNAUTHENTICATED")
    assert (forbidden["code"], forbidden["status"]) == (403, "PERMISSION_DENIED")
    for error in (unauthenticated, forbidden):
        assert execution.id in error["message"]
        assert callback.id in error["message"]
        assert "WAITING" in error["message"]


def test_3_bad_request_is_invalid_argument(workflow_runtime: WorkflowRuntime) -> None:
    # A body shorter than its Content-Length: the client's mistake, answered 400 INVALID_ARGUMENT.
    _, callback = start(workflow_runtime)
    parts = urlsplit(callback.url)
    import socket

    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc".encode())
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    error = json.loads(body)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert callback.id in error["message"]
    assert callback.slot_state is SlotState.WAITING  # untouched


# ---------------------------------------------------------------- #4 wrong method
def test_4_wrong_method_is_404_naming_the_expected_method(workflow_runtime: WorkflowRuntime) -> None:
    _, callback = start(workflow_runtime, "PUT")
    response = callback.send("x", method="POST")
    assert response.status_code == 404
    error = envelope(response)
    assert error["status"] == "NOT_FOUND"
    assert "accepts PUT" in error["message"]
    assert "got POST" in error["message"]
    assert callback.slot_state is SlotState.WAITING
    assert callback.requests[-1].outcome == "bad-method"


# ---------------------------------------------------------------- #5 unknown ids
def test_5_unknown_callback_id_and_unknown_execution_are_404(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    base = callback.url.rsplit("/", 1)[0]
    client = workflow_runtime._http_client()
    unknown_callback = client.post(base + "/00000000-0000-4000-8000-000000000000_x", json=1)
    assert unknown_callback.status_code == 404
    error = envelope(unknown_callback)
    assert error["status"] == "NOT_FOUND"
    assert execution.id in error["message"]
    assert "00000000-0000-4000-8000-000000000000_x" in error["message"]
    # the execution's history records the answer, even without an endpoint
    answered = [e for e in execution.history if e.kind is EventKind.CALLBACK_REQUEST]
    assert answered[-1].status == 404
    assert answered[-1].outcome == "not-found"

    other = callback.url.replace(execution.id, "11111111-1111-4111-8111-111111111111")
    unknown_execution = client.post(other, json=1)
    assert unknown_execution.status_code == 404
    assert "11111111-1111-4111-8111-111111111111" in envelope(unknown_execution)["message"]
    assert callback.slot_state is SlotState.WAITING


# ---------------------------------------------------------------- #6 authorization
@pytest.mark.workflow_runtime(callback_auth="s3cret")
def test_6_token_auth_401_403_never_touch_the_slot(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    assert callback.send("no token").status_code == 401
    assert callback.send("bad", headers={"Authorization": "Basic abc"}).status_code == 401
    assert callback.send("wrong", token="nope").status_code == 403
    assert callback.waiters == 1
    assert callback.available_payloads == 0
    assert callback.send("ok", token="s3cret").status_code == 200
    assert execution.result()["http_request"]["body"] == "ok"
    assert callback.responses == [401, 401, 403, 200]


def test_6_auth_is_off_by_default(workflow_runtime: WorkflowRuntime) -> None:
    _, callback = start(workflow_runtime)
    assert workflow_runtime.settings.callback_auth is None
    assert callback.send("x").status_code == 200


def test_6_auth_callable_decides_per_request(workflow_server: WorkflowServer) -> None:
    seen: list[str] = []

    def decide(headers: Any) -> int | bool | None:
        seen.append(headers.get("X-Caller", ""))
        return {"good": True, "stranger": 401, "blocked": False}.get(headers.get("X-Caller", ""), 403)

    with WorkflowRuntime(server=workflow_server, callback_auth=decide) as runtime:
        execution, callback = start(runtime)
        assert callback.send("a", headers={"X-Caller": "stranger"}).status_code == 401
        assert callback.send("b", headers={"X-Caller": "blocked"}).status_code == 403
        assert callback.send("c", headers={"X-Caller": "other"}).status_code == 403
        assert callback.slot_state is SlotState.WAITING
        assert callback.send("d", headers={"X-Caller": "good"}).status_code == 200
        assert execution.result()["http_request"]["body"] == "d"
        assert seen == ["stranger", "blocked", "other", "good"]
        runtime.check()


def test_6_a_broken_auth_callable_is_reported_not_blamed_on_the_client(workflow_server: WorkflowServer) -> None:
    def broken(headers: Any) -> int:
        raise RuntimeError("oops")

    with WorkflowRuntime(server=workflow_server, callback_auth=broken) as runtime:
        _, callback = start(runtime)
        response = callback.send("x")
        assert response.status_code == 500
        assert "callback_auth" in envelope(response)["message"]
        assert callback.slot_state is SlotState.WAITING
        with pytest.raises(Exception, match="callback_auth callable raised RuntimeError"):
            runtime.check()


# ---------------------------------------------------------------- #7 query
def test_7_query_is_a_map_of_lists(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    callback.send("x", query={"a": ["1", "2"], "b": "3"})
    assert execution.result()["http_request"]["query"] == {"a": ["1", "2"], "b": ["3"]}


def test_7_no_query_is_an_empty_map(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    callback.send("x")
    assert execution.result()["http_request"]["query"] == {}


# ---------------------------------------------------------------- #8 headers
def test_8_headers_as_received_repeated_ones_joined(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    parts = urlsplit(callback.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.putrequest("POST", parts.path)
    conn.putheader("x-trace", "one")
    conn.putheader("X-Trace", "two")
    conn.putheader("x-custom-header", "Value With  Spaces")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", "2")
    conn.endheaders(b"{}")
    assert conn.getresponse().status == 200
    conn.close()
    headers = execution.result()["http_request"]["headers"]
    assert headers["X-Trace"] == "one, two"
    assert headers["X-Custom-Header"] == "Value With  Spaces"
    assert headers["Content-Type"] == "application/json"
    assert all(isinstance(v, str) for v in headers.values())


# ---------------------------------------------------------------- #9 body decoding
DESCRIBE_BODY = """
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
    - pick:
        assign:
          - body: ${request.http_request.body}
    - check:
        switch:
          - condition: ${get_type(body) == "bytes"}
            return:
              kind: bytes
              value: ${base64.encode(body)}
    - other:
        return:
          kind: ${get_type(body)}
          value: ${body}
"""


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b'{"a": [1, 2.5, true, null]}', "application/json", {"a": [1, 2.5, True, None]}),
        (b'{"a": 1}', "application/json; charset=utf-8", {"a": 1}),
        (b'{"kind": "event"}', "application/cloudevents+json", {"kind": "event"}),
        (b"42", "application/json", 42),
        (b"plain words", "text/plain", "plain words"),
        (b"<p>caf\xc3\xa9</p>", "text/html; charset=utf-8", "<p>café</p>"),
        (b"\x00\x01\xff", "application/octet-stream", b"\x00\x01\xff"),
        (b"no type at all", None, b"no type at all"),
        (b"", "application/json", None),
        (b"{not json", "application/json", "{not json"),
        (b"\xff\xfe not utf-8", "application/json", b"\xff\xfe not utf-8"),
        (b"\xff\xfe not utf-8", "text/plain", b"\xff\xfe not utf-8"),
    ],
    ids=["json", "json-charset", "plus-json", "json-scalar", "text", "text-utf8", "bytes", "no-type", "empty",
         "malformed-json", "invalid-utf8-json", "invalid-utf8-text"],
)
def test_9_body_decoding(workflow_runtime: WorkflowRuntime, content: bytes, content_type: str | None,
                         expected: Any) -> None:
    execution = workflow_runtime.execute(DESCRIBE_BODY)
    callback = execution.wait_for_callback()
    headers = {"Content-Type": content_type} if content_type else {}
    assert callback.send(content, headers=headers).status_code == 200
    result = execution.result()
    if isinstance(expected, bytes):
        assert result == {"kind": "bytes", "value": base64.b64encode(expected).decode()}
    else:
        assert result["value"] == expected
        assert type(result["value"]) is type(expected)


def test_9_no_body_is_null(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime, "GET")
    assert callback.send().status_code == 200
    assert execution.result()["http_request"]["body"] is None


# ---------------------------------------------------------------- #10 url
def test_10_url_is_path_and_query(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    callback.send("x", query={"k": "v w"})
    url = execution.result()["http_request"]["url"]
    path = urlsplit(callback.url).path
    assert path.startswith("/v1/projects/")
    assert url == path + "?k=v+w"


# ---------------------------------------------------------------- #11 received_time
@pytest.mark.workflow_runtime(start_time=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc))
def test_11_received_time_is_go_time_string_with_virtual_monotonic(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    workflow_runtime.clock.advance(12)
    callback.send("x")
    assert execution.result()["received_time"] == "2026-01-02 03:04:17.123456 +0000 UTC m=+12.000000000"


def test_11_whole_seconds_have_no_fraction(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    workflow_runtime.clock.advance(1.5)
    callback.send("x")
    received = execution.result()["received_time"]
    assert received == "2026-01-01 00:00:01.5 +0000 UTC m=+1.500000000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}", received)


# ---------------------------------------------------------------- #12 type
def test_12_type_is_http(workflow_runtime: WorkflowRuntime) -> None:
    execution, callback = start(workflow_runtime)
    callback.send("x")
    result = execution.result()
    assert result["type"] == "HTTP"
    assert set(result) == {"http_request", "received_time", "type"}
    assert set(result["http_request"]) == {"body", "headers", "method", "query", "url"}
    assert result["http_request"]["method"] == "POST"


# ---------------------------------------------------------------- #13 URL shape and ids
def test_13_create_result_and_url_shape(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(CREATE_ONLY)
    callback = execution.wait_for_callback()
    result = execution.result()
    assert result == {"url": callback.url}
    pattern = (rf"http://127\.0\.0\.1:{workflow_runtime._server.port}/v1/projects/test-project/locations/us-central1"
               rf"/workflows/workflow/executions/(?P<e>{UUID})/callbacks/(?P<c>{UUID}_{UUID})")
    match = re.fullmatch(pattern, callback.url)
    assert match is not None, callback.url
    assert match.group("e") == execution.id
    assert match.group("c") == callback.id


def test_13_same_seed_same_ids(workflow_server: WorkflowServer) -> None:
    def ids(seed: int) -> tuple[str, str]:
        with WorkflowRuntime(server=workflow_server, seed=seed) as runtime:
            execution = runtime.execute(CREATE_ONLY)
            return execution.id, execution.wait_for_callback().id

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


def test_a_url_with_another_project_location_or_workflow_is_not_found(workflow_runtime) -> None:
    # docs/decisions.md #5: a sender that builds the URL itself with the wrong names gets 404, as in production.
    execution = workflow_runtime.execute(
        "- c:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- w:\n    call: events.await_callback\n    args: {callback: ${cb}}\n    result: r\n"
        "- d:\n    return: ${r.http_request.body}\n")
    callback = execution.wait_for_callback()
    for wrong in (callback.url.replace("/workflows/workflow/", "/workflows/other/"),
                  callback.url.replace("/projects/test-project/", "/projects/other-project/"),
                  callback.url.replace("/locations/us-central1/", "/locations/europe-west1/")):
        response = httpx.post(wrong, json={"n": 1})
        assert response.status_code == 404
        assert "should be" in response.json()["error"]["message"]
    number = callback.url.replace("/projects/test-project/", f"/projects/{workflow_runtime.settings.project_number}/")
    assert httpx.post(number, json={"n": 2}).status_code == 200  # the project number names the same project
    assert execution.result() == {"n": 2}
    assert callback.responses == [404, 404, 404, 200]


def test_json_integers_beyond_64_bits_arrive_as_doubles(workflow_runtime) -> None:
    # Go's decoder (the service) reads such a number as a double; it is not "invalid JSON".
    execution = workflow_runtime.execute(
        "- c:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- w:\n    call: events.await_callback\n    args: {callback: ${cb}}\n    result: r\n"
        "- d:\n    return: ${r.http_request.body}\n")
    callback = execution.wait_for_callback()
    response = callback.send(b'{"id": 12345678901234567890, "small": 7}', headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert execution.result() == {"id": 1.2345678901234567e19, "small": 7}
    assert type(execution.value["small"]) is int
