"""Seeing an execution: the text timeline, failure reports, the HTML report and where it is written."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

from pytest_wfcallbacks import DeadlockError, WorkflowFailed, WorkflowRuntime, assert_slot_state
from pytest_wfcallbacks.cli import build_parser, cmd_run
from pytest_wfcallbacks.report.for_tests import report_name

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "workflows"

SLEEPY = """
main:
  steps:
    - cb:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: c
    - par:
        parallel:
          branches:
            - left:
                steps:
                  - nap:
                      call: sys.sleep
                      args: {seconds: 7200}
            - right:
                steps:
                  - w:
                      call: events.await_callback
                      args: {callback: '${c}', timeout: 30}
    - done:
        return: 1
"""

FAILS_AFTER_TIMEOUT = """
main:
  steps:
    - cb:
        call: events.create_callback_endpoint
        result: c
    - w:
        call: events.await_callback
        args: {callback: '${c}', timeout: 60}
"""

PLAIN_FAILURE = """
main:
  steps:
    - boom:
        raise: "plain"
"""


def _parallel(seed: int = 0) -> str:
    with WorkflowRuntime(seed=seed) as runtime:
        execution = runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
        callback = execution.wait_for_callback()
        execution.wait_until_awaiting(callback)
        for n in range(10):
            runtime.clock.advance(1)
            callback.send(json={"n": n})
        callback.send(json={"n": 10})
        callback.send(json={"n": 11})
        execution.result()
        return execution.timeline()


def test_the_timeline_of_a_ten_branch_parallel_for() -> None:
    text = _parallel()
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    rows = [line.split()[0] for line in lines[2:14]]
    assert rows == ["main"] + [f"wait_in_parallel[{n}]" for n in range(1, 11)] + ["cb#1"]
    branch = {line.split()[0]: line for line in lines[2:14]}
    # Each branch awaits from t+0s and gets its request one second after the one before.
    deliveries = [branch[f"wait_in_parallel[{n}]"].index("◆") for n in range(1, 11)]
    assert deliveries == sorted(deliveries)
    assert len(set(deliveries)) == 10
    assert all("~" in branch[f"wait_in_parallel[{n}]"] for n in range(1, 11))
    callback_row = branch["cb#1"]
    assert callback_row.count("D") == 10
    assert "S" in callback_row
    assert "X" in callback_row
    assert "200 stored @t+10s, 429 rejected @t+10s" in text
    assert "X 429 rejected" in text  # the legend explains the symbols drawn


def test_the_same_seed_draws_the_same_picture() -> None:
    assert _parallel(seed=5) == _parallel(seed=5)


NESTED = """
main:
  steps:
    - outer:
        parallel:
          for:
            value: n
            in: [0, 1]
            steps:
              - inner:
                  parallel:
                    branches:
                      - fast:
                          steps:
                            - quick:
                                call: sys.sleep
                                args: {seconds: 1}
                      - slow:
                          steps:
                            - lazy:
                                call: sys.sleep
                                args: {seconds: '${10 + n}'}
    - done:
        return: 1
"""


def test_nested_branches_keep_one_row_each(tmp_path: Path) -> None:
    # The same inner branch under two iterations of the outer `for` is two threads: its id starts
    # with its parent's, so rows, step entries and the SVG never merge them.
    with WorkflowRuntime() as runtime:
        execution = runtime.run(NESTED)
        assert execution.result() == 1
        text = execution.timeline()
        entries = execution.step_entries
        html = execution.save_report(tmp_path / "nested.html").read_text(encoding="utf-8")
    rows = [line.split()[0] for line in text.splitlines() if line.split() and "/" in line.split()[0]]
    expected = [f"outer[{n}]/inner/{b}" for n in (0, 1) for b in ("fast", "slow")]
    assert sorted(rows) == expected
    by_step = {(e.step, e.branch) for e in entries if e.step in ("quick", "lazy")}
    assert by_step == {("quick", f"outer[{n}]/inner/fast") for n in (0, 1)} | {
        ("lazy", f"outer[{n}]/inner/slow") for n in (0, 1)}
    # One sleep mark per row, not two merged into one row.
    for row in (line for line in text.splitlines() if line.startswith("outer[")):
        assert row.count("✓") == 1, row
    assert html.count('class="row thread"') == 7  # main, outer[0], outer[1] and the four inner


def test_a_long_idle_span_is_compressed_and_said_so() -> None:
    with WorkflowRuntime() as runtime:
        execution = runtime.execute(SLEEPY)
        callback = execution.wait_for_callback()
        runtime.clock.advance(3)
        callback.send(json={})
        execution.result()
        text = execution.timeline()
    assert "≈ idle 1h 59m compressed (t+3s → t+2h)" in text
    left = next(line for line in text.splitlines() if line.startswith("par/left"))
    assert "sleep 2h" in left
    assert "≈" in left
    assert left.rstrip().endswith("✓")
    assert all(len(line) <= 100 for line in text.splitlines())


def test_workflow_failed_shows_the_timeline_when_there_are_callbacks() -> None:
    with WorkflowRuntime() as runtime:
        with pytest.raises(WorkflowFailed) as failed:
            runtime.run(FAILS_AFTER_TIMEOUT).result()
        message = str(failed.value)
    assert "timeline:" in message
    main_row = next(line for line in message.splitlines() if line.strip().startswith("main "))
    assert "await cb#1" in main_row
    assert "T" in main_row
    assert "✗" in main_row


def test_a_failure_without_branches_or_callbacks_has_no_timeline() -> None:
    with WorkflowRuntime() as runtime, pytest.raises(WorkflowFailed) as failed:
        runtime.run(PLAIN_FAILURE).result()
    assert "timeline:" not in str(failed.value)


def test_assertion_helpers_and_deadlocks_show_the_timeline() -> None:
    with WorkflowRuntime(auto_advance=False) as runtime:
        execution = runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
        callback = execution.wait_for_callback()
        with pytest.raises(AssertionError) as wrong:
            assert_slot_state(callback, "FILLED")
        assert "timeline:" in str(wrong.value)
        assert "wait_in_parallel[10]" in str(wrong.value)
        with pytest.raises(DeadlockError) as stuck:
            execution.wait()
        assert "timeline:" in str(stuck.value)
        assert "(still running)" in str(stuck.value)


def test_save_report_writes_one_self_contained_file(tmp_path: Path) -> None:
    with WorkflowRuntime() as runtime:
        execution = runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
        callback = execution.wait_for_callback()
        execution.wait_until_awaiting(callback)
        for n in range(11):
            callback.send(json={"n": n})
        callback.send(json={"late": True})
        execution.result()
        path = execution.save_report(tmp_path / "sub" / "r.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html
    assert "<style>" in html
    # Nothing to fetch: no script or stylesheet files, no remote URL other than the SVG namespace.
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert re.findall(r"https?://[^\s\"'<]+", html.replace("http://www.w3.org/2000/svg", "")) == [
        url for url in re.findall(r"https?://[^\s\"'<]+", html) if "127.0.0.1" in url]
    assert html.count('class="row thread"') == 11
    assert 'class="mark request status-429 rejected"' in html
    assert "{&quot;late&quot;: true}" in html  # each request's body
    assert "<code>await_one</code>" in html  # the step table


QUICK = """
main:
  steps:
    - nap:
        call: sys.sleep
        args: {seconds: 5}
    - done:
        return: 1
