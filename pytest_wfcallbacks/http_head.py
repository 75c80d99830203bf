"""Reading and validating a request's head (request line and headers) for the loopback server.

A workflow sees the headers of a callback request as data (``http_request.headers``),
so every leniency of a parser changes what a workflow sees: http.server accepts a
request cut off in the middle of its headers, header lines without a colon, names
followed by a space, folded lines, and both ``Content-Length`` and
``Transfer-Encoding``. Google's front end refuses those requests, so this module
refuses them too, before any slot is touched.

The head is split into lines here (bounded: 65536 bytes a line, 100 lines, 64 KiB
in all, http.client's own figures plus a total) and then validated by h11, a
maintained HTTP/1.1 parser (the state machine under httpcore), which checks the
request line, header names and values, ``Host`` and ``Content-Length`` /
``Transfer-Encoding`` syntax. The few points h11 tolerates and the service does not
(obsolete line folding, both framing headers, a target starting ``//``) are
checked here.

h11 is thorough and, for a callback, slow: building its connection and events took
about half of the server's time per request. Most heads are plain (a request line,
``Host``, ``Content-Type``, one ``Content-Length``, visible ASCII values), so
`validate_head` first tries `_plain_head`, which accepts only a strict subset of what
h11 accepts and returns what h11's path returns for it; anything outside that subset
(another coding, a repeated framing header, obs-text, bare LF line ends...) goes to
h11, which keeps the exact verdict and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import h11

#: The longest request line or header line accepted (http.server / http.client's figure).
MAX_LINE = 65536
#: The most header lines accepted, the terminating blank line included (http.client's figure).
MAX_LINES = 100
#: The most bytes of headers accepted in all (431 above).
MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Head:
    """A validated request head: raw bytes as read, and the headers with their original casing."""

    data: bytes
    #: the header lines and the blank line, without the request line (what http.server's parser reads)
    header_bytes: bytes
    headers: list[tuple[str, str]]
    has_transfer_encoding: bool
    content_length: str | None
    expects_continue: bool


@dataclass(frozen=True)
class HeadError:
    """Why a head was refused: an HTTP status (400, 431...) and a sentence; ``closed``: the peer went away."""

    status: int
    message: str
    closed: bool = False


def read_head(rfile: Any, request_line: bytes) -> Head | HeadError:
    """Read the header lines after ``request_line`` from ``rfile`` and validate the whole head."""
    lines = [request_line]
    total = 0
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            return HeadError(431, f"a header line is longer than {MAX_LINE} bytes")
        if not line:
            # The connection ended before the blank line that ends the headers: a request cut
            # off is not a request (http.server would have handed on what it had).
            return HeadError(400, "the request ended before the end of its headers", closed=True)
        lines.append(line)
        if len(lines) - 1 > MAX_LINES:
            return HeadError(431, f"more than {MAX_LINES} header lines")
        total += len(line)
        if total > MAX_HEAD_BYTES:
            return HeadError(431, f"the headers exceed {MAX_HEAD_BYTES} bytes in all")
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            return HeadError(400, "a folded header line (obsolete line folding, RFC 9112 section 5.2) is refused")
    return validate_head(b"".join(lines), len(request_line))


_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
#: A request line of the plain subset: token method, a visible-ASCII target not starting ``//``, CRLF.
_PLAIN_REQUEST_LINE = re.compile(rb"(?:" + _TOKEN + rb") (?!//)[\x21-\x7e]+ HTTP/1\.[01]\r\n")
#: A header line of the plain subset: token name, colon, optional blanks, a visible-ASCII value whose
#: inner blanks are spaces or tabs, optional blanks, CRLF (h11's field rule, narrowed to ASCII).
_PLAIN_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*((?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?)[ \t]*\r\n")
_LENGTH = re.compile(rb"[0-9]{1,19}")


def _plain_head(data: bytes, line_length: int) -> Head | None:
    """The head, when it lies in the plain subset h11 certainly accepts; None sends it to h11."""
    if not _PLAIN_REQUEST_LINE.fullmatch(data, 0, line_length) or not data.endswith(b"\r\n\r\n"):
        return None
    headers: list[tuple[str, str]] = []
    hosts = 0
    length: str | None = None
    expects = False
    position = line_length
    end = len(data) - 2  # the blank line
    match = _PLAIN_HEADER.match
    while position < end:
        found = match(data, position)
        if found is None:
            return None
        position = found.end()
        name = found.group(1).decode("ascii")
        text = found.group(2).decode("ascii")
        lower = name.lower()
        if lower == "host":
            hosts += 1
        elif lower == "content-length":
            if length is not None or not _LENGTH.fullmatch(found.group(2)):
                return None  # repeated or unusual: h11 merges equal values and words the refusal
            length = text
        elif lower == "transfer-encoding":
            return None
        elif lower == "expect" and text.lower() == "100-continue":
            expects = True
        headers.append((name, text))
    if position != end or hosts != 1:
        return None  # h11 words the missing or repeated Host (optional under HTTP/1.0)
    return Head(data, data[line_length:], headers, False, length, expects)


def validate_head(data: bytes, line_length: int) -> Head | HeadError:
    """Validate a complete head (request line, headers, blank line) with h11 and the service's extra rules."""
    plain = _plain_head(data, line_length)
    if plain is not None:
        return plain
    return _validate_with_h11(data, line_length)


def _validate_with_h11(data: bytes, line_length: int) -> Head | HeadError:
    connection = h11.Connection(h11.SERVER)
    try:
        connection.receive_data(data)
        event = connection.next_event()
    except h11.RemoteProtocolError as exc:
        status = exc.error_status_hint
        # h11 hints 501 for an unknown transfer coding: a client's mistake all the same.
        return HeadError(status if 400 <= status < 500 else 400, f"malformed request head ({exc})")
    if not isinstance(event, h11.Request):  # pragma: no cover - a complete head always gives a Request
        return HeadError(400, "malformed request head")
    if event.target.startswith(b"//"):
        return HeadError(400, f"the request target {event.target[:60].decode('latin-1')!r} starts with '//'")
    headers: list[tuple[str, str]] = []
    transfer = False
    length: str | None = None
    expects = False
    for raw_name, value in event.headers.raw_items():
        name = raw_name.decode("latin-1")
        text = value.decode("latin-1")
        lower = name.lower()
        if lower == "transfer-encoding":
            transfer = True
        elif lower == "content-length":
            length = text
        elif lower == "expect" and text.lower() == "100-continue":
            expects = True
        headers.append((name, text))
    if transfer and length is not None:
        return HeadError(400, "the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)")
    return Head(data, data[line_length:], headers, transfer, length, expects)
