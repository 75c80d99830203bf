"""The ``wfcallbacks`` command line: run, serve, validate (subprocesses are bounded by timeouts)."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.cli import EXIT_DEPLOY, Driver, build_parser, cmd_serve, main

ROOT = Path(__file__).resolve().parent.parent
BASIC = ROOT / "examples" / "workflows" / "basic_callback.yaml"
PARENT = "/v1/projects/test-project/locations/us-central1"
TIMEOUT = 30


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "pytest_wfcallbacks", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def line_reader(stream: io.TextIOBase) -> queue.Queue[str]:
    """Lines of a pipe, read on a thread so the test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str], prefix: str, seen: list[str]) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        seen.append(line)
        if prefix in line:
            return line
    raise AssertionError(f"no line containing {prefix!r} within {TIMEOUT}s; got:\n{''.join(seen)}")


def test_run_prints_the_callback_url_and_a_curl_like_request_finishes_it():
    process = start("run", str(BASIC), "--time", "real", "--auth", "s3cret")
    try:
        assert process.stderr is not None
        seen: list[str] = []
        lines = line_reader(process.stderr)
        line = wait_for_line(lines, "callback GET ", seen)
        url = line.split("callback GET ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert "/callbacks/" in url
        with httpx.Client(trust_env=False, timeout=10) as http:
            assert http.get(url).status_code == 401  # --auth: a request without the token is refused
            assert http.get(url, params={"who": "me"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        wait_for_line(lines, "Received ", seen)  # the second sys.log line, after the request
        out, _ = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    assert process.returncode == 0, "".join(seen)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["method"] == "GET"
    assert result["query"] == {"who": ["me"]}
    # sys.log lines are streamed, in the order the events happened: the callback, then the log naming it
    order = [i for i, text in enumerate(seen) if "callback GET " in text or "Listening for callbacks on" in text]
    assert [("callback GET " in seen[i]) for i in order] == [True, False]


def test_serve_answers_the_apis_and_callbacks_until_sigterm(tmp_path):
    (tmp_path / "approve.yaml").write_text(
        "main:\n  params: [args]\n  steps:\n"
        "    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
        "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}, timeout: 60}\n"
        "        result: req\n"
        "    - done:\n        return: ${args.n + req.http_request.body.n}\n")
    process = start("serve", str(tmp_path), "--port", "0")
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line_reader(process.stderr)  # keep the pipe drained
        base = wait_for_line(line_reader(process.stdout), "wfcallbacks serving ", []).split()[-1]
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
            created = http.post(f"{PARENT}/workflows/approve/executions", json={"argument": '{"n": 40}'})
            assert created.status_code == 200, created.text
            name = created.json()["name"]
            callbacks: list[dict[str, str]] = []
            deadline = time.monotonic() + TIMEOUT
            while not callbacks and time.monotonic() < deadline:  # the server's loop runs the execution
                time.sleep(0.02)
                callbacks = http.get(f"/v1/{name}/callbacks").json()["callbacks"]
            (callback,) = callbacks
            url = base + "/v1/" + callback["name"].replace("/callback/", "/callbacks/")
            assert http.post(url, json={"n": 2}).status_code == 200
            state = ""
            while state not in ("SUCCEEDED", "FAILED") and time.monotonic() < deadline:
                time.sleep(0.02)
                body = http.get(f"/v1/{name}").json()
                state = body["state"]
            assert state == "SUCCEEDED"
            assert body["result"] == "42"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    assert process.returncode == 0


def test_validate_good_and_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("main:\n  steps:\n    - first:\n        call: no.such.function\n")
    assert main(["validate", str(BASIC), str(ROOT / "examples" / "workflows" / "basic_callback.json")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "2 file(s) ok" in err
    failed = subprocess.run([sys.executable, "-m", "pytest_wfcallbacks", "validate", str(BASIC), str(bad),
                             str(tmp_path / "missing.yaml")],
                            check=False, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:4:15: ")
    assert "no.such.function" in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'missing.yaml'}:0:0: ")


def test_run_exit_statuses(tmp_path, capsys):
    failing = tmp_path / "failing.yaml"
    failing.write_text("main:\n  steps:\n    - boom:\n        raise: {message: nope, code: 3}\n")
    assert main(["run", str(failing)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {"message": "nope", "code": 3}
    assert "FAILED" in err
    assert "boom" in err

    broken = tmp_path / "broken.yaml"
    broken.write_text("main:\n  steps:\n    - x:\n        nextt: end\n")
    assert main(["run", str(broken)]) == 2
    assert f"{broken}:4:" in capsys.readouterr().err

    assert main(["run", str(failing), "--argument", "{nope"]) == 2
    assert "--argument is not valid JSON" in capsys.readouterr().err


def test_run_virtual_time_skips_sleeps_but_awaits_in_real_time(tmp_path, capsys):
    workflow = tmp_path / "slow.yaml"
    workflow.write_text(
        "main:\n  params: [args]\n  steps:\n"
        "    - nap:\n        call: sys.sleep\n        args: {seconds: 86400}\n"
        "    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
        "    - wait:\n        try:\n          call: events.await_callback\n"
        "          args: {callback: ${cb}, timeout: 0.3}\n"
        "        except:\n          as: e\n          steps:\n            - out:\n"
        "                return: ${args.label + \" \" + e.tags[0]}\n")
    started = time.monotonic()
    assert main(["run", str(workflow), "--argument", '{"label": "after a day"}']) == 0
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert json.loads(out) == "after a day TimeoutError"
    assert 0.3 <= elapsed < 5  # the day of sleep took no time; the 0.3 s await ran on the wall clock
    assert "callback POST http://127.0.0.1:" in err


def test_progress_is_shown_on_a_terminal_only(workflow_runtime):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    workflow_runtime.execute(BASIC)
    terminal, pipe = Terminal(), io.StringIO()
    Driver(workflow_runtime, "virtual", terminal).step()
    Driver(workflow_runtime, "virtual", pipe).step()
    assert "executions active: 1, callbacks waiting: 1" in terminal.getvalue()
    assert "callback GET http://127.0.0.1:" in pipe.getvalue()
    assert "executions active" not in pipe.getvalue()


def test_real_time_driver_follows_the_wall_clock(workflow_server):
    with WorkflowRuntime(server=workflow_server) as runtime:
        execution = runtime.execute("main:\n  steps:\n    - nap:\n        call: sys.sleep\n"
                                    "        args: {seconds: 0.2}\n    - done:\n        return: 1\n")
        driver = Driver(runtime, "real", io.StringIO())
        started = time.monotonic()
        driver.run_until(lambda: not execution._is_active())
        assert execution.value == 1
        assert 0.2 <= time.monotonic() - started < 5
        assert 0.2 <= runtime.clock.elapsed < 5


def test_parser_defaults():
    parser = build_parser()
    assert parser.parse_args(["run", "f.yaml"]).time == "virtual"
    assert parser.parse_args(["serve"]).time == "real"
    assert parser.parse_args(["serve"]).host == "127.0.0.1"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--host", "0.0.0.0"])  # loopback only


def test_serve_in_virtual_time_with_grpc(tmp_path):
    import grpc
    from google.cloud.workflows.executions_v1 import Execution, ExecutionsClient
    from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsGrpcTransport

    from pytest_wfcallbacks.cli import cmd_serve

    (tmp_path / "nap.json").write_text(json.dumps({"main": {"params": ["args"], "steps": [
        {"nap": {"call": "sys.sleep", "args": {"seconds": 86400}}},
        {"done": {"return": "${args.n + 1}"}}]}}))
    out, err = io.StringIO(), io.StringIO()
    stop = threading.Event()
    args = build_parser().parse_args(["serve", str(tmp_path), "--port", "0", "--grpc-port", "0", "--time", "virtual",
                                     "--auto-advance"])
    status: list[int] = []
    server_thread = threading.Thread(target=lambda: status.append(cmd_serve(args, out, err, stop=stop.is_set)))
    server_thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while "wfcallbacks gRPC " not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        target = out.getvalue().split("wfcallbacks gRPC ", 1)[1].split()[0]
        client = ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel(target)))
        created = client.create_execution(parent=f"{PARENT[4:]}/workflows/nap", execution=Execution(argument='{"n": 1}'))
        got = created
        while got.state == Execution.State.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.02)
            got = client.get_execution(name=created.name)
        assert got.state == Execution.State.SUCCEEDED
        assert got.result == "2"
        assert got.duration.total_seconds() == 86400  # a day of virtual sleep, in milliseconds of wall time
    finally:
        stop.set()
        server_thread.join(TIMEOUT)
    assert status == [0]
    assert "SUCCEEDED: 2" in err.getvalue()  # serve reports each execution's end


def test_run_stamps_callbacks_and_logs_with_their_own_virtual_time(tmp_path, capsys):
    # A callback created before a long sleep is announced at its creation instant, not after the sleep.
    workflow = tmp_path / "early.yaml"
    workflow.write_text(
        "- make:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- note:\n    call: sys.log\n    args: {text: made}\n"
        "- nap:\n    call: sys.sleep\n    args: {seconds: 3600}\n"
        "- done:\n    return: ok\n")
    assert main(["run", str(workflow)]) == 0
    _, err = capsys.readouterr()
    assert "[t+0.000s] callback POST http://127.0.0.1:" in err
    assert "[t+0.000s] DEFAULT made" in err


def test_run_exits_143_on_sigterm_and_130_on_ctrl_c(tmp_path):
    import signal

    workflow = tmp_path / "waits.yaml"
    workflow.write_text("- make:\n    call: events.create_callback_endpoint\n    result: cb\n"
                        "- wait:\n    call: events.await_callback\n    args: {callback: ${cb}}\n")
    for sig, status in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        process = subprocess.Popen([sys.executable, "-m", "pytest_wfcallbacks", "run", str(workflow), "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda p=process: [lines.put(line) for line in p.stderr or []],
                             daemon=True).start()
            while "callback POST" not in lines.get(timeout=20):  # bounded: running and listening
                pass
            process.send_signal(sig)
            assert process.wait(timeout=20) == status
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_serve_does_not_start_while_a_file_of_the_folder_does_not_deploy(tmp_path):
    # At start there is no last good revision to keep serving: serve says what and where, then
    # stops with the deploy status instead of serving a folder with a workflow missing.
    (tmp_path / "good.yaml").write_text("main:\n  steps:\n    - a:\n        return: 1\n")
    (tmp_path / "bad.yaml").write_text("main:\n  steps:\n    - a:\n        retrun: 1\n")
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["serve", str(tmp_path), "--port", "0"])
    assert cmd_serve(args, out, err, stop=lambda: True) == EXIT_DEPLOY
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{tmp_path / 'bad.yaml'}:4:9: unknown key 'retrun' in step 'a' (did you mean 'return'?)")
    assert lines[-1] == "wfcallbacks serve: 1 workflow(s) failed to deploy; fix them and start again"
    assert "Traceback" not in err.getvalue()
