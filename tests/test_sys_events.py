"""The ``sys`` module and the argument checks of ``events`` (docs/semantics.md §4.1-§4.2), through a runtime."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.stdlib.syslib import SEVERITIES

START = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()  # docs/decisions.md #28: the default virtual start


def call(target: str, args: Any = None, result: bool = True) -> list[dict[str, Any]]:
    """A one-call workflow returning the call's result."""
    step: dict[str, Any] = {"call": target}
    if args is not None:
        step["args"] = args
    if result:
        step["result"] = "out"
    return [{"c": step}, {"r": {"return": "${out}" if result else None}}]


def failed_tag(execution: Any) -> str:
    assert execution.state == "FAILED", execution.value
    tags = execution.error["tags"]
    assert len(tags) == 1
    return str(tags[0])


# ---------------------------------------------------------------- sys.get_env


def test_get_env_built_ins(workflow_runtime: WorkflowRuntime) -> None:
    names = [
        "GOOGLE_CLOUD_PROJECT_ID",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_CLOUD_PROJECT_NUMBER",
        "GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME",
        "GOOGLE_CLOUD_WORKFLOW_ID",
        "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID",
        "GOOGLE_CLOUD_WORKFLOW_REVISION_ID",
    ]
    workflow = workflow_runtime.deploy(
        [{"r": {"return": {name: '${sys.get_env("' + name + '")}' for name in names}}}], name="envflow"
    )
    execution = workflow.run()
    env = execution.value
    settings = workflow_runtime.settings
    assert env["GOOGLE_CLOUD_PROJECT_ID"] == settings.project == "test-project"
    assert env["GOOGLE_CLOUD_LOCATION"] == settings.location == "us-central1"
    assert env["GOOGLE_CLOUD_PROJECT_NUMBER"] == settings.project_number
    assert env["GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME"] == settings.service_account
    assert env["GOOGLE_CLOUD_WORKFLOW_ID"] == "envflow"
    assert env["GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID"] == execution.id
    assert isinstance(env["GOOGLE_CLOUD_WORKFLOW_REVISION_ID"], str)
    assert env["GOOGLE_CLOUD_WORKFLOW_REVISION_ID"]
    # Each execution sees its own id.
    assert workflow.run().value["GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID"] != execution.id


@pytest.mark.workflow_runtime(project="other-project", location="europe-west1", env={"COLOR": "blue", "SIZE": "L"})
def test_get_env_follows_settings_and_deploy_env(workflow_runtime: WorkflowRuntime) -> None:
    source = [
        {
            "r": {
                "return": [
                    '${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}',
                    '${sys.get_env("GOOGLE_CLOUD_LOCATION")}',
                    '${sys.get_env("COLOR")}',
                    '${sys.get_env("SIZE")}',
                ]
            }
        }
    ]
    assert workflow_runtime.run(source).value == ["other-project", "europe-west1", "blue", "L"]
    # deploy(env=...) adds to and overrides the runtime-wide env.
    workflow = workflow_runtime.deploy(source, env={"COLOR": "red"})
    assert workflow.run().value == ["other-project", "europe-west1", "red", "L"]


def test_get_env_unset_and_defaults(workflow_runtime: WorkflowRuntime) -> None:
    source = [{"r": {"return": ['${sys.get_env("NOPE")}', '${sys.get_env("NOPE", "d")}']}}]
    assert workflow_runtime.run(source).value == [None, "d"]
    named = workflow_runtime.run(call("sys.get_env", {"name": "NOPE", "default": "fallback"}))
    assert named.value == "fallback"
    positional = workflow_runtime.run(call("sys.get_env", ["GOOGLE_CLOUD_PROJECT_ID", "x"]))
    assert positional.value == "test-project"


def test_get_env_argument_types(workflow_runtime: WorkflowRuntime) -> None:
    for text in ("sys.get_env(1)", 'sys.get_env("NOPE", 1)', "sys.get_env(null)"):
        execution = workflow_runtime.run([{"r": {"return": "${" + text + "}"}}])
        assert failed_tag(execution) == "TypeError", text


