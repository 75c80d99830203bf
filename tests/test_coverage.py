"""Workflow coverage: the coverage.py plugin (pytest-cov, coverage run, xdist) and ``--wf-coverage``."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pytest_wfcallbacks import WorkflowRuntime, coverage_map
from pytest_wfcallbacks.coverage_map import load_map, normal_arc
from pytest_wfcallbacks.wf_coverage import format_ranges

PROJECT = Path(__file__).resolve().parent / "coverage_project"

# What the project's three tests run (tests/coverage_project/flows_tests.py), by the rule in docs/coverage.md.
ORDER_LINES = {4, 6, 8, 10, 14, 18, 22, 25, 27, 30, 32, 35, 37, 40, 43}
ORDER_MISSING = [14, 22, 25]
ORDER_BRANCHES_TAKEN = [[6, 7], [6, 8], [8, 9], [18, 19]]
ORDER_BRANCHES_MISSED = [[8, -4], [18, 22]]  # the last condition never false; except never entered
NOTIFY_LINES = {5, 7, 11, 12, 14, 16}
NOTIFY_MISSING = [11, 14]
NOTIFY_BRANCHES_TAKEN = [[7, -5], [12, 13]]
NOTIFY_BRANCHES_MISSED = [[7, -7], [12, 14]]  # the condition never true (its arm is on its own line)


def _project(pytester: pytest.Pytester, *, branch: bool = True) -> None:
    shutil.copytree(PROJECT / "flows", pytester.path / "flows")
    shutil.copy(PROJECT / "flows_tests.py", pytester.path / "test_flows.py")
    pytester.makefile(".toml", pyproject=(
        '[tool.coverage.run]\nplugins = ["pytest_wfcallbacks.coverage"]\n' + f"branch = {str(branch).lower()}\n"))


def _files(report: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads(report.read_text(encoding="utf-8"))["files"])


def _assert_project_measured(files: dict[str, dict[str, object]], *, branch: bool = True) -> None:
    order, notify, unused = files["flows/order.yaml"], files["flows/notify.json"], files["flows/unused.yaml"]
    assert order["executed_lines"] == sorted(ORDER_LINES - set(ORDER_MISSING))
    assert order["missing_lines"] == ORDER_MISSING
    assert notify["executed_lines"] == sorted(NOTIFY_LINES - set(NOTIFY_MISSING))
    assert notify["missing_lines"] == NOTIFY_MISSING
    # Never deployed by any test: reported at 0%. Not a workflow (settings.yaml): not reported.
    assert unused["executed_lines"] == []
    assert unused["missing_lines"] == [1]
    assert "flows/settings.yaml" not in files
    if branch:
        assert order["executed_branches"] == ORDER_BRANCHES_TAKEN
        assert order["missing_branches"] == ORDER_BRANCHES_MISSED
        assert notify["executed_branches"] == NOTIFY_BRANCHES_TAKEN
        assert notify["missing_branches"] == NOTIFY_BRANCHES_MISSED
        assert order["summary"]["num_partial_branches"] == 2  # type: ignore[index]


def test_pytest_cov_reports_workflow_files_beside_python(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--cov=flows", "--cov-report=json:cov.json", "--cov-report=html:html",
        "--cov-report=term-missing", "--wf-coverage", "--wf-coverage-fail-under=80")
    result.stdout.fnmatch_lines([
        "*workflow coverage*",
        "Name*Steps*Miss*Cover*Missing",
        "flows/notify.json*6*2*67%*11, 14",
        "flows/order.yaml*15*3*80%*14, 22, 25",
        "TOTAL*21*5*76%",
        "FAIL: workflow coverage 76.19% is below --wf-coverage-fail-under=80",
    ])
    result.stdout.fnmatch_lines(["flows/order.yaml*15*3*6*2*76%*8->exit, 14, 22-25"])
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the tests passed; the coverage did not reach 80%
    _assert_project_measured(_files(pytester.path / "cov.json"))
    page = next((pytester.path / "html").glob("*order_yaml.html")).read_text(encoding="utf-8")
    assert "flows/order.yaml" in page
    assert "the except block of step &#39;big&#39; was never entered" in page or \
        "the except block of step 'big' was never entered" in page


def test_pytest_cov_under_xdist_combines_the_workers(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--cov=flows", "--cov-report=json:cov.json", "--wf-coverage",
        "--wf-coverage-fail-under=75")
    result.stdout.fnmatch_lines([
        "flows/notify.json*6*2*67%*11, 14",
        "flows/order.yaml*15*3*80%*14, 22, 25",
        "workflow coverage 76.19% reaches --wf-coverage-fail-under=75",
    ])
    assert result.ret == pytest.ExitCode.OK
    _assert_project_measured(_files(pytester.path / "cov.json"))


def test_coverage_run_measures_lines(pytester: pytest.Pytester) -> None:
    _project(pytester, branch=False)
    pytester.makefile(".toml", pyproject=(
        '[tool.coverage.run]\nplugins = ["pytest_wfcallbacks.coverage"]\nsource = ["flows"]\n'))
    ran = pytester.run(sys.executable, "-m", "coverage", "run", "-m", "pytest", "-p", "no:cacheprovider", "-q")
    assert ran.ret == 0, ran.stdout.str() + ran.stderr.str()
    reported = pytester.run(sys.executable, "-m", "coverage", "json", "-o", "cov.json")
    assert reported.ret == 0, reported.stderr.str()
    _assert_project_measured(_files(pytester.path / "cov.json"), branch=False)


# --------------------------------------------------------------------------- without coverage.py


def test_wf_coverage_table_in_process(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--wf-coverage")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["flows/order.yaml*15*3*80%*14, 22, 25", "TOTAL*21*5*76%"])
    assert result.ret == pytest.ExitCode.OK
    assert not coverage_map.LISTENERS  # the session's collector left with the session


def test_wf_coverage_fail_under_checks_its_value(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--wf-coverage-fail-under=120")
    result.stderr.fnmatch_lines(["*--wf-coverage-fail-under takes a percentage from 0 to 100, got 120*"])


def test_the_rule_for_executable_lines_and_branches() -> None:
    order = load_map(str(PROJECT / "flows" / "order.yaml"))
    notify = load_map(str(PROJECT / "flows" / "notify.json"))
    assert order is not None
    assert notify is not None
    assert order.lines == ORDER_LINES
    assert notify.lines == NOTIFY_LINES
    assert order.arcs == {tuple(arc) for arc in ORDER_BRANCHES_TAKEN + ORDER_BRANCHES_MISSED}
    assert order.exit_counts()[8] == 2
    assert order.exit_counts()[4] == 1
    assert load_map(str(PROJECT / "flows" / "settings.yaml")) is None
    assert normal_arc((7, 7)) == (7, -7)


def test_an_execution_records_no_outcomes_while_nobody_listens() -> None:
    assert not coverage_map.LISTENERS
    with WorkflowRuntime() as runtime:
        execution = runtime.run(PROJECT / "flows" / "order.yaml", {"n": 3})
    assert execution.value == "small"
    assert execution._rec.decisions is None


def test_a_listener_gets_each_execution_of_a_file(tmp_path: Path) -> None:
    visits: list[coverage_map.Visit] = []
    coverage_map.listen(visits.append)
    try:
        with WorkflowRuntime() as runtime:
            runtime.run(PROJECT / "flows" / "order.yaml", {"n": 0})
            runtime.run("- only:\n    return: 1\n")  # not from a file: nothing to measure
    finally:
        coverage_map.unlisten(visits.append)
    assert [visit.file for visit in visits] == [str(PROJECT / "flows" / "order.yaml")]
    assert visits[0].lines == {4, 6, 8, 43}  # no condition true: the switch's own `next: done`
    assert visits[0].arcs == {(6, 8), (8, -4)}


LONG_LOOP = """\
main:
  steps:
    - init:
        assign:
          - i: 0
    - loop:
        switch:
          - condition: ${i == 150}
            next: rare
          - condition: ${i < 600}
            next: more
        next: done
    - rare:
        parallel:
          branches:
            - left:
                steps:
                  - l:
                      assign:
                        - a: 1
            - right:
                steps:
                  - r:
                      assign:
                        - b: 2
    - more:
        assign:
          - i: ${i + 1}
        next: loop
    - done:
        return: ${i}
