"""Callback endpoints and the slot state machine (docs/decisions.md #1-#13).

The contract, as the service's callback page describes it:

* after ``events.create_callback_endpoint`` the endpoint has one free slot;
* every ``events.await_callback`` in progress opens one more: a request that
  arrives while an await waits is delivered to the oldest waiting await
  (awaits are served in the order their calls were made);
* a request that finds no waiter and a free slot is stored (the next await
  takes it at once);
* either way the sender gets ``200`` with ``{}``; a request that finds the slot
  already filled and nobody waiting gets ``429``; once the execution is no
  longer running every request gets ``404``.

All of this happens under the runtime lock, so each request is atomic with
respect to the interpreter and to other requests: with N waiters and 200
concurrent senders exactly N + 1 get 200.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from werkzeug.exceptions import HTTPException

from . import loopback
from .clock import NS, ns_to_datetime, seconds_to_ns
from .errors import value_error, wf_error
from .history import EventKind
from .interpreter.threads import BLOCK, ThreadState
from .values import json_decode

if TYPE_CHECKING:
    from collections.abc import Generator

    from .clock import Timer
    from .interpreter.host import ExecutionHost, HostOwner, RuntimeHost
    from .interpreter.threads import WorkflowThread


class SlotState(str, enum.Enum):
    """State of an endpoint's slot as a sender would see it."""

    EMPTY = "EMPTY"  # nothing stored, nobody waiting: the next request is stored (200)
    FILLED = "FILLED"  # a request is stored and nobody waits: the next request gets 429
    WAITING = "WAITING"  # one or more awaits wait: the next request is delivered (200)
    CLOSED = "CLOSED"  # the execution is no longer running: every request gets 404

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CallbackResponse:
    """One request an endpoint answered: status, outcome, virtual time, method."""

    status: int
    outcome: str  # delivered, stored, rejected, not-found, unauthorized, forbidden, too-large, bad-method
    ns: int
    method: str
    message: str = ""

    @property
    def time(self) -> datetime:
        """Virtual time of the answer."""
        return ns_to_datetime(self.ns)


@dataclass
class Waiter:
    """One ``await_callback`` in progress."""

    thread: WorkflowThread
    seq: int
    timer: Timer | None = None


@dataclass
class PendingSend:
    """A request to send when the next await starts (`Callback.send_on_await`)."""

    kwargs: dict[str, Any]


@dataclass(eq=False)
class Endpoint:
    """Internal state of one callback endpoint."""

    id: str
    method: str
    url: str
    path: str
    name: str
    host: ExecutionHost
    created_ns: int
    stored: deque[dict[str, Any]] = field(default_factory=deque)
    waiters: deque[Waiter] = field(default_factory=deque)
    responses: list[CallbackResponse] = field(default_factory=list)
    awaits: int = 0
    delivered: int = 0
    on_await: deque[PendingSend] = field(default_factory=deque)

    @property
    def execution(self) -> Any:
        """The `Execution` that created the endpoint."""
        return self.host.facade

    def slot_state(self) -> SlotState:
        """The slot's state now."""
        if not self.host.is_active():
            return SlotState.CLOSED
        if self.waiters:
            return SlotState.WAITING
        if self.stored:
            return SlotState.FILLED
        return SlotState.EMPTY


#: The last `go_time_string` answer: callbacks arriving at one virtual instant share it.
_LAST_GO_TIME: tuple[int, int, str] = (-1, -1, "")


def go_time_string(ns: int, start_ns: int) -> str:
    """Go's ``time.Time.String()`` in UTC with the monotonic part as virtual seconds (docs/decisions.md #11)."""
    global _LAST_GO_TIME
    last = _LAST_GO_TIME
    if last[0] == ns and last[1] == start_ns:
        return last[2]
    text = _go_time_string(ns, start_ns)
    _LAST_GO_TIME = (ns, start_ns, text)
    return text


def _go_time_string(ns: int, start_ns: int) -> str:
    moment = ns_to_datetime(ns)
    fraction = ns % NS
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    elapsed = ns - start_ns
    sign = "+" if elapsed >= 0 else "-"
    elapsed = abs(elapsed)
    return f"{text} +0000 UTC m={sign}{elapsed // NS}.{elapsed % NS:09d}"


def decode_body(body: bytes, content_type: str | None) -> Any:
    """The request body as the workflow sees it (docs/decisions.md #9)."""
    if not body:
        return None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        try:
            return json_decode(text, wide_ints_as_doubles=True)
        except Exception:
            return text  # invalid JSON: the raw text (docs/decisions.md #9)
    if media.startswith("text/"):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    return body


