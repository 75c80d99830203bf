"""The text timeline: an execution on its virtual time axis, one row per thread.

Rows are the main thread, each branch (by branch name or loop value) and each
callback endpoint. A thread's row runs from when it started to when it ended;
between its events it shows what it waits for (``~`` a callback, ``·`` a sleep,
``=`` an HTTP or connector call, ``-`` its step, such as a parallel step waiting
for its branches), with the wait's name written in when there is room. A
callback row shows each request the endpoint answered by its outcome. Below the
rows: the requests grouped by status, notes on compressed spans, a legend.

The picture depends only on the record, so the same seed draws the same picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import Axis, build_axis
from .record import FILLS, LEGEND, Picture, group_requests, read_execution

if TYPE_CHECKING:
    from ..runtime import Execution

#: The whole picture fits this many terminal columns.
WIDTH = 100
#: Row names longer than this are shortened.
NAME_WIDTH = 24


def render_timeline(execution: Execution, width: int = WIDTH) -> str:
    """`Execution.timeline`: the text picture of an execution."""
    return draw(read_execution(execution), width)


def wants_timeline(execution: Execution) -> bool:
    """Failure reports show a timeline when the execution has branches or callbacks."""
    if execution.callbacks:
        return True
    from ..history import EventKind

    return any(item.kind is EventKind.BRANCH_STARTED for item in execution.history)


def timeline_section(execution: Execution) -> list[str]:
    """The failure-report lines: the timeline indented under a heading, or nothing."""
    try:
        if not wants_timeline(execution):
            return []
        text = render_timeline(execution)
    except Exception as exc:  # a report must never hide the failure it reports
        return [f"  timeline: could not be drawn ({exc!r})"]
    return ["  timeline:"] + ["    " + line if line else "" for line in text.splitlines()]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def draw(picture: Picture, width: int = WIDTH) -> str:
    """Draw a picture in ``width`` columns."""
    order = picture.drawing_order()
    names = [_shorten(picture.rows[index].name, NAME_WIDTH) for index in order]
    name_width = max(len(name) for name in names) if names else 4
    plot = max(width - name_width - 2, 10)
    axis = build_axis(picture, plot)
    grid = _grid(picture, axis)
    ended = (f"{picture.state} at {picture.offset(picture.end_ns)}" if picture.end_ns is not None
             else f"{picture.state} (still running)")
    branches = sum(1 for row in picture.thread_rows) - 1
    callbacks = sum(1 for row in picture.rows if row.kind == "callback")
    lines = _wrap(f"{picture.title}: {ended}, {_count(branches, 'branch', 'branches')}, "
                  f"{_count(callbacks, 'callback', 'callbacks')}", width)
    lines.append(" " * (name_width + 2) + _header(picture, axis))
    for name, index in zip(names, order, strict=True):
        lines.append(f"{name.ljust(name_width)}  {''.join(grid[index]).rstrip()}")
    for line in group_requests(picture.requests, picture.offset):
        lines.extend(_wrap(line, width))
    lines.extend(axis.notes)
    used = {cell for row in grid for cell in row}
    lines.extend(_wrap("  ".join(item for item in LEGEND if item[0] in used), width))
    return "\n".join(lines)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _wrap(line: str, width: int) -> list[str]:
    """Break a long line at ', ' or double spaces; continuation lines are indented."""
    out: list[str] = []
    while len(line) > width:
        cut = max(line.rfind(", ", 0, width), line.rfind("  ", 0, width))
        if cut <= 4:
            break
        out.append(line[:cut + 1].rstrip())
        line = "    " + line[cut + 1:].lstrip()
    out.append(line)
    return out


def _header(picture: Picture, axis: Axis) -> str:
    """Instant labels where they fit (the last one may end at the right edge), ``≈`` over compressed spans."""
    cells = [" "] * (axis.width + 12)
    for first, _start, _end in axis.compressed:
        cells[first + 1] = "≈"
    free_from = 0
    for index, (column, ns) in enumerate(axis.instants):
        label = picture.offset(ns)
        at = column
        if index == len(axis.instants) - 1 and at + len(label) > axis.width:
            at = max(axis.width - len(label), free_from)
        # At the instant's column, or else ending at it.
        for start in (at, column - len(label) + 1):
            if start >= free_from and all(cell == " " for cell in cells[start:start + len(label) + 1]):
                cells[start:start + len(label)] = list(label)
                free_from = start + len(label) + 1
                break
    return "".join(cells).rstrip()


def _grid(picture: Picture, axis: Axis) -> list[list[str]]:
    last = axis.width - 1
    grid = [[" "] * axis.width for _ in picture.rows]
    columns = axis.columns
    for span in picture.spans:
        start = columns[span.start]
        end = columns[span.end] if span.end is not None else last + 1
        _fill(grid[span.row], start + 1, end, FILLS.get(span.kind, "-"), span.label if span.kind != "busy" else "")
    for first, _start, _end in axis.compressed:
        for row in grid:
            if row[first + 1] != " ":
                row[first + 1] = "≈"
    best: dict[tuple[int, int], int] = {}
    for mark in picture.marks:
        key = (mark.row, columns[mark.seq])
        if mark.priority >= best.get(key, -1):
            best[key] = mark.priority
            grid[mark.row][columns[mark.seq]] = mark.symbol
    return grid


def _fill(cells: list[str], start: int, end: int, char: str, label: str) -> None:
    """Fill ``cells[start:end]`` with ``char``, the label written in when it fits with a margin."""
    length = end - start
    if length <= 0:
        return
    cells[start:end] = [char] * length
    if label and length >= len(label) + 2:
        cells[start + 1:start + 1 + len(label)] = list(label)