@pytest.mark.parametrize("name", ["GOOGLE_OWN", "WORKFLOWS_X"])
def test_deploy_env_rejects_reserved_names(workflow_runtime: WorkflowRuntime, name: str) -> None:
    with pytest.raises(WorkflowSyntaxError):
        workflow_runtime.deploy([{"r": {"return": 1}}], env={name: "v"})


# ---------------------------------------------------------------- sys.log


def test_log_payload_kinds(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {"a": {"call": "sys.log", "args": {"data": {"k": [1, 2.5]}}}},
            {"b": {"call": "sys.log", "args": {"data": "plain"}}},
            {"c": {"call": "sys.log", "args": {"text": 42}}},
            {"d": {"call": "sys.log", "args": {"text": {"k": True}}}},
            {"e": {"call": "sys.log", "args": {"json": {"n": None}, "severity": "ERROR"}}},
            {"f": {"call": "sys.log", "args": ["${1 + 1}", "WARNING"]}},
            {"g": {"call": "sys.log", "args": {"text": 1.5}}},
        ]
    )
    assert execution.state == "SUCCEEDED", execution.error
    logs = execution.logs
    assert [entry.payload for entry in logs] == [{"k": [1, 2.5]}, "plain", "42", '{"k":true}', {"n": None}, 2, "1.5"]
    assert [entry.severity for entry in logs] == [
        "DEFAULT",
        "DEFAULT",
        "DEFAULT",
        "DEFAULT",
        "ERROR",
        "WARNING",
        "DEFAULT",
    ]
    assert [entry.step for entry in logs] == ["a", "b", "c", "d", "e", "f", "g"]
    assert logs[0].time == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_log_every_severity(workflow_runtime: WorkflowRuntime) -> None:
    steps = [
        {f"s{i}": {"call": "sys.log", "args": {"text": name, "severity": name}}} for i, name in enumerate(SEVERITIES)
    ]
    execution = workflow_runtime.run(steps)
    assert [(entry.severity, entry.payload) for entry in execution.logs] == [(name, name) for name in SEVERITIES]
    assert set(SEVERITIES) == {
        "DEFAULT",
        "DEBUG",
        "INFO",
        "NOTICE",
        "WARNING",
        "ERROR",
        "CRITICAL",
        "ALERT",
        "EMERGENCY",
    }


@pytest.mark.parametrize(
    ("args", "tag"),
    [
        ({"severity": "INFO"}, "TypeError"),  # no payload
        ({"text": "a", "json": {"b": 1}}, "TypeError"),  # two payloads
        ({"data": 1, "text": "a"}, "TypeError"),
        ({"data": None}, "TypeError"),  # null is no payload
        ({"json": "not a map"}, "TypeError"),
        ({"data": '${text.encode("x")}'}, "TypeError"),  # bytes cannot be logged
        ({"text": "a", "severity": "LOUD"}, "ValueError"),
        ({"text": "a", "severity": 3}, "TypeError"),
        ({"text": "a", "timeout": -1}, "ValueError"),
    ],
)
def test_log_argument_errors(workflow_runtime: WorkflowRuntime, args: dict[str, Any], tag: str) -> None:
    execution = workflow_runtime.run([{"l": {"call": "sys.log", "args": args}}])
    assert failed_tag(execution) == tag
    assert execution.logs == []


def test_log_is_call_step_only(workflow_runtime: WorkflowRuntime) -> None:
    with pytest.raises(WorkflowSyntaxError, match="blocking"):
        workflow_runtime.deploy([{"r": {"return": '${sys.log("x")}'}}])
    with pytest.raises(WorkflowSyntaxError, match="loudness"):
        workflow_runtime.deploy([{"l": {"call": "sys.log", "args": {"text": "x", "loudness": 3}}}])


# ---------------------------------------------------------------- sys.now


