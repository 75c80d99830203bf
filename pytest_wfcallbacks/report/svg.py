"""The timeline as SVG: the same picture as the text timeline, with hover details.

Each row is a ``<g class="row thread">`` or ``<g class="row callback">``; every
mark, span and answered request carries a ``<title>``, which browsers show on
hover without any script. A request's status code is written on its badge, so a
429 reads as 429.
"""

from __future__ import annotations

from html import escape

from .layout import build_axis
from .record import Mark, Picture

#: Columns of the SVG axis (wider than a terminal; it scrolls sideways when it must).
COLUMNS = 90
COL = 12  # px per column
ROW = 26  # px per thread row
CALLBACK_ROW = 40  # callback rows hold two lanes of status badges
LABEL = 190  # px for the row names
TOP = 28  # px for the time labels

_STATUS_CLASS = {"delivered": "ok", "stored": "stored", "rejected": "rejected", "not-found": "gone"}


def _x(column: float) -> float:
    return LABEL + column * COL + COL / 2


def render_svg(picture: Picture) -> str:
    """The ``<svg>`` element of a picture."""
    axis = build_axis(picture, COLUMNS)
    order = picture.drawing_order()
    tops: dict[int, int] = {}
    y = TOP
    for index in order:
        tops[index] = y
        y += ROW if picture.rows[index].kind == "thread" else CALLBACK_ROW
    height = y + 8
    width = LABEL + (axis.width + 1) * COL + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline of {escape(picture.title)}">']
    for column, ns in axis.instants:
        out.append(f'<g class="tick"><line x1="{_x(column):.0f}" y1="{TOP - 6}" x2="{_x(column):.0f}" '
                   f'y2="{height - 4}"/><text x="{_x(column):.0f}" y="{TOP - 10}">{escape(picture.offset(ns))}'
                   f'</text></g>')
    for first, start, end in axis.compressed:
        x = LABEL + (first + 0.5) * COL
        out.append(f'<g class="compressed"><rect x="{x:.0f}" y="{TOP - 6}" width="{2 * COL}" '
                   f'height="{height - TOP}"/><text x="{x + COL:.0f}" y="{TOP - 10}">≈</text>'
                   f'<title>idle from {escape(picture.offset(start))} to {escape(picture.offset(end))}, '
                   f'compressed</title></g>')
    columns = axis.columns
    for index in order:
        row = picture.rows[index]
        top = tops[index]
        h = ROW if row.kind == "thread" else CALLBACK_ROW
        mid = top + ROW / 2
        out.append(f'<g class="row {row.kind}" data-row="{escape(row.name)}">')
        out.append(f'<rect class="band" x="0" y="{top}" width="{width}" height="{h}"/>')
        out.append(f'<text class="name" x="6" y="{mid + 4:.0f}">{escape(row.name)}</text>')
        for span in picture.spans:
            if span.row != index:
                continue
            start = columns[span.start]
            end = columns[span.end] if span.end is not None else axis.width
            if end <= start:
                continue
            out.append(f'<rect class="span span-{span.kind}" x="{_x(start):.0f}" y="{mid - 5:.0f}" '
                       f'width="{(end - start) * COL:.0f}" height="10"><title>{escape(span.detail)}'
                       f'{" (still waiting)" if span.end is None else ""}</title></rect>')
        last_badge: tuple[int, int] | None = None
        cells: dict[int, list[Mark]] = {}
        for mark in picture.marks:
            if mark.row != index:
                continue
            x = _x(columns[mark.seq])
            if mark.what.startswith("req-"):
                column = columns[mark.seq]
                lane = 0
                if last_badge is not None and column - last_badge[0] < 2:
                    lane = 1 - last_badge[1]
                last_badge = (column, lane)
                status = mark.detail.split(" request answered ", 1)[1].split(" ", 1)[0]
                outcome = mark.what[4:]
                css = _STATUS_CLASS.get(outcome, "other")
                by = top + 4 + lane * 17
                out.append(f'<g class="mark request status-{status} {css}"><rect x="{x - 11:.0f}" y="{by}" '
                           f'width="22" height="14" rx="3"/><text x="{x:.0f}" y="{by + 11}">{status}</text>'
                           f'<title>{escape(mark.detail)}</title></g>')
                continue
            cell = cells.setdefault(columns[mark.seq], [])
            cell.append(mark)
        for column, marks in sorted(cells.items()):
            # One mark per cell: the one that matters most; its hover lists everything that happened there.
            top_mark = max(marks, key=lambda m: m.priority)
            x = _x(column)
            details = "\n".join(m.detail for m in marks)
            out.append(f'<g class="mark mark-{top_mark.what}"><circle cx="{x:.0f}" cy="{mid:.0f}" r="5"/>'
                       f'<text x="{x:.0f}" y="{mid + 3.5:.0f}">{escape(top_mark.symbol)}</text>'
                       f'<title>{escape(details)}</title></g>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
