"""Callback endpoints and the slot state machine (DECISIONS.md #1-#13).

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
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from .clock import NS, ns_to_datetime
from .history import EventKind

if TYPE_CHECKING:
    from .clock import Timer
    from .interpreter.threads import WorkflowThread
    from .runtime import Execution, WorkflowRuntime


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
    execution: Execution
    created_ns: int
    stored: deque[dict[str, Any]] = field(default_factory=deque)
    waiters: deque[Waiter] = field(default_factory=deque)
    responses: list[CallbackResponse] = field(default_factory=list)
    awaits: int = 0
    delivered: int = 0
    on_await: deque[PendingSend] = field(default_factory=deque)

    def slot_state(self) -> SlotState:
        """The slot's state now."""
        if not self.execution._is_active():
            return SlotState.CLOSED
        if self.waiters:
            return SlotState.WAITING
        if self.stored:
            return SlotState.FILLED
        return SlotState.EMPTY


def go_time_string(ns: int, start_ns: int) -> str:
    """Go's ``time.Time.String()`` in UTC with the monotonic part as virtual seconds (DECISIONS.md #11)."""
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
    """The request body as the workflow sees it (DECISIONS.md #9)."""
    if not body:
        return None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        try:
            from .values import json_decode

            return json_decode(text)
        except Exception:
            return text  # invalid JSON: the raw text (DECISIONS.md #9)
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
        """The resource name ``projects/…/executions/<id>/callbacks/<callback-id>``."""
        return self._endpoint.name

    @property
    def method(self) -> str:
        """The HTTP method the endpoint accepts."""
        return self._endpoint.method

    @property
    def execution(self) -> Execution:
        """The execution that created the endpoint."""
        return self._endpoint.execution

    @property
    def slot_state(self) -> SlotState:
        """EMPTY, FILLED, WAITING or CLOSED."""
        with self._endpoint.execution._runtime._kernel.lock:
            return self._endpoint.slot_state()

    @property
    def waiters(self) -> int:
        """Awaits currently waiting on this endpoint."""
        return len(self._endpoint.waiters)

    @property
    def available_payloads(self) -> int:
        """Requests stored and not yet taken by an await."""
        return len(self._endpoint.stored)

    @property
    def responses(self) -> list[int]:
        """Status codes answered so far, in order."""
        return [r.status for r in self._endpoint.responses]

    @property
    def requests(self) -> list[CallbackResponse]:
        """Every request answered, with outcome and virtual time."""
        return list(self._endpoint.responses)

    @property
    def created_time(self) -> datetime:
        """Virtual time the endpoint was created."""
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
        return self.execution._runtime._send_http(args)

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
        async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
            return await client.request(**args)

    def send_after(self, seconds: float, body: Any = None, **kwargs: Any) -> None:
        """Send the request when the virtual clock reaches now + ``seconds``."""
        runtime = self.execution._runtime
        runtime.after(seconds, lambda: self.send(body, **kwargs))

    def send_on_await(self, body: Any = None, **kwargs: Any) -> None:
        """Send the request right after the next ``await_callback`` on this endpoint starts waiting."""
        with self.execution._runtime._kernel.lock:
            self._endpoint.on_await.append(PendingSend({"body": body, **kwargs}))

    def __repr__(self) -> str:
        return f"<Callback {self.method} {self.id} {self.slot_state.value} waiters={self.waiters}>"


_UNSET: Any = object()


