"""Google's own clients against the runtime's APIs: these clients are the contract.

`google-api-python-client` is built from the discovery documents it bundles
(``workflows`` v1 and ``workflowexecutions`` v1) with ``api_endpoint`` pointed at
the runtime, exactly as a service under test would configure it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from pytest_wfcallbacks import WorkflowRuntime

PARENT = "projects/test-project/locations/us-central1"

APPROVAL_WF = """
main:
  params: [order]
  steps:
    - make:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: ${cb}, timeout: 3600}
        result: req
    - done:
        return:
          order: ${order.id}
          approved: ${req.http_request.body.approved}
"""


def clients(runtime: WorkflowRuntime) -> tuple[Any, Any]:
    options = {"api_endpoint": runtime.base_url}
    workflows = build("workflows", "v1", client_options=options, credentials=AnonymousCredentials(),
                      static_discovery=True)
    executions = build("workflowexecutions", "v1", client_options=options, credentials=AnonymousCredentials(),
                       static_discovery=True)
    return workflows.projects().locations().workflows(), executions.projects().locations().workflows().executions()


def test_deploy_create_get_list_callbacks_and_cancel_with_the_official_client(workflow_runtime):
    workflows, executions = clients(workflow_runtime)
    operation = workflows.create(parent=PARENT, workflowId="approval", body={"sourceContents": APPROVAL_WF}).execute()
    assert operation["done"] is True
    assert operation["response"]["name"] == f"{PARENT}/workflows/approval"

    created = executions.create(parent=f"{PARENT}/workflows/approval",
                                body={"argument": json.dumps({"id": "A-1"})}).execute()
    assert created["state"] == "ACTIVE"
    execution = next(e for e in workflow_runtime.executions if e.name == created["name"])
    callback = execution.wait_for_callback()
    execution.wait_until_awaiting(callback)

    (listed,) = executions.callbacks().list(parent=created["name"]).execute()["callbacks"]
    assert listed["name"] == callback.name
    assert listed["method"] == "POST"
    assert listed["waiters"] == "1"

    assert callback.send(json={"approved": True}).status_code == 200
    assert execution.result() == {"order": "A-1", "approved": True}
    got = executions.get(name=created["name"]).execute()
    assert got["state"] == "SUCCEEDED"
    assert json.loads(got["result"]) == {"order": "A-1", "approved": True}

    second = executions.create(parent=f"{PARENT}/workflows/approval", body={"argument": '{"id": "A-2"}'}).execute()
    cancelled = executions.cancel(name=second["name"], body={}).execute()
    assert cancelled["state"] == "CANCELLED"
    assert workflow_runtime.executions[-1].state == "CANCELLED"

    states = {e["name"]: e["state"]
              for e in executions.list(parent=f"{PARENT}/workflows/approval").execute()["executions"]}
    assert states == {created["name"]: "SUCCEEDED", second["name"]: "CANCELLED"}
    active_only = executions.list(parent=f"{PARENT}/workflows/approval", filter='state="ACTIVE"').execute()
    assert active_only.get("executions", []) == []


def test_list_pages_with_the_client_paginator(workflow_runtime):
    _workflows, executions = clients(workflow_runtime)
    workflow_runtime.deploy("main:\n  steps:\n    - done:\n        return: 1\n", name="tiny")
    for _ in range(5):
        executions.create(parent=f"{PARENT}/workflows/tiny", body={}).execute()
    request = executions.list(parent=f"{PARENT}/workflows/tiny", pageSize=2)
    seen = []
    while request is not None:
        page = request.execute()
        seen.extend(e["name"] for e in page["executions"])
        request = executions.list_next(request, page)
    assert sorted(seen) == sorted(e.name for e in workflow_runtime.executions)
    assert len(seen) == 5


def test_runtime_deploys_are_visible_to_the_client_and_errors_are_http_errors(workflow_runtime):
    workflows, executions = clients(workflow_runtime)
    workflow_runtime.deploy("examples/workflows/basic_callback.yaml")
    got = workflows.get(name=f"{PARENT}/workflows/basic-callback").execute()
    assert "events.create_callback_endpoint" in got["sourceContents"]
    assert [w["name"] for w in workflows.list(parent=PARENT).execute()["workflows"]] == [got["name"]]

    with pytest.raises(HttpError) as missing:
        executions.get(name=f"{PARENT}/workflows/basic-callback/executions/unknown").execute()
    assert missing.value.resp.status == 404
    with pytest.raises(HttpError) as bad_argument:
        executions.create(parent=f"{PARENT}/workflows/basic-callback", body={"argument": "{oops"}).execute()
    assert bad_argument.value.resp.status == 400
    assert "not valid JSON" in bad_argument.value.reason
    with pytest.raises(HttpError) as exists:
        workflows.create(parent=PARENT, workflowId="basic-callback", body={"sourceContents": APPROVAL_WF}).execute()
    assert exists.value.resp.status == 409


def test_step_entries_list_and_get_with_the_official_client(workflow_runtime):
    _workflows, executions = clients(workflow_runtime)
    workflow_runtime.deploy(APPROVAL_WF, name="approval")
    created = executions.create(parent=f"{PARENT}/workflows/approval", body={"argument": '{"id": "S-1"}'}).execute()
    execution = workflow_runtime.executions[-1]
    execution.wait_for_callback().send(json={"approved": False})
    execution.wait()
    step_entries = executions.stepEntries()
    request = step_entries.list(parent=created["name"], pageSize=2)
    listed = []
    while request is not None:
        page = request.execute()
        listed.extend(page["stepEntries"])
        request = step_entries.list_next(request, page)
    assert [(item["entryId"], item["step"], item["stepType"], item["state"]) for item in listed] == [
        ("1", "make", "STEP_STD_LIB_CALL", "STATE_SUCCEEDED"),
        ("2", "wait", "STEP_STD_LIB_CALL", "STATE_SUCCEEDED"),
        ("3", "done", "STEP_RETURN", "STATE_SUCCEEDED"),
    ]
    got = step_entries.get(name=listed[1]["name"]).execute()
    assert got == listed[1]
    only = step_entries.list(parent=created["name"], filter='step="done"', orderBy="entryId desc").execute()
    assert [item["step"] for item in only["stepEntries"]] == ["done"]
    with pytest.raises(HttpError) as missing:
        step_entries.get(name=f"{created['name']}/stepEntries/9").execute()
    assert missing.value.resp.status == 404


# --------------------------------------------------------------------------- gRPC: the official ExecutionsClient


@pytest.fixture
def grpc_target(workflow_grpc_target):
    """The plugin's fixture: the session's gRPC server, routing to this test's runtime."""
    return workflow_grpc_target


