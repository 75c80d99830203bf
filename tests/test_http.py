"""``http.*`` from workflows: arguments, body encoding, response decoding, errors, mocks and loopback.

docs/semantics.md §4.3 and docs/decisions.md #16; the retry policies are in test_http_retry.py.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.history import EventKind
from pytest_wfcallbacks.outbound import FAKE_TOKEN, MAX_RESPONSE_BYTES, delayed, respond_after

API = "https://api.example.com/items"


def call_flow(function: str, args: dict[str, Any]) -> dict[str, Any]:
    """A workflow that calls ``function`` with ``args`` and returns its result."""
    return {"main": {"steps": [
        {"call_it": {"call": function, "args": args, "result": "response"}},
        {"done": {"return": "${response}"}},
    ]}}


def run_call(runtime: WorkflowRuntime, function: str, **args: Any) -> Any:
    """Run the call; return the execution (value on success, ``error`` on failure)."""
    return runtime.run(call_flow(function, args))


def result_of(runtime: WorkflowRuntime, function: str, **args: Any) -> Any:
    execution = run_call(runtime, function, **args)
    assert execution.state == "SUCCEEDED", execution.error
    return execution.value


def error_of(runtime: WorkflowRuntime, function: str, **args: Any) -> dict[str, Any]:
    execution = run_call(runtime, function, **args)
    assert execution.state == "FAILED", execution.value
    error: dict[str, Any] = execution.error
    return error


# ---------------------------------------------------------------------------- responses


def test_get_returns_code_headers_and_decoded_json_body(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(200, json={"items": [1, 2.5, "x"]}, headers={"X-Trace": "t1"})

    response = result_of(workflow_runtime, "http.get", url=API)

    assert response["code"] == 200
    assert response["body"] == {"items": [1, 2.5, "x"]}
    assert type(response["body"]["items"][0]) is int
    assert response["headers"]["X-Trace"] == "t1"
    assert response["headers"]["Content-Type"] == "application/json"
    assert route.call_count == 1
    assert route.calls.last.request.method == "GET"


@pytest.mark.parametrize(("content_type", "content", "expected"), [
    ("application/json", b'{"a": true}', {"a": True}),
    ("application/problem+json", b'{"title": "x"}', {"title": "x"}),
    ("application/json; charset=utf-8", b"[1, 2]", [1, 2]),
    ("application/json", b"{not json", "{not json"),
    ("text/plain", "héllo".encode(), "héllo"),
    ("text/html; charset=iso-8859-1", "café".encode("latin-1"), "café"),
    ("application/octet-stream", b"\x00\x01", b"\x00\x01"),
    ("image/png", b"\x89PNG", b"\x89PNG"),
    (None, b"raw", b"raw"),
    ("application/json", b"", None),
    ("text/plain", b"", None),
])
def test_response_body_decoding(workflow_runtime: WorkflowRuntime, content_type: str | None, content: bytes,
                                expected: Any) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    workflow_runtime.http.get(API).respond(200, content=content, headers=headers)
    # bytes cannot be returned from an execution: return them base64-encoded
    shown = "${base64.encode(r.body)}" if type(expected) is bytes else "${r.body}"
    source = {"main": {"steps": [
        {"get": {"call": "http.get", "args": {"url": API}, "result": "r"}},
        {"done": {"return": ["${get_type(r.body)}", shown]}},
    ]}}

    kind, body = workflow_runtime.run(source).result()

    if type(expected) is bytes:
        assert (kind, base64.b64decode(body)) == ("bytes", expected)
    else:
        assert body == expected
        assert kind == {str: "string", dict: "map", list: "list", type(None): "null"}[type(expected)]


def test_repeated_response_headers_are_joined_under_their_canonical_name(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #34: names in canonical form whatever the server wrote; repeats joined."""
    workflow_runtime.http.get(API).respond(204, headers=[("Set-Cookie", "a=1"), ("set-cookie", "b=2"),
                                                         ("x-lower", "v"), ("X-REQUEST-ID", "r1")])

    response = result_of(workflow_runtime, "http.get", url=API)

    assert response["code"] == 204
    assert response["body"] is None
    assert response["headers"]["Set-Cookie"] == "a=1, b=2"
    assert response["headers"]["X-Lower"] == "v"
    assert response["headers"]["X-Request-Id"] == "r1"
    assert "x-lower" not in response["headers"]