def test_now_is_virtual_time(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {"a": {"assign": [{"t0": "${sys.now()}"}]}},
            {"s": {"call": "sys.sleep", "args": {"seconds": 5}}},
            {"b": {"call": "sys.now", "result": "t1"}},
            {"r": {"return": ["${t0}", "${t1}", "${get_type(t0)}"]}},
        ]
    )
    t0, t1, kind = execution.value
    assert (t0, t1, kind) == (START, START + 5, "double")
    assert workflow_runtime.clock.time() == START + 5


@pytest.mark.workflow_runtime(start_time=datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc))
def test_now_follows_start_time(workflow_runtime: WorkflowRuntime) -> None:
    value = workflow_runtime.run([{"r": {"return": "${sys.now()}"}}]).value
    assert value == datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc).timestamp()


# ---------------------------------------------------------------- sys.sleep


@pytest.mark.parametrize("seconds", [0, 10, 0.5, 86400 * 30])
def test_sleep_moves_virtual_time(workflow_runtime: WorkflowRuntime, seconds: float) -> None:
    execution = workflow_runtime.run(call("sys.sleep", {"seconds": seconds}))
    assert execution.state == "SUCCEEDED"
    assert execution.value is None
    assert execution.duration == seconds
    assert workflow_runtime.clock.time() == START + seconds


@pytest.mark.parametrize(
    ("seconds", "tag"),
    [
        (-1, "ValueError"),
        (-0.001, "ValueError"),
        (31_536_000.5, "ValueError"),
        (10**9, "ValueError"),
        ("10", "TypeError"),
        (True, "TypeError"),
        (None, "TypeError"),
    ],
)
def test_sleep_argument_errors(workflow_runtime: WorkflowRuntime, seconds: Any, tag: str) -> None:
    execution = workflow_runtime.run(call("sys.sleep", [seconds]))
    assert failed_tag(execution) == tag
    assert workflow_runtime.clock.time() == START


# ---------------------------------------------------------------- sys.sleep_until


def test_sleep_until_an_instant(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {"s": {"call": "sys.sleep_until", "args": {"time": "2026-01-01T00:00:10.123456Z"}}},
            {"r": {"return": "${sys.now()}"}},
        ]
    )
    assert execution.value == START + 10.123456
    assert execution.duration == 10.123456


