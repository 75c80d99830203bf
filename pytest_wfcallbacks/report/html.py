"""One self-contained HTML report of an execution.

Inline CSS and SVG only: no script is needed to read it (hover details are SVG
``<title>`` elements) and it loads nothing from the network, so it can be
attached to a CI run and opened anywhere. Sections: the outcome (result or
error), the timeline, the text timeline, the steps entered, each callback with
every request it answered, the logs, and the full history.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import datetime_to_ns
from ..history import EventKind
from .record import Picture, format_seconds, read_execution, step_rows
from .svg import render_svg
from .timeline import draw

if TYPE_CHECKING:
    from ..runtime import Execution

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f2328;
       background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #57606a; margin-bottom: 12px; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; color: #fff; }
.state-SUCCEEDED { background: #1a7f37; } .state-FAILED { background: #cf222e; }
.state-ACTIVE { background: #0969da; } .state-CANCELLED { background: #6e7781; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; overflow: auto;
      font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 0; max-height: 320px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: #57606a; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { font-size: 0.8em; padding: 0 0.3em; border-radius: 3px; border: 1px solid #b58900; color: #7a5c00; }
.scroll { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 0; }
.status { font-weight: 700; } .status-2 { color: #1a7f37; } .status-4, .status-5 { color: #cf222e; }
svg.timeline { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; display: block; }
svg .band { fill: #fff; } svg .row:nth-of-type(even) .band { fill: #f6f8fa; }
svg .row:hover .band { fill: #ddf4ff; }
svg .name { fill: #1f2328; } svg .row.callback .name { fill: #8250df; }
svg .tick line { stroke: #d8dee4; stroke-dasharray: 2 3; } svg .tick text { fill: #57606a; text-anchor: middle; }
svg .compressed rect { fill: #fff8c5; opacity: .8; } svg .compressed text { fill: #9a6700; text-anchor: middle; }
svg .span { rx: 3; } svg .span-busy { fill: #d0d7de; } svg .span-callback { fill: #54aeff; }
svg .span-sleep { fill: #d4a72c; opacity: .55; } svg .span-http, svg .span-connector { fill: #a475f9; }
svg .mark circle { fill: #57606a; stroke: #fff; stroke-width: 1.5; }
svg .mark text { fill: #fff; font-size: 8px; text-anchor: middle; pointer-events: none; }
svg .mark-created circle { fill: #8250df; } svg .mark-await circle { fill: #0969da; }
svg .mark-delivered circle { fill: #1a7f37; } svg .mark-error circle { fill: #cf222e; }
svg .mark-timer circle { fill: #bf8700; } svg .mark-ended-ok circle { fill: #1a7f37; }
svg .mark-retry circle { fill: #bc4c00; } svg .mark-call circle { fill: #6639ba; }
svg .mark:hover circle { stroke: #1f2328; stroke-width: 2; }
svg .request rect { stroke: #fff; stroke-width: 1; } svg .request text { fill: #fff; font-size: 9px;
  font-weight: 700; text-anchor: middle; pointer-events: none; }
svg .request.ok rect { fill: #1a7f37; } svg .request.stored rect { fill: #2da44e; }
svg .request.rejected rect { fill: #cf222e; } svg .request.gone rect { fill: #6e7781; }
svg .request.other rect { fill: #bc4c00; } svg .request:hover rect { stroke: #1f2328; stroke-width: 2; }
details summary { cursor: pointer; color: #0969da; }
.legend span { margin-right: 14px; white-space: nowrap; }
.sw { display: inline-block; width: 12px; height: 10px; border-radius: 2px; vertical-align: -1px;
      margin-right: 4px; }
"""


def _json(value: Any) -> str:
    from ..values import json_or_repr

    if isinstance(value, bytes):
        return f"bytes[{len(value)}]"
    try:
        import json

        compact = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
        if len(compact) <= 600:
            return compact
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return json_or_repr(value)


