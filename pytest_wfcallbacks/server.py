"""The loopback HTTP server: one werkzeug server shared by every runtime of a session.

It binds 127.0.0.1 on an ephemeral port and only routes: a request for
``/v1/projects/{p}/locations/{l}/workflows/{w}/executions/{e}/callbacks/{c}``
goes to the runtime that owns execution ``{e}``, which answers under its own
lock. The server never runs interpreter code. A handler error is answered with
500, recorded on the runtime (reported by `WorkflowRuntime.check`) and never
kills the server.

Throughput. werkzeug's development handler closes every connection (it cannot
tell where a request body ends, so it cannot find the next request line) and the
threaded server starts one thread per connection. Both costs dominate a callback
round trip, and so does per-request Python: ``http.client.parse_headers`` (an
``email`` parser), the WSGI environ, a werkzeug ``Request``, the ``Date`` header.
So a request whose request line names a callback URL takes a fast path
(`_CallbackRequestHandler.handle_one_request`): the headers are split by hand
under http.server's own limits (65536-byte lines, 100 lines), the body is read
by ``Content-Length``, and `callbacks.answer_callback_request` answers from those
parts; status line, headers and body leave in one write. Anything the fast path
does not handle plainly (folded or odd header lines, ``Transfer-Encoding``,
``Expect``, a repeated ``Content-Length``, escapes or non-ASCII in the target,
other HTTP versions) is handed, with the bytes already read, to http.server's
``parse_request`` and werkzeug, exactly as before; so is every non-callback path
(the REST API and the extra ``handlers``). That path keeps werkzeug
(``make_environ``, ``Request``, ``Response``) but answers with its own
`_CallbackRequestHandler.run_wsgi`: HTTP/1.1
keep-alive, the whole response buffered and sent with ``Content-Length``, and the
request body accounted for exactly (``Content-Length`` or chunked), so a
connection is reused only when the next request line is certain to be next on the
wire. Bodies left unread beyond a small margin (a 413) close the connection
after the answer, draining a bounded amount so the client sees the answer rather
than a reset. Connections are served by a pool of reusable worker threads
(`_WorkerPool`): threads are reused across connections, at most
``max_idle_workers`` idle ones are kept, and a new one is started only when every
worker is busy, so a keep-alive connection idling in a client's pool can never
starve another sender.

Client mistakes at the HTTP level (request line or header too long, too many
headers, malformed request) are answered by the standard library's checks with
4xx, in Google's error envelope.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import json
import queue
import re
import selectors
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from .callbacks import (
    EMPTY_BODY,
    RequestBody,
    answer_callback_request,
    error_envelope,
    headers_from_items,
    query_from_string,
    status_name,
    url_text,
)
from .errors import WfCallbacksError
from .http_head import MAX_LINE, Head, HeadError, read_head

if TYPE_CHECKING:
    from .runtime import WorkflowRuntime

_CALLBACK_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/workflows/(?P<workflow>[^/]+)"
    r"/executions/(?P<execution>[^/]+)/callbacks/(?P<callback>[^/]+)$"
)

#: Seconds the rest of a request (headers after the request line, then the body) may take to arrive.
BODY_TIMEOUT = 2.0
#: Request body bytes left unread by the application that are still drained to keep a connection alive.
_DRAIN_TO_KEEP_ALIVE = 64 * 1024
#: environ key holding the raw request headers, in order, as (name, value) pairs.
RAW_HEADERS_KEY = "wfcallbacks.raw_headers"


class _CountingInput(io.RawIOBase):
    """``wsgi.input`` wrapper that counts the body bytes the application read and notices the end."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.consumed = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        if not data:
            self.eof = True
            return 0
        view[: len(data)] = data
        self.consumed += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._stream.read(size) if size is not None and size >= 0 else self._stream.read()
        if not data and (size is None or size != 0):
            self.eof = True
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data: bytes = self._stream.readline(size if size is not None else -1)
        if not data:
            self.eof = True
        self.consumed += len(data)
        return data


