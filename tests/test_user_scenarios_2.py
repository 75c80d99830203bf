"""Second black-box hunt: scenarios a user writes, on the areas the first hunt covered least.

The standalone server driven by a non-Python client (plain HTTP and JSON, the way curl or a Go
service calls it), the ``run`` command's exit statuses and output, racy workflows under random
schedules, callbacks awaited by children started through the executions connector, deploy-time
errors in broken copies of the official samples, and large loads (100,000 steps, a 2 MB callback
body, 500 executions, 200 callbacks on one endpoint).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from pytest_wfcallbacks import EventKind, WorkflowRuntime, WorkflowSyntaxError, assert_callback_response
from pytest_wfcallbacks.cli import main

from .conftest import official_samples

ROOT = Path(__file__).resolve().parent.parent
PARENT = "/v1/projects/test-project/locations/us-central1"
TIMEOUT = 30


# ------------------------------------------------------------------ wfcallbacks serve, driven over plain HTTP
def _lines(stream: IO[str]) -> queue.Queue[str]:
    """Lines of a pipe, read on a thread so the test waits with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _poll(http: httpx.Client, path: str, done: str, deadline: float) -> dict[str, object]:
    """GET ``path`` until its ``state`` is ``done`` (or the deadline passes); return the last body."""
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = http.get(path).json()
        if body.get("state") == done:
            return body
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {done}: {body}")


