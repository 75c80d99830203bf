"""Connector calls: fakes on ``workflow_runtime.connectors`` and child executions (docs/semantics.md §4.14-§4.15).

The first part runs the official connector samples with fakes, as a user testing
them would; the rest covers the registry, errors, timing and the teardown report.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_wfcallbacks import (
    ConnectorCall,
    ConnectorError,
    WfCallbacksError,
    WorkflowFailed,
    WorkflowRuntime,
    WorkflowServer,
)
from pytest_wfcallbacks.errors import WorkflowError

from .conftest import official_samples

RUN = "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run"
PUBLISH = "googleapis.pubsub.v1.projects.topics.publish"
GET_DOC = "googleapis.firestore.v1.projects.databases.documents.get"


def sample(name: str) -> Path:
    """An official sample (tests that call this are marked ``official_samples``)."""
    path = official_samples() / name
    assert path.is_file(), f"{path} is missing from the official samples"
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def call_flow(target: str, args: Any, *, catch: bool = False) -> dict[str, Any]:
    """A workflow calling ``target`` with ``args``; returns the result, or ``{error: e}`` when ``catch``."""
    step: dict[str, Any] = {"call": target, "args": args, "result": "r"}
    if catch:
        step = {"try": step, "except": {"as": "e", "steps": [{"caught": {"return": {"error": "${e}"}}}]}}
    return {"main": {"steps": [{"call_it": step}, {"done": {"return": "${r}"}}]}}


# ---------------------------------------------------------------------------- official samples


@pytest.mark.official_samples
def test_sample_publish_pubsub(workflow_runtime: WorkflowRuntime) -> None:
    publish = workflow_runtime.connectors.fake(PUBLISH, returns={"messageIds": ["8712"]})

    execution = workflow_runtime.run(sample("connector_publish_pubsub.workflows.yaml"))

    assert execution.result() == {"messageIds": ["8712"]}
    (call,) = publish.calls
    assert call.args == {"topic": "projects/test-project/topics/mytopic1",
                         "body": {"messages": [{"data": b64("Hello world!")}]}}
    assert call.step == "publish"


@pytest.mark.official_samples
def test_sample_access_secret_decodes_the_payload(workflow_runtime: WorkflowRuntime) -> None:
    access = workflow_runtime.connectors.fake("googleapis.secretmanager.v1.projects.secrets.versions.access",
                                              returns={"payload": {"data": b64("hunter2")}})

    execution = workflow_runtime.run(sample("connector_access_secret.workflows.yaml"))

    assert execution.state == "SUCCEEDED"
    number = workflow_runtime.settings.project_number
    assert access.calls[0].args == {"name": f"projects/{number}/secrets/test-secret/versions/1"}


@pytest.mark.official_samples
def test_sample_access_secret_missing_secret_fails_with_http_404(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.secretmanager.v1.projects.secrets.versions.access",
                                     raises=ConnectorError.http(404, "Secret [test-secret] not found"))

    execution = workflow_runtime.run(sample("connector_access_secret.workflows.yaml"))

    assert execution.state == "FAILED"
    assert execution.tags == ["HttpError"]
    assert execution.error["code"] == 404
    assert execution.error["body"]["error"]["status"] == "NOT_FOUND"


@pytest.mark.official_samples
def test_sample_read_and_write_firestore(workflow_runtime: WorkflowRuntime) -> None:
    fields = {"FirstName": {"stringValue": "John"}, "LastName": {"stringValue": "Smith"}}
    workflow_runtime.connectors.fake(GET_DOC, returns={"name": "doc", "fields": fields})
    written: list[dict[str, Any]] = []

    def patch(args: dict[str, Any], call: ConnectorCall) -> dict[str, Any]:
        written.append(args["body"]["fields"])
        return {"name": args["name"], "fields": args["body"]["fields"]}

    workflow_runtime.connectors.fake("googleapis.firestore.v1.projects.databases.documents.patch", patch)

    assert workflow_runtime.run(sample("connector_read_firestore.workflows.yaml")).result() == fields
    name = workflow_runtime.run(sample("connector_write_firestore.workflows.yaml")).result()

    assert name == "projects/test-project/databases/(default)/documents/peopleDatabase/smith.j"
    assert written == [{"FirstName": {"stringValue": "John"}, "LastName": {"stringValue": "Smith"},
                        "Age": {"integerValue": 32}}]


@pytest.mark.official_samples
def test_sample_start_and_stop_vm_take_the_operation_time(workflow_runtime: WorkflowRuntime) -> None:
    # Compute operations are long-running: the connector polls until DONE; the fake says how long that takes.
    workflow_runtime.connectors.fake("googleapis.compute.v1.instances.*", returns={"status": "DONE"}, after=45)

    start = workflow_runtime.run(sample("connector_start_compute_engine.workflows.yaml"))
    stop = workflow_runtime.run(sample("connector_stop_compute_engine.workflows.yaml"))

    assert start.result() == stop.result() == {"status": "DONE"}
    assert start.duration == stop.duration == 45.0
    assert [c.name.rsplit(".", 1)[1] for c in workflow_runtime.connectors.calls] == ["start", "stop"]
    assert workflow_runtime.connectors.calls[0].args == {"project": "test-project", "instance": "myinstance1",
                                                         "zone": "us-central1-a"}


@pytest.mark.official_samples
def test_sample_failed_vm_operation_raises_operation_error(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake(
        "googleapis.compute.v1.instances.start",
        raises=ConnectorError.operation("QUOTA_EXCEEDED", operation={"status": "DONE", "error": {}}), after=12)

    execution = workflow_runtime.run(sample("connector_start_compute_engine.workflows.yaml"))

    assert execution.tags == ["OperationError"]
    assert execution.error["operation"] == {"status": "DONE", "error": {}}
    assert execution.duration == 12.0


@pytest.mark.official_samples
def test_sample_write_sheets_mixes_a_connector_and_http(workflow_runtime: WorkflowRuntime) -> None:
    create = workflow_runtime.connectors.fake("googleapis.sheets.v4.spreadsheets.create",
                                              returns={"spreadsheetId": "sheet-1"})
    drive = "https://www.googleapis.com/drive/v3/files/sheet-1"
    workflow_runtime.http.get(drive).respond(200, json={"parents": ["root-folder"]})
    workflow_runtime.http.patch(drive).respond(200, json={"id": "sheet-1"})

    execution = workflow_runtime.run(sample("connector_write_sheets.workflows.yaml"))

    assert execution.result()["body"] == {"id": "sheet-1"}
    assert create.calls[0].args == {"body": None}
    assert create.calls[0].connector_params == {"scopes": "https://www.googleapis.com/auth/drive"}


@pytest.mark.official_samples
def test_sample_bigquery_page_token_walks_every_page(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.insert",
                                     returns={"jobReference": {"jobId": "job-7"}})
    pages = workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.getQueryResults", results=[
        {"rows": [{"f": [{"v": "James"}]}, {"f": [{"v": "John"}]}], "pageToken": "p2"},
        {"rows": [{"f": [{"v": "Robert"}]}], "pageToken": ""},
    ])

    execution = workflow_runtime.run(sample("bigquery_pagetoken.workflows.yaml"))

    assert execution.state == "SUCCEEDED"
    assert [entry.payload["f"][0]["v"] for entry in execution.logs] == ["James", "John", "Robert"]
    assert [c.args["pageToken"] for c in pages.calls] == [None, "p2"]
    assert {c.args["jobId"] for c in pages.calls} == {"job-7"}


@pytest.mark.official_samples
def test_sample_poll_bigquery_job_manual_sleeps_between_polls(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.query", returns={"jobReference": {"jobId": "j"}})
    polls = workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.getQueryResults", results=[
        {"jobComplete": False}, {"jobComplete": False}, {"jobComplete": True, "totalRows": "10"}])

    execution = workflow_runtime.run(sample("poll_bigquery_job_manual.workflows.yaml"))

    assert execution.result() == {"jobComplete": True, "totalRows": "10"}
    assert [c.time.second for c in polls.calls] == [0, 5, 10]
    assert execution.duration == 10.0


@pytest.mark.official_samples
def test_sample_poll_bigquery_job_auto_honours_its_timeout(workflow_runtime: WorkflowRuntime) -> None:
    job = workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.insert",
                                           returns={"status": {"state": "DONE"}}, after=3000)
    done = workflow_runtime.run(sample("poll_bigquery_job_auto.workflows.yaml"))
    assert done.result() == {"status": {"state": "DONE"}}
    assert done.duration == 3000.0
    assert job.calls[0].timeout == 3600
    assert job.calls[0].connector_params["polling_policy"] == {"initial_delay": 2.0, "multiplier": 1.5,
                                                               "max_delay": 60.0}

    workflow_runtime.connectors.fake("googleapis.bigquery.v2.jobs.insert", returns={}, after=3601)
    late = workflow_runtime.run(sample("poll_bigquery_job_auto.workflows.yaml"))
    assert late.tags == ["TimeoutError"]
    assert late.duration == 3600.0


@pytest.mark.official_samples
def test_sample_compute_lifecycle_with_a_stateful_fake(workflow_runtime: WorkflowRuntime) -> None:
    status = {"value": "NONE"}
    transitions = {"insert": "STAGING", "start": "RUNNING", "stop": "TERMINATED", "delete": "NONE"}

    def instances(args: dict[str, Any], call: ConnectorCall) -> dict[str, Any]:
        method = call.name.rsplit(".", 1)[1]
        if method == "get":
            return {"name": args["instance"], "status": status["value"]}
        status["value"] = transitions[method]
        return {"status": "DONE"}

    fake = workflow_runtime.connectors.fake("googleapis.compute.v1.instances.*", instances)

    execution = workflow_runtime.run(sample("connectors/connector_compute.workflows.yaml"))

    assert execution.result() == "SUCCESS"
    assert [c.name.rsplit(".", 1)[1] for c in fake.calls] == ["insert", "start", "get", "stop", "get", "delete"]


@pytest.mark.official_samples
def test_sample_compute_reports_an_unexpected_status(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.compute.v1.instances.*", returns={"status": "DONE"})
    workflow_runtime.connectors.fake("googleapis.compute.v1.instances.get", returns={"status": "PROVISIONING"})

    execution = workflow_runtime.run(sample("connectors/connector_compute.workflows.yaml"))

    assert execution.error == "Expected VM status is RUNNING. Received PROVISIONING instead."


@pytest.mark.official_samples
def test_sample_pubsub_round_trip(workflow_runtime: WorkflowRuntime) -> None:
    published: list[str] = []

    def publish(args: dict[str, Any], call: ConnectorCall) -> dict[str, Any]:
        published.extend(m["data"] for m in args["body"]["messages"])
        return {"messageIds": [str(len(published))]}

    def pull(args: dict[str, Any], call: ConnectorCall) -> dict[str, Any]:
        return {"receivedMessages": [{"ackId": "a", "message": {"data": published.pop(0)}}]}

    connectors = workflow_runtime.connectors
    connectors.fake("googleapis.pubsub.v1.projects.*")  # create/delete: null results
    connectors.fake(PUBLISH, publish)
    connectors.fake("googleapis.pubsub.v1.projects.subscriptions.pull", pull)

    execution = workflow_runtime.run(sample("connectors/connector_pubsub.workflows.yaml"))

    assert execution.result() == "SUCCESS"
    assert [c.name.rsplit(".", 2)[1:] for c in connectors.calls] == [
        ["topics", "create"], ["subscriptions", "create"], ["topics", "publish"], ["subscriptions", "pull"],
        ["subscriptions", "delete"], ["topics", "delete"]]


@pytest.mark.official_samples
def test_sample_firestore_connector_checks_the_document(workflow_runtime: WorkflowRuntime) -> None:
    connectors = workflow_runtime.connectors
    connectors.fake("googleapis.firestore.v1.projects.databases.*")
    connectors.fake(GET_DOC, returns={"fields": {"fieldA": {"stringValue": "abc"},
                                                 "fieldB": {"integerValue": "123"}}})
    export = connectors.fake("googleapis.firestore.v1.projects.databases.exportDocuments",
                             returns={"done": True}, after=300)

    execution = workflow_runtime.run(sample("connectors/connector_firestore.workflows.yaml"))

    assert execution.result() == "SUCCESS"
    assert export.calls[0].args["body"] == {"outputUriPrefix": "gs://EXAMPLE_BUCKET",
                                            "collectionIds": ["example-collection"]}
    assert execution.duration == 300.0


@pytest.mark.official_samples
def test_sample_workflowexecutions_runs_a_real_child(workflow_runtime: WorkflowRuntime) -> None:
    name = "[fill in the workflow to execute]"
    workflow_runtime.deploy({"main": {"params": ["args"], "steps": [
        {"wait": {"call": "sys.sleep", "args": {"seconds": 20}}},
        {"done": {"return": {"echo": "${args}"}}},
    ]}}, name=name)
    create = workflow_runtime.connectors.fake(
        "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.create",
        returns={"name": "projects/test-project/locations/us-central1/workflows/x/executions/e1", "state": "ACTIVE"})

    parent = workflow_runtime.run(sample("connectors/connector_workflowexecutions.workflows.yaml"))

    arguments = {"hello": "world", "integer": 100, "boolean": True}
    assert parent.result() == [
        {"echo": arguments},
        {"name": "projects/test-project/locations/us-central1/workflows/x/executions/e1", "state": "ACTIVE"},
    ]
    assert create.calls[0].args["parent"] == f"projects/test-project/locations/us-central1/workflows/{name}"
    assert json.loads(create.calls[0].args["body"]["argument"]) == arguments
    child = workflow_runtime.connectors.calls[0].child
    assert child is not None
    assert child.workflow.name == name
    assert child.argument == arguments
    assert parent.duration == child.duration == 20.0


@pytest.mark.official_samples
def test_sample_parallel_for_in_runs_one_child_per_text(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy({"main": {"params": ["arg"], "steps": [
        {"wait": {"call": "sys.sleep", "args": {"seconds": "${len(arg.text)}"}}},
        {"done": {"return": "${arg.target + ':' + arg.text}"}},
    ]}}, name="translate")

    execution = workflow_runtime.run(sample("parallel_for_in.workflows.yaml"))

    assert execution.result() == ["fr:hello world!", "en:你好 世界\uff01", "en:No hablo español!"]
    children = [c.child for c in workflow_runtime.connectors.calls]
    assert all(child is not None and child.state == "SUCCEEDED" for child in children)
    # The children run concurrently on the parent's clock: the longest (17 s) sets the pace.
    assert execution.duration == 17.0


# ---------------------------------------------------------------------------- the registry


@pytest.mark.workflow_runtime(check_at_teardown=False)  # the test calls check() itself
def test_unfaked_call_fails_with_system_error_naming_the_connector(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(call_flow(GET_DOC, {"name": "x"}))

    assert execution.tags == ["SystemError"]
    message = execution.error["message"]
    assert GET_DOC in message
    assert f"workflow_runtime.connectors.fake('{GET_DOC}'" in message
    assert [c.name for c in workflow_runtime.connectors.unfaked] == [GET_DOC]
    with pytest.raises(WfCallbacksError, match="connector calls no fake answered"):
        workflow_runtime.check()
    workflow_runtime.check()  # reported once: neither this call nor the teardown check raises it again


def test_exact_name_beats_wildcards_and_longer_wildcards_beat_shorter(workflow_runtime: WorkflowRuntime) -> None:
    connectors = workflow_runtime.connectors
    connectors.fake("googleapis.*", returns="any google api")
    connectors.fake("googleapis.storage.v1.*", returns="storage")
    connectors.fake("googleapis.storage.v1.objects.get", returns="exact")

    def result(name: str) -> Any:
        return workflow_runtime.run(call_flow(name, {})).result()

    assert result("googleapis.storage.v1.objects.get") == "exact"
    assert result("googleapis.storage.v1.objects.list") == "storage"
    assert result("googleapis.pubsub.v1.projects.topics.get") == "any google api"
    connectors.fake("googleapis.storage.v1.objects.get", returns="replaced")
    assert result("googleapis.storage.v1.objects.get") == "replaced"
    assert connectors["googleapis.storage.v1.*"].call_count == 1
    assert len(connectors.calls_to("googleapis.storage.v1.*")) == 3


def test_handler_gets_args_without_connector_params_and_the_call(workflow_runtime: WorkflowRuntime) -> None:
    seen: list[tuple[dict[str, Any], ConnectorCall]] = []

    def handler(args: dict[str, Any], call: ConnectorCall) -> Any:
        seen.append((args, call))
        args["bucket"] = "mutated by the handler"
        return {"n": 1, "d": 2.5, "ok": True}

    workflow_runtime.connectors.fake("googleapis.storage.v1.objects.get", handler)
    workflow_runtime.clock.advance(60)
    execution = workflow_runtime.run(call_flow("googleapis.storage.v1.objects.get", {
        "bucket": "b", "object": "o", "connector_params": {"timeout": 60, "skip_polling": True, "scopes": ["s"]}}))

    assert execution.result() == {"n": 1, "d": 2.5, "ok": True}
    ((args, call),) = seen
    assert args == {"bucket": "mutated by the handler", "object": "o"}
    assert call.args == {"bucket": "b", "object": "o"}
    assert call.connector_params == {"timeout": 60, "skip_polling": True, "scopes": ["s"]}
    assert (call.timeout, call.skip_polling, call.step, call.branch) == (60, True, "call_it", None)
    assert call.execution is execution
    assert call.time == workflow_runtime.clock.now()


def test_returns_is_a_fresh_copy_per_call(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.x.v1.get", returns={"items": [1]})
    source = {"main": {"steps": [
        {"first": {"call": "googleapis.x.v1.get", "result": "a"}},
        {"change": {"assign": [{"a.items[0]": 99}]}},
        {"second": {"call": "googleapis.x.v1.get", "result": "b"}},
        {"done": {"return": ["${a}", "${b}"]}},
    ]}}

    assert workflow_runtime.run(source).result() == [{"items": [99]}, {"items": [1]}]
    assert workflow_runtime.connectors["googleapis.x.v1.get"].call_count == 2


def test_raises_values_are_caught_by_except(workflow_runtime: WorkflowRuntime) -> None:
    connectors = workflow_runtime.connectors
    connectors.fake("googleapis.a.v1.get", raises={"message": "boom", "tags": ["SystemError"]})
    connectors.fake("googleapis.b.v1.get", raises="plain string error")
    connectors.fake("googleapis.c.v1.get", raises=ConnectorError.http(409, "already exists"))

    def caught(name: str) -> Any:
        return workflow_runtime.run(call_flow(name, {}, catch=True)).result()["error"]

    assert caught("googleapis.a.v1.get") == {"message": "boom", "tags": ["SystemError"]}
    assert caught("googleapis.b.v1.get") == "plain string error"
    conflict = caught("googleapis.c.v1.get")
    assert (conflict["code"], conflict["tags"], conflict["message"]) == (409, ["HttpError"], "already exists")
    assert conflict["body"] == {"error": {"code": 409, "message": "already exists", "status": "ALREADY_EXISTS"}}


def test_handler_raising_connector_error_fails_the_call(workflow_runtime: WorkflowRuntime) -> None:
    def handler(args: dict[str, Any], call: ConnectorCall) -> Any:
        if args["name"] == "missing":
            raise ConnectorError.http(404)
        return {"name": args["name"]}

    workflow_runtime.connectors.fake(GET_DOC, handler)

    assert workflow_runtime.run(call_flow(GET_DOC, {"name": "there"})).result() == {"name": "there"}
    missing = workflow_runtime.run(call_flow(GET_DOC, {"name": "missing"}, catch=True)).result()["error"]
    assert missing["code"] == 404
    assert missing["message"] == "HTTP server responded with error code 404"


@pytest.mark.workflow_runtime(check_at_teardown=False)  # the test calls check() itself
def test_results_give_one_outcome_per_call_and_report_running_out(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.x.v1.poll", results=[
        {"done": False}, ConnectorError.http(503), {"done": True}])
    source = {"main": {"steps": [
        {"init": {"assign": [{"seen": []}]}},
        {"poll": {"try": {"call": "googleapis.x.v1.poll", "result": "r"},
                  "except": {"as": "e", "steps": [{"keep": {"assign": [{"r": {"done": False, "code": "${e.code}"}}]}}]}}},
        {"record": {"assign": [{"seen": "${list.concat(seen, r)}"}]}},
        {"again": {"switch": [{"condition": "${not r.done}", "next": "poll"}]}},
        {"done": {"return": "${seen}"}},
    ]}}

    assert workflow_runtime.run(source).result() == [{"done": False}, {"done": False, "code": 503}, {"done": True}]

    exhausted = workflow_runtime.run(call_flow("googleapis.x.v1.poll", {}))
    assert exhausted.tags == ["SystemError"]
    assert "used up at call 4" in exhausted.error["message"]
    with pytest.raises(WfCallbacksError, match=r"called 4 times but results= has only 3 outcomes"):
        workflow_runtime.check()


@pytest.mark.workflow_runtime(check_at_teardown=False)  # the test calls check() itself
def test_handler_bug_fails_the_call_and_is_reported(workflow_runtime: WorkflowRuntime) -> None:
    def handler(args: dict[str, Any], call: ConnectorCall) -> Any:
        return args["no such arg"]

    workflow_runtime.connectors.fake("googleapis.x.v1.get", handler)
    workflow_runtime.connectors.fake("googleapis.y.v1.get", lambda args, call: {1: "not a Workflows map"})

    assert workflow_runtime.run(call_flow("googleapis.x.v1.get", {})).tags == ["SystemError"]
    assert workflow_runtime.run(call_flow("googleapis.y.v1.get", {})).tags == ["SystemError"]
    with pytest.raises(WfCallbacksError) as report:
        workflow_runtime.check()
    assert "googleapis.x.v1.get: the handler raised KeyError('no such arg') at " in str(report.value)
    assert "map keys must be strings" in str(report.value)


def test_after_takes_virtual_time_and_the_default_timeout_is_1800(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.slow.v1.ok", returns="done", after=1800)
    workflow_runtime.connectors.fake("googleapis.slow.v1.late", returns="never", after=1800.5)

    ok = workflow_runtime.run(call_flow("googleapis.slow.v1.ok", {}))
    late = workflow_runtime.run(call_flow("googleapis.slow.v1.late", {}))
    raised_late = workflow_runtime.run(call_flow("googleapis.slow.v1.late", {"connector_params": {"timeout": 5}}))

    assert (ok.result(), ok.duration) == ("done", 1800.0)
    assert (late.tags, late.duration) == (["TimeoutError"], 1800.0)
    assert (raised_late.tags, raised_late.duration) == (["TimeoutError"], 5.0)


def test_a_year_long_timeout_is_the_maximum(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.slow.v1.op", returns="done", after=31_536_000)
    year = workflow_runtime.run(call_flow("googleapis.slow.v1.op", {"connector_params": {"timeout": 31_536_000}}))
    assert year.result() == "done"


@pytest.mark.parametrize(("params", "tag", "text"), [
    ({"timeout": 0}, "ValueError", "between 1 and 31536000"),
    ({"timeout": 31_536_001}, "ValueError", "between 1 and 31536000"),
    ({"timeout": "60"}, "TypeError", "timeout must be an integer"),
    ({"timeout": 1.5}, "TypeError", "timeout must be an integer"),
    ({"timeot": 5}, "ValueError", "unknown connector_params timeot"),
    ({"skip_polling": "yes"}, "TypeError", "skip_polling must be a boolean"),
    ({"polling_policy": {"initial_delay": "1"}}, "TypeError", "polling_policy.initial_delay"),
    ({"polling_policy": {"jitter": 1}}, "ValueError", "unknown polling_policy keys jitter"),
    ({"scopes": [1]}, "TypeError", "scopes must be a string or a list"),
    ("fast", "TypeError", "connector_params must be a map"),
])
def test_connector_params_are_checked(workflow_runtime: WorkflowRuntime, params: Any, tag: str, text: str) -> None:
    fake = workflow_runtime.connectors.fake("googleapis.x.v1.get", returns=1)

    execution = workflow_runtime.run(call_flow("googleapis.x.v1.get", {"connector_params": params}))

    assert execution.tags == [tag]
    assert text in execution.error["message"]
    assert fake.call_count == 0


def test_args_must_be_a_map(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.connectors.fake("googleapis.x.v1.get", returns=1)
    execution = workflow_runtime.run(call_flow("googleapis.x.v1.get", ["a", "b"]))
    assert execution.tags == ["TypeError"]


def test_a_call_without_args_gets_an_empty_map(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.connectors.fake("googleapis.x.v1.list", returns=[])
    source = {"main": {"steps": [{"c": {"call": "googleapis.x.v1.list", "result": "r"}}, {"d": {"return": "${r}"}}]}}
    assert workflow_runtime.run(source).result() == []
    assert fake.calls[0].args == {}
    assert fake.calls[0].connector_params == {}


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"name": "http.get"}, "is not a connector name"),
    ({"name": "googleapis.*.get"}, "only at the end"),
    ({"name": ""}, "full dotted name"),
    ({"name": "googleapis.x.v1.get", "returns": 1, "raises": "e"}, "give one of handler, returns=, raises="),
    ({"name": "googleapis.x.v1.get", "after": -1}, "non-negative number of seconds"),
    ({"name": "googleapis.x.v1.get", "returns": {1: 2}}, "map keys must be strings"),
    ({"name": "googleapis.x.v1.get", "results": {"a": 1}}, "takes a list of per-call outcomes"),
    ({"name": "googleapis.x.v1.get", "handler": "not callable"}, "must be callable"),
])
def test_fake_arguments_are_checked(workflow_runtime: WorkflowRuntime, kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(WfCallbacksError, match=text):
        workflow_runtime.connectors.fake(**kwargs)


def test_connector_error_helpers_check_their_input() -> None:
    with pytest.raises(WfCallbacksError, match="HTTP error status"):
        ConnectorError.http(200)
    with pytest.raises(WfCallbacksError, match="not a Workflows value"):
        ConnectorError(object())
    assert ConnectorError.operation("failed").value == {"message": "failed", "tags": ["OperationError"]}


def test_a_fake_without_outcome_returns_null_and_counts(workflow_runtime: WorkflowRuntime) -> None:
    fake = workflow_runtime.connectors.fake("googleapis.storage.v1.buckets.delete")
    assert workflow_runtime.run(call_flow("googleapis.storage.v1.buckets.delete", {"bucket": "b"})).result() is None
    assert (fake.called, fake.call_count, workflow_runtime.connectors.call_count) == (True, 1, 1)
    with pytest.raises(KeyError, match=r"no connector fake registered as 'googleapis\.nope'"):
        workflow_runtime.connectors["googleapis.nope"]


# ---------------------------------------------------------------------------- child executions

CHILD = {"main": {"params": ["args"], "steps": [
    {"check": {"switch": [{"condition": "${args.n < 0}", "raise": {"message": "negative", "tags": ["ValueError"]}}]}},
    {"wait": {"call": "sys.sleep", "args": {"seconds": "${args.n}"}}},
    {"done": {"return": "${args.n * 2}"}},
]}}


def run_child(n: int, *, connector: str = RUN, catch: bool = True, **extra: Any) -> dict[str, Any]:
    return call_flow(connector, {"workflow_id": "child", "argument": {"n": n}, **extra}, catch=catch)


def test_child_execution_result_and_clock(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")

    parent = workflow_runtime.run(run_child(30, project_id="test-project", location="us-central1"))

    assert parent.result() == 60
    (call,) = workflow_runtime.connectors.calls
    assert call.child is not None
    assert call.child in workflow_runtime.executions
    assert call.child.argument == {"n": 30}
    assert call.child.start_time == parent.start_time
    assert parent.duration == call.child.duration == 30.0


def test_failed_child_raises_execution_error(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")

    error = workflow_runtime.run(run_child(-1)).result()["error"]

    assert error["tags"] == ["ExecutionError"]
    assert error["execution"]["state"] == "FAILED"
    assert json.loads(error["execution"]["error"]["payload"]) == {"message": "negative", "tags": ["ValueError"]}
    assert "negative" in error["message"]


def test_uncaught_child_failure_fails_the_parent(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    parent = workflow_runtime.run(run_child(-1, catch=False))
    with pytest.raises(WorkflowFailed) as failed:
        parent.result()
    assert failed.value.tags == ["ExecutionError"]


def test_cancelled_child_raises_execution_error(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    parent = workflow_runtime.execute(run_child(100))
    child = workflow_runtime.connectors.calls[0].child
    assert child is not None
    workflow_runtime.after(10, child.cancel)

    error = parent.result()["error"]

    assert error["tags"] == ["ExecutionError"]
    assert error["execution"]["state"] == "CANCELLED"
    assert parent.duration == 10.0


def test_child_longer_than_the_timeout_raises_timeout_error(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")

    parent = workflow_runtime.run(run_child(2000))
    default_timeout = parent.result()["error"]
    assert default_timeout["tags"] == ["TimeoutError"]
    assert parent.duration == 1800.0

    short = workflow_runtime.run(run_child(50, connector_params={"timeout": 20}))
    assert short.result()["error"]["tags"] == ["TimeoutError"]
    assert short.duration == 20.0


def test_unknown_workflow_is_http_404(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")

    missing = workflow_runtime.run(call_flow(RUN, {"workflow_id": "nope"}, catch=True)).result()["error"]
    other_project = workflow_runtime.run(run_child(1, project_id="other-project")).result()["error"]

    assert missing["code"] == other_project["code"] == 404
    assert "deploy it with workflow_runtime.deploy(source, name='nope')" in missing["message"]
    assert [e.workflow.name for e in workflow_runtime.executions] == ["workflow", "workflow-2"]  # no child started


def test_child_argument_must_be_a_json_value(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    source = call_flow(RUN, {"workflow_id": "child", "argument": "${text.encode('x')}"}, catch=True)
    assert workflow_runtime.run(source).result()["error"]["tags"] == ["TypeError"]


def test_a_fake_wins_over_the_child_execution(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    fake = workflow_runtime.connectors.fake(RUN, lambda args, call: f"faked {args['argument']['n']}")

    assert workflow_runtime.run(run_child(3)).result() == "faked 3"
    assert fake.calls[0].child is None
    assert len(workflow_runtime.executions) == 1


def test_experimental_executions_run_and_map(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    source = {"main": {"steps": [
        {"one": {"call": "experimental.executions.run", "args": ["child", {"n": 4}], "result": "a"}},
        {"many": {"call": "experimental.executions.map",
                  "args": {"workflow_id": "child", "arguments": [{"n": 1}, {"n": 6}, {"n": 2}]}, "result": "b"}},
        {"done": {"return": {"one": "${a}", "many": "${b}"}}},
    ]}}

    execution = workflow_runtime.run(source)

    assert execution.result() == {"one": 8, "many": [2, 12, 4]}
    assert execution.duration == 4.0 + 6.0  # the mapped children run side by side
    assert len(workflow_runtime.connectors.calls[1].children) == 3


def test_experimental_map_fails_when_one_child_fails(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    source = call_flow("experimental.executions.map",
                       {"workflow_id": "child", "arguments": [{"n": 1}, {"n": -1}]}, catch=True)
    assert workflow_runtime.run(source).result()["error"]["tags"] == ["ExecutionError"]


MAP = "experimental.executions.map"


def test_experimental_map_timeout_argument_raises_timeout_error(workflow_runtime: WorkflowRuntime) -> None:
    """The map's own ``timeout`` (float seconds): children that run longer raise TimeoutError at it."""
    workflow_runtime.deploy(CHILD, name="child")
    named = workflow_runtime.run(call_flow(MAP, {"workflow_id": "child", "arguments": [{"n": 5}, {"n": 50}],
                                                 "timeout": 12.5}, catch=True))
    error = named.result()["error"]
    assert error["tags"] == ["TimeoutError"]
    assert "12.5 seconds (the `timeout` argument)" in error["message"]
    assert named.duration == 12.5

    positional = workflow_runtime.run(call_flow(MAP, ["child", [{"n": 5}], 10], catch=True))
    assert positional.result() == [10]  # within its timeout: the results
    assert positional.duration == 5.0