def executions_client(target: str) -> Any:
    import grpc
    from google.cloud.workflows.executions_v1 import ExecutionsClient
    from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsGrpcTransport

    return ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel(target)))


def test_executions_client_over_grpc_creates_gets_lists_and_cancels(workflow_runtime, grpc_target):
    from google.api_core.exceptions import InvalidArgument, NotFound
    from google.cloud.workflows.executions_v1 import Execution, ExecutionView

    client = executions_client(grpc_target)
    workflow_runtime.deploy(APPROVAL_WF, name="approval")
    parent = f"{PARENT}/workflows/approval"

    created = client.create_execution(parent=parent, execution=Execution(argument='{"id": "G-1"}',
                                                                         labels={"via": "grpc"}))
    assert created.state == Execution.State.ACTIVE
    execution = next(e for e in workflow_runtime.executions if e.name == created.name)
    execution.wait_for_callback().send(json={"approved": True})
    assert execution.result() == {"order": "G-1", "approved": True}

    got = client.get_execution(name=created.name)
    assert got.state == Execution.State.SUCCEEDED
    assert json.loads(got.result) == {"order": "G-1", "approved": True}
    assert got.labels["via"] == "grpc"
    assert got.start_time.isoformat() == "2026-01-01T00:00:00+00:00"

    second = client.create_execution(parent=parent, execution=Execution(argument='{"id": "G-2"}'))
    assert client.cancel_execution(name=second.name).state == Execution.State.CANCELLED

    listed = list(client.list_executions(request={"parent": parent, "page_size": 1, "view": ExecutionView.FULL}))
    assert {e.name: e.state for e in listed} == {created.name: Execution.State.SUCCEEDED,
                                                 second.name: Execution.State.CANCELLED}

    with pytest.raises(NotFound):
        client.get_execution(name=f"{parent}/executions/unknown")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        client.create_execution(parent=parent, execution=Execution(argument="{oops"))


def test_grpc_fixture_is_one_server_per_session_routing_to_each_tests_runtime(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import grpc
        from google.cloud.workflows.executions_v1 import Execution, ExecutionsClient
        from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsGrpcTransport

        TARGETS = []
        PARENT = "projects/test-project/locations/us-central1/workflows/w"

        def client(target):
            return ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel(target)))

        def test_first(workflow_runtime, workflow_grpc_target):
            TARGETS.append(workflow_grpc_target)
            workflow_runtime.deploy([{"r": {"return": 1}}], name="w")
            created = client(workflow_grpc_target).create_execution(parent=PARENT, execution=Execution())
            assert [e.name for e in workflow_runtime.executions] == [created.name]

        def test_second(workflow_runtime, workflow_grpc_target, workflow_grpc_server):
            TARGETS.append(workflow_grpc_target)
            assert TARGETS[0] == TARGETS[1] == workflow_grpc_server.target
            assert workflow_grpc_target.startswith("127.0.0.1:")
            workflow_runtime.deploy([{"r": {"return": 2}}], name="w")
            created = client(workflow_grpc_target).create_execution(parent=PARENT, execution=Execution())
            execution = next(e for e in workflow_runtime.executions if e.name == created.name)
            assert execution.result() == 2
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
