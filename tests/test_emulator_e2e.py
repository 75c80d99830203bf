"""``wfcallbacks serve`` as a user runs it: a subprocess on a free port, driven only over HTTP."""

from __future__ import annotations

import queue
import signal
import time

import httpx

from .serve_support import PARENT, TIMEOUT
from .test_cli import line_reader, start, wait_for_line


def flow(word: str) -> str:
    return ("main:\n  steps:\n"
            "    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
            "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}, timeout: 60}\n"
            f"    - done:\n        return: {word}\n")


def test_edit_a_workflow_then_time_out_an_await_by_moving_the_clock_over_http(tmp_path):
    path = tmp_path / "approve.yaml"
    path.write_text(flow("first"))
    process = start("serve", str(tmp_path), "--port", "0", "--time", "virtual")
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        log: list[str] = []
        errors = line_reader(process.stderr)
        base = wait_for_line(line_reader(process.stdout), "wfcallbacks serving ", []).split()[-1]
        with httpx.Client(base_url=base, trust_env=False, timeout=TIMEOUT) as http:

            def start_execution() -> str:
                created = http.post(f"{PARENT}/workflows/approve/executions", json={})
                assert created.status_code == 200, created.text
                return str(created.json()["name"])

            def callback_url(name: str) -> str:
                assert http.post("/emulator/v1/executions:runUntilIdle").status_code == 200
                (callback,) = http.get(f"/v1/{name}/callbacks").json()["callbacks"]
                return base + "/v1/" + callback["name"].replace("/callback/", "/callbacks/")

            old = start_execution()
            old_revision = http.get(f"/v1/{old}").json()["workflowRevisionId"]

            path.write_text(flow("second"))  # the edit: no restart
            wait_for_line(errors, "workflow approve deployed: revision ", log)
            new_revision = http.get(f"{PARENT}/workflows/approve").json()["revisionId"]
            assert new_revision != old_revision
            new = start_execution()
            assert http.get(f"/v1/{new}").json()["workflowRevisionId"] == new_revision

            for name in (old, new):
                assert http.post(callback_url(name), json={}).status_code == 200
            http.post("/emulator/v1/executions:runUntilIdle")
            assert http.get(f"/v1/{old}").json()["result"] == '"first"'  # kept the revision it started with
            assert http.get(f"/v1/{new}").json()["result"] == '"second"'

            waiting = start_execution()
            callback_url(waiting)  # it is awaiting now, with a 60 s timeout
            clock = http.post("/emulator/v1/clock:advance", json={"seconds": 61}).json()
            assert clock["now"] == "2026-01-01T00:01:01Z"
            timed_out = http.get(f"/v1/{waiting}").json()
            assert timed_out["state"] == "FAILED"
            assert "await_callback timed out" in timed_out["error"]["payload"]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not any("wfcallbacks: stopped" in line for line in log) and time.monotonic() < deadline:
            try:
                log.append(errors.get(timeout=0.1))
            except queue.Empty:  # the pump may still be draining the pipe
                continue
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    assert process.returncode == 0
    assert any("wfcallbacks: stopped" in line for line in log), "".join(log)
