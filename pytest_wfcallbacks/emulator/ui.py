"""The emulator's web UI under ``/ui/``: server-rendered HTML, no build step, nothing from the network.

Pages: ``/ui/`` (the clock, the deployed workflows with their revision and any
deploy error, the executions with state, start and duration) and
``/ui/executions/{id}`` (a form per open callback to send it a request from the
browser, then the execution's HTML report from `pytest_wfcallbacks.report` when
it is available). Forms post to ``/ui/...`` and are answered with a redirect back
(post/redirect/get), so the pages work without script. A small inline script
asks ``/ui/version`` (a few bytes) every second and reloads the page when
something changed, unless a form field has the focus or was edited.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from ..clock import NS
from ..report import render_html
from .control import ControlError

if TYPE_CHECKING:
    from ..callbacks import Endpoint
    from ..runtime import Execution
    from . import Emulator

#: Callback methods the form offers (the service routes any of them to the endpoint; its own method is the default).
FORM_METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE")
#: Every page's Content-Security-Policy: the browser may load nothing but this server's own pages.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #fff; }
main { margin: 16px 24px 40px; }
header.bar { background: #24292f; color: #fff; padding: 10px 24px; display: flex; gap: 18px; align-items: center;
             flex-wrap: wrap; }
header.bar a { color: #fff; text-decoration: none; font-weight: 600; }
header.bar .clock { margin-left: auto; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
header.bar form { display: inline; margin: 0; }
header.bar button, header.bar input { font: 12px system-ui, sans-serif; }
header.bar input[type=number] { width: 70px; }
code, .mono { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 4px 14px 4px 0; text-align: left; vertical-align: top; }
th { color: #57606a; font-weight: 600; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; color: #fff;
         font-size: 12px; }
.state-SUCCEEDED { background: #1a7f37; } .state-FAILED { background: #cf222e; }
.state-ACTIVE { background: #0969da; } .state-CANCELLED { background: #6e7781; }
.error { color: #cf222e; white-space: pre-wrap; }
.muted { color: #57606a; }
.flash { padding: 8px 12px; border-radius: 6px; margin: 0 0 12px; background: #ddf4ff; border: 1px solid #54aeff; }
.flash.bad { background: #ffebe9; border-color: #ff8182; }
.callback { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; margin: 0 0 10px; }
.callback.waiting { border-color: #0969da; box-shadow: 0 0 0 1px #0969da inset; }
.callback textarea { width: 100%; max-width: 640px; height: 70px; font: 12px ui-monospace, monospace; }
.callback form { margin-top: 8px; }
.report { border-top: 2px solid #d0d7de; margin-top: 24px; }
"""

_REFRESH = """
(function () {
  var seen = document.body.getAttribute("data-version"), busy = false;
  document.addEventListener("input", function () { busy = true; });
  function tick() {
    var focused = document.activeElement && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (busy || focused) { return; }
    fetch("/ui/version", {cache: "no-store", credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.text() : seen;
    }).then(function (v) { if (v !== seen) { location.reload(); } }).catch(function () {});
  }
  setInterval(tick, 1000);
})();
"""


# --------------------------------------------------------------------------- entry


def handle_ui(emulator: Emulator, request: Request) -> Response:
    """Answer one ``/ui`` request."""
    refused = emulator.refusal(request)
    if refused is not None:
        return _page_error(refused[0], refused[2])
    token = emulator.token()
    if token is not None and request.args.get("token") == token and request.method == "GET":
        answer = _redirect("/ui/")
        answer.set_cookie("wfcallbacks_auth", token, httponly=True, samesite="Strict", path="/")
        return answer
    if not emulator.authorized(request):
        return _page_error(401, "The emulator runs with --auth: open /ui/?token=TOKEN once (the browser keeps a "
                                "cookie) or send Authorization: Bearer TOKEN.")
    path = request.path.rstrip("/") or "/ui"
    parts = path.split("/")[2:]  # after "", "ui"
    try:
        if not parts:
            return _only_get(request) or _html(index_page(emulator, request))
        if parts == ["version"]:
            return _only_get(request) or Response(version(emulator), content_type="text/plain",
                                                  headers={"Cache-Control": "no-store"})
        if parts == ["clock"]:
            return _clock_form(emulator, request)
        if len(parts) >= 2 and parts[0] == "executions":
            execution = emulator.runtime._executions_by_id.get(parts[1])
            if execution is None:
                return _page_error(404, f"No execution {parts[1]!r} in this emulator.")
            if len(parts) == 2:
                return _only_get(request) or _html(execution_page(emulator, execution, request))
            if len(parts) == 4 and parts[2] == "callbacks":
                return _callback_form(emulator, execution, parts[3], request)
            if len(parts) == 3 and parts[2] == "report":
                return _only_get(request) or _report_response(execution)
    except ControlError as exc:
        return _page_error(exc.code, exc.message)
    return _page_error(404, f"No page at {request.path}; start at /ui/.")