"""

NESTED = """\
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
                                assign:
                                  - a: 1
                      - slow:
                          steps:
                            - lazy:
                                assign:
                                  - b: 2
    - done:
        return: 0
"""


def _visit(tmp_path: Path, name: str, text: str, **limits: int) -> coverage_map.Visit:
    flow = tmp_path / name
    flow.write_text(text)
    visits: list[coverage_map.Visit] = []
    coverage_map.listen(visits.append)
    try:
        with WorkflowRuntime(limits=limits or None) as runtime:
            runtime.run(flow)
    finally:
        coverage_map.unlisten(visits.append)
    (visit,) = visits
    return visit


def test_a_long_execution_whose_record_was_trimmed_loses_no_line(tmp_path: Path) -> None:
    # The `rare` step and its branches run once, early; by the end the record has dropped those
    # events (record_entries 200 of about 2,400), yet coverage still has their lines.
    visit = _visit(tmp_path, "long.yaml", LONG_LOOP, record_entries=200)
    assert {13, 16, 18, 21, 23} <= visit.lines  # rare, left, l, right, r
    assert load_map(str(tmp_path / "long.yaml")) is not None
    assert visit.lines == load_map(str(tmp_path / "long.yaml")).lines  # every line ran


def test_branches_of_a_nested_parallel_step_are_covered(tmp_path: Path) -> None:
    visit = _visit(tmp_path, "nested.yaml", NESTED)
    # `- fast:` and `- slow:`, whose branch ids are outer[0]/inner/fast, outer[1]/inner/fast...
    assert {12, 17} <= visit.lines
    assert visit.lines == load_map(str(tmp_path / "nested.yaml")).lines


def test_format_ranges() -> None:
    assert format_ranges([9, 3, 4, 5, 11, 12]) == "3-5, 9, 11-12"
    assert format_ranges([]) == ""


# --------------------------------------------------------------------------- the README and the examples

ROOT = PROJECT.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Coverage of your workflows", 1)[1].split("\n## ", 1)[0]
#: The steps the README says the examples do not reach: (file, step, line).
UNREACHED = [("callback_retry_loop.yaml", "otherwise", 48), ("callback_timeout.yaml", "unexpected", 28),
             ("http_callback_service.yaml", "unexpected", 43)]


def test_readme_configuration_is_the_repositorys() -> None:
    toml = SECTION.split("```toml\n", 1)[1].split("```", 1)[0]
    assert toml in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    commands = SECTION.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "python -m pytest examples --cov=examples" in commands
    assert "python -m pytest examples --wf-coverage" in commands


def test_examples_reach_every_step_but_the_ones_the_readme_names(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(str(ROOT / "examples"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
                                "--wf-coverage")
    assert result.ret == pytest.ExitCode.OK
    rows = [line.split() for line in result.stdout.lines if line.startswith("examples/workflows/")]
    files = sorted(path.name for path in (ROOT / "examples" / "workflows").iterdir())
    assert sorted(row[0].rsplit("/", 1)[1] for row in rows) == files  # every example workflow ran
    missing = {row[0].rsplit("/", 1)[1]: row[4:] for row in rows}
    assert {name: lines for name, lines in missing.items() if lines} == {
        name: [str(line)] for name, _, line in UNREACHED}
    for name, step, line in UNREACHED:
        assert f"`{name}` step `{step}` (line {line})" in " ".join(SECTION.split())