def test_experimental_map_timeout_defaults_to_1800_seconds(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    execution = workflow_runtime.run(call_flow(MAP, {"workflow_id": "child", "arguments": [{"n": 1}, {"n": 2000}]},
                                               catch=True))
    assert execution.result()["error"]["tags"] == ["TimeoutError"]
    assert execution.duration == 1800.0


@pytest.mark.parametrize(("timeout", "tag"), [("60", "TypeError"), (True, "TypeError"), (0, "ValueError"),
                                              (31_536_001, "ValueError")])
def test_experimental_map_timeout_must_be_a_positive_number(workflow_runtime: WorkflowRuntime, timeout: Any,
                                                            tag: str) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    source = call_flow(MAP, {"workflow_id": "child", "arguments": [{"n": 1}], "timeout": timeout}, catch=True)
    assert workflow_runtime.run(source).result()["error"]["tags"] == [tag]
    assert len(workflow_runtime.executions) == 1  # refused before any child started


def test_cancelling_the_parent_leaves_the_child_running(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="child")
    parent = workflow_runtime.execute(run_child(100))
    child = workflow_runtime.connectors.calls[0].child
    assert child is not None

    parent.cancel()

    assert child.result() == 200
    assert parent.state == "CANCELLED"


# ---------------------------------------------------------------------------- teardown report (pytester)


def test_teardown_report_lists_unfaked_connector_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
NAME = "googleapis.firestore.v1.projects.databases.documents.get"
SOURCE = {"main": {"steps": [
    {"read": {"try": {"call": NAME, "args": {"name": "doc"}, "result": "doc"},
              "except": {"as": "e", "steps": [{"fallback": {"return": "default"}}]}}},
]}}

def test_workflow_swallows_the_failure(workflow_runtime):
    assert workflow_runtime.run(SOURCE).result() == "default"
    assert workflow_runtime.run(SOURCE).result() == "default"

def test_faked(workflow_runtime):
    workflow_runtime.connectors.fake(NAME, returns="doc")
    assert workflow_runtime.run({"main": {"steps": [{"read": {"call": NAME, "result": "d"}},
                                                    {"r": {"return": "${d}"}}]}}).result() == "doc"
''')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest()

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_workflow_swallows_the_failure*",
        "*connector calls no fake answered*",
        "*- googleapis.firestore.v1.projects.databases.documents.get: 2 calls, first from execution * step 'read'"
        "*workflow_runtime.connectors.fake('googleapis.firestore.v1.projects.databases.documents.get', returns=...)",
    ])


# ---------------------------------------------------------------------------- hooks for other callers


def test_dispatch_now_answers_calls_made_inside_expressions(workflow_runtime: WorkflowRuntime) -> None:
    """`dispatch_now` is the hook for connector helpers called inside ``${...}`` (they cannot wait)."""
    name = "googleapis.secretmanager.v1.projects.secrets.versions.accessString"
    execution = workflow_runtime.execute({"main": {"steps": [{"nap": {"call": "sys.sleep", "args": {"seconds": 5}}}]}})
    thread = execution._main
    connectors = workflow_runtime.connectors

    fake = connectors.fake(name, lambda args, call: f"secret {args['secret_id']}")
    assert connectors.dispatch_now(thread, name, {"secret_id": "s", "version": "1"}) == "secret s"
    assert fake.calls[0].step == "nap"

    connectors.fake(name, returns="slow", after=1)
    with pytest.raises(WorkflowError) as slow:
        connectors.dispatch_now(thread, name, {})
    assert "cannot wait" in slow.value.value["message"]

    connectors.fake(name, raises=ConnectorError.http(403))
    with pytest.raises(WorkflowError) as denied:
        connectors.dispatch_now(thread, name, {})
    assert denied.value.value["code"] == 403
    assert execution.result() is None


@pytest.mark.workflow_runtime(check_at_teardown=False)  # the unfaked call below is reported on purpose
def test_dispatch_now_without_a_fake_is_reported(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute({"main": {"steps": [{"nap": {"call": "sys.sleep", "args": {"seconds": 5}}}]}})
    with pytest.raises(WorkflowError, match="no connector fake answers"):
        workflow_runtime.connectors.dispatch_now(execution._main, "googleapis.x.v1.get", {})
    assert [line.split(":")[0] for line in workflow_runtime.connectors.problems()[1:]] == ["  - googleapis.x.v1.get"]


def test_use_fakes_of_shares_another_registrys_fakes(workflow_runtime: WorkflowRuntime,
                                                     workflow_server: WorkflowServer) -> None:
    fake = workflow_runtime.connectors.fake("googleapis.x.v1.get", returns="shared")
    with WorkflowRuntime(server=workflow_server) as probe:
        probe.connectors.use_fakes_of(workflow_runtime.connectors)
        assert probe.run(call_flow("googleapis.x.v1.get", {})).result() == "shared"
    assert fake.call_count == 1
    assert workflow_runtime.connectors.calls == []  # calls are recorded on the runtime that made them


def test_connector_calls_appear_in_the_history(workflow_runtime: WorkflowRuntime) -> None:
    from pytest_wfcallbacks import EventKind

    workflow_runtime.connectors.fake("googleapis.pubsub.v1.projects.topics.publish", returns={"messageIds": ["1"]})
    execution = workflow_runtime.run(
        "- p:\n    call: googleapis.pubsub.v1.projects.topics.publish\n"
        "    args: {topic: projects/p/topics/t, body: {messages: []}}\n    result: r\n")
    calls = [e for e in execution.history if e.kind is EventKind.CONNECTOR_CALL]
    assert [(e.step, e.connector) for e in calls] == [("p", "googleapis.pubsub.v1.projects.topics.publish")]