# --------------------------------------------------------------------------- pages


def version(emulator: Emulator) -> str:
    """A few characters that change whenever a page would show something new."""
    runtime = emulator.runtime
    with runtime._kernel.lock:
        events = sum(len(e._history) for e in runtime.executions)
        workflows = ",".join(f"{name}@{id(wf):x}" for name, wf in sorted(runtime._workflows.items()))
        errors = emulator.watcher.errors() if emulator.watcher is not None else {}
        return (f"{len(runtime.executions)}.{events}.{runtime.clock.now_ns}.{int(emulator.auto_advance)}."
                f"{hash((workflows, tuple(sorted(errors.items())))) & 0xFFFFFFFF:x}")


def index_page(emulator: Emulator, request: Request) -> str:
    """Workflows and executions."""
    from ..api import workflow_json

    runtime = emulator.runtime
    watcher = emulator.watcher
    rows: list[str] = []
    with runtime._kernel.lock:
        names = sorted(set(runtime._workflows) | (set(watcher.errors()) if watcher else set()))
        for name in names:
            workflow = runtime._workflows.get(name)
            revision = escape(str(workflow_json(runtime, workflow)["revisionId"])) if workflow else "—"
            source = escape(workflow.source if workflow else str(watcher.file_for(name) if watcher else ""))
            error = watcher.error_for(name) if watcher else ""
            problem = (f'<div class="error">{escape(error)}</div>'
                       + ('<div class="muted">the last good revision keeps serving</div>' if workflow else
                          '<div class="muted">not deployed</div>')) if error else '<span class="muted">ok</span>'
            rows.append(f'<tr class="workflow" data-name="{escape(name)}"><td><code>{escape(name)}</code></td>'
                        f'<td><code class="revision">{revision}</code></td><td><code>{source}</code></td>'
                        f"<td>{problem}</td></tr>")
        executions = list(reversed(runtime.executions))[:500]
        execution_rows = [_execution_row(emulator, e) for e in executions]
    workflows_html = (_table(["Workflow", "Revision", "File", "Deploy"], rows) if rows else
                      '<p class="muted">No workflow deployed. Put .yaml/.yml/.json files in the served folder '
                      "or create one with the Workflows API.</p>")
    executions_html = (_table(["Execution", "Workflow", "Revision", "State", "Started (virtual)", "Duration"],
                              execution_rows) if execution_rows else
                       '<p class="muted">No execution yet: start one with the Executions API '
                       "(POST …/workflows/NAME/executions).</p>")
    body = (f"{_flash(request)}<h1>Workflows</h1>{workflows_html}"
            f"<h2>Executions</h2>{executions_html}")
    return _document(emulator, "wfcallbacks emulator", body, "/ui/")


def _execution_row(emulator: Emulator, execution: Execution) -> str:
    from ..api import execution_json

    runtime = emulator.runtime
    revision = execution_json(execution, "BASIC")["workflowRevisionId"]
    end = execution._end_ns
    duration = (_seconds((end - execution._start_ns) / NS) if end is not None else
                f'<span class="muted">{_seconds((runtime.clock.now_ns - execution._start_ns) / NS)} so far</span>')
    state = execution.state.value
    return (f'<tr class="execution" data-id="{escape(execution.id)}">'
            f'<td><a href="/ui/executions/{quote(execution.id)}"><code>{escape(execution.id)}</code></a></td>'
            f"<td><code>{escape(execution.workflow.name)}</code></td><td><code>{escape(revision)}</code></td>"
            f'<td><span class="state state-{state}">{state}</span></td>'
            f"<td>{escape(execution.start_time.isoformat())}</td><td>{duration}</td></tr>")


