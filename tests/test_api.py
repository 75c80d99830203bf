"""The Workflows and Executions REST APIs on the loopback server, over plain HTTP (docs/semantics.md §6.3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowServer
from pytest_wfcallbacks.api import format_duration, format_timestamp, parse_timestamp

PARENT = "/v1/projects/test-project/locations/us-central1"

CALLBACK_WF = """
main:
  params: [args]
  steps:
    - make:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: ${cb}, timeout: 60}
        result: req
    - done:
        return: ${req.http_request.body}
"""

SLEEP_WF = """
main:
  params: [args]
  steps:
    - nap:
        call: sys.sleep
        args: {seconds: ${args.seconds}}
    - done:
        return: ${args.seconds * 2}
"""

FAIL_WF = """
main:
  steps:
    - first:
        assign:
          - x: 1
    - boom:
        raise:
          message: "out of stock"
          code: 7
"""


@pytest.fixture
def client(workflow_runtime: WorkflowRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=workflow_runtime.base_url, trust_env=False, timeout=10) as http:
        yield http


def create(client: httpx.Client, workflow: str, argument: Any = None, **body: Any) -> httpx.Response:
    if argument is not None:
        body["argument"] = json.dumps(argument)
    return client.post(f"{PARENT}/workflows/{workflow}/executions", json=body)


def test_create_execution_belongs_to_the_runtime_and_the_test_drives_it(workflow_runtime, client):
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    answer = create(client, "sleepy", {"seconds": 12.5}, labels={"team": "payments"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "ACTIVE"
    assert body["argument"] == '{"seconds":12.5}'
    assert body["labels"] == {"team": "payments"}
    assert body["startTime"] == "2026-01-01T00:00:00Z" == body["createTime"]
    assert "endTime" not in body
    assert "result" not in body
    (execution,) = workflow_runtime.executions
    assert body["name"] == execution.name
    assert execution.result() == 25.0

    done = client.get(f"/v1/{execution.name}").json()
    assert done["state"] == "SUCCEEDED"
    assert done["result"] == "25.0"  # a JSON string; the double keeps its point
    assert done["endTime"] == "2026-01-01T00:00:12.500Z"
    assert done["duration"] == "12.500s"
    assert done["status"]["currentSteps"] == [{"routine": "main", "step": "done"}]
    assert done["callLogLevel"] == "CALL_LOG_LEVEL_UNSPECIFIED"
    assert done["workflowRevisionId"].startswith("000001-")


def test_executions_started_in_the_test_are_visible_through_the_api(workflow_runtime, client):
    execution = workflow_runtime.run(FAIL_WF)
    body = client.get(f"/v1/{execution.name}").json()
    assert body["state"] == "FAILED"
    assert "result" not in body
    assert json.loads(body["error"]["payload"]) == {"message": "out of stock", "code": 7}
    assert body["error"]["stackTrace"]["elements"][0]["step"] == "boom"
    assert body["error"]["stackTrace"]["elements"][0]["routine"] == "main"
    assert body["error"]["stackTrace"]["elements"][0]["position"]["line"] == "7"  # int64 as a string
    assert 'in step "boom", routine "main"' in body["error"]["context"]


def test_basic_view_has_only_the_basic_fields(workflow_runtime, client):
    execution = workflow_runtime.run(SLEEP_WF, {"seconds": 1})
    body = client.get(f"/v1/{execution.name}", params={"view": "BASIC"}).json()
    assert set(body) == {"name", "startTime", "endTime", "duration", "state", "workflowRevisionId"}
    assert client.get(f"/v1/{execution.name}", params={"view": "WIDE"}).status_code == 400


def test_cancel_through_the_api(workflow_runtime, client):
    workflow_runtime.deploy(CALLBACK_WF, name="cb")
    name = create(client, "cb", {}).json()["name"]
    (execution,) = workflow_runtime.executions
    callback = execution.wait_for_callback()
    answer = client.post(f"/v1/{name}:cancel", json={})
    assert answer.status_code == 200
    assert answer.json()["state"] == "CANCELLED"
    assert execution.state == "CANCELLED"
    assert callback.send(json={"late": True}).status_code == 404  # a cancelled execution's endpoints are closed
    again = client.post(f"/v1/{name}:cancel", json={})
    assert again.status_code == 400
    assert again.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_callbacks_list_shows_waiters_and_available_payloads(workflow_runtime, client):
    workflow_runtime.deploy(CALLBACK_WF, name="cb")
    name = create(client, "cb", {}).json()["name"]
    (execution,) = workflow_runtime.executions
    callback = execution.wait_for_callback()
    listed = client.get(f"/v1/{name}/callbacks").json()["callbacks"]
    assert listed == [{"name": callback.name, "method": "POST", "waiters": "1", "availablePayloads": []}]
    assert "/callback/" in listed[0]["name"]  # the resource name uses the singular, the URL the plural

    # A request with nobody waiting is stored and listed as an available payload.
    stored_wf = workflow_runtime.deploy("""