class _DeadlineReader:
    """The connection's buffered reader, failing with TimeoutError once ``deadline`` (monotonic) has passed.

    Each method makes at most one socket read per turn, with the socket's timeout set to
    the time left, so the whole body takes at most `BODY_TIMEOUT` however a sender trickles
    it: a callback request holds its runtime's clock still while its body is read.
    """

    def __init__(self, rfile: Any, sock: Any, deadline: float) -> None:
        self._rfile = rfile
        self._socket = sock
        self._deadline = deadline

    def _arm(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._late()
        self._socket.settimeout(remaining)

    @staticmethod
    def _late() -> TimeoutError:
        return TimeoutError(f"the request body did not arrive within {BODY_TIMEOUT:g} s of its headers")

    def read1(self, size: int = -1) -> bytes:
        self._arm()
        try:
            data: bytes = self._rfile.read1(size)
        except TimeoutError:
            raise self._late() from None
        return data

    def read(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        got = 0
        while size is None or size < 0 or got < size:
            data = self.read1(65536 if size is None or size < 0 else size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        got = 0
        limit = -1 if size is None else size
        while limit < 0 or got < limit:
            self._arm()
            try:
                peeked: bytes = self._rfile.peek(1)  # at most one socket read
            except TimeoutError:
                raise self._late() from None
            if not peeked:
                break
            span = len(peeked) if limit < 0 else min(len(peeked), limit - got)
            newline = peeked.find(b"\n", 0, span)
            take = newline + 1 if newline >= 0 else span
            parts.append(self._rfile.read(take))  # served from the buffer
            got += take
            if newline >= 0:
                break
        return b"".join(parts)


#: [second, "Server: ...\r\nDate: ...\r\n"]: the Date header changes once per second.
_DATE_CACHE: list[object] = [-1, b""]


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


_STATUS_LINES = {code: _status_line(code) for code in (200, 400, 401, 403, 404, 413, 429, 500)}


def _encode(body: Any) -> bytes:
    return b"{}" if body == {} else json.dumps(body).encode("utf-8")


class _BodyReader:
    """Reads a fast-path request body by ``Content-Length`` and knows whether the connection can go on."""

    __slots__ = ("_length_text", "_read", "_rfile", "_socket", "complete")

    def __init__(self, rfile: Any, length_text: str | None, sock: Any = None) -> None:
        self._rfile = rfile
        self._socket = sock
        self._length_text = length_text
        self._read = False
        #: The whole body was consumed: the next request line follows on the wire.
        self.complete = False

    def read(self, limit: int) -> RequestBody:
        """At most ``limit`` bytes of body, as `callbacks.read_body` would return them."""
        self._read = True
        text = self._length_text
        if text is None:
            self.complete = True
            return EMPTY_BODY
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit()):
            return RequestBody(broken=f"the Content-Length header {text[:40]!r} is not a non-negative integer")
        length = int(stripped)
        if length > limit:
            self.complete = self._discard(length)
            return RequestBody(too_large=f"{length} bytes")
        try:
            data = self._read_within(length, BODY_TIMEOUT)
            if self._socket is not None:
                self._socket.settimeout(_CallbackRequestHandler.timeout)  # back to the idle keep-alive timeout
        except TimeoutError:
            return RequestBody(broken=f"the request body did not arrive within {BODY_TIMEOUT:g} s of its headers "
                                      f"(Content-Length {length}); send the body with the headers")
        except (OSError, ValueError) as exc:
            return RequestBody(broken=f"the request body could not be read ({type(exc).__name__}: {exc})")
        if len(data) < length:
            return RequestBody(broken=f"the request body ended after {len(data)} of the {length} bytes its "
                                      "Content-Length announced")
        self.complete = True
        return RequestBody(data)

    def _read_within(self, length: int, seconds: float) -> bytes:
        """``length`` bytes (fewer at end of stream); TimeoutError when they take over ``seconds`` in all.

        A sender that stops after its headers holds the clock of its runtime still while
        the request is in flight (`answer_callback_request`); a bounded wait keeps one
        stalled sender from freezing every execution.
        """
        if not length:
            return b""
        deadline = time.monotonic() + seconds
        parts: list[bytes] = []
        got = 0
        while got < length:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if self._socket is not None:
                self._socket.settimeout(remaining)
            data = self._rfile.read1(length - got) if got or self._socket is not None else self._rfile.read(length)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _discard(self, length: int) -> bool:
        if length > _DRAIN_TO_KEEP_ALIVE:
            return False
        try:
            while length > 0:
                data = self._rfile.read(min(length, 16 * 1024))
                if not data:
                    return False
                length -= len(data)
        except (OSError, ValueError):
            return False
        return True

    def finished(self) -> bool:
        """Consume a body nobody read (a small one is drained); whether the connection can be reused."""
        if not self._read:
            self.read(_DRAIN_TO_KEEP_ALIVE)
        return self.complete


class _CallbackRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler with keep-alive, quiet logs and JSON error envelopes."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    #: Seconds a connection may stay silent (idle keep-alive, or a stalled body) before it is closed.
    timeout = 60

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """HTTP-level rejections (431, 414, 400...) in Google's error envelope; the connection closes."""
        if code >= 500:  # only protocol-level client mistakes reach here (505: a bad HTTP version)
            message = f"{message or 'unsupported request'} ({code})"
            code = 400
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        if self.request_version == "HTTP/0.9":  # unparsable request line: still answer with a status line
            self.request_version = "HTTP/1.0"
        text = f"{message or phrase}: the request is not valid HTTP for the callback endpoint"
        body = json.dumps(error_envelope(code, status_name(code), text)).encode("utf-8")
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    # ------------------------------------------------------------------ fast path
    def handle_one_request(self) -> None:
        """Read one request; callback requests take `_serve_callback`, everything else http.server + werkzeug.

        The request line is read here, then the head is read and validated strictly
        (`http_head.read_head`, h11 underneath): a head the service would refuse is
        answered 4xx before anything is routed. When the request line names a callback
        URL (plain ASCII, no escapes, HTTP/1.0 or 1.1) and the body is framed by
        ``Content-Length`` alone, the answer is computed from the parsed parts without a
        WSGI environ or a werkzeug ``Request``: that is most of a callback's server-side
        cost. Anything else hands the validated head to http.server's ``parse_request``
        and werkzeug.
        """
        try:
            line = self.rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                self.raw_requestline = line
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not line:
                self.close_connection = True
                return
            self.raw_requestline = line
            words = line.split()
            if len(words) != 3:  # HTTP/0.9 or garbage: http.server's own answers
                self._serve_standard(None)
                return
            head = read_head(self.rfile, line)
            if isinstance(head, HeadError):
                self._refuse_head(head)
                return
            match = None
            if words[2] in (b"HTTP/1.1", b"HTTP/1.0") and line.isascii() and b"%" not in words[1]:
                target = words[1].decode("ascii")
                match = _CALLBACK_PATH.match(target.partition("?")[0])
            if match is None or head.has_transfer_encoding or head.expects_continue:
                self._serve_standard(head.header_bytes)
                return
            self._serve_callback(words, target, match, head)
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def _refuse_head(self, head: HeadError) -> None:
        words = self.raw_requestline.split()
        self.command = words[0].decode("latin-1") if words else ""
        self.request_version = words[2].decode("latin-1") if len(words) == 3 else "HTTP/1.0"
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        self.close_connection = True
        if head.closed:  # the client went away mid-head: nothing is delivered; answer if it still listens
            with contextlib.suppress(OSError):
                self.send_error(head.status, head.message)
            return
        self.send_error(head.status, head.message)
        self._drain_before_close()  # the client may still be sending: let it read the answer, not a reset

    def _serve_standard(self, head: bytes | None) -> None:
        """http.server's parsing and werkzeug's WSGI call; ``head``: header bytes already read from the socket."""
        if head is None:
            ok = self.parse_request()
        else:
            rfile = self.rfile
            self.rfile = io.BytesIO(head)
            try:
                ok = self.parse_request()
            finally:
                self.rfile = rfile
        if ok:
            self.run_wsgi()
            self.wfile.flush()
            self.connection.settimeout(self.timeout)  # the body deadline shortened it: idle keep-alive again

    def _serve_callback(self, words: list[bytes], target: str, match: re.Match[str], head: Head) -> None:
        command = words[0].decode("ascii")
        version = words[2].decode("ascii")
        self.command, self.path, self.request_version = command, target, version
        self.requestline = self.raw_requestline.decode("ascii").rstrip("\r\n")
        raw = head.headers
        connection = next((value for name, value in raw if name.lower() == "connection"), None)
        option = (connection or "").lower()
        self.close_connection = option == "close" if version == "HTTP/1.1" else option != "keep-alive"
        server: WorkflowServer | None = getattr(self.server, "workflow_server", None)
        reader = _BodyReader(self.rfile, head.content_length, self.connection)
        if server is None:  # not a WorkflowServer's socket: nothing to route to
            status, body = 404, _encode(error_envelope(404, "NOT_FOUND", f"no callback endpoint at {target!r}"))
        else:
            status, body = server._answer_callback(command.upper(), target, match, raw, reader)
        if not reader.finished():
            self.close_connection = True
        self._send_answer(status, b"" if command.upper() == "HEAD" else body)
        if not reader.complete:
            self._drain_before_close()

    def _send_answer(self, status: int, body: bytes) -> None:
        """Status line, headers and body in one write."""
        head = [_STATUS_LINES.get(status) or _status_line(status), self._common_headers(),
                b"Content-Type: application/json\r\nContent-Length: ", str(len(body)).encode("ascii"), b"\r\n"]
        if self.close_connection:
            head.append(b"Connection: close\r\n")
        elif self.request_version == "HTTP/1.0":
            head.append(b"Connection: keep-alive\r\n")
        head.append(b"\r\n")
        head.append(body)
        self.wfile.write(b"".join(head))

    def _common_headers(self) -> bytes:
        """``Server`` and ``Date`` lines, the date formatted once per second."""
        now = int(time.time())
        cached = _DATE_CACHE
        if cached[0] != now:
            cached[1] = (f"Server: {self.version_string()}\r\nDate: "
                         f"{email.utils.formatdate(now, usegmt=True)}\r\n").encode("latin-1")
            cached[0] = now
        return cached[1]  # type: ignore[return-value]

    def make_environ(self) -> Any:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def run_wsgi(self) -> None:
        """Run the application, then answer with a buffered body and keep the connection when it is safe."""
        if self.request_version == "HTTP/0.9":  # "GET /path" with no version: answer as HTTP/1.0 and close
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        # "Expect: 100-continue" is answered by http.server's parse_request (handle_expect_100)
        # before this runs; writing it here as well sent it twice.
        rfile = self.rfile
        # Duck-typed: make_environ only hands self.rfile to werkzeug's readers as wsgi.input.
        self.rfile = cast("Any", _DeadlineReader(rfile, self.connection, time.monotonic() + BODY_TIMEOUT))
        try:
            environ = self.make_environ()  # wsgi.input reads through the deadline
        finally:
            self.rfile = rfile
        counted = _CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = counted
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = status
            captured["headers"] = headers
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        except Exception as exc:  # never let an application error kill the connection thread
            captured["status"] = "500 INTERNAL SERVER ERROR"
            captured["headers"] = [("Content-Type", "application/json")]
            chunks[:] = [json.dumps(error_envelope(500, "INTERNAL", f"pytest-wfcallbacks server error: {exc!r}"))
                         .encode("utf-8")]
        reusable = self._body_accounted_for(environ, counted)
        if not reusable:
            self.close_connection = True
        status_text = str(captured.get("status", "500 INTERNAL SERVER ERROR"))
        code_text, _, reason = status_text.partition(" ")
        code = int(code_text)
        body = b"".join(chunks)
        self.send_response(code, reason or None)
        for key, value in captured.get("headers", []):
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        no_body = self.command == "HEAD" or code < 200 or code in (204, 304)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        # Headers and body leave in one write: two small writes on a keep-alive connection meet Nagle's
        # algorithm and the client's delayed ACK (a 40 ms stall per request).
        self._headers_buffer.append(b"\r\n")
        if not no_body and body:
            self._headers_buffer.append(body)
        self.flush_headers()
        self.wfile.flush()
        if not reusable:
            self._drain_before_close()

    def _body_accounted_for(self, environ: dict[str, Any], counted: _CountingInput) -> bool:
        """Whether the whole request body was read (draining a small rest), so the next request line follows."""
        try:
            if environ.get("wsgi.input_terminated"):
                # chunked: reusable only when the application read to the terminating chunk. Reading on
                # here could block on a sender that stopped mid-body (the 413 case), so close instead.
                return counted.eof
            length_text = environ.get("CONTENT_LENGTH", "")
            if not length_text:
                return True
            if not length_text.isdigit():
                return False
            remaining = int(length_text) - counted.consumed
            if remaining > _DRAIN_TO_KEEP_ALIVE:
                return False
            while remaining > 0:
                data = counted.read(min(remaining, 16 * 1024))
                if not data:
                    return False
                remaining -= len(data)
            return True
        except (OSError, ValueError):
            return False

    def _drain_before_close(self) -> None:
        """Read (bounded) what the client is still sending so it sees the answer instead of a reset."""
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.connection, selectors.EVENT_READ)
            total = 0
            while total < 64 * 1024 * 1024 and selector.select(timeout=0.05):
                data = self.connection.recv(256 * 1024)
                if not data:
                    break
                total += len(data)
        except OSError:
            pass
        finally:
            selector.close()


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