def error_envelope(code: int, status: str, message: str) -> dict[str, Any]:
    """Google's API error body."""
    return {"error": {"code": code, "message": message, "status": status}}


class Callback:
    """A callback endpoint of an execution, as the test sees it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Callback) and other._endpoint is self._endpoint

    def __hash__(self) -> int:
        return id(self._endpoint)

    # ------------------------------------------------------------------ facts
    @property
    def url(self) -> str:
        """The absolute URL a service sends the callback to."""
        return self._endpoint.url

    @property
    def id(self) -> str:
        """The callback id (``<uuid>_<uuid>``)."""
        return self._endpoint.id

    @property
    def name(self) -> str:
        """The resource name ``projects/…/executions/<id>/callback/<callback-id>`` (singular, as the API names it)."""
        return self._endpoint.name

    @property
    def method(self) -> str:
        """The HTTP method the endpoint accepts."""
        return self._endpoint.method

    @property
    def execution(self) -> Any:
        """The `Execution` that created the endpoint."""
        return self._endpoint.execution

    @property
    def slot_state(self) -> SlotState:
        """EMPTY, FILLED, WAITING or CLOSED."""
        with self._endpoint.host.runtime.kernel.lock:
            return self._endpoint.slot_state()

    @property
    def waiters(self) -> int:
        """Awaits currently waiting on this endpoint."""
        with self._endpoint.host.runtime.kernel.lock:
            return len(self._endpoint.waiters)

    @property
    def available_payloads(self) -> int:
        """Requests stored and not yet taken by an await."""
        with self._endpoint.host.runtime.kernel.lock:
            return len(self._endpoint.stored)

    @property
    def responses(self) -> list[int]:
        """Status codes answered so far, in order."""
        with self._endpoint.host.runtime.kernel.lock:
            return [r.status for r in self._endpoint.responses]

    @property
    def requests(self) -> list[CallbackResponse]:
        """Every request this endpoint answered, in order: one `CallbackResponse` each.

        Each has ``status`` (200, 429, 404, ...), ``outcome`` (``delivered`` to a waiting await,
        ``stored`` in the slot, ``rejected`` as the slot was full, ``not-found``, ``unauthorized``,
        ``forbidden``, ``too-large``, ``bad-method``), ``method``, ``message`` (the error body's
        message, empty on 200) and ``time`` (the virtual instant it was answered). ``responses``
        is the same list as bare status codes.
        """
        return list(self._endpoint.responses)

    @property
    def created_time(self) -> datetime:
        """The virtual instant (aware UTC datetime) ``events.create_callback_endpoint`` created the endpoint."""
        return ns_to_datetime(self._endpoint.created_ns)

    # ------------------------------------------------------------------ sending
    def _request_args(
        self,
        body: Any,
        json_body: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        query: Mapping[str, Any] | None,
        method: str | None,
        token: str | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"method": (method or self.method).upper(), "url": self.url}
        out_headers = dict(headers or {})
        if token is not None:
            out_headers["Authorization"] = f"Bearer {token}"
        if body is not None and json_body is not _UNSET:
            raise TypeError("pass either a body or json=..., not both")
        if json_body is not _UNSET:
            args["content"] = json.dumps(json_body).encode("utf-8")
            out_headers.setdefault("Content-Type", "application/json")
        elif body is not None:
            if isinstance(body, (bytes, str)):
                args["content"] = body.encode("utf-8") if isinstance(body, str) else body
                if isinstance(body, str):
                    out_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            else:
                args["content"] = json.dumps(body).encode("utf-8")
                out_headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            args["data"] = data
        if query:
            args["params"] = query
        args["headers"] = out_headers
        return args

    def send(
        self,
        body: Any = None,
        *,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        method: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """Send a real HTTP request to `url` (method defaults to the endpoint's); returns the response.

        ``body`` may be bytes or str (sent as is) or any JSON value (sent as JSON);
        ``json=`` always sends JSON; ``data=`` sends a form.
        """
        args = self._request_args(body, _UNSET if json is None else json, data, headers, query, method, token)
        return self._endpoint.host.runtime.send_loopback(args)

    async def send_async(
        self,
        body: Any = None,
        *,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        method: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """`send` without blocking the event loop (httpx.AsyncClient)."""
        args = self._request_args(body, _UNSET if json is None else json, data, headers, query, method, token)
        async with loopback.async_client() as client:  # immune to the test's respx mocks (loopback.py)
            return await client.request(**args)

    def send_after(self, seconds: float, body: Any = None, **kwargs: Any) -> None:
        """Send the request when the virtual clock reaches now + ``seconds``."""
        runtime = self._endpoint.host.runtime
        method = (kwargs.get("method") or self.method).upper()
        runtime.after(seconds, functools.partial(self.send, body, **kwargs),
                      label=f"send_after {method} to callback {self.id[:8]}…")

    def send_on_await(self, body: Any = None, **kwargs: Any) -> None:
        """Send the request as soon as an ``await_callback`` waits on this endpoint.

        If one is waiting already (say, right after `Execution.wait_for_callback`), the request
        is sent at the current virtual instant, on the next drive; otherwise right after the
        next await starts. Requests still unsent when the test ends are reported by the
        teardown check.
        """
        runtime = self._endpoint.host.runtime
        with runtime.kernel.lock:
            if self._endpoint.waiters:
                runtime.clock.call_at(runtime.clock.now_ns, functools.partial(self.send, body, **kwargs),
                                      user=True, label=f"send_on_await to callback {self.id[:8]}…")
            else:
                self._endpoint.on_await.append(PendingSend({"body": body, **kwargs}))

    def __repr__(self) -> str:
        return f"<Callback {self.method} {self.id} {self.slot_state.value} waiters={self.waiters}>"


_UNSET: Any = object()


#: environ key the server fills with the raw request headers, in order, as (name, value) pairs.
RAW_HEADERS_KEY = "wfcallbacks.raw_headers"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_name(code: int) -> str:
    """The Google RPC status name of an HTTP error code (429 → ``RESOURCE_EXHAUSTED``, docs/decisions.md #3)."""
    return _STATUS_NAMES.get(code, "INVALID_ARGUMENT" if 400 <= code < 500 else "INTERNAL")


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@functools.lru_cache(maxsize=4096)
def canonical_header_name(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey`` (``content-type`` → ``Content-Type``); names with odd characters stay as is."""
    if _TOKEN.fullmatch(name) is None:
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _header_text(value: str) -> str:
    # http.server decodes header bytes as latin-1; senders mean UTF-8 (undecodable bytes become U+FFFD).
    if "\n" in value:
        value = value.replace("\r\n", "").replace("\n", "")
    if value.isascii():  # the common case: nothing to re-decode
        return value
    try:
        return value.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return value


def headers_from_items(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Raw (name, value) header pairs as the workflow sees them (docs/decisions.md #8).

    Canonical names, values re-decoded as UTF-8, repeated headers joined with ``", "``.
    """
    headers: dict[str, str] = {}
    for key, value in items:
        name = canonical_header_name(key)
        text = _header_text(value)
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def request_headers(request: Any) -> dict[str, str]:
    """Headers as the workflow sees them (docs/decisions.md #8): canonical names, repeated ones joined with ``", "``."""
    raw = request.environ.get(RAW_HEADERS_KEY)
    items: Iterable[tuple[str, str]] = raw if raw is not None else request.headers.items()
    return headers_from_items(items)


def query_from_string(query_string: str) -> dict[str, list[str]]:
    """The query as the workflow sees it: a map of lists, in order (invalid escapes stay as sent)."""
    if not query_string:
        return {}
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True, errors="werkzeug.url_quote"):
        query.setdefault(key, []).append(value)
    return query


def request_url(request: Any) -> str:
    """Path and query as sent (docs/decisions.md #10)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return url_text(raw)
    return str(request.full_path if request.query_string else request.path)


def url_text(raw: str) -> str:
    """A request target as decoded by http.server (latin-1) re-read as UTF-8, as the workflow sees it."""
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return raw


@dataclass(frozen=True)
class RequestBody:
    """A callback request body as read by the server: the bytes, or why they were not taken."""

    data: bytes = b""
    too_large: str = ""  # the size, as text, when over the limit
    broken: str = ""  # why the body could not be read


EMPTY_BODY = RequestBody()


def read_body(request: Any, limit: int) -> RequestBody:
    """Read at most ``limit + 1`` bytes of the body (Content-Length or chunked); never the whole of a huge one."""
    declared = request.environ.get("CONTENT_LENGTH", "")
    if declared and not (declared.strip().isascii() and declared.strip().isdigit()):
        return RequestBody(broken=f"the Content-Length header {declared[:40]!r} is not a non-negative integer")
    length = request.content_length
    if length is not None and length > limit:
        return RequestBody(too_large=f"{length} bytes")
    stream = request.stream
    parts: list[bytes] = []
    got = 0
    try:
        while got <= limit:
            chunk = stream.read(min(limit + 1 - got, 256 * 1024))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
    except (OSError, ValueError, HTTPException) as exc:
        return RequestBody(broken=f"the request body could not be read ({type(exc).__name__}: {exc})")
    if got > limit:
        return RequestBody(too_large=f"more than {limit} bytes")
    if length is not None and got < length:
        return RequestBody(broken=f"the request body ended after {got} of the {length} bytes its Content-Length "
                                  "announced")
    return RequestBody(b"".join(parts))


def create_callback(runtime: RuntimeHost, host: ExecutionHost, th: WorkflowThread, method: str,
                    by_id: dict[str, Endpoint], by_url: dict[str, Endpoint]) -> dict[str, Any]:
    """``events.create_callback_endpoint`` for ``host``'s execution: a new endpoint in ``by_id``/``by_url``."""
    kernel = runtime.kernel
    with kernel.lock:
        callback_id = f"{runtime.new_id()}_{runtime.new_id()}"
        # The endpoint's resource hangs under the execution's: .../executions/<id>/callbacks/<cid>.
        resource = host.facade.name
        path = f"/v1/{resource}/callbacks/{callback_id}"
        url = runtime.base_url + path
        name = f"{resource}/callback/{callback_id}"
        endpoint = Endpoint(callback_id, method, url, path, name, host, runtime.clock.now_ns)
        by_id[callback_id] = endpoint
        by_url[url] = endpoint
        host.record_event(EventKind.CALLBACK_CREATED, th, callback_id=callback_id, method=method, url=url)
    return {"url": url}


def await_callback(runtime: RuntimeHost, host: ExecutionHost, th: WorkflowThread, callback: dict[str, Any],
                   timeout: float, by_url: dict[str, Endpoint],
                   next_seq: Callable[[], int]) -> Generator[Any, Any, Any]:
    """``events.await_callback``: take a stored request, or block ``th`` until one arrives or it times out."""
    kernel = runtime.kernel
    url = callback["url"]
    with kernel.lock:
        endpoint = by_url.get(url)
        if endpoint is None:
            owner = runtime.endpoint_for_url(url)
            if owner is not None:
                raise value_error("this callback endpoint belongs to another execution; "
                                  "a callback can only be awaited by the execution that created it")
            raise value_error(f"no callback endpoint with url {url!r} in this execution")
        endpoint.awaits += 1
        seq = next_seq()
        host.record_event(EventKind.CALLBACK_AWAITED, th, callback_id=endpoint.id, timeout=timeout)
        if endpoint.stored:
            payload = endpoint.stored.popleft()
            endpoint.delivered += 1
            host.record_event(EventKind.CALLBACK_DELIVERED, th, callback_id=endpoint.id, stored=True)
            return payload
        waiter = Waiter(th, seq)
        endpoint.waiters.append(waiter)

        def on_timeout() -> None:
            if waiter in endpoint.waiters:
                endpoint.waiters.remove(waiter)
                host.record_event(EventKind.TIMER_FIRED, th, callback_id=endpoint.id, reason="await_callback timeout")
                kernel.wake(th, None, wf_error(
                    "TimeoutError", f"await_callback timed out after {timeout:g} seconds waiting for "
                    f"callback {endpoint.id}"))

        waiter.timer = runtime.clock.call_at(runtime.clock.now_ns + seconds_to_ns(timeout), on_timeout,
                                             label=f"await_callback timeout ({th.describe()})")

        def cleanup() -> None:
            if waiter in endpoint.waiters:
                endpoint.waiters.remove(waiter)
            if waiter.timer is not None:
                waiter.timer.cancel()

        deadline = runtime.clock.now_ns + seconds_to_ns(timeout)
        th.block(lambda: f"await_callback on {endpoint.method} callback {endpoint.id} (times out at "
                         f"{kernel.format_ns(deadline)})", cleanup)
        while endpoint.on_await:
            pending = endpoint.on_await.popleft()
            cb = Callback(endpoint)
            runtime.clock.call_at(runtime.clock.now_ns, functools.partial(cb.send, **pending.kwargs),
                                  user=True, label=f"send_on_await {endpoint.id}")
    payload = yield BLOCK
    return payload


class _AuthCallbackError(Exception):
    """The ``callback_auth`` callable raised or returned something it should not."""


def _check_auth(runtime: RuntimeHost, headers: Mapping[str, str]) -> int | None:
    """None when allowed, else 401 or 403 (docs/decisions.md #6)."""
    auth = runtime.settings.callback_auth
    if auth is None:
        return None
    if callable(auth):
        try:
            verdict = auth(dict(headers))
        except Exception as exc:
            raise _AuthCallbackError(f"the callback_auth callable raised {exc!r}") from exc
        if verdict is True or verdict is None or verdict == 200:
            return None
        if verdict is False:
            return 403
        if verdict in (401, 403) and not isinstance(verdict, bool):
            return int(verdict)
        raise _AuthCallbackError(
            f"the callback_auth callable returned {verdict!r}; return True/None/200 to allow, False or 403 to "
            "deny, 401 for missing credentials")
    given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return 401
    return None if token.strip() == auth else 403


def handle_callback_request(runtime: HostOwner, execution_id: str, callback_id: str,
                            request: Any) -> tuple[int, Any]:
    """Answer one callback request on a server thread, atomically under the runtime lock.

    Returns (status, JSON body). The body is read first, outside the lock (at most the
    size limit + 1 bytes). The order of checks is the contract: unknown execution or
    callback id (404), execution no longer running (404, slot CLOSED), wrong method
    (404), authorization (401/403), unreadable or oversized body (400/413), then the
    slot: delivered to the oldest waiting await (200), stored in a free slot (200), or
    rejected because the slot is filled and nothing waits (429). Every answer for a
    known execution is recorded in its history; for a known endpoint also in
    `Callback.responses`. Nothing but a delivered or stored request touches the slot.

    ``request`` is a werkzeug ``Request``; the server's fast path calls
    `answer_callback_request` with the parts it parsed itself.
    """
    return answer_callback_request(
        runtime, execution_id, callback_id, request.method.upper(), lambda limit: read_body(request, limit),
        lambda: request_headers(request),
        lambda: query_from_string(request.query_string.decode("utf-8", errors="replace")),
        request_url(request), request.path)


def answer_callback_request(owner: HostOwner, execution_id: str, callback_id: str, method: str,
                            read: Callable[[int], RequestBody], headers: Callable[[], dict[str, str]],
                            query: Callable[[], dict[str, list[str]]], url: str, path: str) -> tuple[int, Any]:
    """`handle_callback_request` on parts: ``read(limit)`` reads the body, ``headers()`` and ``query()`` decode.

    The clock is held still from before the body is read until the answer (``request_started``);
    the slot decision is taken under the kernel lock, in one acquisition. ``owner`` is the
    `WorkflowRuntime` the server routed the request to (its ``host`` answers).
    """
    runtime = owner.host
    kernel = runtime.kernel
    kernel.request_started()  # holds off clock advances while this request is being read
    finished = False
    try:
        body = read(runtime.settings.limits.callback_body_bytes)
        header_map = headers()
        query_map = query()
        # Decoded before taking the lock (a pure function of the bytes): the lock is held for the slot only.
        decoded = decode_body(body.data, header_map.get("Content-Type")) if body.data else None
        with kernel.lock:
            try:
                return _answer(runtime, execution_id, callback_id, method, body, decoded, header_map, query_map,
                               url, path)
            finally:
                kernel.request_finished()
                finished = True
    finally:
        if not finished:
            with kernel.lock:
                kernel.request_finished()


def _wrong_segments(path: str, expected: str, project_number: str) -> str:
    """'' when a callback request's path names the endpoint's resource, else what differs."""
    if path == expected:
        return ""
    got, want = path.split("/"), expected.split("/")
    if len(got) != len(want):
        return f"the path {path!r} is not {expected!r}"
    differences = []
    for index, (actual, correct) in enumerate(zip(got, want, strict=True)):
        if actual == correct:
            continue
        label = want[index - 1] if index else "path"
        if label == "projects" and actual == project_number:
            continue  # the project number names the same project
        differences.append(f"{label} {actual!r} should be {correct!r}")
    return "; ".join(differences)


def _answer(runtime: RuntimeHost, execution_id: str, callback_id: str, method: str, body: RequestBody,
            decoded: Any, headers: dict[str, str], query: dict[str, list[str]], url: str,
            path: str) -> tuple[int, Any]:
    execution = runtime.execution(execution_id)
    if execution is None:
        return 404, error_envelope(404, "NOT_FOUND", f"execution {execution_id} not found; callback {callback_id} "
                                                     "cannot be delivered")
    now = runtime.clock.now_ns
    endpoint = execution.endpoints.get(callback_id)
    if endpoint is None:
        known = ", ".join(execution.endpoints) or "none"
        message = (f"callback {callback_id} not found in execution {execution_id} (its callbacks: {known}); "
                   "use the url returned by events.create_callback_endpoint")
        execution.record_event(EventKind.CALLBACK_REQUEST, None, callback_id=callback_id, method=method, status=404,
                          outcome="not-found")
        return 404, error_envelope(404, "NOT_FOUND", message)
    slot = endpoint.slot_state()
    where = f"callback {callback_id} of execution {execution_id}"
    wrong = _wrong_segments(path, endpoint.path, runtime.settings.project_number)

    def answer(status: int, outcome: str, message: str = "") -> tuple[int, Any]:
        endpoint.responses.append(CallbackResponse(status, outcome, now, method, message))
        # The body and message let reports show what each request carried and why it was refused.
        execution.record_event(EventKind.CALLBACK_REQUEST, None, callback_id=callback_id, method=method,
                               status=status, outcome=outcome, body=decoded, message=message)
        return status, ({} if status == 200 else error_envelope(status, status_name(status), message))

    if wrong:
        # The service resolves the whole resource name: a URL a sender built with another
        # project, location or workflow name is not this callback (docs/decisions.md #5).
        return answer(404, "not-found", f"{where} is not at this URL: {wrong}; use the url returned by "
                                        "events.create_callback_endpoint")
    if slot is SlotState.CLOSED:
        return answer(404, "not-found", f"{where} no longer accepts requests: the execution is "
                                        f"{execution.facade.state.value} (slot CLOSED)")
    if method != endpoint.method:
        return answer(404, "bad-method", f"{where} accepts {endpoint.method} requests only, got {method} "
                                         f"(slot {slot.value}); send it with method {endpoint.method}")
    try:
        auth = _check_auth(runtime, headers)
    except _AuthCallbackError as exc:
        runtime.server_errors.append(f"{method} {path}: {exc}")
        return answer(500, "auth-error", f"{where}: {exc} (slot {slot.value})")
    if endpoint.slot_state() is SlotState.CLOSED:  # the callable ran user code: it may have ended the execution
        return answer(404, "not-found", f"{where} no longer accepts requests: the execution is "
                                        f"{execution.facade.state.value} (slot CLOSED)")
    if auth == 401:
        return answer(401, "unauthorized", f"{where}: the request has no valid credentials (slot {slot.value}); "
                                           "send Authorization: Bearer <token>")
    if auth == 403:
        return answer(403, "forbidden", f"{where}: permission 'workflows.callbacks.send' denied for these "
                                        f"credentials (slot {slot.value})")
    if body.broken:
        return answer(400, "bad-request", f"{where}: {body.broken} (slot {slot.value})")
    if body.too_large:
        limit = runtime.settings.limits.callback_body_bytes
        return answer(413, "too-large", f"{where}: the request body ({body.too_large}) exceeds the {limit}-byte "
                                        f"limit (limits.callback_body_bytes; slot {slot.value})")
    if not endpoint.waiters and endpoint.stored:
        return answer(429, "rejected", f"{where}: slot FILLED (a request is already stored and no await_callback "
                                       "waits for another); retry later")
    payload = {
        "http_request": {"body": decoded, "headers": headers,
                         "method": method, "query": query, "url": url},
        "received_time": go_time_string(now, runtime.clock.start_ns),
        "type": "HTTP",
    }
    kernel = runtime.kernel
    while endpoint.waiters:
        waiter = endpoint.waiters.popleft()
        if waiter.timer is not None:
            waiter.timer.cancel()
        if waiter.thread.state is not ThreadState.BLOCKED:
            continue  # defensive: a waiter whose thread no longer waits cannot take the payload
        endpoint.delivered += 1
        kernel.wake(waiter.thread, payload)
        execution.record_event(EventKind.CALLBACK_DELIVERED, waiter.thread, callback_id=callback_id, stored=False)
        return answer(200, "delivered")
    if not endpoint.stored:
        endpoint.stored.append(payload)
        return answer(200, "stored")
    return answer(429, "rejected", f"{where}: slot FILLED (a request is already stored and no await_callback "
                                   "waits for another); retry later")