def execution_page(emulator: Emulator, execution: Execution, request: Request) -> str:
    """One execution: its callbacks (with a form on the open ones) and its HTML report."""
    from ..api import execution_json

    runtime = emulator.runtime
    with runtime._kernel.lock:
        state = execution.state.value
        revision = execution_json(execution, "BASIC")["workflowRevisionId"]
        endpoints = list(execution._endpoints.values())
        callbacks = [_callback_box(emulator, execution, ep) for ep in endpoints]
        report = _report_body(execution)
    head = (f'<h1>Execution <code>{escape(execution.id)}</code> <span class="state state-{state}" id="state">'
            f"{state}</span></h1>"
            f'<p class="muted">workflow <code>{escape(execution.workflow.name)}</code> · revision '
            f"<code>{escape(revision)}</code> · <code>{escape(execution.name)}</code></p>")
    section = ("<h2>Callbacks</h2>" + "".join(callbacks)) if callbacks else (
        '<p class="muted">This execution has created no callback endpoint.</p>')
    body = f'{_flash(request)}{head}{section}<div class="report">{report}</div>'
    return _document(emulator, f"execution {execution.id}", body, f"/ui/executions/{quote(execution.id)}")


def _callback_box(emulator: Emulator, execution: Execution, endpoint: Endpoint) -> str:
    slot = endpoint.slot_state().value
    answered = ", ".join(f"{r.status} ({escape(r.outcome)})" for r in endpoint.responses) or "none yet"
    box = [f'<div class="callback {"waiting" if endpoint.waiters else ""}" data-callback="{escape(endpoint.id)}">',
           f"<div><strong>{escape(endpoint.method)}</strong> callback <code>{escape(endpoint.id)}</code> · slot "
           f'<strong class="slot">{escape(slot)}</strong> · waiters {len(endpoint.waiters)} · stored '
           f"{len(endpoint.stored)} · answered: {answered}</div>",
           f'<div class="mono muted">{escape(endpoint.url)}</div>']
    if execution._is_active():
        options = "".join(f'<option{" selected" if m == endpoint.method else ""}>{m}</option>' for m in
                          dict.fromkeys((endpoint.method, *FORM_METHODS)))
        action = f"/ui/executions/{quote(execution.id)}/callbacks/{quote(endpoint.id)}"
        box.append(f'<form method="post" action="{action}" class="send">'
                   f'<label>Method <select name="method">{options}</select></label> '
                   f'<label>JSON body<br><textarea name="body" spellcheck="false">{{}}</textarea></label><br>'
                   f'<button type="submit">Send request</button></form>')
    box.append("</div>")
    return "".join(box)


def _report_body(execution: Execution) -> str:
    """The execution's HTML report (`pytest_wfcallbacks.report`), its style scoped to the report's box."""
    document = render_html(execution)
    style_start, style_end = document.find("<style>"), document.find("</style>")
    body_start, body_end = document.find("<body>"), document.rfind("</body>")
    if min(style_start, style_end, body_start, body_end) < 0:
        return document  # not the shape we know: browsers fold a nested document's head and body into ours
    style = document[style_start + 7:style_end].replace("body {", ".report {").replace("body{", ".report{")
    # The report's page margins would indent it inside this page's own.
    return f"<style>{style}\n.report {{ margin: 24px 0 0; }}</style>{document[body_start + 6:body_end]}"


def _report_response(execution: Execution) -> Response:
    with execution._runtime._kernel.lock:
        document = render_html(execution)
    return Response(document, content_type="text/html; charset=utf-8", headers={"Content-Security-Policy": CSP})


# --------------------------------------------------------------------------- forms


def _callback_form(emulator: Emulator, execution: Execution, callback_id: str, request: Request) -> Response:
    from ..callbacks import Callback

    back = f"/ui/executions/{quote(execution.id)}"
    if request.method != "POST":
        return _redirect(back)
    endpoint = execution._endpoints.get(callback_id)
    if endpoint is None:
        return _page_error(404, f"Execution {execution.id} has no callback {callback_id!r}.")
    method = (request.form.get("method") or endpoint.method).upper()
    if method not in FORM_METHODS and method != endpoint.method:
        return _redirect(back, error=f"method {method!r} is not one of {', '.join(FORM_METHODS)}")
    text = request.form.get("body", "").strip()
    if text:
        try:
            json.loads(text)
        except ValueError as exc:
            return _redirect(back, error=f"the body is not valid JSON ({exc}); nothing was sent")
    headers = {"Content-Type": "application/json"} if text and method not in ("GET", "HEAD") else {}
    content = text.encode("utf-8") if text and method not in ("GET", "HEAD") else None
    # A real HTTP request to the callback URL, as the service under test would send it.
    response = Callback(endpoint).send(content, headers=headers, method=method, token=emulator.token())
    summary = f"{method} callback {endpoint.id}: {response.status_code} {response.text[:300]}"
    return _redirect(back, sent=summary) if response.status_code < 400 else _redirect(back, error=summary)