def test_redirects_are_followed(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).respond(302, headers={"Location": "https://api.example.com/moved"})
    moved = workflow_runtime.http.get("https://api.example.com/moved").respond(200, json="here")

    response = result_of(workflow_runtime, "http.get", url=API)

    assert response == {"body": "here", "code": 200, "headers": response["headers"]}
    assert moved.call_count == 1


def test_a_sequence_of_responses_answers_successive_calls(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).mock(side_effect=[httpx.Response(200, json=1), httpx.Response(200, json=2)])
    source = {"main": {"steps": [
        {"first": {"call": "http.get", "args": {"url": API}, "result": "a"}},
        {"second": {"call": "http.get", "args": {"url": API}, "result": "b"}},
        {"done": {"return": "${[a.body, b.body]}"}},
    ]}}

    assert workflow_runtime.run(source).result() == [1, 2]


def test_response_over_two_megabytes_is_a_resource_limit_error(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).respond(200, content=b"x" * (MAX_RESPONSE_BYTES + 1))

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["tags"] == ["ResourceLimitError"]


# ---------------------------------------------------------------------------- request encoding


def test_map_body_is_sent_as_json_by_default(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.post(API).respond(201)

    result_of(workflow_runtime, "http.post", url=API, body={"name": "é", "n": 2, "ratio": 2.0, "ok": None})

    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.content == '{"name":"é","n":2,"ratio":2.0,"ok":null}'.encode()


def test_string_body_without_content_type_is_a_json_string(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.put(API).respond(200)

    result_of(workflow_runtime, "http.put", url=API, body="hello")

    assert route.calls.last.request.content == b'"hello"'
    assert route.calls.last.request.headers["Content-Type"] == "application/json; charset=utf-8"


def test_bytes_body_is_sent_as_octet_stream(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.patch(API).respond(200)
    source = {"main": {"steps": [
        {"send": {"call": "http.patch", "args": {"url": API, "body": '${text.encode("raw bytes")}'}}},
    ]}}

    workflow_runtime.run(source).result()

    assert route.calls.last.request.content == b"raw bytes"
    assert route.calls.last.request.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(("content_type", "body", "sent"), [
    ("text/plain", "as is", b"as is"),
    ("application/json", {"a": [1]}, b'{"a":[1]}'),
    ("application/vnd.api+json", [1, 2], b"[1,2]"),
    ("application/x-www-form-urlencoded", {"a": "b c", "n": 1, "l": [True, "x&y"]}, b"a=b+c&n=1&l=true&l=x%26y"),
    ("application/x-www-form-urlencoded", "a=1&b=2", b"a=1&b=2"),
    ("application/xml", "<a/>", b"<a/>"),
])
def test_explicit_content_type_chooses_the_encoding(workflow_runtime: WorkflowRuntime, content_type: str, body: Any,
                                                    sent: bytes) -> None:
    route = workflow_runtime.http.post(API).respond(200)

    result_of(workflow_runtime, "http.post", url=API, body=body, headers={"content-type": content_type})

    request = route.calls.last.request
    assert request.content == sent
    assert request.headers["Content-Type"] == content_type


def test_map_body_with_a_text_content_type_is_a_type_error(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.post(API).respond(200)

    error = error_of(workflow_runtime, "http.post", url=API, body={"a": 1}, headers={"Content-Type": "text/plain"})

    assert error["tags"] == ["TypeError"]
    assert route.call_count == 0


def test_query_is_url_encoded_and_merged_with_the_url_query(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(url__startswith=API).respond(200)

    result_of(workflow_runtime, "http.get", url=API + "?page=2",
              query={"q": "a b&c", "n": 3, "x": 1.5, "flag": False, "tag": ["p", 7]})

    url = route.calls.last.request.url
    assert url.params.multi_items() == [("page", "2"), ("q", "a b&c"), ("n", "3"), ("x", "1.5"), ("flag", "false"),
                                        ("tag", "p"), ("tag", "7")]


def test_headers_are_sent_and_a_user_agent_is_added(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(200)

    result_of(workflow_runtime, "http.get", url=API, headers={"X-Api-Key": "k1"})

    request = route.calls.last.request
    assert request.headers["X-Api-Key"] == "k1"
    assert "GoogleCloudWorkflows" in request.headers["User-Agent"]
    assert "Authorization" not in request.headers


@pytest.mark.parametrize("function", ["http.post", "http.put", "http.patch", "http.delete"])
def test_each_shortcut_uses_its_method_and_sends_a_body(workflow_runtime: WorkflowRuntime, function: str) -> None:
    method = function.split(".")[1].upper()
    route = workflow_runtime.http.route(method=method, url=API).respond(200, json={"method": method})

    response = result_of(workflow_runtime, function, url=API, body={"k": "v"})

    assert response["body"] == {"method": method}
    assert route.calls.last.request.content == b'{"k":"v"}'


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_http_request_sends_any_documented_method(workflow_runtime: WorkflowRuntime, method: str) -> None:
    route = workflow_runtime.http.route(method=method, url=API).respond(200)

    response = result_of(workflow_runtime, "http.request", method=method, url=API)

    assert response["code"] == 200
    assert route.call_count == 1


def test_positional_arguments_follow_the_documented_order(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.put(url__startswith=API).respond(200)
    source = {"main": {"steps": [
        # http.put(url, timeout, body, headers, query)
        {"send": {"call": "http.put", "args": [API, 10, {"b": 1}, {"X-H": "h"}, {"q": "v"}], "result": "r"}},
        {"done": {"return": "${r.code}"}},
    ]}}

    assert workflow_runtime.run(source).result() == 200
    request = route.calls.last.request
    assert request.content == b'{"b":1}'
    assert request.headers["X-H"] == "h"
    assert request.url.params["q"] == "v"


# ---------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(("args", "tag"), [
    ({"url": API, "timeout": 1801}, "ValueError"),
    ({"url": API, "timeout": 0}, "ValueError"),
    ({"url": API, "timeout": -5}, "ValueError"),
    ({"url": API, "timeout": "10"}, "TypeError"),
    ({"url": API, "headers": "X-A: b"}, "TypeError"),
    ({"url": API, "headers": {"X-Count": 3}}, "TypeError"),
    ({"url": API, "headers": {"bad name": "v"}}, "ValueError"),
    ({"url": API, "headers": {"X-A": "a\r\nX-B: b"}}, "ValueError"),
    ({"url": API, "query": ["a", "b"]}, "TypeError"),
    ({"url": API, "query": {"a": {"nested": 1}}}, "TypeError"),
    ({"url": API, "query": {"a": [["x"]]}}, "TypeError"),
    ({"url": 42}, "TypeError"),
    ({"url": "api.example.com/items"}, "ValueError"),
    ({"url": "ftp://api.example.com/items"}, "ValueError"),
    ({"url": API, "auth": "OIDC"}, "TypeError"),
    ({"url": API, "auth": {}}, "ValueError"),
    ({"url": API, "auth": {"type": "Basic"}}, "ValueError"),
    ({"url": API, "auth": {"type": 1}}, "TypeError"),
    ({"url": API, "auth": {"type": "OIDC", "scopes": ["s"]}}, "ValueError"),
    ({"url": API, "auth": {"type": "OAuth2", "audience": "a"}}, "ValueError"),
    ({"url": API, "auth": {"type": "OIDC", "audience": 5}}, "TypeError"),
    ({"url": API, "auth": {"type": "OAuth2", "scopes": [1]}}, "TypeError"),
    ({"url": API, "private_service_name": "my-service"}, "ValueError"),
    ({"url": API, "private_service_name": 7}, "TypeError"),
    ({"url": API, "ca_certificate": 7}, "TypeError"),
])
def test_bad_arguments_raise_before_anything_is_sent(workflow_runtime: WorkflowRuntime, args: dict[str, Any],
                                                     tag: str) -> None:
    route = workflow_runtime.http.route().respond(200)

    error = error_of(workflow_runtime, "http.get", **args)

    assert error["tags"] == [tag], error
    assert route.call_count == 0


@pytest.mark.parametrize(("args", "message"), [
    ({}, "needs the argument 'url'"),
    ({"url": API, "body": {}}, "has no parameter 'body'"),  # http.get sends no body
    ({"url": API, "retries": 3}, "has no parameter 'retries'"),
])
def test_missing_or_unknown_literal_arguments_fail_at_deploy(workflow_runtime: WorkflowRuntime, args: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(WorkflowSyntaxError, match=message):
        workflow_runtime.deploy(call_flow("http.get", args))


def test_unknown_arguments_built_at_run_time_are_a_type_error(workflow_runtime: WorkflowRuntime) -> None:
    source = {"main": {"steps": [
        {"build": {"assign": [{"args": {"url": API, "retries": 3}}]}},
        {"call_it": {"call": "http.get", "args": "${args}"}},
    ]}}

    execution = workflow_runtime.run(source)

    assert execution.error["tags"] == ["TypeError"]


@pytest.mark.parametrize(("method", "tag"), [("get", "ValueError"), ("FETCH", "ValueError"), (1, "TypeError")])
def test_http_request_rejects_a_bad_method(workflow_runtime: WorkflowRuntime, method: Any, tag: str) -> None:
    error = error_of(workflow_runtime, "http.request", method=method, url=API)

    assert error["tags"] == [tag]


def test_the_largest_timeout_and_every_optional_argument_are_accepted(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(200)
    name = "projects/p/locations/us-central1/namespaces/ns/services/svc"

    result_of(workflow_runtime, "http.get", url=API, timeout=1800, private_service_name=name,
              ca_certificate="-----BEGIN CERTIFICATE-----", auth={"type": "OAuth2", "scopes": ["a", "b"]})

    assert route.call_count == 1
    sent = [e for e in workflow_runtime.executions[0].history if e.kind is EventKind.HTTP_REQUEST]
    assert sent[0].details["private_service_name"] == name
    assert sent[0].details["auth"] == {"type": "OAuth2", "scopes": ["a", "b"]}


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize("auth", [{"type": "OIDC"}, {"type": "OIDC", "audience": "https://aud"},
                                  {"type": "OAuth2"}, {"type": "OAuth2", "scope": "https://scope"}])
def test_auth_is_recorded_as_a_fake_bearer_token(workflow_runtime: WorkflowRuntime, auth: dict[str, Any]) -> None:
    route = workflow_runtime.http.get(API).respond(200)

    result_of(workflow_runtime, "http.get", url=API, auth=auth)

    assert route.calls.last.request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"


def test_an_explicit_authorization_header_is_kept(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(200)

    result_of(workflow_runtime, "http.get", url=API, auth={"type": "OIDC"}, headers={"authorization": "Bearer mine"})

    assert route.calls.last.request.headers["Authorization"] == "Bearer mine"


# ---------------------------------------------------------------------------- errors


def test_status_400_and_above_raise_http_error_with_code_headers_and_body(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).respond(404, json={"error": "no such item"}, headers={"X-Request-Id": "r1"})

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["tags"] == ["HttpError"]
    assert error["code"] == 404
    assert error["body"] == {"error": "no such item"}
    assert error["headers"]["X-Request-Id"] == "r1"
    assert error["message"] == "HTTP server responded with error code 404"
    assert set(error) == {"message", "code", "headers", "body", "tags"}


@pytest.mark.parametrize(("status", "failed"), [(200, False), (302, False), (399, False), (400, True), (500, True)])
def test_only_status_400_and_above_are_errors(workflow_runtime: WorkflowRuntime, status: int, failed: bool) -> None:
    workflow_runtime.http.get(API).respond(status)

    execution = run_call(workflow_runtime, "http.get", url=API)

    assert (execution.state == "FAILED") is failed
    if failed:
        assert execution.error["code"] == status
    else:
        assert execution.value["code"] == status


def test_http_error_is_caught_by_tag_and_code(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).respond(403, text="denied")
    source = {"main": {"steps": [
        {"read": {"try": {"call": "http.get", "args": {"url": API}, "result": "r"},
                  "except": {"as": "e", "steps": [
                      {"check": {"switch": [{"condition": '${"HttpError" in e.tags and e.code == 403}',
                                             "return": "${e.body}"}]}},
                  ]}}},
        {"done": {"return": "unreachable"}},
    ]}}

    assert workflow_runtime.run(source).result() == "denied"


@pytest.mark.parametrize(("raised", "tag"), [
    (httpx.ConnectError("refused"), "ConnectionFailedError"),
    (httpx.ConnectError("[Errno -2] Name or service not known"), "ConnectionFailedError"),
    (httpx.ReadError("connection reset by peer"), "ConnectionError"),
    (httpx.WriteError("broken pipe"), "ConnectionError"),
    (httpx.RemoteProtocolError("server disconnected without sending a response"), "ConnectionError"),
])
def test_transport_errors_map_to_connection_tags(workflow_runtime: WorkflowRuntime, raised: Exception,
                                                 tag: str) -> None:
    workflow_runtime.http.get(API).mock(side_effect=raised)

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["tags"] == [tag]
    assert API in error["message"]
    assert workflow_runtime.clock.elapsed == 0


@pytest.mark.parametrize("raised", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_timeout_side_effect_is_a_timeout_error_after_the_request_timeout(workflow_runtime: WorkflowRuntime,
                                                                            raised: type[Exception]) -> None:
    workflow_runtime.http.get(API).mock(side_effect=raised)

    error = error_of(workflow_runtime, "http.get", url=API, timeout=45)

    assert error["tags"] == ["TimeoutError"]
    assert workflow_runtime.clock.elapsed == 45


def test_default_timeout_is_300_virtual_seconds(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).mock(side_effect=httpx.ReadTimeout)

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["tags"] == ["TimeoutError"]
    assert workflow_runtime.clock.elapsed == 300


def test_a_delayed_response_arrives_after_its_delay_in_virtual_time(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).mock(return_value=respond_after(42.5, 200, json={"slow": True}))
    source = {"main": {"steps": [
        {"before": {"assign": [{"t0": "${sys.now()}"}]}},
        {"slow": {"call": "http.get", "args": {"url": API, "timeout": 60}, "result": "r"}},
        {"done": {"return": "${[r.body, sys.now() - t0]}"}},
    ]}}

    assert workflow_runtime.run(source).result() == [{"slow": True}, 42.5]


@pytest.mark.parametrize(("delay", "timeout", "tag", "elapsed"), [
    (30, 10, "TimeoutError", 10),
    (10, 10, None, 10),
    (301, None, "TimeoutError", 300),
    (0, 1, None, 0),
])
def test_a_delay_longer_than_the_timeout_is_a_timeout_error(workflow_runtime: WorkflowRuntime, delay: float,
                                                            timeout: float | None, tag: str | None,
                                                            elapsed: float) -> None:
    route = workflow_runtime.http.get(API).mock(return_value=respond_after(delay, 200))
    args: dict[str, Any] = {"url": API}
    if timeout is not None:
        args["timeout"] = timeout

    execution = run_call(workflow_runtime, "http.get", **args)

    if tag is None:
        assert execution.state == "SUCCEEDED"
    else:
        assert execution.error["tags"] == [tag]
    assert workflow_runtime.clock.elapsed == elapsed
    assert route.call_count == 1


def test_a_side_effect_can_delay_any_response(workflow_runtime: WorkflowRuntime) -> None:
    def slow_error(request: httpx.Request) -> httpx.Response:
        return delayed(httpx.Response(503, json={"retry": "later"}), 7)

    workflow_runtime.http.get(API).mock(side_effect=slow_error)

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["code"] == 503
    assert workflow_runtime.clock.elapsed == 7


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        respond_after(-1)


def test_delays_pass_no_wall_time_and_parallel_calls_overlap(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(url__startswith=API).mock(return_value=respond_after(600, 200))
    source = {"main": {"steps": [
        {"fan_out": {"parallel": {"for": {"value": "i", "in": [1, 2, 3], "steps": [
            {"get": {"call": "http.get", "args": {"url": '${"' + API + '/" + string(i)}', "timeout": 900}}},
        ]}}}},
    ]}}

    execution = workflow_runtime.run(source)

    assert execution.state == "SUCCEEDED"
    assert execution.duration == 600  # three 10-minute calls in parallel: 10 virtual minutes


# ---------------------------------------------------------------------------- unmocked calls and loopback


@pytest.mark.workflow_runtime(check_at_teardown=False)
def test_an_unmocked_call_fails_naming_the_url_and_is_reported_grouped(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://mocked.example.com/").respond(200)

    first = error_of(workflow_runtime, "http.get", url="https://unmocked.example.com/v1/things")
    error_of(workflow_runtime, "http.get", url="https://unmocked.example.com/v1/things")
    error_of(workflow_runtime, "http.delete", url="https://unmocked.example.com/v1/things/3")

    assert first["tags"] == ["ConnectionFailedError"]
    assert "https://unmocked.example.com/v1/things" in first["message"]
    assert "workflow_runtime.http.get('https://unmocked.example.com/v1/things')" in first["message"]
    lines = workflow_runtime._http.unmocked
    assert len(lines) == 2
    assert lines[0].startswith("GET https://unmocked.example.com/v1/things: 2 calls, first from execution ")
    assert lines[1].startswith("DELETE https://unmocked.example.com/v1/things/3: 1 call,")
    with pytest.raises(Exception, match="outbound HTTP calls no mock answered") as report:
        workflow_runtime.check()
    assert "GET https://unmocked.example.com/v1/things: 2 calls" in str(report.value)


@pytest.mark.workflow_runtime(check_at_teardown=False)
def test_pass_through_is_refused_for_non_loopback_urls(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(API).pass_through()

    error = error_of(workflow_runtime, "http.get", url=API)

    assert error["tags"] == ["ConnectionFailedError"]
    assert "only loopback" in error["message"]
    assert workflow_runtime._http.unmocked


@pytest.mark.workflow_runtime(check_at_teardown=False)
def test_a_side_effect_bug_fails_the_call_and_is_kept_for_the_report(workflow_runtime: WorkflowRuntime) -> None:
    def buggy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=json.loads(request.content)["missing"])

    workflow_runtime.http.post(API).mock(side_effect=buggy)

    error = error_of(workflow_runtime, "http.post", url=API, body={})

    assert error["tags"] == ["SystemError"]
    assert "KeyError" in error["message"]
    assert workflow_runtime._http.mock_errors == [f"POST {API}: the mock raised KeyError('missing')"]


class _Service(http.server.BaseHTTPRequestHandler):
    """A tiny local service a test starts itself (answers every path with what it received)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"] or 0))
        payload = json.dumps({"path": self.path, "got": json.loads(body)}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def local_service() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_urls_reach_a_real_local_service(workflow_runtime: WorkflowRuntime, local_service: str) -> None:
    workflow_runtime.http.get(API).respond(200)  # routes for other hosts do not get in the way

    response = result_of(workflow_runtime, "http.post", url=local_service + "/jobs?x=1", body={"n": 1})

    assert response["code"] == 201
    assert response["body"] == {"path": "/jobs?x=1", "got": {"n": 1}}
    assert workflow_runtime._http.unmocked == []


def test_a_route_for_a_loopback_url_wins_over_the_real_service(workflow_runtime: WorkflowRuntime,
                                                               local_service: str) -> None:
    route = workflow_runtime.http.post(local_service + "/jobs").respond(200, json="mocked")

    assert result_of(workflow_runtime, "http.post", url=local_service + "/jobs", body=1)["body"] == "mocked"
    assert route.call_count == 1


def test_a_closed_loopback_port_is_a_connection_failed_error(workflow_runtime: WorkflowRuntime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends

    error = error_of(workflow_runtime, "http.get", url=f"http://127.0.0.1:{port}/health")

    assert error["tags"] == ["ConnectionFailedError"]
    assert workflow_runtime._http.unmocked == []  # a real refusal, not a missing mock


def test_a_workflow_can_call_its_own_callback_over_loopback(workflow_runtime: WorkflowRuntime) -> None:
    source = {"main": {"steps": [
        {"create": {"call": "events.create_callback_endpoint", "args": {"http_callback_method": "POST"},
                    "result": "cb"}},
        {"notify": {"call": "http.post", "args": {"url": "${cb.url}", "body": {"from": "myself"}}, "result": "sent"}},
        {"wait": {"call": "events.await_callback", "args": {"callback": "${cb}", "timeout": 60}, "result": "got"}},
        {"done": {"return": "${[sent.code, sent.body, got.http_request.body]}"}},
    ]}}

    assert workflow_runtime.run(source).result() == [200, {}, {"from": "myself"}]


def test_the_tests_own_httpx_calls_are_never_intercepted(workflow_runtime: WorkflowRuntime) -> None:
    catch_all = workflow_runtime.http.route().respond(500, json="intercepted")
    loopback = workflow_runtime.http.post(url__startswith="http://127.0.0.1").respond(500, json="intercepted")
    source = {"main": {"steps": [
        {"create": {"call": "events.create_callback_endpoint", "result": "cb"}},
        {"wait": {"call": "events.await_callback", "args": {"callback": "${cb}", "timeout": 60}, "result": "got"}},
        {"done": {"return": "${got.http_request.body}"}},
    ]}}
    execution = workflow_runtime.execute(source)
    callback = execution.wait_for_callback()

    with httpx.Client(trust_env=False) as client:
        response = client.post(callback.url, json={"approved": True})

    assert response.status_code == 200
    assert response.json() == {}
    assert execution.result() == {"approved": True}
    assert catch_all.call_count == 0
    assert loopback.call_count == 0


def test_each_request_is_recorded_in_the_history(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(url__startswith=API).respond(200)

    execution = run_call(workflow_runtime, "http.get", url=API, query={"a": 1}, auth={"type": "OIDC"})

    sent = [e for e in execution.history if e.kind is EventKind.HTTP_REQUEST]
    assert len(sent) == 1
    assert sent[0].step == "call_it"
    assert sent[0].details["method"] == "GET"
    assert sent[0].details["url"] == API + "?a=1"
    assert sent[0].details["auth"] == {"type": "OIDC"}


# ---------------------------------------------------------------------------- teardown report (pytester)


def test_teardown_report_groups_unmocked_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
SOURCE = {"main": {"steps": [
    {"poll": {"for": {"value": "i", "range": [1, 3], "steps": [
        {"try_get": {"try": {"call": "http.get", "args": {"url": "https://billing.example.com/invoices"}},
                     "except": {"as": "e", "steps": [{"ignore": {"assign": [{"failed": "${e.tags}"}]}}]}}},
    ]}}},
    {"notify": {"try": {"call": "http.post", "args": {"url": "https://chat.example.com/hooks", "body": "hi"}},
                "except": {"as": "e", "steps": [{"ignore_too": {"assign": [{"failed": "${e.tags}"}]}}]}}},
    {"done": {"return": "finished"}},
]}}

def test_workflow_swallows_connection_errors(workflow_runtime):
    assert workflow_runtime.run(SOURCE).result() == "finished"
''')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest()

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_workflow_swallows_connection_errors*",
        "*outbound HTTP calls no mock answered*",
        "*- GET https://billing.example.com/invoices: 3 calls, first from execution * step 'try_get'*",
        "*- POST https://chat.example.com/hooks: 1 call, first from execution * step 'notify'*",
    ])
