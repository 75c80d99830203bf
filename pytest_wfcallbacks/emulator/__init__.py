"""``wfcallbacks serve`` as a local emulator: hot reload, clock control over HTTP, a web UI.

`Emulator` ties the parts to one runtime and its loopback server:

* `watch.FolderWatcher` redeploys the workflow folder's files as they change;
* `control` answers ``/emulator/v1/...`` (the clock, for tests in any language);
* `ui` serves the pages under ``/ui/``;
* `EmulatorDriver` is the serve loop: it runs queued control work, polls the
  folder, and moves the clock only as the mode and the auto-advance switch say.

Access. Everything binds loopback already; these paths also refuse a peer that
is not a loopback address, a cross-site ``Origin`` on a request that changes
state, and, with ``--auth TOKEN``, a request without the token (an
``Authorization: Bearer`` header, or the cookie a browser gets by opening
``/ui/?token=TOKEN`` once).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from ..callbacks import error_envelope
from ..cli import _TICK, Driver
from .control import (
    ControlError,
    LoopQueue,
    advance_target,
    bad,
    clock_json,
    enabled_flag,
    parse_body,
    precondition,
    visible_timers,
)
from .watch import Change, FolderWatcher

if TYPE_CHECKING:
    from ..runtime import WorkflowRuntime
    from ..server import WorkflowServer

#: Cookie a browser keeps after ``/ui/?token=TOKEN`` when ``--auth`` is on.
AUTH_COOKIE = "wfcallbacks_auth"
_CONTROL_PREFIX = "/emulator/v1/"


class EmulatorDriver(Driver):
    """The serve loop: queued control work, folder polls, and the clock as the auto-advance switch says.

    With ``--time virtual`` and auto-advance off (the default under ``serve``) the
    clock stands still: only ``clock:advance`` moves it. With auto-advance on it
    behaves as `Driver` does in virtual mode (jump over waits nobody can shorten,
    wall-clock speed while an ``await_callback`` waits).
    """

    def __init__(self, emulator: Emulator, err: TextIO) -> None:
        super().__init__(emulator.runtime, emulator.mode, err, announce_executions=True)
        self.emulator = emulator

    def resync(self) -> None:
        """Follow the wall clock from the virtual now (after the clock moved by request, or stood still)."""
        self._base_ns = self.runtime.clock.now_ns - (time.monotonic_ns() - self._mono0)

    def step(self) -> None:
        """One turn: queued control work, a due folder poll, then run (and maybe move the clock)."""
        emulator = self.emulator
        emulator.queue.run_pending()
        if emulator.watcher is not None:
            emulator.watcher.poll_if_due()
        if self.mode == "virtual" and not emulator.auto_advance:
            self.runtime._kernel.run_until_idle()
            self._report()
            self.resync()
        else:
            super().step()

    def run_until(self, done: Callable[[], bool]) -> None:
        """Turn until ``done()``; between turns wait at most a tick, less when control work arrives."""
        wake = self.emulator.queue.wake
        while True:
            self.step()
            if done():
                return
            wake.wait(_TICK)
            wake.clear()


class Emulator:
    """The local emulator's state around one serve runtime."""

    def __init__(self, runtime: WorkflowRuntime, server: WorkflowServer, *, mode: str,
                 folder: Path | None = None, auto_advance: bool = False) -> None:
        self.runtime = runtime
        self.server = server
        self.mode = mode
        #: Under ``--time virtual``: whether the loop moves the clock by itself (off by default).
        self.auto_advance = auto_advance if mode == "virtual" else True
        self.queue = LoopQueue()
        self.driver: EmulatorDriver | None = None
        self.watcher = FolderWatcher(runtime, folder, on_change=self._on_change) if folder is not None else None
        if self.watcher is not None:
            self.watcher.adopt()
        self._installed = False

    # ------------------------------------------------------------------ wiring
    def install(self) -> None:
        """Route ``/emulator/`` and ``/ui/`` to this emulator (before the REST API's handler)."""
        if not self._installed:
            self.server.handlers.insert(0, self.handle)
            self._installed = True

    def make_driver(self, err: TextIO) -> EmulatorDriver:
        """The serve loop for this emulator (announcing the UI and the control API)."""
        self.driver = EmulatorDriver(self, err)
        base = self.runtime.base_url
        self.driver.say(f"Web UI:         {base}/ui/")
        clock = "virtual, auto-advance " + ("on" if self.auto_advance else "off") if self.mode == "virtual" else "real"
        self.driver.say(f"Clock control:  {base}{_CONTROL_PREFIX}clock ({clock})")
        if self.watcher is not None:
            self.driver.say(f"Watching {self.watcher.folder} for workflow changes")
        return self.driver

    def close(self) -> None:
        """Stop answering control work; leave the server's routing."""
        self.queue.close()
        if self._installed:
            self.server.handlers.remove(self.handle)
            self._installed = False

    def _on_change(self, change: Change) -> None:
        kind, name, text = change
        say = self.driver.say if self.driver is not None else (lambda line: None)
        if kind == "deployed":
            say(f"workflow {name} deployed: revision {text}")
        elif kind == "failed":
            kept = " (the last good revision keeps serving)" if name in self.runtime._workflows else ""
            say(f"workflow {name} failed to deploy{kept}:")
            say(f"  {text}")
        else:
            say(f"workflow {name} removed")

    # ------------------------------------------------------------------ clock work (run on the loop's thread)
    def clock(self) -> dict[str, Any]:
        """The clock resource."""
        return clock_json(self.runtime, self.auto_advance)

    def _settle(self) -> dict[str, Any]:
        self.runtime._kernel.run_until_idle()
        if self.driver is not None:
            self.driver.resync()
            self.driver._report()
        return self.clock()

    def _require_virtual(self, what: str) -> None:
        if self.mode != "virtual":
            raise precondition(f"{what}: the clock follows the wall clock under --time real; start "
                               "`wfcallbacks serve --time virtual` to move it by request")

    def advance(self, body: dict[str, Any]) -> dict[str, Any]:
        """``clock:advance`` (queued to the loop)."""
        self._require_virtual("clock:advance")

        def work() -> dict[str, Any]:
            runtime = self.runtime
            kernel = runtime._kernel
            kernel.run_until_idle()  # what a request started must not see the clock move first

            def next_deadline() -> int | None:
                timers = visible_timers(runtime)
                return timers[0].deadline if timers else None

            with kernel.lock:
                target = advance_target(body, runtime.clock.now_ns, next_deadline)
            kernel.advance_clock_to(target)
            return self._settle()

        result: dict[str, Any] = self.queue.call(work)
        return result

    def set_auto_advance(self, enabled: bool) -> dict[str, Any]:
        """``clock:setAutoAdvance`` (queued to the loop)."""
        self._require_virtual("clock:setAutoAdvance")

        def work() -> dict[str, Any]:
            self.auto_advance = enabled
            return self._settle()

        result: dict[str, Any] = self.queue.call(work)
        return result

    def run_until_idle(self) -> dict[str, Any]:
        """``executions:runUntilIdle`` (queued to the loop)."""
        result: dict[str, Any] = self.queue.call(self._settle)
        return result

    # ------------------------------------------------------------------ HTTP
    def token(self) -> str | None:
        """The ``--auth`` token, or None."""
        auth = self.runtime.settings.callback_auth
        return auth if isinstance(auth, str) and auth else None

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the ``--auth`` token (always, without ``--auth``)."""
        token = self.token()
        if token is None:
            return True
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return True
        cookie = request.cookies.get(AUTH_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), token.encode())

    def refusal(self, request: Request) -> tuple[int, str, str] | None:
        """(code, status, message) when the peer or the origin may not use these paths."""
        try:
            loopback = ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return 403, "PERMISSION_DENIED", "the emulator's control API and UI answer loopback clients only"
        origin = request.headers.get("Origin")
        if (request.method not in ("GET", "HEAD") and origin not in (None, "null")
                and urlsplit(origin).netloc.lower() != request.host.lower()):
            return 403, "PERMISSION_DENIED", f"a request from {origin!r} may not change the emulator's state"
        return None

    def handle(self, server: WorkflowServer, request: Request) -> Response | None:
        """The server handler: ``/emulator/``, ``/ui/`` and the workflow resources' deploy errors."""
        path = request.path
        if path.startswith("/emulator/"):
            return self._control(request)
        if path == "/ui" or path.startswith("/ui/"):
            from .ui import handle_ui

            return handle_ui(self, request)
        if path.startswith("/v1/") and "/workflows" in path:
            return self._with_deploy_errors(server, request)
        return None

    def _control(self, request: Request) -> Response:
        try:
            refused = self.refusal(request)
            if refused is not None:
                raise ControlError(*refused)
            if not self.authorized(request):
                raise ControlError(401, "UNAUTHENTICATED", "the emulator runs with --auth: send "
                                                           "Authorization: Bearer TOKEN")
            body = self._route(request)
            status = 200
        except ControlError as exc:
            status, body = exc.code, exc.envelope()
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _route(self, request: Request) -> dict[str, Any]:
        verb = request.path[len(_CONTROL_PREFIX):] if request.path.startswith(_CONTROL_PREFIX) else None
        methods = {"clock": "GET", "clock:advance": "POST", "clock:setAutoAdvance": "POST",
                   "executions:runUntilIdle": "POST"}
        if verb not in methods:
            raise ControlError(404, "NOT_FOUND", f"no emulator method at {request.path}: see GET {_CONTROL_PREFIX}"
                                                 "clock, POST clock:advance, clock:setAutoAdvance, "
                                                 "executions:runUntilIdle")
        if request.method != methods[verb]:
            raise ControlError(404, "NOT_FOUND", f"{request.method} {request.path} is not an emulator method; use "
                                                 f"{methods[verb]}")
        if verb == "clock":
            return self.clock()
        body = parse_body(request.get_data(cache=True))
        if verb == "clock:advance":
            return self.advance(body)
        if verb == "clock:setAutoAdvance":
            return self.set_auto_advance(enabled_flag(body))
        if body:
            raise bad(f"executions:runUntilIdle takes an empty body, got fields {', '.join(sorted(body))}")
        return self.run_until_idle()

    def _with_deploy_errors(self, server: WorkflowServer, request: Request) -> Response | None:
        """Workflow resources carry their file's deploy error (``stateError``); a never-deployed file says why."""
        watcher = self.watcher
        if watcher is None or not watcher.errors():
            return None
        parts = request.path.strip("/").split("/")
        # v1 projects P locations L workflows [NAME [executions]]
        if len(parts) < 6 or parts[0] != "v1" or parts[5] != "workflows" or len(parts) > 8:
            return None
        name = parts[6] if len(parts) > 6 else None
        if (name is not None and name not in self.runtime._workflows and watcher.error_for(name)
                and (len(parts) == 7 or parts[7] == "executions")):
            message = (f"workflow {name!r} not found: its file {watcher.file_for(name)} does not deploy: "
                       f"{watcher.error_for(name)}")
            return Response(json.dumps(error_envelope(404, "NOT_FOUND", message)), status=404,
                            content_type="application/json")
        if request.method != "GET" or len(parts) > 7:
            return None
        from ..api import handle_api_request

        answer = handle_api_request(server, request)
        if answer is None or answer.status_code != 200:
            return answer
        body = json.loads(answer.get_data())
        for item in body.get("workflows", [body]):
            short = str(item.get("name", "")).rsplit("/", 1)[-1]
            error = watcher.error_for(short)
            if error:
                # The service's field for "this workflow is not in a healthy state", with the deploy problem;
                # state stays ACTIVE: the last good revision still serves, as after a failed update.
                item["stateError"] = {"details": f"the latest file contents do not deploy: {error}",
                                      "type": "TYPE_UNSPECIFIED"}
        return Response(json.dumps(body), status=200, content_type="application/json")


__all__ = ["AUTH_COOKIE", "Emulator", "EmulatorDriver"]