def _serve_client_flow(http: httpx.Client, base: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    # Deploy through the Workflows API, the way a CI script would, then start an execution.
    source = ("main:\n  params: [order]\n  steps:\n"
              "    - make:\n        call: events.create_callback_endpoint\n"
              "        args: {http_callback_method: GET}\n        result: cb\n"
              "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}, timeout: 600}\n"
              "        result: req\n"
              "    - done:\n        return: {order: ${order.id}, query: ${req.http_request.query}}\n")
    deployed = http.post(f"{PARENT}/workflows", params={"workflowId": "approve"}, json={"sourceContents": source})
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["done"] is True
    assert http.post(f"{PARENT}/workflows", params={"workflowId": "approve"},
                     json={"sourceContents": source}).json()["error"]["status"] == "ALREADY_EXISTS"
    broken = http.post(f"{PARENT}/workflows", params={"workflowId": "broken"},
                       json={"sourceContents": "- a:\n    next: nowhere\n"})
    assert broken.status_code == 400
    assert ":2:11" in broken.json()["error"]["message"]
    assert "nowhere" in broken.json()["error"]["message"]

    # The argument is a JSON *string*; a map there is the classic client mistake and is refused.
    wrong = http.post(f"{PARENT}/workflows/approve/executions", json={"argument": {"id": "o-1"}})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["status"] == "INVALID_ARGUMENT"
    missing = http.post(f"{PARENT}/workflows/nope/executions", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"

    created = http.post(f"{PARENT}/workflows/approve/executions", json={"argument": '{"id": "o-1"}'}).json()
    assert created["state"] == "ACTIVE"
    assert json.loads(created["argument"]) == {"id": "o-1"}
    name = created["name"]
    callbacks: list[dict[str, Any]] = []
    while not callbacks and time.monotonic() < deadline:
        callbacks = http.get(f"/v1/{name}/callbacks").json()["callbacks"]
        time.sleep(0.02)
    (callback,) = callbacks
    # docs/semantics.md §6.3: name with singular `callback`, waiters an int64 as a string, payload list.
    assert set(callback) == {"name", "method", "waiters", "availablePayloads"}
    assert "/callback/" in callback["name"]
    assert callback["method"] == "GET"
    while callback["waiters"] != "1" and time.monotonic() < deadline:
        (callback,) = http.get(f"/v1/{name}/callbacks").json()["callbacks"]
    assert callback["availablePayloads"] == []
    url = base + "/v1/" + callback["name"].replace("/callback/", "/callbacks/")
    assert http.post(url).json()["error"]["status"] == "NOT_FOUND"  # a GET endpoint
    answered = http.get(url, params=[("ok", "yes"), ("by", "ann"), ("by", "bob")])
    assert answered.status_code == 200
    assert answered.json() == {}
    done = _poll(http, f"/v1/{name}", "SUCCEEDED", deadline)
    assert json.loads(str(done["result"])) == {"order": "o-1", "query": {"ok": ["yes"], "by": ["ann", "bob"]}}
    assert http.get(url).status_code == 404
    assert http.get(f"/v1/{name}/callbacks").json() == {"callbacks": []}

    # Cancel a second execution while it waits; the list view is BASIC unless asked for FULL.
    second = http.post(f"{PARENT}/workflows/approve/executions", json={"argument": '{"id": "o-2"}'}).json()
    cancelled = http.post(f"/v1/{second['name']}:cancel", json={}).json()
    assert cancelled["state"] == "CANCELLED"
    assert "CancelledError" in cancelled["error"]["payload"]
    again = http.post(f"/v1/{second['name']}:cancel", json={})
    assert again.status_code == 400
    assert again.json()["error"]["status"] == "FAILED_PRECONDITION"
    listed = http.get(f"{PARENT}/workflows/approve/executions").json()["executions"]
    assert {e["state"] for e in listed} == {"SUCCEEDED", "CANCELLED"}
    assert all("result" not in e and "argument" not in e for e in listed)
    full = http.get(f"{PARENT}/workflows/approve/executions", params={"view": "FULL"}).json()["executions"]
    assert sorted(json.loads(e["argument"])["id"] for e in full) == ["o-1", "o-2"]
    page = http.get(f"{PARENT}/workflows/approve/executions", params={"pageSize": 1}).json()
    assert len(page["executions"]) == 1
    assert page["nextPageToken"]


def test_serve_drives_deploy_execute_callback_poll_and_cancel_over_plain_http(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "pytest_wfcallbacks", "serve", str(tmp_path), "--port", "0"],
                               env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        _lines(process.stderr)  # keep the pipe drained
        stdout = _lines(process.stdout)
        first = stdout.get(timeout=TIMEOUT)
        assert first.startswith("wfcallbacks serving http://127.0.0.1:"), first
        base = first.split()[-1]
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
            _serve_client_flow(http, base)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)


# ------------------------------------------------------------------ wfcallbacks run: what a person sees
def test_run_prints_the_result_or_the_error_as_json_with_exit_statuses(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    greet = tmp_path / "greet.yaml"
    greet.write_text("main:\n  params: [who]\n  steps:\n"
                     "    - nap:\n        call: sys.sleep\n        args: {seconds: 86400}\n"
                     "    - out:\n        return: {hello: '${who.name}', n: 2.0, s: 'héllo'}\n")
    assert main(["run", str(greet), "--argument", '{"name": "Ada"}']) == 0
    out, err = capsys.readouterr()
    assert out == '{"hello":"Ada","n":2.0,"s":"héllo"}\n'  # compact, doubles keep .0, UTF-8 as is
    assert "(virtual time)" in err

    assert main(["run", str(greet), "--argument", "Ada"]) == 2  # a bare word is not JSON
    assert "--argument is not valid JSON" in capsys.readouterr().err
    assert main(["run", str(greet)]) == 1  # no argument: `who` is null, null.name is an error
    out, err = capsys.readouterr()
    assert "TypeError" in json.loads(out)["tags"]
    assert "FAILED in step 'out'" in err
    assert main(["run", str(tmp_path / "absent.yaml")]) == 2
    assert "workflow file not found" in capsys.readouterr().err


# ------------------------------------------------------------------ random schedules on racy workflows
COUNTER = """
main:
  steps:
    - init:
        assign:
          - total: 0
    - add_all:
        parallel:
          shared: [total]
          for:
            value: i
            range: [1, 5]
            steps:
              - read:
                  assign:
                    - seen: ${total}
              - write:
                  assign:
                    - total: ${seen + i}
    - done:
        return: ${total}
"""

ATOMIC_COUNTER = COUNTER.replace(
    "              - read:\n                  assign:\n                    - seen: ${total}\n"
    "              - write:\n                  assign:\n                    - total: ${seen + i}",
    "              - add:\n                  assign:\n                    - total: ${total + i}")


def test_explore_finds_lost_updates_and_each_seed_replays_its_outcome(workflow_runtime: WorkflowRuntime) -> None:
    outcomes = workflow_runtime.explore(COUNTER, runs=30)
    values = {o.value for o in outcomes}
    assert 15 in values
    assert len(values) >= 5
    assert all(1 <= v < 15 for v in values - {15})
    for outcome in outcomes:
        with WorkflowRuntime(server=workflow_runtime._server, seed=outcome.seed, schedule="random") as replay:
            assert replay.run(COUNTER).value == outcome.value
    # One assign step is atomic (the official parallel_aggregate sample relies on it).
    assert [o.value for o in workflow_runtime.explore(ATOMIC_COUNTER, runs=15)] == [15]


APPROVERS = """
main:
  steps:
    - make:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: {}
    - both:
        parallel:
          shared: [got]
          branches:
            - legal:
                steps:
                  - wait_legal:
                      call: events.await_callback
                      args: {callback: ${cb}, timeout: 100}
                      result: r
                  - keep_legal:
                      assign:
                        - got.legal: ${r.http_request.body.n}
            - finance:
                steps:
                  - wait_finance:
                      call: events.await_callback
                      args: {callback: ${cb}, timeout: 100}
                      result: r
                  - keep_finance:
                      assign:
                        - got.finance: ${r.http_request.body.n}
    - done:
        return: ${got}
"""


@pytest.mark.parametrize("seed", range(6))
def test_two_branches_on_one_endpoint_get_each_payload_once_under_any_seed(workflow_server: object,
                                                                           seed: int) -> None:
    with WorkflowRuntime(server=workflow_server, seed=seed, schedule="random") as runtime:
        execution = runtime.execute(APPROVERS)
        callback = execution.wait_for_callback()
        execution.wait_until_awaiting(callback)
        assert callback.send(json={"n": 1}).status_code == 200
        assert callback.send(json={"n": 2}).status_code == 200
        got = execution.result()
        assert sorted(got.values()) == [1, 2]
        assert set(got) == {"legal", "finance"}
        # The first request goes to the await_callback call made first (docs/decisions.md #1), whatever
        # order the branches entered their steps in.
        first = next(h.step for h in execution.history if h.kind is EventKind.CALLBACK_AWAITED)
        assert first is not None
        assert got[first.removeprefix("wait_")] == 1


# ------------------------------------------------------------------ child executions that await callbacks
CHILD = """
main:
  params: [item]
  steps:
    - make:
        call: events.create_callback_endpoint
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: ${cb}, timeout: 3600}
        result: req
    - out:
        return: ${item + ":" + req.http_request.body.verdict}
"""

PARENT_FLOW = """
main:
  steps:
    - fan_out:
        call: experimental.executions.map
        args:
          workflow_id: review
          arguments: ["a", "b"]
        result: verdicts
    - one_more:
        call: googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run
        args: {workflow_id: review, argument: "c"}
        result: last
    - done:
        return: ${list.concat(verdicts, last)}
"""


def test_children_started_by_connectors_await_their_own_callbacks(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.deploy(CHILD, name="review")
    parent = workflow_runtime.execute(PARENT_FLOW)
    children = [e for e in workflow_runtime.executions if e is not parent]
    assert len(children) == 2
    assert all(c.workflow.name == "review" for c in children)
    children[1].callbacks[0].send_after(30, json={"verdict": "no"})
    children[0].callbacks[0].send_after(60, json={"verdict": "ok"})
    workflow_runtime.clock.advance(60)
    third = [e for e in workflow_runtime.executions if e is not parent and e not in children]
    assert len(third) == 1
    third[0].wait_for_callback().send(json={"verdict": "late"})
    assert parent.result() == ["a:ok", "b:no", "c:late"]
    assert parent.duration == 60


# ------------------------------------------------------------------ deploy errors in broken official samples
def _sample(name: str) -> str:
    return (official_samples() / f"{name}.workflows.yaml").read_text()


BROKEN = [
    ("error_catch", "next: url_not_found", "next: url_not_fund", "jumps to 'url_not_fund'",
     "did you mean 'url_not_found'?"),
    ("error_catch", "      as: e\n      steps:\n", "      as: e\n      step:\n",
     "unknown key 'step' in `except` (did you mean 'steps'?)", "main/read_item"),
    ("error_retry_custom", "max_retries", "max_retry", "unknown key 'max_retry' in `retry`", "max_retries"),
    ("error_retry_custom", "multiplier", "multipler", "unknown key 'multipler' in `backoff`", "multiplier"),
    ("subworkflow", '          input: "Kristof"', '          name: "Kristof"', "has no parameter 'name'",
     "parameters: input"),
    ("subworkflow", "        call: hello", "        call: helo", "unknown function or subworkflow 'helo'",
     "did you mean 'hello'?"),
    ("step_conditional_jump", "    call: http.get\n    args:\n      url: https://www.example.com/callA",
     "    call: http.get\n  args:\n    url: https://www.example.com/callA", "stands beside the step name",
     "indent it under 'first_step'"),
    ("step_conditional_jump", "${first_result.body.SomeField < 10}", '${"a: " + first_result.body.SomeField}',
     "mapping values are not allowed here", "quote expressions"),
    ("step_conditional_jump", "    next: large", "\tnext: large", "indent with spaces, not tabs", "\\t"),
    ("step_conditional_jump", "${first_result.body.SomeField < 10}", '${http.get("https://x").body.a < 10}',
     "http.get is a blocking function", "call it from a call step"),
    ("dictionary", '      - dynamicKey: "MiddleName"', '      - dynamicKey: "MiddleName"\n      - m: {}\n      - m[${dynamicKey}]: 1',
     "invalid assignment target 'm[${dynamicKey}]'", "main/createMap"),
]


@pytest.mark.official_samples
@pytest.mark.parametrize(("sample", "old", "new", "message", "hint"), BROKEN,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_broken_official_samples_fail_at_deploy_with_the_line_and_a_fix(
        workflow_runtime: WorkflowRuntime, sample: str, old: str, new: str, message: str, hint: str) -> None:
    source = _sample(sample)
    assert old in source
    broken = source.replace(old, new, 1)
    workflow_runtime.deploy(source)  # the sample itself deploys
    with pytest.raises(WorkflowSyntaxError) as caught:
        workflow_runtime.deploy(broken)
    text = str(caught.value)
    assert message in text
    assert hint in text
    changed = next(i for i, (a, b) in enumerate(zip(source.splitlines(), broken.splitlines(), strict=False)) if a != b)
    line = caught.value.line
    assert line is not None, text
    assert changed - 1 <= line <= changed + 3, (line, changed + 1, text)


# ------------------------------------------------------------------ long and large
LOOP = """
main:
  params: [n]
  steps:
    - init:
        assign:
          - total: 0
    - loop:
        for:
          value: i
          range: ${[1, n]}
          steps:
            - add:
                assign:
                  - total: ${total + i}
            - note:
                assign:
                  - last: ${i}
    - done:
        return: ${total}
"""


def test_fifty_thousand_two_step_iterations_hit_the_default_step_limit(workflow_runtime: WorkflowRuntime) -> None:
    # No wall-time assertion here (it failed on a loaded machine); bench/steps.py measures speed.
    over = workflow_runtime.run(LOOP, 50_000)  # init + loop + 100,000 body steps > 100,000
    assert over.state == "FAILED"
    assert over.error["tags"] == ["ResourceLimitError"]
    assert "100000 steps" in over.error["message"]


@pytest.mark.workflow_runtime(limits={"steps": 1000})
def test_the_step_limit_counts_every_step_entered(workflow_runtime: WorkflowRuntime) -> None:
    # init, loop, 2 per iteration, done: 2 + 2n + 1 steps.
    assert workflow_runtime.run(LOOP, 498).value == 498 * 499 // 2  # 999 steps
    assert workflow_runtime.run(LOOP, 499).error["tags"] == ["ResourceLimitError"]  # 1001 steps


def test_a_large_callback_body_is_accepted_up_to_the_limit_then_refused(workflow_runtime: WorkflowRuntime) -> None:
    source = ("main:\n  steps:\n    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
              "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}}\n"
              "        result: req\n    - out:\n        return: ${len(req.http_request.body.blob)}\n")
    execution = workflow_runtime.execute(source)
    callback = execution.wait_for_callback()
    assert_callback_response(callback.send(json={"blob": "x" * 2_000_000}), 413)
    assert callback.send(json={"blob": "x" * 1_000_000}).status_code == 200  # under 1 MiB: accepted...
    execution.wait()
    assert execution.state == "FAILED"  # ...but more than the 512 KB of variable memory
    assert execution.error["tags"] == ["ResourceLimitError"]
    assert "memory" in execution.error["message"]
    small = workflow_runtime.execute(source)
    small.wait_for_callback().send(json={"blob": "y" * 200_000})
    assert small.result() == 200_000


def test_five_hundred_approvals_in_one_test(workflow_runtime: WorkflowRuntime) -> None:
    workflow = workflow_runtime.deploy(ROOT / "examples" / "workflows" / "basic_callback.yaml")
    executions = [workflow.execute() for _ in range(500)]
    with httpx.Client(trust_env=False) as http:
        for number, execution in enumerate(executions):
            assert http.get(execution.callbacks[0].url, params={"n": str(number)}).status_code == 200
    assert [e.result()["query"]["n"] for e in executions] == [[str(n)] for n in range(500)]
    assert len({e.id for e in executions}) == 500


COLLECT = """
main:
  params: [n]
  steps:
    - make:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - total: 0
    - loop:
        for:
          value: i
          range: ${[1, n]}
          steps:
            - wait:
                call: events.await_callback
                args: {callback: ${cb}, timeout: 10}
                result: r
            - add:
                assign:
                  - total: ${total + r.http_request.body.n}
    - done:
        return: ${total}
"""


def test_two_hundred_callbacks_on_one_endpoint(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(COLLECT, 200)
    callback = execution.wait_for_callback()
    with httpx.Client(trust_env=False) as http:
        for n in range(1, 201):
            execution.wait_until_awaiting(callback)
            assert http.post(callback.url, json={"n": n}).status_code == 200
    assert execution.result() == 200 * 201 // 2
    assert callback.responses == [200] * 200


def test_a_sender_that_does_not_wait_gets_429_after_the_slot_fills(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(COLLECT, 200)
    callback = execution.wait_for_callback()
    codes = [callback.send(json={"n": n}).status_code for n in range(1, 21)]
    assert codes == [200, 200] + [429] * 18  # one waiting await + the one stored slot
    execution.wait()
    assert execution.error["tags"] == ["TimeoutError"]
    assert execution.duration == 10  # the third await found nothing for its 10 s