def _table(headers: list[str], rows: list[list[str]], *, css: str = "") -> str:
    """A table; cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _when(picture: Picture, ns: int) -> str:
    from ..clock import ns_to_datetime

    return (f'<span title="{escape(ns_to_datetime(ns).isoformat())}">'
            f"{escape(picture.offset(ns))}</span>")


def render_html(execution: Execution) -> str:
    """The report of an execution as one HTML document."""
    return render_document([execution], f"{execution.workflow.name} · execution {execution.id}")


def render_document(executions: list[Execution], title: str) -> str:
    """One HTML document reporting each of ``executions`` in turn."""
    parts: list[str] = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                        '<meta name="viewport" content="width=device-width, initial-scale=1">',
                        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"]
    if len(executions) != 1:
        parts.append(f'<p class="meta">{escape(title)}: {len(executions)} executions</p>')
    for execution in executions:
        parts.append(f'<section class="execution" id="execution-{escape(execution.id)}">')
        parts.extend(_execution_parts(execution))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _execution_parts(execution: Execution) -> list[str]:
    picture = read_execution(execution)
    parts: list[str] = []
    parts.append(f"<h1>{escape(execution.workflow.name)} "
                 f'<span class="state state-{escape(str(execution.state))}">{escape(str(execution.state))}</span>'
                 f"</h1>")
    duration = execution.duration
    parts.append(f'<div class="meta">execution <code>{escape(execution.id)}</code> · started '
                 f"{escape(execution.start_time.isoformat())} (virtual) · "
                 + (f"ran {escape(format_seconds(duration))} of virtual time" if duration is not None
                    else "still running")
                 + f" · {execution.steps_executed} steps · source <code>{escape(execution.workflow.source)}</code>"
                 + "</div>")
    parts.append("<h2>Timeline</h2>")
    parts.append('<div class="legend">' + "".join(
        f'<span><i class="sw" style="background:{color}"></i>{escape(text)}</span>' for color, text in (
            ("#d0d7de", "in a step"), ("#54aeff", "awaiting a callback"), ("#d4a72c", "sleeping"),
            ("#a475f9", "HTTP / connector call"), ("#1a7f37", "200 delivered"), ("#2da44e", "200 stored"),
            ("#cf222e", "429 rejected / error"), ("#6e7781", "404"))) + " · hover a mark for details</div>")
    parts.append(f'<div class="scroll">{render_svg(picture)}</div>')
    parts.append("<details><summary>as text</summary>"
                 f"<pre>{escape(draw(picture))}</pre></details>")
    parts.append(_outcome(execution))
    parts.append(_steps(execution, picture))
    parts.append(_callbacks(execution, picture))
    parts.append(_logs(execution, picture))
    parts.append(_history(picture))
    return parts


def _outcome(execution: Execution) -> str:
    if execution.error is not None:
        return f"<h2>Error</h2><pre class=\"error\">{escape(_json(execution.error))}</pre>"
    if str(execution.state) == "SUCCEEDED":
        return f"<h2>Result</h2><pre class=\"result\">{escape(_json(execution.value))}</pre>"
    return f"<h2>Outcome</h2><p>{escape(str(execution.state))}: no result yet.</p>"


def _steps(execution: Execution, picture: Picture) -> str:
    rows = [[f'<span class="num">{item.seq}</span>', _when(picture, item.ns), escape(item.thread),
             escape(item.routine), f"<code>{escape(item.step)}</code>",
             escape(item.step_type) + (' <span class="badge faked">faked</span>' if item.faked else ""),
             escape(item.state)]
            for item in step_rows(execution, picture)]
    if not rows:
        return "<h2>Steps</h2><p>No step was entered.</p>"
    return f"<h2>Steps ({len(rows)})</h2>" + _table(["#", "time", "thread", "routine", "step", "type", "state"], rows)


def _callbacks(execution: Execution, picture: Picture) -> str:
    callbacks = execution.callbacks
    if not callbacks and not picture.requests:
        return "<h2>Callbacks</h2><p>No callback endpoint was created.</p>"
    out = [f"<h2>Callbacks ({len(callbacks)})</h2>"]
    for callback in callbacks:
        number = picture.callback_numbers.get(callback.id, callback.id)
        created = datetime_to_ns(callback.created_time)
        out.append(f"<h3>{escape(number)} · {escape(callback.method)} · slot {escape(str(callback.slot_state))}"
                   f"</h3><p>created at {_when(picture, created)} · <code>{escape(callback.url)}</code></p>")
        requests = [r for r in picture.requests if r.callback == number]
        out.append(_requests(picture, requests))
    orphans = [r for r in picture.requests if not r.callback.startswith("cb#")]
    if orphans:
        out.append("<h3>Requests for unknown callback ids</h3>" + _requests(picture, orphans))
    return "\n".join(out)


def _requests(picture: Picture, requests: list[Any]) -> str:
    if not requests:
        return "<p>No request answered.</p>"
    rows = [[f'<span class="num">{index}</span>', _when(picture, r.ns), escape(r.method),
             f'<span class="status status-{str(r.status)[:1]}">{r.status}</span>', escape(r.outcome),
             f"<pre>{escape(_json(r.body))}</pre>" if r.body is not None else "",
             escape(r.message)] for index, r in enumerate(requests, 1)]
    return _table(["#", "time", "method", "status", "outcome", "body", "why"], rows, css="requests")


def _logs(execution: Execution, picture: Picture) -> str:
    logs = execution.logs
    if not logs:
        return "<h2>Logs</h2><p>No log entry.</p>"
    names = {row.key: row.name for row in picture.rows}
    rows = [[_when(picture, entry.ns), escape(entry.severity), escape(names.get(entry.branch or "", "main")),
             escape(entry.step or ""), f"<pre>{escape(_json(entry.payload))}</pre>"] for entry in logs]
    return f"<h2>Logs ({len(logs)})</h2>" + _table(["time", "severity", "thread", "step", "payload"], rows)


def _history(picture: Picture) -> str:
    names = {row.key: row.name for row in picture.rows}
    rows = []
    for item in picture.events:
        details = dict(item.details)
        if item.kind is EventKind.CALLBACK_REQUEST:
            details.pop("message", None)
        text = ", ".join(f"{key}={_json(value) if not isinstance(value, str) else value}"
                         for key, value in details.items())
        rows.append([_when(picture, item.ns), escape(str(item.kind)), escape(names.get(item.branch or "", "main")),
                     escape(item.step or ""), escape(text)])
    return (f"<h2>History</h2><details><summary>{len(rows)} events</summary>"
            + _table(["time", "event", "thread", "step", "details"], rows) + "</details>")


def save_report(execution: Execution, path: str | os.PathLike[str]) -> Path:
    """Write the HTML report of ``execution`` to ``path`` (parent folders are created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(execution), encoding="utf-8")
    return target
