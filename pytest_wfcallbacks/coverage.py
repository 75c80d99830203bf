"""A coverage.py plugin: workflow files in every coverage report, beside the Python files.

Enable it in the coverage configuration::

    [tool.coverage.run]
    plugins = ["pytest_wfcallbacks.coverage"]

and ``pytest --cov`` / ``coverage run -m pytest`` measure the workflow files the
tests deploy from paths (docs/coverage.md has the rule for executable lines and
branches).

How lines get into coverage's data: at the end of each execution the runtime
hands this plugin a `Visit` (the lines and branch outcomes read from the
execution's record, ``coverage_map.py``), and the plugin replays it through
`coverage_probe.visit_lines`, a tiny function whose frames this plugin's file
tracer maps to the workflow file and its lines. The C tracer then records them
exactly as it records Python lines: into the running measurement, with its
dynamic context (``--cov-context=test``), its data file suffix (pytest-xdist
workers) and pytest-cov's combining. Each line and each arc is replayed in a frame
of its own, so the only arcs recorded are the ones the execution took (plus the
entry and exit arcs of the probe frame, on a line no workflow has). Nothing is
registered, and the engine records nothing extra, unless coverage.py loads
this plugin.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from coverage.plugin import CoveragePlugin, FileReporter, FileTracer

from . import coverage_map, coverage_probe
from .coverage_map import WORKFLOW_SUFFIXES, CoverageMap, Visit, load_map

#: Folders `find_executable_files` never walks into (installed packages, caches).
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
_PROBE_FILE = os.path.realpath(coverage_probe.__file__)
_PROBE_CODE = coverage_probe.visit_lines.__code__


def replay(visit: Visit) -> None:
    """Replay one execution's visit through the probe frame (one frame per line, one per arc)."""
    probe = coverage_probe.visit_lines
    file = visit.file
    for line in sorted(visit.lines):
        probe(file, (line,))
    for arc in sorted(visit.arcs):
        probe(file, arc)


class WorkflowTracer(FileTracer):
    """Maps frames of `coverage_probe.visit_lines` to the workflow file and line they stand for."""

    def has_dynamic_source_filename(self) -> bool:
        return True

    def dynamic_source_filename(self, filename: str, frame: FrameType) -> str | None:
        if frame.f_code is not _PROBE_CODE:
            return None  # the probe module's own import: not a workflow
        file = frame.f_locals.get("file")
        return file if isinstance(file, str) else None

    def line_number_range(self, frame: FrameType) -> tuple[int, int]:
        if frame.f_lineno != coverage_probe.PASS_LINE:
            return -1, -1  # the ``for`` line: nothing of the workflow
        line = frame.f_locals.get("line")
        return (line, line) if isinstance(line, int) else (-1, -1)


class WorkflowReporter(FileReporter):
    """Reports a workflow file: its source, executable lines, branch arcs and their meaning."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self._map: CoverageMap | None = None

    @property
    def map(self) -> CoverageMap:
        """The file's coverage map (empty when the file no longer loads as a workflow)."""
        if self._map is None:
            self._map = load_map(self.filename) or CoverageMap(self.filename)
        return self._map

    def source(self) -> str:
        return Path(self.filename).read_text(encoding="utf-8")

    def lines(self) -> set[int]:
        return set(self.map.lines)

    def arcs(self) -> set[tuple[int, int]]:
        return set(self.map.arcs)

    def no_branch_lines(self) -> set[int]:
        return set(self.map.no_branch)

    def exit_counts(self) -> dict[int, int]:
        return self.map.exit_counts()

    def missing_arc_description(self, start: int, end: int, executed_arcs: Iterable[tuple[int, int]] | None = None,
                                ) -> str:
        described = self.map.descriptions.get((start, end))
        if described:
            return f"line {start}: {described}"
        return f"line {start} didn't jump to line {end}"

    def arc_description(self, start: int, end: int) -> str:
        return self.map.descriptions.get((start, end), f"line {start} to line {end}")

    def source_token_lines(self) -> Iterable[list[tuple[str, str]]]:
        # Plain text tokens: the HTML report shows the file line by line.
        for line in self.source().splitlines():
            yield [("txt", line)]


class WorkflowCoveragePlugin(CoveragePlugin):
    """The coverage.py plugin object `coverage_init` registers."""

    def file_tracer(self, filename: str) -> WorkflowTracer | None:
        if os.path.realpath(filename) == _PROBE_FILE:
            return WorkflowTracer()
        return None

    def file_reporter(self, filename: str) -> WorkflowReporter | str:
        if filename.lower().endswith(WORKFLOW_SUFFIXES):
            return WorkflowReporter(filename)
        return "python"

    def find_executable_files(self, src_dir: str) -> Iterable[str]:
        # Workflow files nobody deployed show at 0%; YAML/JSON that is not a workflow is skipped.
        for folder, dirs, files in os.walk(src_dir):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
            for name in sorted(files):
                if name.lower().endswith(WORKFLOW_SUFFIXES):
                    path = os.path.join(folder, name)
                    if _looks_like_workflow(path) and load_map(path) is not None:
                        yield path

    def sys_info(self) -> Iterable[tuple[str, Any]]:
        return [("listening", replay in coverage_map.LISTENERS)]


def _looks_like_workflow(path: str) -> bool:
    """Cheap first test before a full load: a small text file whose top level has ``main`` or steps."""
    try:
        if os.path.getsize(path) > 2_000_000:
            return False
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return False
    return "main" in text or "steps" in text or text.lstrip().startswith(("-", "["))


def coverage_init(reg: Any, options: dict[str, str]) -> None:
    """coverage.py's entry point: register the tracer / reporter and start listening to executions."""
    reg.add_file_tracer(WorkflowCoveragePlugin())
    coverage_map.listen(replay)


__all__ = ["WorkflowCoveragePlugin", "coverage_init"]
