"""Outbound HTTP for the workflows' ``http.*`` calls: httpx, answered by a per-runtime respx router.

The router (`WorkflowRuntime.http`) is consulted only for requests the
interpreter makes; the test's own httpx calls (to the callback server or
anywhere else) never see it. A request no route matches fails the call with a
``ConnectionFailedError`` naming the URL and is reported by the teardown check,
except requests to loopback addresses, which go to the real local service.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import respx
from respx.models import AllMockedAssertionError, PassThrough

from .callbacks import decode_body
from .errors import WorkflowError, type_error, value_error, wf_error
from .history import EventKind
from .values import json_encode, type_name

if TYPE_CHECKING:
    from .interpreter.threads import WorkflowThread
    from .runtime import WorkflowRuntime

FAKE_TOKEN = "fake-token-from-pytest-wfcallbacks"


def _is_loopback(url: httpx.URL) -> bool:
    host = url.host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Unmocked(Exception):
    pass


class _RouterTransport(httpx.BaseTransport):
    def __init__(self, outbound: OutboundHttp) -> None:
        self.outbound = outbound
        self.real = httpx.HTTPTransport(trust_env=False) if hasattr(httpx.HTTPTransport, "__init__") else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.outbound.router.handler(request)
        except AllMockedAssertionError:
            if _is_loopback(request.url):
                return self._real(request)
            raise _Unmocked(str(request.url)) from None
        except PassThrough:
            return self._real(request)

    def _real(self, request: httpx.Request) -> httpx.Response:
        if not _is_loopback(request.url):
            raise _Unmocked(f"{request.url} (pass_through is only allowed to loopback addresses)")
        transport = httpx.HTTPTransport()
        response = transport.handle_request(request)
        response.read()
        transport.close()
        return response


class OutboundHttp:
    """Performs ``http.*`` requests for one runtime."""

    def __init__(self, runtime: WorkflowRuntime) -> None:
        self.runtime = runtime
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        self.unmocked: list[str] = []
        self._client = httpx.Client(transport=_RouterTransport(self), follow_redirects=True)

    def request(self, th: WorkflowThread, spec: dict[str, Any]) -> Generator[Any, Any, Any]:
        """Send a request; return ``{code, headers, body}`` or raise the Workflows error."""
        method = spec["method"]
        url = spec["url"]
        headers = {str(k): _header_value(k, v) for k, v in spec["headers"].items()}
        content: bytes | None = None
        body = spec["body"]
        if body is not None:
            ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            content, default_type = _encode_body(body, ctype)
            if ctype is None and default_type:
                headers["Content-Type"] = default_type
        if spec.get("auth"):
            headers.setdefault("Authorization", f"Bearer {FAKE_TOKEN}")
        params = _query_params(spec["query"])
        execution = th.execution
        try:
            request = self._client.build_request(method, url, headers=headers, content=content, params=params,
                                                 timeout=spec["timeout"])
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise value_error(f"invalid URL {url!r}: {exc}") from None
        execution._record(EventKind.HTTP_REQUEST, th, method=method, url=str(request.url))
        try:
            response = self._client.send(request)
        except _Unmocked as exc:
            self.unmocked.append(f"{method} {exc}")
            raise wf_error(
                "ConnectionFailedError",
                f"no mock answers {method} {exc}: add a route, e.g. workflow_runtime.http.{method.lower()}"
                f"({str(request.url).split('?')[0]!r}).respond(200, json=...)",
            ) from None
        except httpx.TimeoutException as exc:
            raise wf_error("TimeoutError", f"HTTP request to {url} timed out: {exc}") from None
        except httpx.ConnectError as exc:
            raise wf_error("ConnectionFailedError", f"could not connect to {url}: {exc}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as exc:
            raise wf_error("ConnectionError", f"connection to {url} broke: {exc}") from None
        except WorkflowError:
            raise
        except Exception as exc:  # a side effect raised something else: surface it as the call's error
            raise wf_error("SystemError", f"mock for {method} {url} raised {exc!r}") from None
        result = {
            "code": response.status_code,
            "headers": {k: v for k, v in response.headers.items()},
            "body": decode_body(response.content, response.headers.get("content-type")),
        }
        if response.status_code >= 400:
            raise WorkflowError({
                "message": f"HTTP server responded with error code {response.status_code}",
                "code": response.status_code,
                "headers": result["headers"],
                "body": result["body"],
                "tags": ["HttpError"],
            })
        return result
        yield  # pragma: no cover - blocking call: a generator


def _header_value(key: Any, value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) in (int, float, bool):
        return json_encode(value)
    raise type_error(f"header {key!r} must be a string, got {type_name(value)}")


def _query_params(query: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in query.items():
        values = value if type(value) is list else [value]
        for item in values:
            if type(item) is str:
                out.append((key, item))
            elif type(item) in (int, float, bool):
                out.append((key, json_encode(item)))
            else:
                raise type_error(f"query value for {key!r} must be a string, number or boolean, got {type_name(item)}")
    return out


def _encode_body(body: Any, content_type: str | None) -> tuple[bytes, str | None]:
    if content_type is None:
        if type(body) is bytes:
            return body, "application/octet-stream"
        return json_encode(body).encode("utf-8"), "application/json; charset=utf-8"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return json_encode(body).encode("utf-8"), None
    if media == "application/x-www-form-urlencoded" and type(body) is dict:
        from urllib.parse import urlencode

        return urlencode(_query_params(body)).encode("utf-8"), None
    if type(body) is bytes:
        return body, None
    if type(body) is str:
        return body.encode("utf-8"), None
    return json.dumps(body).encode("utf-8"), None


__all__ = ["FAKE_TOKEN", "OutboundHttp", "urlsplit"]
