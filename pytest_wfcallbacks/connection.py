"""One connection to the loopback server: reading requests strictly, answering them fast.

`_CallbackRequestHandler` serves every connection `server.WorkflowServer` accepts. werkzeug's
development handler closes every connection (it cannot tell where a request body ends, so
it cannot find the next request line), and per-request Python dominates a callback round
trip: ``http.client.parse_headers`` (an ``email`` parser), the WSGI environ, a werkzeug
``Request``, the ``Date`` header. So a request whose request line names a callback URL takes
a fast path (`_CallbackRequestHandler.handle_one_request`): the head is read strictly by
`http_head.read_head` (under http.server's own limits), the body by ``Content-Length``
(`_BodyReader`, within `BODY_TIMEOUT`), and `callbacks.answer_callback_request` answers
from those parts; status line, headers and body leave in one write. Anything the fast path
does not handle plainly (``Transfer-Encoding``, ``Expect``, escapes or non-ASCII in the
target, other HTTP versions) is handed, with the bytes already read, to http.server's
``parse_request`` and werkzeug; so is every non-callback path (the REST API and the extra
``handlers``). That path keeps werkzeug (``make_environ``, ``Request``, ``Response``) but
answers with its own `_CallbackRequestHandler.run_wsgi`: HTTP/1.1 keep-alive, the whole
response buffered and sent with ``Content-Length``, and the request body accounted for
exactly (``Content-Length`` or chunked), so a connection is reused only when the next
request line is certain to be next on the wire. Bodies left unread beyond a small margin
(a 413) close the connection after the answer, draining a bounded amount so the client
sees the answer rather than a reset.

Client mistakes at the HTTP level (request line or header too long, too many headers,
malformed request, a body that does not arrive) are answered 4xx in Google's error
envelope and touch no slot.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import json
import re
import selectors
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from werkzeug.serving import WSGIRequestHandler

from .callbacks import (
    EMPTY_BODY,
    RequestBody,
    error_envelope,
    status_name,
)
from .http_head import MAX_LINE, Head, HeadError, read_head

if TYPE_CHECKING:
    from .server import WorkflowServer

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
