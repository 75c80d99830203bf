"""Outbound HTTP for the workflows' ``http.*`` calls: httpx, answered by a per-runtime respx router.

The router (`WorkflowRuntime.http`) is consulted only for requests the
interpreter makes, through a transport of its own: nothing is patched, so the
test's own httpx calls (to the callback server or anywhere else) never see it.

What a request becomes, as the workflow sees it (docs/semantics.md §4.3, docs/decisions.md #16):

* a route's response -> ``{code, headers, body}``; status >= 400 raises
  ``HttpError`` with ``code``, ``headers``, ``body``, ``message`` and ``tags``;
* a side effect raising ``httpx.ConnectError`` (refused, DNS) ->
  ``ConnectionFailedError``; ``httpx.ReadError``, ``WriteError``,
  ``RemoteProtocolError`` (the connection broke after it was made) ->
  ``ConnectionError``; ``httpx.TimeoutException`` -> ``TimeoutError`` after the
  request's ``timeout`` of virtual time;
* a response built with `respond_after` or `delayed` arrives that many virtual
  seconds after the request (``TimeoutError`` after ``timeout`` seconds when the
  delay is longer), on the runtime's clock, so no wall time passes;
* no route matches: loopback URLs (``127.0.0.1``, ``::1``, ``localhost``) go to the
  real local service; any other URL fails the call with ``ConnectionFailedError``
  naming the URL and is reported, grouped, by `WorkflowRuntime.check` after the test.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import respx
from respx.models import AllMockedAssertionError, PassThrough

from . import loopback
from .errors import WorkflowError, type_error, wf_error
from .history import EventKind
from .values import json_decode, json_encode, to_string, type_name

if TYPE_CHECKING:
    from .interpreter.host import RuntimeHost
    from .interpreter.threads import WorkflowThread

#: The bearer token a request made with ``auth`` carries: ``Authorization: Bearer <FAKE_TOKEN>``.
FAKE_TOKEN = "fake-token-from-pytest-wfcallbacks"
#: The largest response body the service hands to a workflow (docs/semantics.md §7); bigger -> ResourceLimitError.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: The ``User-Agent`` of outbound requests unless the workflow sets one.
USER_AGENT = "GoogleCloudWorkflows; (+https://cloud.google.com/workflows/docs/) pytest-wfcallbacks"
#: The httpx response extension holding a virtual delay in seconds (set by `respond_after` / `delayed`).
DELAY_EXTENSION = "wfcallbacks_delay"

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def respond_after(seconds: float, status_code: int = 200, **kwargs: Any) -> httpx.Response:
    """A response the workflow receives ``seconds`` of virtual time after sending its request.

    ``kwargs`` are those of `httpx.Response` (``json=``, ``text=``, ``content=``,
    ``headers=``). Use it as a route's return value or from a side effect::

        workflow_runtime.http.get("https://api.example.com/slow").mock(
            return_value=respond_after(30, 200, json={"ok": True}))

    When ``seconds`` is more than the request's ``timeout`` (300 unless the
    workflow sets one), the call raises ``TimeoutError`` after ``timeout``
    virtual seconds instead.
    """
    return delayed(httpx.Response(status_code, **kwargs), seconds)


def delayed(response: httpx.Response, seconds: float) -> httpx.Response:
    """Mark ``response`` to arrive ``seconds`` of virtual time after the request (see `respond_after`)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"a response delay must be a non-negative number of seconds, got {seconds!r}")
    response.extensions[DELAY_EXTENSION] = float(seconds)
    return response


