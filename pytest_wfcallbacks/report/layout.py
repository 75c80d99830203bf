"""The time axis: which column each history event is drawn in.

Virtual time is mostly still: a parallel ``for`` starts ten branches, they all
await, and ten requests are answered, all at one instant. So the axis has two
parts. Each distinct instant gets as many columns as it needs to keep its events
in order (an event moves to the next column when its row already has a mark in
the current one), and the time between instants is drawn to a linear scale,
except that a span much longer than the others (an hour's sleep among
seconds) is *compressed* to a few columns marked ``≈`` and said so in a note.
When even that does not fit, the events of one instant share one column, and
at last several instants share a column (the note says that too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from ..clock import NS
from ..history import EventKind
from .record import Picture, format_seconds

_ENDS = (EventKind.BRANCH_ENDED, EventKind.EXECUTION_ENDED, EventKind.ERROR_RAISED)

#: Columns of a compressed idle span.
COMPRESSED = 3
#: A span this many times the median span (and at least a minute) is compressed.
LONG_FACTOR = 8


@dataclass
class Axis:
    """Columns of the time axis."""

    width: int
    columns: list[int]  # the column of each history event
    instants: list[tuple[int, int]]  # (column of the instant's first event, ns)
    compressed: list[tuple[int, int, int]] = field(default_factory=list)  # (first column, from ns, to ns)
    notes: list[str] = field(default_factory=list)


def _subcolumns(picture: Picture, groups: list[list[int]]) -> list[list[int]]:
    """For each instant's events, the sub-column of each (order kept, one mark per row and column)."""
    out: list[list[int]] = []
    kinds = [row.kind for row in picture.rows]
    for group in groups:
        sub = 0
        used: set[int] = set()
        last: list[int] = []
        subs: list[int] = []
        for seq in group:
            rows = picture.event_rows[seq]
            # Consecutive events of one thread merge into one mark; callback requests never do.
            # An end or an error never hides in the mark before it.
            same = (rows == last and all(kinds[r] == "thread" for r in rows)
                    and picture.events[seq].kind not in _ENDS)
            if not same and any(r in used for r in rows):
                sub += 1
                used = set()
            used.update(rows)
            last = rows
            subs.append(sub)
        out.append(subs)
    return out


def build_axis(picture: Picture, width: int) -> Axis:
    """Lay the events of ``picture`` on ``width`` columns (at least one per instant when they fit)."""
    events = picture.events
    groups: list[list[int]] = []
    times: list[int] = []
    for seq, item in enumerate(events):
        if not times or item.ns != times[-1]:
            times.append(item.ns)
            groups.append([])
        groups[-1].append(seq)
    if not groups:
        return Axis(width, [], [])
    subs = _subcolumns(picture, groups)
    gaps = [b - a for a, b in pairwise(times)]
    long = _long_gaps(gaps)
    notes: list[str] = []
    for attempt in ("ordered", "merged"):
        sizes = [s[-1] + 1 for s in subs] if attempt == "ordered" else [1] * len(subs)
        fixed = sum(sizes) + COMPRESSED * sum(long)
        plain = [g for g, is_long in zip(gaps, long, strict=True) if not is_long]
        free = width - fixed
        if free >= len(plain):
            cols = _spread(plain, free)
            break
    else:
        return _bucketed(picture, times, groups, width)
    if attempt == "merged":
        notes.append("events of one instant share a column (too many to show one by one)")
    columns = [0] * len(events)
    instants: list[tuple[int, int]] = []
    compressed: list[tuple[int, int, int]] = []
    x = 0
    plain_iter = iter(cols)
    for index, group in enumerate(groups):
        instants.append((x, times[index]))
        for seq, sub in zip(group, subs[index], strict=True):
            columns[seq] = x + (sub if attempt == "ordered" else 0)
        x += sizes[index]
        if index < len(gaps):
            if long[index]:
                compressed.append((x, times[index], times[index + 1]))
                x += COMPRESSED
            else:
                x += next(plain_iter)
    for _first, start, end in compressed:
        notes.append(f"≈ idle {format_seconds((end - start) / NS)} compressed "
                     f"(t+{format_seconds((start - picture.start_ns) / NS)} → "
                     f"t+{format_seconds((end - picture.start_ns) / NS)})")
    return Axis(max(x, 1), columns, instants, compressed, notes)


def _long_gaps(gaps: list[int]) -> list[bool]:
    """Which gaps to compress: from the first one (by length) that is ``LONG_FACTOR`` times the one
    below it and at least a minute, every longer gap; never the only gap (nothing to compare it to)."""
    ordered = sorted(g for g in gaps if g > 0)
    threshold: int | None = None
    for below, above in pairwise(ordered):
        if above >= 60 * NS and above > LONG_FACTOR * below:
            threshold = above
            break
    return [threshold is not None and g >= threshold for g in gaps]


def _spread(gaps: list[int], free: int) -> list[int]:
    """Columns for each plain gap: proportional to its length, at least one, summing to at most ``free``."""
    if not gaps:
        return []
    total = sum(gaps)
    extra = free - len(gaps)
    return [1 + (int(extra * g / total) if total else 0) for g in gaps]


def _bucketed(picture: Picture, times: list[int], groups: list[list[int]], width: int) -> Axis:
    """Too many instants for one column each: instants share columns, by order."""
    columns = [0] * len(picture.events)
    instants: list[tuple[int, int]] = []
    count = len(groups)
    for index, group in enumerate(groups):
        column = index * width // count
        if not instants or instants[-1][0] != column:
            instants.append((column, times[index]))
        for seq in group:
            columns[seq] = column
    return Axis(width, columns, instants, [],
                [f"{count} distinct instants share {width} columns: the axis shows order, not duration"])