def test_sleep_until_with_an_offset(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(call("sys.sleep_until", ["2026-01-01T02:00:00+02:00"], result=False))
    assert execution.state == "SUCCEEDED"
    assert execution.duration == 0  # 02:00 at +02:00 is the start instant itself
    execution = workflow_runtime.run(call("sys.sleep_until", ["2026-01-01T01:00:00+00:30"], result=False))
    assert execution.duration == 1800


def test_sleep_until_the_past_returns_at_once(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(call("sys.sleep_until", {"time": "2020-05-01T00:00:00Z"}))
    assert execution.state == "SUCCEEDED"
    assert execution.duration == 0
    assert workflow_runtime.clock.time() == START


@pytest.mark.parametrize(
    ("time", "tag"),
    [
        (1767225700, "TypeError"),  # a number, not a string
        (1767225700.5, "TypeError"),
        (None, "TypeError"),
        ("tomorrow", "ValueError"),
        ("2026-01-01 00:00:10", "ValueError"),  # no offset, no T
        ("2026-02-30T00:00:00Z", "ValueError"),
        ("2027-01-02T00:00:00Z", "ValueError"),  # more than one year ahead
    ],
)
def test_sleep_until_argument_errors(workflow_runtime: WorkflowRuntime, time: Any, tag: str) -> None:
    execution = workflow_runtime.run(call("sys.sleep_until", [time]))
    assert failed_tag(execution) == tag
    assert workflow_runtime.clock.time() == START


def test_sleeps_are_call_step_only(workflow_runtime: WorkflowRuntime) -> None:
    for text in ("sys.sleep(1)", 'sys.sleep_until("2026-01-01T00:00:10Z")'):
        with pytest.raises(WorkflowSyntaxError, match="blocking"):
            workflow_runtime.deploy([{"r": {"return": "${" + text + "}"}}])


# ---------------------------------------------------------------- events: argument checks


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_create_callback_endpoint_methods(workflow_runtime: WorkflowRuntime, method: str) -> None:
    execution = workflow_runtime.run(call("events.create_callback_endpoint", {"http_callback_method": method}))
    assert execution.state == "SUCCEEDED"
    assert execution.value["url"].startswith("http://127.0.0.1:")
    assert execution.callbacks[0].method == method


def test_create_callback_endpoint_defaults_to_post(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(call("events.create_callback_endpoint"))
    assert execution.callbacks[0].method == "POST"


@pytest.mark.parametrize(
    ("method", "tag"),
    [("FETCH", "ValueError"), ("post", "ValueError"), ("", "ValueError"), (1, "TypeError"), (["POST"], "TypeError")],
)
def test_create_callback_endpoint_bad_method(workflow_runtime: WorkflowRuntime, method: Any, tag: str) -> None:
    """A literal bad method fails at deploy (issue 12); the same value computed fails at run time."""
    with pytest.raises(WorkflowSyntaxError, match="http_callback_method must be one of"):
        workflow_runtime.deploy(call("events.create_callback_endpoint", [method]))
    computed = [{"m": {"assign": [{"method": method}]}}, *call("events.create_callback_endpoint", ["${method}"])]
    execution = workflow_runtime.run(computed)
    assert failed_tag(execution) == tag
    assert execution.callbacks == []


@pytest.mark.parametrize(
    ("callback", "timeout", "tag"),
    [
        ({}, 10, "ValueError"),  # no url
        ({"url": 1}, 10, "TypeError"),
        ("http://127.0.0.1/cb", 10, "TypeError"),  # not a map
        (None, 10, "TypeError"),
        ({"url": "http://127.0.0.1:1/v1/nope"}, 10, "ValueError"),  # not an endpoint of this execution
        ("${cb}", "10", "TypeError"),
        ("${cb}", -1, "ValueError"),
        ("${cb}", True, "TypeError"),
    ],
)
def test_await_callback_argument_errors(
    workflow_runtime: WorkflowRuntime, callback: Any, timeout: Any, tag: str
) -> None:
    execution = workflow_runtime.run(
        [
            {"c": {"call": "events.create_callback_endpoint", "result": "cb"}},
            {"a": {"call": "events.await_callback", "args": {"callback": callback, "timeout": timeout}}},
        ]
    )
    assert failed_tag(execution) == tag
    assert execution.duration == 0


def test_await_callback_timeout_default_and_expiry(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {"c": {"call": "events.create_callback_endpoint", "result": "cb"}},
            {"a": {"call": "events.await_callback", "args": {"callback": "${cb}"}}},
        ]
    )
    assert failed_tag(execution) == "TimeoutError"
    assert execution.duration == 43200  # 12 hours of virtual time (docs/decisions.md #23)
    execution = workflow_runtime.run(
        [
            {"c": {"call": "events.create_callback_endpoint", "result": "cb"}},
            {"a": {"call": "events.await_callback", "args": ["${cb}", 2.5]}},
        ]
    )
    assert failed_tag(execution) == "TimeoutError"
    assert execution.duration == 2.5


def test_events_are_call_step_only(workflow_runtime: WorkflowRuntime) -> None:
    for text in ("events.create_callback_endpoint()", 'events.await_callback({"url": "x"})'):
        with pytest.raises(WorkflowSyntaxError, match="blocking"):
            workflow_runtime.deploy([{"r": {"return": "${" + text + "}"}}])
    with pytest.raises(WorkflowSyntaxError, match="method"):
        workflow_runtime.deploy([{"c": {"call": "events.create_callback_endpoint", "args": {"method": "GET"}}}])