def _is_loopback(url: httpx.URL) -> bool:
    host = url.host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Unmocked(Exception):
    """No route answered a non-loopback request (or a route passed one through)."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(url)
        self.url = url
        self.detail = detail


class _RouterTransport(httpx.BaseTransport):
    """Answers from the runtime's router; unmatched loopback requests go to the real local service."""

    def __init__(self, outbound: OutboundHttp) -> None:
        self.outbound = outbound

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.outbound.router.handler(request)
        except AllMockedAssertionError:
            if _is_loopback(request.url):
                return self._real(request)
            raise _Unmocked(str(request.url), "no route matches it") from None
        except PassThrough:
            if _is_loopback(request.url):
                return self._real(request)
            raise _Unmocked(str(request.url), "its route passes it through, and only loopback URLs may "
                                              "reach a real service") from None

    def _real(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            # The plugin's loopback transport: no TLS set-up, and no respx mock of the test sees it.
            return loopback.transport().handle_request(request)
        # A fresh transport per request: nothing to close when the runtime ends.
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        return response


@dataclass(frozen=True)
class UnmockedCall:
    """An outbound request no route answered: what, from where, when (virtual ns)."""

    method: str
    url: str
    execution_id: str
    step: str
    ns: int


class OutboundHttp:
    """Performs the ``http.*`` requests of one runtime's workflows."""

    def __init__(self, runtime: RuntimeHost) -> None:
        self.runtime = runtime
        # The router and the client are built on first use: the router's mocks were most of
        # the cost of creating a runtime, and many tests never make an http.* call.
        self._router: respx.MockRouter | None = None
        self._own_client: httpx.Client | None = None
        #: Every request no mock answered, in order.
        self.unmocked_calls: list[UnmockedCall] = []
        #: The error message of an unmocked call (``str.format`` fields: method, url, detail, verb, bare);
        #: the command line, where no test can add a mock, sets its own.
        self.unmocked_advice = ("no mock answers {method} {url} ({detail}): add a route, e.g. "
                                "workflow_runtime.http.{verb}({bare!r}).respond(200, json=...)")
        #: Side effects that raised something other than an httpx error (bugs in the test's mocks).
        self.mock_errors: list[str] = []

    @property
    def router(self) -> respx.MockRouter:
        """The respx router exposed as `WorkflowRuntime.http`."""
        if self._router is None:
            self._router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        return self._router

    @router.setter
    def router(self, router: respx.MockRouter) -> None:
        self._router = router

    @property
    def _client(self) -> httpx.Client:
        if self._own_client is None:
            # OwnClient: a test's respx.mock(using="httpx") must not take the workflows' calls from the router.
            self._own_client = loopback.OwnClient(transport=_RouterTransport(self), follow_redirects=True,
                                                  trust_env=False)
        return self._own_client

    def close(self) -> None:
        """Close the client the workflows' requests go through."""
        if self._own_client is not None:
            self._own_client.close()

    @property
    def unmocked(self) -> list[str]:
        """The unmocked requests grouped by method and URL, one line each (for the teardown report)."""
        groups: dict[tuple[str, str], list[UnmockedCall]] = {}
        for call in self.unmocked_calls:
            groups.setdefault((call.method, call.url), []).append(call)
        kernel = self.runtime.kernel
        lines = []
        for (method, url), calls in groups.items():
            first = calls[0]
            count = f"{len(calls)} call{'' if len(calls) == 1 else 's'}"
            lines.append(f"{method} {url}: {count}, first from execution {first.execution_id} step "
                         f"{first.step!r} at {kernel.format_ns(first.ns)}; mock it with "
                         f"workflow_runtime.http.{method.lower()}({_without_query(url)!r}).respond(...)")
        return lines

    def request(self, th: WorkflowThread, spec: dict[str, Any]) -> Generator[Any, Any, Any]:
        """Send one request (``spec`` checked by `stdlib.httplib`); return ``{code, headers, body}``.

        Raises the Workflows error the service would raise; see the module docstring.
        """
        method: str = spec["method"]
        url: str = spec["url"]
        timeout: float = spec["timeout"]
        headers = dict(spec["headers"])
        content: bytes | None = None
        if spec["body"] is not None:
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            content, default_type = encode_body(spec["body"], content_type)
            if content_type is None:
                headers["Content-Type"] = default_type
        if spec.get("auth") is not None and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {FAKE_TOKEN}"
        if not any(k.lower() == "user-agent" for k in headers):
            headers["User-Agent"] = USER_AGENT
        execution = th.host
        # Real (loopback) requests wait at most the wall-time budget; mocks take no wall time.
        wall_timeout = min(timeout, self.runtime.settings.real_time_budget)
        try:
            request = self._client.build_request(method, with_query(url, query_params(spec["query"])),
                                                 headers=headers, content=content, timeout=wall_timeout)
        except (httpx.InvalidURL, ValueError) as exc:
            raise wf_error("ValueError", f"http.{method.lower()}: invalid URL {url!r}: {exc}") from None
        details: dict[str, Any] = {"method": method, "url": str(request.url)}
        if spec.get("auth") is not None:
            details["auth"] = dict(spec["auth"])
        if spec.get("private_service_name") is not None:
            details["private_service_name"] = spec["private_service_name"]
        execution.record_event(EventKind.HTTP_REQUEST, th, **details)
        target = f"{method} {request.url}"
        try:
            response = self._client.send(request)
        except _Unmocked as exc:
            self.unmocked_calls.append(UnmockedCall(method, exc.url, execution.id, th.step_name(),
                                                    self.runtime.clock.now_ns))
            raise wf_error("ConnectionFailedError", self.unmocked_advice.format(
                method=method, url=exc.url, detail=exc.detail, verb=method.lower(), bare=_without_query(exc.url),
            )) from None
        except httpx.TimeoutException as exc:
            # The service waited the whole timeout before giving up: so does the virtual clock.
            yield from th.sleep(timeout)
            raise wf_error("TimeoutError", f"{target} got no response within {timeout:g} seconds ({exc})") from None
        except (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol) as exc:
            raise wf_error("ConnectionFailedError", f"could not connect for {target}: {exc}") from None
        except httpx.HTTPError as exc:
            raise wf_error("ConnectionError", f"the connection broke during {target}: {exc}") from None
        except Exception as exc:  # a side effect's own bug: fail the call, keep it for the report
            self.mock_errors.append(f"{target}: the mock raised {exc!r}")
            raise wf_error(
                "SystemError",
                f"the mock for {target} raised {exc!r}; side effects should return an httpx.Response or "
                "raise an httpx error (httpx.ConnectError, httpx.ReadError, httpx.ReadTimeout...)",
            ) from None
        delay = float(response.extensions.get(DELAY_EXTENSION, 0.0))
        if delay > timeout:
            yield from th.sleep(timeout)
            raise wf_error("TimeoutError", f"{target} got no response within {timeout:g} seconds "
                                           f"(the mock answers after {delay:g} seconds)")
        if delay > 0:
            yield from th.sleep(delay)
        return build_result(response, target, th.kernel.settings.limits.http_response_bytes)


def build_result(response: httpx.Response, target: str, limit: int = MAX_RESPONSE_BYTES) -> dict[str, Any]:
    """The ``{code, headers, body}`` map of a response; raises HttpError for status >= 400.

    A body over ``limit`` bytes (the ``http_response_bytes`` limit, 2 MB) is a ResourceLimitError.
    """
    raw = response.content
    if len(raw) > limit:
        raise wf_error("ResourceLimitError", f"the response to {target} is {len(raw)} bytes; the limit is "
                                             f"{limit} bytes (limit `http_response_bytes`)")
    headers = response_headers(response)
    body = decode_response_body(raw, response.headers.get("content-type"))
    code = response.status_code
    if code >= 400:
        raise WorkflowError({
            "message": f"HTTP server responded with error code {code}",
            "code": code,
            "headers": headers,
            "body": body,
            "tags": ["HttpError"],
        })
    return {"body": body, "code": code, "headers": headers}


def response_headers(response: httpx.Response) -> dict[str, str]:
    """Canonical header name -> value; repeated headers (any casing) joined with ``", "``.

    docs/decisions.md #34: names are given in canonical form (`canonical_header_name`), whatever
    casing the server (or the test's mock) wrote, so a workflow cannot come to depend on one mock's
    spelling; HTTP/2 servers send every name in lower case on the wire.
    """
    out: dict[str, str] = {}
    for raw_name, raw_value in response.headers.raw:
        key = canonical_header_name(raw_name.decode("latin-1"))
        value = raw_value.decode("latin-1")
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def canonical_header_name(name: str) -> str:
    """``content-type`` -> ``Content-Type``, ``x-request-id`` -> ``X-Request-Id``.

    The rule of Go's ``textproto.CanonicalMIMEHeaderKey``: the first letter and each letter after
    a hyphen upper case, the rest lower case; a name holding a character that is not a token
    character (a space, say) is left as it is.
    """
    if not name or any(char not in _TOKEN_CHARS for char in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def decode_response_body(content: bytes, content_type: str | None) -> Any:
    """The body as the workflow sees it: JSON types -> value, ``text/*`` -> string, else bytes; empty -> null."""
    if not content:
        return None
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = "utf-8"
    for part in params.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    if media == "application/json" or media.endswith("+json"):
        try:
            text = content.decode(charset)
        except (UnicodeDecodeError, LookupError):
            return content
        try:
            return json_decode(text, wide_ints_as_doubles=True)
        except Exception:
            return text  # invalid JSON: the raw text, as for callback bodies (docs/decisions.md #9)
    if media.startswith("text/"):
        try:
            return content.decode(charset)
        except (UnicodeDecodeError, LookupError):
            return content
    return content


def _scalar_text(value: Any, where: str) -> str:
    if type(value) in (str, bool, int, float):
        return to_string(value)
    raise type_error(f"{where} must be a string, number or boolean (or a list of them), got {type_name(value)}")


def query_params(query: dict[str, Any]) -> list[tuple[str, str]]:
    """``query`` as URL parameters: scalars and lists of scalars; anything else is a TypeError."""
    out: list[tuple[str, str]] = []
    for key, value in query.items():
        values = value if type(value) is list else [value]
        out.extend((key, _scalar_text(item, f"query value for {key!r}")) for item in values)
    return out


def with_query(url: str, params: list[tuple[str, str]]) -> httpx.URL:
    """``url`` with ``params`` URL-encoded and appended to the query it already has."""
    parsed = httpx.URL(url)
    if not params:
        return parsed
    extra = urlencode(params)
    query = parsed.query.decode("ascii")
    return parsed.copy_with(query=(f"{query}&{extra}" if query else extra).encode("ascii"))


def encode_body(body: Any, content_type: str | None) -> tuple[bytes, str]:
    """Bytes to send and the Content-Type to add when the workflow set none (docs/semantics.md §4.3).

    Without a Content-Type, bytes go as ``application/octet-stream`` and every
    other value as JSON (``application/json; charset=utf-8``). With one, JSON
    types get JSON, ``application/x-www-form-urlencoded`` gets a map URL-encoded,
    and any other type takes a string (UTF-8) or bytes as they are.
    """
    if content_type is None:
        if type(body) is bytes:
            return body, "application/octet-stream"
        return json_encode(body).encode("utf-8"), "application/json; charset=utf-8"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        if type(body) is bytes:
            return body, content_type
        return json_encode(body).encode("utf-8"), content_type
    if type(body) is bytes:
        return body, content_type
    if type(body) is str:
        return body.encode("utf-8"), content_type
    if media == "application/x-www-form-urlencoded" and type(body) is dict:
        return urlencode(query_params(body)).encode("utf-8"), content_type
    raise type_error(
        f"a {type_name(body)} body cannot be sent as {content_type!r}: send a string or bytes, a map with "
        "application/x-www-form-urlencoded, or drop the Content-Type header to send JSON")


def check_header(name: str, value: Any) -> str:
    """A header value must be a string; the name a valid HTTP token."""
    if not _TOKEN_RE.match(name):
        raise wf_error("ValueError", f"invalid HTTP header name {name!r}")
    if type(value) is not str:
        raise type_error(f"header {name!r} must be a string, got {type_name(value)}")
    if "\r" in value or "\n" in value:
        raise wf_error("ValueError", f"header {name!r} must not contain line breaks")
    return str(value)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


__all__ = [
    "DELAY_EXTENSION",
    "FAKE_TOKEN",
    "MAX_RESPONSE_BYTES",
    "USER_AGENT",
    "OutboundHttp",
    "UnmockedCall",
    "build_result",
    "check_header",
    "decode_response_body",
    "delayed",
    "encode_body",
    "query_params",
    "respond_after",
    "response_headers",
    "with_query",
]