def _clock_form(emulator: Emulator, request: Request) -> Response:
    back = request.form.get("back", "/ui/")
    if not back.startswith("/ui/") or "//" in back:
        back = "/ui/"
    if request.method != "POST":
        return _redirect(back)
    action = request.form.get("action", "")
    try:
        if action == "advance":
            text = request.form.get("seconds", "").strip()
            try:
                seconds: float = float(text)
            except ValueError:
                raise ControlError(400, "INVALID_ARGUMENT", f"advance by {text!r}: give a number of seconds") from None
            clock = emulator.advance({"seconds": int(seconds) if seconds.is_integer() else seconds})
        elif action == "next":
            clock = emulator.advance({"next": True})
        elif action in ("auto-on", "auto-off"):
            clock = emulator.set_auto_advance(action == "auto-on")
        elif action == "idle":
            clock = emulator.run_until_idle()
        else:
            raise ControlError(400, "INVALID_ARGUMENT", f"unknown clock action {action!r}")
    except ControlError as exc:
        return _redirect(back, error=exc.message)
    return _redirect(back, sent=f"virtual now {clock['now']}")


# --------------------------------------------------------------------------- pieces


def _clock_bar(emulator: Emulator, back: str) -> str:
    runtime = emulator.runtime
    from ..api import format_timestamp

    with runtime._kernel.lock:
        now = format_timestamp(runtime.clock.now_ns)
        timers = len([t for t in runtime.clock.pending() if not t.watchdog])
    if emulator.mode != "virtual":
        return f'<div class="clock"><span>real time · now <code id="now">{now}</code></span></div>'

    def button(action: str, label: str, extra: str = "") -> str:
        return (f'<form method="post" action="/ui/clock"><input type="hidden" name="back" value="{escape(back)}">'
                f'<input type="hidden" name="action" value="{action}">{extra}'
                f'<button type="submit" data-action="{action}">{label}</button></form>')

    auto = ("on", "auto-off", "Auto-advance: on") if emulator.auto_advance else ("off", "auto-on",
                                                                                 "Auto-advance: off")
    seconds = '<input type="number" name="seconds" value="60" min="0" step="any" aria-label="seconds"> '
    return ('<div class="clock">'
            f'<span>virtual now <code id="now">{now}</code> · {timers} timer(s)</span>'
            + button("advance", "Advance", seconds + "s ") + button("next", "Next timer")
            + button("idle", "Run until idle")
            + button(auto[1], auto[2]) + "</div>")


def _document(emulator: Emulator, title: str, body: str, back: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><link rel=\"icon\" href=\"data:,\"><style>{_CSS}</style></head>"
            f'<body data-version="{escape(version(emulator))}">'
            f'<header class="bar"><a href="/ui/">wfcallbacks emulator</a>'
            f'<span class="muted" style="color:#d0d7de">{escape(emulator.runtime.base_url)}</span>'
            f"{_clock_bar(emulator, back)}</header><main>{body}</main>"
            f"<script>{_REFRESH}</script></body></html>\n")


def _flash(request: Request) -> str:
    sent, error = request.args.get("sent"), request.args.get("error")
    if error:
        return f'<div class="flash bad" id="flash">{escape(error)}</div>'
    if sent:
        return f'<div class="flash" id="flash">{escape(sent)}</div>'
    return ""


def _table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def _redirect(location: str, **flash: str) -> Response:
    target = location + ("?" + urlencode(flash) if flash else "")
    return Response("", status=303, headers={"Location": target, "Cache-Control": "no-store"})


def _only_get(request: Request) -> Response | None:
    if request.method in ("GET", "HEAD"):
        return None
    return _page_error(405, f"{request.method} is not allowed here; pages are read with GET.")


def _page_error(status: int, message: str) -> Response:
    text = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wfcallbacks emulator</title>"
            f"<style>{_CSS}</style></head><body><main><h1>{status}</h1><p>{escape(message)}</p>"
            '<p><a href="/ui/">Back to the emulator</a></p></main></body></html>\n')
    return _html(text, status)


__all__ = ["CSP", "FORM_METHODS", "execution_page", "handle_ui", "index_page", "version"]