"""


def test_wfcallbacks_run_writes_the_report(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "run.html"
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK)
    args = build_parser().parse_args(["run", str(flow), "--report", str(target)])
    code = cmd_run(args, out, err)
    assert target.exists(), err.getvalue()
    assert f"report written to {target}" in err.getvalue()
    assert code == 0
    assert out.getvalue().strip() == "1"
    assert "<svg" in target.read_text(encoding="utf-8")


def test_wfcallbacks_run_says_when_the_report_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK)
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["run", str(flow), "--report", str(blocker / "r.html")])
    code = cmd_run(args, out, err)
    assert code == 2
    assert "cannot write the report to" in err.getvalue()
    assert "choose a writable path" in err.getvalue()


def test_report_names_follow_the_test_id() -> None:
    assert report_name("tests/test_flow.py::test_it") == "tests_test_flow.py__test_it.html"
    assert report_name("t.py::test[a b]") != report_name("t.py::test[a?b]")
    assert len(report_name("t.py::test[" + "x" * 400 + "]")) < 200


PLUGIN_TESTS = """
import pytest

FLOW = '''
main:
  steps:
    - cb:
        call: events.create_callback_endpoint
        result: c
    - w:
        call: events.await_callback
        args: {callback: '${c}', timeout: 60}
'''

def test_passes(workflow_runtime):
    workflow_runtime.run(FLOW)

@pytest.mark.parametrize("n", [1, 2])
def test_fails(workflow_runtime, n):
    workflow_runtime.run(FLOW).result()
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_wf_report_writes_one_file_per_failed_test(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makepyfile(test_flows=PLUGIN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--wf-report=out", *workers)
    result.assert_outcomes(passed=1, failed=2)
    written = sorted(path.name for path in (pytester.path / "out").iterdir())
    assert written == ["test_flows.py__test_fails_1_.html", "test_flows.py__test_fails_2_.html"] or written == [
        report_name("test_flows.py::test_fails[1]"), report_name("test_flows.py::test_fails[2]")]
    assert "<svg" in (pytester.path / "out" / written[0]).read_text(encoding="utf-8")
    if not workers:
        result.stdout.fnmatch_lines(["*workflow report*", "*written to out*test_fails*"])


READERS = ROOT / "pytest_wfcallbacks" / "report"
#: What the readers may import from the package: the record's types, values, the clock's units.
ALLOWED = {"clock", "history", "values"}


def test_readers_read_the_record_not_the_interpreter() -> None:
    for module in sorted(READERS.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        checking = [node for node in ast.walk(tree) if isinstance(node, ast.If)
                    and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
        typing_only = {id(inner) for block in checking for inner in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and id(node) not in typing_only:
                top = (node.module or "").split(".")[0]
                assert top in ALLOWED, f"{module.name} imports ..{node.module}: readers read the record"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("pytest_wfcallbacks"), f"{module.name}: use relative imports"


def test_the_readme_shows_the_timeline_its_snippet_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Seeing an execution", 1)[1]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    # The snippet drives the example exactly as _parallel does, on the default seed.
    assert shown.rstrip("\n") == _parallel(seed=0)
    assert (ROOT / "docs" / "report-screenshot.png").is_file()
