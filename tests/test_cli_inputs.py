"""The command line's inputs: --env, ports, folders to validate, unmocked calls, and the order of its lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_wfcallbacks.cli import main

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30

ENV_WF = """
main:
  steps:
    - read:
        return: ${sys.get_env("API_URL") + " " + sys.get_env("MODE")}
"""


def test_run_takes_env_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = tmp_path / "env.yaml"
    workflow.write_text(ENV_WF)
    assert main(["run", str(workflow), "--env", "API_URL=http://x/y?a=b", "--env", "MODE=fast=yes"]) == 0
    assert capsys.readouterr().out.strip() == '"http://x/y?a=b fast=yes"'  # only the first '=' splits


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize(("option", "value", "says"), [
    ("--env", "NOEQUALS", "is not NAME=VALUE"),
    ("--env", "=value", "is not NAME=VALUE"),
    ("--port", "-1", "-1 is not a port"),
    ("--port", "70000", "70000 is not a port"),
    ("--port", "http", "is not a port number"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
                                      option: str, value: str, says: str) -> None:
    workflow = tmp_path / "env.yaml"
    workflow.write_text(ENV_WF)
    target = str(workflow) if command == "run" else str(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main([command, target, f"{option}={value}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert says in err
    assert "usage: wfcallbacks" in err


def test_serve_with_a_negative_port_says_so_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest_wfcallbacks", "serve", str(tmp_path), "--port", "-1"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2
    assert "-1 is not a port: use 0 to 65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unmocked_call_explains_what_to_do_on_the_command_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    workflow = tmp_path / "call.yaml"
    workflow.write_text("main:\n  steps:\n    - get:\n        call: http.get\n"
                        "        args: {url: 'https://api.example.com/orders?id=1'}\n        result: r\n"
                        "    - done:\n        return: ${r.body}\n")
    assert main(["run", str(workflow)]) == 1
    out = capsys.readouterr().out
    assert "wfcallbacks run sends no real HTTP requests" in out
    assert "--env NAME=VALUE" in out
    assert "workflow_runtime.http.get('https://api.example.com/orders')" in out


def test_lines_print_in_the_order_the_events_happened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = tmp_path / "order.yaml"
    workflow.write_text(
        "- before:\n    call: sys.log\n    args: {text: first}\n"
        "- make:\n    call: events.create_callback_endpoint\n    result: cb\n"
        "- after:\n    call: sys.log\n    args: {text: third}\n"
        "- nap:\n    call: sys.sleep\n    args: {seconds: 60}\n"
        "- late:\n    call: sys.log\n    args: {text: fourth}\n"
        "- done:\n    return: ok\n")
    assert main(["run", str(workflow)]) == 0
    lines = capsys.readouterr().err.splitlines()
    marks = [next(i for i, line in enumerate(lines) if mark in line)
             for mark in ("DEFAULT first", "callback POST", "DEFAULT third", "DEFAULT fourth")]
    assert marks == sorted(marks)
    assert "[t+60.000s] DEFAULT fourth" in lines[marks[3]]


def test_validate_a_folder_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_good.yaml").write_text("main:\n  steps:\n    - done:\n        return: 1\n")
    (tmp_path / "b_bad.yaml").write_text("main:\n  steps:\n    - first:\n        call: no.such.function\n")
    (tmp_path / "c_bad.json").write_text('{"main": {"steps": [{"x": {"nextt": "end"}}]}}')
    (tmp_path / "notes.txt").write_text("not a workflow")
    assert main(["validate", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [str(tmp_path / "b_bad.yaml"), str(tmp_path / "c_bad.json")]
    assert "3 file(s)" in err
    (tmp_path / "b_bad.yaml").unlink()
    (tmp_path / "c_bad.json").unlink()
    assert main(["validate", str(tmp_path)]) == 0
    assert "1 file(s) ok" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 1
    assert "no workflow files" in capsys.readouterr().out
