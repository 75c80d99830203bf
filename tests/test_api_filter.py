"""``executions.list`` filters (AIP-160 as the Executions API reads it) and the API's answers to malformed requests.

Every mistake a client can make is a 4xx in Google's error envelope, never a 500, and
is not a server problem for `WorkflowRuntime.check`.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.api_filter import FilterError, compile_filter, parse_duration, parse_time
from tests.test_api import PARENT, SLEEP_WF, create

FAIL_FAST = """
main:
  params: [args]
  steps:
    - nap:
        call: sys.sleep
        args: {seconds: ${args.seconds}}
    - boom:
        raise: "failed"
"""


@pytest.fixture
def client(workflow_runtime: WorkflowRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=workflow_runtime.base_url, trust_env=False, timeout=10) as http:
        yield http


@pytest.fixture
def listed(workflow_runtime: WorkflowRuntime, client: httpx.Client) -> dict[str, str]:
    """Five executions, each created when the previous one ended: a (t+0..2 s, SUCCEEDED, team=a),
    b (t+2..7 s, FAILED, team=b), c (t+7..17 s, SUCCEEDED, no label), d and e (from t+17 s, ACTIVE, team=a)."""
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    workflow_runtime.deploy(FAIL_FAST, name="failing")
    names: dict[str, str] = {}
    for key, workflow, seconds, labels in (("a", "sleepy", 2, {"team": "a"}), ("b", "failing", 5, {"team": "b"}),
                                           ("c", "sleepy", 10, {}), ("d", "sleepy", 100, {"team": "a"}),
                                           ("e", "sleepy", 100, {"team": "a"})):
        names[key] = create(client, workflow, {"seconds": seconds}, labels=labels).json()["name"]
        if key in "abc":
            workflow_runtime.executions[-1].wait()
    return names


def names_for(client: httpx.Client, text: str, names: dict[str, str]) -> str:
    response = client.get(f"{PARENT}/workflows/-/executions", params={"filter": text})
    assert response.status_code == 200, response.text
    by_name = {v: k for k, v in names.items()}
    return "".join(sorted(by_name[e["name"]] for e in response.json()["executions"]))


@pytest.mark.parametrize(("text", "expected"), [
    ('state="SUCCEEDED" OR state="FAILED"', "abc"),
    ('state="SUCCEEDED" OR startTime>"2026-01-01T00:00:01Z" AND state="FAILED"', "b"),  # OR binds tighter
    ('(state="SUCCEEDED" OR state="FAILED") AND labels.team="a"', "a"),
    ('NOT state="ACTIVE"', "abc"),
    ('-state="ACTIVE"', "abc"),
    ('state!="ACTIVE" labels.team:*', "ab"),  # juxtaposition is AND
    ("labels:team", "abde"),
    ('labels.team="a" AND NOT (state="ACTIVE")', "a"),
    ('duration>"4s"', "bc"),
    ('duration<="2s"', "ade"),  # a running execution's duration runs to virtual now
    ('duration>"4.5s" AND state!="ACTIVE"', "bc"),
    ('endTime<"2026-01-01T00:00:10Z"', "ab"),
    ('endTime!="2026-01-01T00:00:00Z"', "abcde"),  # a running execution has no endTime: only != holds
    ('createTime>="2026-01-01T00:00:17Z"', "de"),
    ('startTime>"2026-01-01"', "bcde"),  # a date alone is its midnight UTC, as the reference's example
    ("state=SUCCEEDED OR (state=FAILED OR (labels.team=b))", "abc"),
    ('labels.team="*"', "abde"),
])
def test_documented_filter_operators(client: httpx.Client, listed: dict[str, str], text: str, expected: str) -> None:
    assert names_for(client, text, listed) == expected


def test_filter_on_execution_id_with_wildcard(client: httpx.Client, listed: dict[str, str]) -> None:
    wanted = listed["c"].rsplit("/", 1)[1]
    assert names_for(client, f'executionId="{wanted}"', listed) == "c"
    assert names_for(client, f'executionId="{wanted[:6]}*"', listed) == "c"
    assert names_for(client, f'executionId!="{wanted}"', listed) == "abde"


@pytest.mark.parametrize(("text", "named"), [
    ("colour=red", "colour"),
    ("stepName=wait", "stepName"),
    ("payments", "global text search"),
    ('state="ACTIVE" OR', "OR"),
    ("(((state=ACTIVE", "missing ')'"),
    ("(" * 200 + "state=ACTIVE" + ")" * 200, "nested deeper"),
    ("state>ACTIVE", "state supports"),
    ('startTime>"yesterday"', "not a timestamp"),
    ('duration>"ten"', "not a duration"),
    ('hasPrefix(executionId, "a")', "functions"),
    ('state="ACTIVE" )', "unexpected ')'"),
    ('labels="x"', "labels"),
    ('startTime>"2026-02-30"', "not a valid date"),
    ("state=", "needs a value"),
    ("!", "unexpected"),
])
def test_unsupported_or_malformed_filter_is_400_naming_it(workflow_runtime: WorkflowRuntime, client: httpx.Client,
                                                          text: str, named: str) -> None:
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    response = client.get(f"{PARENT}/workflows/sleepy/executions", params={"filter": text})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert named in error["message"]
    workflow_runtime.check()  # a client's mistake is not a server problem


def test_compile_filter_refuses_only_with_filter_error() -> None:
    with pytest.raises(FilterError):
        compile_filter("x" * 20_000)
    assert compile_filter("  ")({}) is True
    assert parse_duration("1.5s") == 1_500_000_000
    assert parse_time("2026-01-01T00:00:01.25+01:00") == parse_time("2025-12-31T23:00:01.25Z")


# ---------------------------------------------------------------- malformed requests: 4xx, never 500
def _token(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode()


@pytest.mark.parametrize("token", [
    _token('{"offset": 1e9999}'), _token('{"offset": ' + "9" * 5000 + "}"), _token('{"offset": -3}'),
    _token('{"offset": 99999999999999999999}'), _token('{"offset": true}'), _token("[" * 10000), "%%%", "é",
])
def test_page_token_with_huge_or_odd_numbers_is_400(workflow_runtime: WorkflowRuntime, client: httpx.Client,
                                                    token: str) -> None:
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    response = client.get(f"{PARENT}/workflows/sleepy/executions", params={"pageToken": token})
    assert response.status_code == 400
    assert "pageToken" in response.json()["error"]["message"]
    workflow_runtime.check()


def test_json_body_nested_100000_deep_is_400(workflow_runtime: WorkflowRuntime, client: httpx.Client) -> None:
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    deep = "[" * 100_000 + "]" * 100_000
    for path in (f"{PARENT}/workflows?workflowId=w", f"{PARENT}/workflows/sleepy/executions"):
        response = client.post(path, content=deep, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert "nested too deeply" in response.json()["error"]["message"]
    argument = json.dumps("[" * 100_000 + "]" * 100_000)
    response = client.post(f"{PARENT}/workflows/sleepy/executions", content='{"argument": ' + argument + "}")
    assert response.status_code == 400
    workflow_runtime.check()


def test_deep_yaml_in_source_contents_is_400(workflow_runtime: WorkflowRuntime, client: httpx.Client) -> None:
    source = "main:\n  steps:\n    - a:\n        return: " + "[" * 1000 + "]" * 1000 + "\n"
    response = client.post(f"{PARENT}/workflows", params={"workflowId": "deep"}, json={"sourceContents": source})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    workflow_runtime.check()


def test_body_shorter_than_its_content_length_is_400(workflow_runtime: WorkflowRuntime) -> None:
    parts = urlsplit(workflow_runtime.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"POST {PARENT}/workflows?workflowId=w HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     "\r\nContent-Length: 100\r\n\r\n{\"source".encode())
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split()[1])
    assert status == 400
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == 400
    workflow_runtime.check()


def test_a_server_error_is_recorded_on_a_runtime_without_executions(workflow_runtime: WorkflowRuntime,
                                                                    client: httpx.Client) -> None:
    def broken(server: Any, request: Any) -> Any:
        if request.path == "/broken":
            raise RuntimeError("a bug")
        return None

    workflow_runtime._server.handlers.insert(0, broken)
    try:
        assert client.get("/broken").status_code == 500
    finally:
        workflow_runtime._server.handlers.remove(broken)
    with pytest.raises(Exception, match="a bug"):
        workflow_runtime.check()


# ---------------------------------------------------------------- gRPC: INVALID_ARGUMENT / NOT_FOUND, never UNKNOWN
@pytest.fixture(scope="module")
def grpc_client(workflow_server: Any) -> Iterator[Any]:
    from pytest_wfcallbacks.grpc_api import serve_grpc
    from tests.test_api_clients import executions_client

    with serve_grpc(workflow_server) as server:
        yield executions_client(server.target)


def test_grpc_mistakes_are_invalid_argument_or_not_found(workflow_runtime: WorkflowRuntime, grpc_client: Any) -> None:
    from google.api_core.exceptions import InvalidArgument, NotFound
    from google.cloud.workflows.executions_v1 import Execution

    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    parent = f"{PARENT[4:]}/workflows/sleepy"
    with pytest.raises(InvalidArgument, match="name is required"):
        grpc_client.get_execution(name="")
    with pytest.raises(InvalidArgument, match="name is required"):
        grpc_client.cancel_execution(name="")
    with pytest.raises(InvalidArgument, match="parent is required"):
        list(grpc_client.list_executions(parent=""))
    with pytest.raises(NotFound):
        grpc_client.get_execution(name="nothing/like/a/name")
    with pytest.raises(InvalidArgument, match="OR"):
        list(grpc_client.list_executions(request={"parent": parent, "filter": 'state="ACTIVE" OR'}))
    with pytest.raises(InvalidArgument, match="pageToken"):
        list(grpc_client.list_executions(request={"parent": parent, "page_token": _token('{"offset": 1e9999}')}))
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidArgument):
        grpc_client.create_execution(parent=parent, execution=Execution(argument=deep))
    workflow_runtime.check()


@pytest.mark.parametrize("port", [-1, 70000])
def test_grpc_port_outside_the_tcp_range_is_refused(workflow_server: Any, port: int) -> None:
    from pytest_wfcallbacks.grpc_api import serve_grpc

    with pytest.raises(ValueError, match="is not a TCP port"):
        serve_grpc(workflow_server, port)