main:
  steps:
    - make:
        call: events.create_callback_endpoint
        result: cb
    - nap:
        call: sys.sleep
        args: {seconds: 10}
""", name="stored")
    other = stored_wf.execute()
    other_cb = other.wait_for_callback()
    assert other_cb.send(json={"n": 1}).status_code == 200
    (item,) = client.get(f"/v1/{other.name}/callbacks").json()["callbacks"]
    assert item["waiters"] == "0"
    assert json.loads(item["availablePayloads"][0])["http_request"]["body"] == {"n": 1}

    callback.send(json={"ok": 1})
    assert execution.result() == {"ok": 1}
    assert client.get(f"/v1/{name}/callbacks").json() == {"callbacks": []}  # only active callbacks


def test_list_filters_orders_and_pages(workflow_runtime, client):
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    names = []
    for i in range(5):
        names.append(create(client, "sleepy", {"seconds": 1}, labels={"parity": "even" if i % 2 == 0 else "odd"})
                     .json()["name"])
        if i < 3:
            workflow_runtime.executions[-1].wait()  # the first three finish; the clock moves one second each
    base = f"{PARENT}/workflows/sleepy/executions"

    listed = client.get(base).json()
    assert [e["name"] for e in listed["executions"]] == names[::-1]  # default: createTime desc
    assert set(listed["executions"][0]) <= {"name", "startTime", "endTime", "duration", "state",
                                             "workflowRevisionId"}  # BASIC by default
    ascending = client.get(base, params={"orderBy": "createTime"}).json()["executions"]
    assert [e["name"] for e in ascending] == names

    active = client.get(base, params={"filter": 'state="ACTIVE"'}).json()["executions"]
    assert {e["name"] for e in active} == set(names[3:])
    even_done = client.get(base, params={"filter": "state=SUCCEEDED AND labels.parity=even"}).json()["executions"]
    assert {e["name"] for e in even_done} == {names[0], names[2]}
    later = client.get(base, params={"filter": 'startTime>="2026-01-01T00:00:02Z"'}).json()["executions"]
    assert {e["name"] for e in later} == set(names[2:])

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = client.get(base, params={"pageSize": 2, "pageToken": token, "orderBy": "createTime"}).json()
        seen.extend(e["name"] for e in page["executions"])
        pages += 1
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert seen == names
    assert pages == 3

    full = client.get(base, params={"view": "FULL", "pageSize": 1}).json()["executions"][0]
    assert "argument" in full
    assert "labels" in full

    assert client.get(base, params={"filter": "colour=red"}).json()["error"]["code"] == 400
    assert client.get(base, params={"filter": "state=SLEEPY"}).status_code == 400
    assert client.get(base, params={"orderBy": "name"}).status_code == 400
    assert client.get(base, params={"pageToken": "garbage"}).status_code == 400


def test_errors_use_googles_envelope(workflow_runtime, client):
    workflow_runtime.deploy(SLEEP_WF, name="sleepy")
    unknown = create(client, "nope", {})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["status"] == "NOT_FOUND"
    assert "nope" in unknown.json()["error"]["message"]

    bad = client.post(f"{PARENT}/workflows/sleepy/executions", json={"argument": "{not json"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "not valid JSON" in error["message"]
    assert workflow_runtime.executions == []

    assert client.get(f"{PARENT}/workflows/sleepy/executions/no-such-id").status_code == 404
    assert client.post(f"{PARENT}/workflows/sleepy/executions", json={"labels": {"Bad Key": "x"}}).status_code == 400
    wrong_project = client.get("/v1/projects/other/locations/us-central1/workflows/sleepy")
    assert wrong_project.status_code == 404
    assert "test-project" in wrong_project.json()["error"]["message"]  # says what the server does serve
    assert client.delete(f"{PARENT}/workflows/sleepy/executions").status_code == 404


def test_execution_path_must_name_its_workflow(workflow_runtime, client):
    execution = workflow_runtime.run(SLEEP_WF, {"seconds": 1})
    assert client.get(f"{PARENT}/workflows/someone-else/executions/{execution.id}").status_code == 404
    assert client.get(f"{PARENT}/workflows/-/executions/{execution.id}").status_code == 200


def test_workflows_api_create_get_list_patch_delete(workflow_runtime, client):
    workflow_runtime.deploy(SLEEP_WF, name="from-test")
    created = client.post(f"{PARENT}/workflows", params={"workflowId": "from-api"},
                          json={"sourceContents": CALLBACK_WF, "labels": {"env": "test"}, "description": "d"})
    assert created.status_code == 200
    operation = created.json()
    assert operation["done"] is True
    assert operation["response"]["name"] == "projects/test-project/locations/us-central1/workflows/from-api"
    assert operation["response"]["revisionId"].startswith("000001-")
    assert client.get(f"/v1/{operation['name']}").json() == operation  # operations.get

    assert "from-api" in workflow_runtime.workflows  # visible to the test
    got = client.get(f"{PARENT}/workflows/from-api").json()
    assert got["sourceContents"] == CALLBACK_WF
    assert got["labels"] == {"env": "test"}
    assert got["description"] == "d"
    assert got["state"] == "ACTIVE"
    listed = [w["name"].rsplit("/", 1)[1] for w in client.get(f"{PARENT}/workflows").json()["workflows"]]
    assert listed == ["from-api", "from-test"]

    # Executions inherit the workflow's labels; an execution's own labels win.
    create(client, "from-api", {}, labels={"run": "one"})
    assert client.get(f"/v1/{workflow_runtime.executions[-1].name}").json()["labels"] == {"env": "test", "run": "one"}

    patched = client.patch(f"{PARENT}/workflows/from-api", params={"updateMask": "sourceContents"},
                           json={"sourceContents": SLEEP_WF})
    assert patched.status_code == 200
    assert patched.json()["response"]["revisionId"].startswith("000002-")
    assert workflow_runtime.workflows["from-api"].run({"seconds": 2}).value == 4

    workflow_runtime.deploy(FAIL_WF, name="from-test")  # a redeploy from the test is a new revision too
    assert client.get(f"{PARENT}/workflows/from-test").json()["revisionId"].startswith("000002-")

    assert client.delete(f"{PARENT}/workflows/from-api").json()["done"] is True
    assert "from-api" not in workflow_runtime.workflows
    assert client.get(f"{PARENT}/workflows/from-api").status_code == 404


def test_workflows_api_errors(workflow_runtime, client):
    ok = {"sourceContents": SLEEP_WF}
    assert client.post(f"{PARENT}/workflows", params={"workflowId": "dup"}, json=ok).status_code == 200
    conflict = client.post(f"{PARENT}/workflows", params={"workflowId": "dup"}, json=ok)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["status"] == "ALREADY_EXISTS"
    assert client.post(f"{PARENT}/workflows", json=ok).status_code == 400  # no workflowId
    assert client.post(f"{PARENT}/workflows", params={"workflowId": "9lives"}, json=ok).status_code == 400
    broken = client.post(f"{PARENT}/workflows", params={"workflowId": "broken"},
                         json={"sourceContents": "main:\n  steps:\n    - a:\n        call: no.such\n"})
    assert broken.status_code == 400
    assert "<workflow>:4:" in broken.json()["error"]["message"]  # deploy errors point at line and column
    assert "broken" not in workflow_runtime.workflows
    one_line = client.post(f"{PARENT}/workflows", params={"workflowId": "path"},
                           json={"sourceContents": "examples/workflows/basic_callback.yaml"})
    assert one_line.status_code == 400  # source text is never read as a local file path
    assert client.patch(f"{PARENT}/workflows/dup", params={"updateMask": "state"}, json={}).status_code == 400


def test_routing_picks_the_runtime_that_has_the_workflow(workflow_server: WorkflowServer):
    with WorkflowRuntime(server=workflow_server) as first, WorkflowRuntime(server=workflow_server,
                                                                         project="other-project") as second:
        first.deploy(SLEEP_WF, name="in-first")
        second.deploy(SLEEP_WF, name="in-second")
        with httpx.Client(base_url=workflow_server.base_url, trust_env=False) as http:
            assert http.post(f"{PARENT}/workflows/in-first/executions", json={"argument": '{"seconds": 1}'}
                             ).status_code == 200
            assert http.post("/v1/projects/other-project/locations/us-central1/workflows/in-second/executions",
                             json={"argument": '{"seconds": 1}'}).status_code == 200
            assert http.post(f"{PARENT}/workflows/in-second/executions", json={}).status_code == 404
        assert len(first.executions) == 1
        assert len(second.executions) == 1
        assert first.executions[0].result() == 2


def test_non_api_paths_still_answer_404(client):
    answer = client.get("/v2/something")
    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"


def test_timestamps_and_durations():
    assert format_timestamp(1_767_225_600 * 10**9) == "2026-01-01T00:00:00Z"
    assert format_timestamp(1_767_225_600 * 10**9 + 1_500_000) == "2026-01-01T00:00:00.001500Z"
    assert format_timestamp(1_767_225_600 * 10**9 + 7) == "2026-01-01T00:00:00.000000007Z"
    assert format_duration(12_500_000_000) == "12.500s"
    assert format_duration(3 * 10**9) == "3s"
    assert parse_timestamp("2026-01-01T00:00:00.5Z") == 1_767_225_600 * 10**9 + 500_000_000
    assert parse_timestamp("2026-01-01T01:00:00+01:00") == 1_767_225_600 * 10**9
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_timestamp("yesterday")


def test_api_created_executions_progress_when_the_test_runs_the_runtime(workflow_runtime) -> None:
    import httpx as _httpx

    workflow_runtime.deploy(
        "- c:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- w:\n    call: events.await_callback\n    args: {callback: ${cb}}\n", name="waits")
    base = f"{workflow_runtime.base_url}/v1/projects/test-project/locations/us-central1/workflows/waits"
    created = _httpx.post(f"{base}/executions", json={}).json()
    callbacks_url = f"{workflow_runtime.base_url}/v1/{created['name']}/callbacks"
    assert _httpx.get(callbacks_url).json().get("callbacks", []) == []  # nothing ran on the server thread
    workflow_runtime.run_until_idle()
    listed = _httpx.get(callbacks_url).json()["callbacks"]
    assert len(listed) == 1
    assert listed[0]["waiters"] == "1"


REVISION_WF = """
main:
  steps:
    - done:
        return: ${sys.get_env("GOOGLE_CLOUD_WORKFLOW_REVISION_ID")}
"""


def test_an_execution_reads_the_revision_id_the_api_shows(workflow_runtime, client):
    # sys.get_env gives the revision the execution runs, the same id the Workflows API shows for
    # the workflow and the Executions API for the execution; a redeploy is the next revision.
    first = workflow_runtime.deploy(REVISION_WF, name="rev").run()
    shown = client.get(f"{PARENT}/workflows/rev").json()["revisionId"]
    assert first.value == shown == client.get(f"/v1/{first.name}").json()["workflowRevisionId"]
    assert first.value.startswith("000001-")
    second = workflow_runtime.deploy(REVISION_WF + "    # edited\n", name="rev").run()
    assert second.value.startswith("000002-")
    assert second.value == client.get(f"{PARENT}/workflows/rev").json()["revisionId"]
    assert client.get(f"/v1/{first.name}").json()["workflowRevisionId"] == first.value  # it kept its revision
    assert first.value[7:] != second.value[7:]  # the digest follows the source