def handle_callback_request(runtime: WorkflowRuntime, execution_id: str, callback_id: str, request: Any) -> tuple[int, Any]:
    """Answer one callback request on the server thread, atomically under the runtime lock.

    Returns (status, JSON body). The order of checks is the contract: unknown ids, then a
    finished execution (404), a wrong method (404), authorization (401/403), then the slot
    (200 delivered, 200 stored, 429 filled).
    """
    method = request.method.upper()
    limit = runtime.settings.limits.callback_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        return _answer_simple(runtime, execution_id, callback_id, method, 413, "too-large", "FAILED_PRECONDITION",
                                   f"request body of {length} bytes exceeds the {limit}-byte limit")
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _answer_simple(runtime, execution_id, callback_id, method, 413, "too-large", "FAILED_PRECONDITION",
                                   f"request body of {len(body)} bytes exceeds the {limit}-byte limit")
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    query: dict[str, list[str]] = {}
    for key, value in request.args.items(multi=True):
        query.setdefault(key, []).append(value)
    url = request.full_path if request.query_string else request.path
    payload_body = decode_body(body, request.headers.get("Content-Type"))
    kernel = runtime._kernel
    with kernel.lock:
        kernel.request_started()
        try:
            execution = next((e for e in runtime.executions if e.id == execution_id), None)
            endpoint = execution._endpoints.get(callback_id) if execution is not None else None
            now = runtime.clock.now_ns
            if execution is None or endpoint is None:
                return 404, error_envelope(404, "NOT_FOUND",
                                           f"callback {callback_id} of execution {execution_id} not found")

            def answer(status: int, outcome: str, code: str, message: str) -> tuple[int, Any]:
                endpoint.responses.append(CallbackResponse(status, outcome, now, method, message))
                execution._record(EventKind.CALLBACK_REQUEST, None, callback_id=callback_id, method=method,
                                  status=status, outcome=outcome)
                return status, ({} if status == 200 else error_envelope(status, code, message))

            if not execution._is_active():
                return answer(404, "not-found", "NOT_FOUND",
                              f"execution {execution_id} is {execution.state.value}, not running: "
                              f"callback {callback_id} no longer accepts requests (slot CLOSED)")
            if method != endpoint.method:
                return answer(404, "bad-method", "NOT_FOUND",
                              f"callback {callback_id} of execution {execution_id} expects {endpoint.method}, "
                              f"got {method}")
            auth = _check_auth(runtime, headers)
            if auth == 401:
                return answer(401, "unauthorized", "UNAUTHENTICATED",
                              "request had invalid authentication credentials: send Authorization: Bearer <token>")
            if auth == 403:
                return answer(403, "forbidden", "PERMISSION_DENIED",
                              f"permission 'workflows.callbacks.send' denied on callback {callback_id}")
            payload = {
                "http_request": {"body": payload_body, "headers": headers, "method": method, "query": query,
                                 "url": url},
                "received_time": go_time_string(now, runtime.clock.start_ns),
                "type": "HTTP",
            }
            if endpoint.waiters:
                waiter = endpoint.waiters.popleft()
                if waiter.timer is not None:
                    waiter.timer.cancel()
                endpoint.delivered += 1
                kernel.wake(waiter.thread, payload)
                execution._record(EventKind.CALLBACK_DELIVERED, waiter.thread, callback_id=callback_id,
                                  stored=False)
                return answer(200, "delivered", "OK", "")
            if not endpoint.stored:
                endpoint.stored.append(payload)
                return answer(200, "stored", "OK", "")
            return answer(429, "rejected", "RESOURCE_EXHAUSTED",
                          f"callback {callback_id} of execution {execution_id}: slot FILLED (a request is already "
                          "stored and no await is waiting); retry later")
        finally:
            kernel.request_finished()

def _answer_simple(runtime: WorkflowRuntime, execution_id: str, callback_id: str, method: str, status: int, outcome: str, code: str,
                   message: str) -> tuple[int, Any]:
    with runtime._kernel.lock:
        execution = next((e for e in runtime.executions if e.id == execution_id), None)
        endpoint = execution._endpoints.get(callback_id) if execution is not None else None
        if execution is not None and endpoint is not None:
            endpoint.responses.append(CallbackResponse(status, outcome, runtime.clock.now_ns, method, message))
            execution._record(EventKind.CALLBACK_REQUEST, None, callback_id=callback_id, method=method,
                              status=status, outcome=outcome)
    return status, error_envelope(status, code, message)

def _check_auth(runtime: WorkflowRuntime, headers: dict[str, str]) -> int | None:
    auth = runtime.settings.callback_auth
    if auth is None:
        return None
    if callable(auth):
        verdict = auth(dict(headers))
        if verdict is True or verdict is None or verdict == 200:
            return None
        if verdict is False:
            return 403
        return int(verdict)
    given = headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        return 401
    return None if given[len("Bearer "):] == auth else 403
