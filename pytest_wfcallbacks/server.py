"""The loopback HTTP server: one werkzeug server shared by every runtime of a session.

It binds 127.0.0.1 on an ephemeral port and only routes: a request for
``/v1/projects/{p}/locations/{l}/workflows/{w}/executions/{e}/callbacks/{c}``
goes to the runtime that owns execution ``{e}``, which answers under its own
lock. The server never runs interpreter code. A handler error is answered with
500, recorded on the runtime (reported by `WorkflowRuntime.check`) and never
kills the server.

This module is the server's lifecycle and routing: the accept loop (woken at once by
`WorkflowServer.close`), the worker threads, the registry of executions and the dispatch
of a request to its runtime or to the extra ``handlers`` (the REST API). How one
connection is read and answered (strict heads, body deadlines, the callback fast path,
keep-alive) is `connection`.

Connections are served by a pool of reusable worker threads (`_WorkerPool`): threads are
reused across connections, at most ``max_idle_workers`` idle ones are kept, and a new one is
started only when every worker is busy, so a keep-alive connection idling in a client's pool
can never starve another sender.
"""

from __future__ import annotations

import contextlib
import json
import queue
import selectors
import socket
import threading
import weakref
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from .callbacks import (
    answer_callback_request,
    error_envelope,
    headers_from_items,
    query_from_string,
    status_name,
    url_text,
)
from .connection import (
    _CALLBACK_PATH,
    BODY_TIMEOUT,
    RAW_HEADERS_KEY,
    _BodyReader,
    _CallbackRequestHandler,
    _encode,
)
from .errors import WfCallbacksError

if TYPE_CHECKING:
    import re

    from .runtime import WorkflowRuntime


class _WorkerPool:
    """Reusable worker threads for connections: grow when all are busy, keep at most ``max_idle`` idle."""

    def __init__(self, run: Callable[[Any, Any], None], max_idle: int) -> None:
        self._run = run
        self._max_idle = max_idle
        self._jobs: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._workers = 0
        self._closed = False

    def submit(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                self._workers += 1
                threading.Thread(target=self._work, name=f"wfcallbacks-worker-{self._workers}", daemon=True).start()
        self._jobs.put((request, client_address))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run(*job)
            with self._lock:
                if self._closed or self._idle >= self._max_idle:
                    self._workers -= 1
                    return
                self._idle += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)


