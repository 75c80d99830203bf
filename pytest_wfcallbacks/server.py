"""The loopback HTTP server: one werkzeug server shared by every runtime of a session.

It binds 127.0.0.1 on an ephemeral port and only routes: a request for
``/v1/projects/{p}/locations/{l}/workflows/{w}/executions/{e}/callbacks/{c}``
goes to the runtime that owns execution ``{e}``, which answers under its own
lock. The server never runs interpreter code. A handler error is answered with
500, recorded on the runtime (reported by `WorkflowRuntime.check`) and never
kills the server.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .callbacks import error_envelope

if TYPE_CHECKING:
    from .runtime import WorkflowRuntime

_CALLBACK_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/workflows/(?P<workflow>[^/]+)"
    r"/executions/(?P<execution>[^/]+)/callbacks/(?P<callback>[^/]+)$"
)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class WorkflowServer:
    """A werkzeug server on 127.0.0.1 routing callback requests to their runtime."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the callback server binds loopback only, not {host!r}")
        self._executions: dict[str, weakref.ref[WorkflowRuntime]] = {}
        self._runtimes: weakref.WeakSet[WorkflowRuntime] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            host, port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="wfcallbacks-server", daemon=True)
        self._thread.start()
        self._closed = False
        #: Extra request handlers tried, in order, for paths that are not callback URLs
        #: (the Executions / Workflows REST API registers itself here). Each returns a
        #: Response, or None to pass.
        self.handlers: list[Callable[[WorkflowServer, Request], Response | None]] = []

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ registry
    def register_execution(self, execution_id: str, runtime: WorkflowRuntime) -> bool:
        """Route an execution's callbacks to ``runtime``; False when another live runtime owns the id."""
        with self._lock:
            current = self._executions.get(execution_id)
            owner = current() if current is not None else None
            if owner is not None and owner is not runtime and not owner._closed:
                return False
            self._executions[execution_id] = weakref.ref(runtime)
            self._runtimes.add(runtime)
            return True

    def unregister_runtime(self, runtime: WorkflowRuntime) -> None:
        """Forget every execution of a runtime (its endpoints then answer 404)."""
        with self._lock:
            for key in [k for k, ref in self._executions.items() if ref() is runtime or ref() is None]:
                del self._executions[key]

    def runtime_for(self, execution_id: str) -> WorkflowRuntime | None:
        """The live runtime owning an execution id."""
        with self._lock:
            ref = self._executions.get(execution_id)
        return ref() if ref is not None else None

    # ------------------------------------------------------------------ HTTP
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception as exc:  # never let a bug kill the server thread
            response = _json_response(500, error_envelope(500, "INTERNAL", f"pytest-wfcallbacks server error: {exc!r}"))
            for runtime in list(self._runtimes):
                runtime._server_errors.append(f"{request.method} {request.path}: {exc!r}")
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        match = _CALLBACK_PATH.match(request.path)
        if match is None:
            for handler in self.handlers:
                handled = handler(self, request)
                if handled is not None:
                    return handled
            return _json_response(404, error_envelope(
                404, "NOT_FOUND",
                f"no callback endpoint at {request.path}: callback URLs look like "
                "/v1/projects/P/locations/L/workflows/W/executions/E/callbacks/C"))
        runtime = self.runtime_for(match.group("execution"))
        if runtime is None:
            return _json_response(404, error_envelope(
                404, "NOT_FOUND", f"execution {match.group('execution')} not found"))
        status, body = runtime._handle_callback_request(match.group("execution"), match.group("callback"), request)
        if request.method == "HEAD":
            return Response(b"", status=status, content_type="application/json")
        return _json_response(status, body)

    def close(self) -> None:
        """Stop serving."""
        if not self._closed:
            self._closed = True
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> WorkflowServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
