"""``pytest --wf-coverage``: workflow coverage without coverage.py.

While the session runs, every execution of a workflow deployed from a file hands its
`Visit` here (``coverage_map.py``); at the end the terminal summary has one row per
workflow file: executable steps (the same rule as the coverage.py plugin, see
docs/coverage.md), missed, percent, missing lines. ``--wf-coverage-fail-under=N``
fails the session below N percent in total. Under pytest-xdist each worker sends
its lines to the controller in ``workeroutput``, which combines them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pytest

from . import coverage_map
from .coverage_map import CoverageMap, Visit, load_map

_WORKER_KEY = "wfcallbacks_coverage"


def format_ranges(lines: Iterable[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"`` (as coverage's term-missing shows them)."""
    ordered = sorted(set(lines))
    parts: list[str] = []
    start = previous = None
    for line in [*ordered, None]:
        if start is not None and (line is None or previous is None or line != previous + 1):
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if line is not None and start is None:
            start = line
        previous = line
    return ", ".join(parts)


class WorkflowCoverage:
    """The session's workflow coverage: executed lines per file, combined from every process."""

    def __init__(self, config: pytest.Config, fail_under: float | None) -> None:
        self.config = config
        self.fail_under = fail_under
        self.executed: dict[str, set[int]] = {}
        self.maps: dict[str, CoverageMap] = {}
        self.total: float | None = None

    # ------------------------------------------------------------------ collecting
    def add(self, visit: Visit) -> None:
        """A listener: one execution's lines (runs under the runtime lock, so it only records)."""
        self.executed.setdefault(visit.file, set()).update(visit.lines)

    def merge(self, data: dict[str, list[int]]) -> None:
        """Lines a pytest-xdist worker sent."""
        for file, lines in data.items():
            self.executed.setdefault(file, set()).update(lines)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if data:
            self.merge(data)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports
            workeroutput[_WORKER_KEY] = {file: sorted(lines) for file, lines in self.executed.items()}
            return
        self.total = self.percent()
        if self.fail_under is not None and self.total < self.fail_under and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self) -> None:
        coverage_map.unlisten(self.add)

    # ------------------------------------------------------------------ reporting
    def map_of(self, file: str) -> CoverageMap:
        cmap = self.maps.get(file)
        if cmap is None:
            cmap = self.maps[file] = load_map(file) or CoverageMap(file)
        return cmap

    def rows(self) -> list[tuple[str, int, int, float, str]]:
        """(file, steps, missed, percent, missing lines) per file, by name."""
        rows = []
        root = str(self.config.rootpath)
        for file in sorted(self.executed):
            cmap = self.map_of(file)
            missing = cmap.lines - self.executed[file]
            steps = len(cmap.lines)
            percent = 100.0 * (steps - len(missing)) / steps if steps else 100.0
            name = os.path.relpath(file, root) if file.startswith(root + os.sep) else file
            rows.append((name, steps, len(missing), percent, format_ranges(missing)))
        return rows

    def percent(self) -> float:
        """Covered steps over all steps of every file, in percent (100 when nothing ran)."""
        steps = missed = 0
        for _, file_steps, file_missed, _, _ in self.rows():
            steps += file_steps
            missed += file_missed
        return 100.0 * (steps - missed) / steps if steps else 100.0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(self.config, "workeroutput", None) is not None:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "workflow coverage")
        rows = self.rows()
        if not rows:
            write("no workflow deployed from a file ran")
        else:
            width = max(len("Name"), *(len(row[0]) for row in rows))
            write(f"{'Name':<{width}}  Steps   Miss  Cover   Missing")
            for name, steps, missed, percent, missing in rows:
                write(f"{name:<{width}}  {steps:>5}  {missed:>5}  {_percent(percent):>5}   {missing}")
            steps = sum(row[1] for row in rows)
            missed = sum(row[2] for row in rows)
            write(f"{'TOTAL':<{width}}  {steps:>5}  {missed:>5}  {_percent(self.percent()):>5}")
        total = self.total if self.total is not None else self.percent()
        if self.fail_under is not None:
            if total < self.fail_under:
                write(f"FAIL: workflow coverage {total:.2f}% is below --wf-coverage-fail-under={self.fail_under:g}",
                      red=True, bold=True)
            else:
                write(f"workflow coverage {total:.2f}% reaches --wf-coverage-fail-under={self.fail_under:g}",
                      green=True)


def _percent(value: float) -> str:
    # Like coverage.py: never round up to 100% while something is missed, nor down to 0%.
    if 99 < value < 100:
        return "99%"
    if 0 < value < 1:
        return "1%"
    return f"{round(value)}%"


def add_options(group: Any) -> None:
    """The command-line options (called from plugin.py's ``pytest_addoption``)."""
    group.addoption("--wf-coverage", action="store_true", default=False, dest="wf_coverage",
                    help="print workflow coverage (steps run per workflow file) at the end of the session")
    group.addoption("--wf-coverage-fail-under", action="store", type=float, default=None, metavar="N",
                    dest="wf_coverage_fail_under",
                    help="fail the session when workflow coverage is below N percent (implies --wf-coverage)")


def configure(config: pytest.Config) -> None:
    """Start collecting when asked (called from plugin.py's ``pytest_configure``)."""
    fail_under = config.getoption("wf_coverage_fail_under", None)
    if not config.getoption("wf_coverage", False) and fail_under is None:
        return
    if fail_under is not None and not 0 <= fail_under <= 100:
        raise pytest.UsageError(f"--wf-coverage-fail-under takes a percentage from 0 to 100, got {fail_under:g}")
    collector = WorkflowCoverage(config, fail_under)
    coverage_map.listen(collector.add)
    config.pluginmanager.register(collector, "wfcallbacks-coverage")


__all__ = ["WorkflowCoverage", "add_options", "configure", "format_ranges"]