class _CallbackHTTPServer(BaseWSGIServer):
    """werkzeug's WSGI server with connections served by `_WorkerPool` threads and a deep accept backlog."""

    multithread = True
    request_queue_size = 1024  # a burst of hundreds of senders connects at once
    #: The WorkflowServer routing this socket's callback requests (set right after construction).
    workflow_server: WorkflowServer | None = None

    def __init__(self, host: str, port: int, app: Any, max_idle_workers: int = 32) -> None:
        # The pool first: werkzeug calls server_close() when binding fails, and that closes it.
        self._pool = _WorkerPool(self._serve_connection, max_idle_workers)
        self._wake_read, self._wake_write = socket.socketpair()
        self._stopping = False
        super().__init__(host, port, app, handler=_CallbackRequestHandler)

    def serve_until_stopped(self) -> None:
        """Accept connections until `stop`; the selector also watches a wake-up socket.

        socketserver's ``serve_forever`` polls for its shutdown flag every ``poll_interval``,
        so ``shutdown()`` waits up to one interval (50 ms each time a standalone runtime
        closed its server). Here `stop` writes one byte that wakes the selector at once.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stopping:
                        self._accept_one()

    def _accept_one(self) -> None:
        """socketserver's own per-connection step: accept, then hand to the pool."""
        try:
            request, client_address = self.get_request()
        except OSError:
            return  # the client gave up between select and accept
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def stop(self) -> None:
        """Make `serve_until_stopped` return now (from any thread)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(request, client_address)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a dropped connection is the client's business; application errors are answered as 500

    def server_close(self) -> None:
        super().server_close()
        self._pool.close()
        self._wake_read.close()
        self._wake_write.close()


class WorkflowServer:
    """A werkzeug server on 127.0.0.1 routing callback requests to their runtime."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the callback server binds loopback only, not {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            # The socket layer would take 70000 modulo 65536 and listen on 4464 without a word.
            raise ValueError(f"port {port!r} is not a TCP port: use 0 to 65535 (0 picks a free one)")
        self._executions: dict[str, weakref.ref[WorkflowRuntime]] = {}
        self._runtimes: weakref.WeakSet[WorkflowRuntime] = weakref.WeakSet()
        self._lock = threading.Lock()
        try:
            self._server: _CallbackHTTPServer = _CallbackHTTPServer(host, port, self._wsgi)
        except (OSError, SystemExit) as exc:
            # werkzeug prints why binding failed and exits; a library must raise instead.
            reason = getattr(exc, "strerror", None) or "the address is in use or not available"
            raise WfCallbacksError(
                f"cannot listen on {host}:{port}: {reason}; choose another port (0 picks a free one)"
            ) from None
        self._server.workflow_server = self
        self.host = host
        self.port = self._server.server_port
        # Every session and standalone runtime closes a server: `stop` wakes the loop at once.
        self._thread = threading.Thread(target=self._server.serve_until_stopped, name="wfcallbacks-server",
                                        daemon=True)
        self._thread.start()
        self._closed = False
        #: Extra request handlers tried, in order, for paths that are not callback URLs
        #: (the Executions / Workflows REST API registers itself here). Each returns a
        #: Response, or None to pass.
        self.handlers: list[Callable[[WorkflowServer, Request], Response | None]] = []
        from .api import handle_api_request  # imported here: api imports the runtime, which imports us

        self.handlers.append(handle_api_request)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (an IPv6 host in brackets: ``http://[::1]:<port>``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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
            self._runtimes.discard(runtime)

    def runtime_for(self, execution_id: str) -> WorkflowRuntime | None:
        """The live runtime owning an execution id."""
        with self._lock:
            ref = self._executions.get(execution_id)
        return ref() if ref is not None else None

    # ------------------------------------------------------------------ HTTP
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response: Response | _JSONAnswer = self._dispatch(request)
        except HTTPException as exc:  # werkzeug's verdict on a client's request (a body cut short...)
            code = exc.code if exc.code is not None and 400 <= exc.code < 500 else 400
            response = _json_response(code, error_envelope(code, status_name(code), str(exc.description)))
        except Exception as exc:  # never let a bug kill the server thread
            response = _json_response(500, error_envelope(500, "INTERNAL", f"pytest-wfcallbacks server error: {exc!r}"))
            match = _CALLBACK_PATH.match(request.path)
            self._record_error(request.method, request.path, match.group("execution") if match else None, exc)
        return response(environ, start_response)

    def _answer_callback(self, method: str, target: str, match: re.Match[str], raw: list[tuple[str, str]],
                         reader: _BodyReader) -> tuple[int, bytes]:
        """A callback request parsed by the handler's fast path: the same answers as `_dispatch` gives."""
        path, _, query_string = target.partition("?")
        execution_id, callback_id = match.group("execution"), match.group("callback")
        try:
            ref = self._executions.get(execution_id)  # one dict read: atomic, no registry lock needed
            runtime = ref() if ref is not None else None
            if runtime is None:
                return 404, _encode(error_envelope(
                    404, "NOT_FOUND", f"execution {execution_id} not found (no running test owns it; "
                    f"callback {callback_id} cannot be delivered)"))
            status, body = answer_callback_request(
                runtime, execution_id, callback_id, method, reader.read, lambda: headers_from_items(raw),
                lambda: query_from_string(query_string), url_text(target), path)
            return status, _encode(body)
        except Exception as exc:  # never let a bug kill the server thread
            self._record_error(method, path, execution_id, exc)
            return 500, _encode(error_envelope(500, "INTERNAL", f"pytest-wfcallbacks server error: {exc!r}"))

    def _record_error(self, method: str, path: str, execution_id: str | None, exc: Exception) -> None:
        owner = self.runtime_for(execution_id) if execution_id is not None else None
        with self._lock:
            targets = [owner] if owner is not None else list(self._runtimes)
        if not targets:
            # A runtime that has no execution yet (a REST call is often the first thing a test
            # makes) still owns the server's problems: every open runtime on this server hears of it.
            from .api import live_runtimes

            targets = live_runtimes(self)
        for runtime in targets:
            runtime._server_errors.append(f"{method} {path}: {exc!r}")

    def _dispatch(self, request: Request) -> Response | _JSONAnswer:
        match = _CALLBACK_PATH.match(request.path)
        if match is None:
            for handler in self.handlers:
                handled = handler(self, request)
                if handled is not None:
                    return handled
            return _json_response(404, error_envelope(
                404, "NOT_FOUND",
                f"no callback endpoint at {request.path!r}: callback URLs look like "
                "/v1/projects/P/locations/L/workflows/W/executions/E/callbacks/C"))
        runtime = self.runtime_for(match.group("execution"))
        if runtime is None:
            return _json_response(404, error_envelope(
                404, "NOT_FOUND", f"execution {match.group('execution')} not found (no running test owns it; "
                f"callback {match.group('callback')} cannot be delivered)"))
        status, body = runtime._handle_callback_request(match.group("execution"), match.group("callback"), request)
        return _json_response(status, body)

    def close(self) -> None:
        """Stop serving."""
        if not self._closed:
            self._closed = True
            self._server.stop()
            self._thread.join(timeout=5)
            self._server.server_close()

    def __enter__(self) -> WorkflowServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _JSONAnswer:
    """A minimal WSGI response (status + JSON body): cheaper than a werkzeug Response on the hot path."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        start_response(f"{self.status} {phrase}", [("Content-Type", "application/json"),
                                                   ("Content-Length", str(len(self.body)))])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


def _json_response(status: int, body: Any) -> _JSONAnswer:
    return _JSONAnswer(status, json.dumps(body).encode("utf-8"))


# BODY_TIMEOUT and RAW_HEADERS_KEY lived here before the connection handling moved to
# `connection`; they are still importable from here.
__all__ = ["BODY_TIMEOUT", "RAW_HEADERS_KEY", "WorkflowServer"]
