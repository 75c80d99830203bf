"""The ``http`` module: outbound requests (performed by `outbound.OutboundHttp`) and retry policies."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..errors import value_error
from .registry import REGISTRY, CallContext, FunctionRef, param

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")
MAX_TIMEOUT = 1800.0
DEFAULT_TIMEOUT = 300.0

_COMMON_TAIL = (
    param("headers", "map", default=None),
    param("query", "map", default=None),
    param("auth", "map", default=None),
    param("private_service_name", "string", default=None),
    param("ca_certificate", "string", default=None),
)


def _request(
    ctx: CallContext, method: str, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
) -> Generator[Any, Any, Any]:
    if method not in HTTP_METHODS:
        raise value_error(f"http.request method must be one of {', '.join(HTTP_METHODS)}, got {method!r}")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if timeout <= 0 or timeout > MAX_TIMEOUT:
        raise value_error(f"http timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {timeout}")
    if auth is not None:
        kind = auth.get("type")
        if kind not in ("OIDC", "OAuth2"):
            raise value_error(f"auth type must be OIDC or OAuth2, got {kind!r}")
    request = {"method": method, "url": url, "timeout": float(timeout), "body": body, "headers": headers or {},
               "query": query or {}, "auth": auth}
    return (yield from ctx.http_request(request))


@REGISTRY.function("http.get", param("url", "string"), param("timeout", "number", default=None),
                   *_COMMON_TAIL, blocking=True, context=True)
def get(ctx: CallContext, url: str, timeout: Any, headers: Any, query: Any, auth: Any, private_service_name: Any,
        ca_certificate: Any) -> Generator[Any, Any, Any]:
    """HTTP GET; returns ``{code, headers, body}``; HttpError for status >= 400."""
    return (yield from _request(ctx, "GET", url, timeout, None, headers, query, auth))


def _with_body(method: str) -> None:
    @REGISTRY.function(f"http.{method.lower()}", param("url", "string"), param("timeout", "number", default=None),
                       param("body", "any", default=None), *_COMMON_TAIL, blocking=True, context=True)
    def send(ctx: CallContext, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
             private_service_name: Any, ca_certificate: Any) -> Generator[Any, Any, Any]:
        return (yield from _request(ctx, method, url, timeout, body, headers, query, auth))

    send.__doc__ = f"HTTP {method}; returns ``{{code, headers, body}}``; HttpError for status >= 400."


for _method in ("POST", "PUT", "PATCH", "DELETE"):
    _with_body(_method)


@REGISTRY.function("http.request", param("method", "string"), param("url", "string"),
                   param("timeout", "number", default=None), param("body", "any", default=None), *_COMMON_TAIL,
                   blocking=True, context=True)
def request(ctx: CallContext, method: str, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
            private_service_name: Any, ca_certificate: Any) -> Generator[Any, Any, Any]:
    """HTTP request with any method."""
    return (yield from _request(ctx, method, url, timeout, body, headers, query, auth))


_IDEMPOTENT_CODES = frozenset({429, 502, 503, 504})
_IDEMPOTENT_TAGS = frozenset({"ConnectionError", "ConnectionFailedError", "TimeoutError"})
_NON_IDEMPOTENT_CODES = frozenset({429, 503})
_NON_IDEMPOTENT_TAGS = frozenset({"ConnectionFailedError"})


def _matches(exception: Any, codes: frozenset[int], tags: frozenset[str]) -> bool:
    if not isinstance(exception, dict):
        return False
    error_tags = exception.get("tags")
    if not isinstance(error_tags, list):
        return False
    if "HttpError" in error_tags and exception.get("code") in codes and type(exception.get("code")) is int:
        return True
    return any(tag in tags for tag in error_tags if isinstance(tag, str))


@REGISTRY.function("http.default_retry_predicate", param("exception", "any"))
def default_retry_predicate(exception: Any) -> bool:
    """True for HTTP 429, 502, 503, 504, ConnectionError, ConnectionFailedError and TimeoutError (DECISIONS.md #17)."""
    return _matches(exception, _IDEMPOTENT_CODES, _IDEMPOTENT_TAGS)


@REGISTRY.function("http.default_retry_predicate_non_idempotent", param("exception", "any"))
def default_retry_predicate_non_idempotent(exception: Any) -> bool:
    """True for HTTP 429, 503 and ConnectionFailedError (DECISIONS.md #17)."""
    return _matches(exception, _NON_IDEMPOTENT_CODES, _NON_IDEMPOTENT_TAGS)


_BACKOFF = {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}
REGISTRY.constant("http.default_retry", {
    "predicate": FunctionRef("http.default_retry_predicate"), "max_retries": 5, "backoff": dict(_BACKOFF)})
REGISTRY.constant("http.default_retry_non_idempotent", {
    "predicate": FunctionRef("http.default_retry_predicate_non_idempotent"), "max_retries": 5,
    "backoff": dict(_BACKOFF)})

__all__ = ["DEFAULT_TIMEOUT", "HTTP_METHODS", "MAX_TIMEOUT", "default_retry_predicate",
           "default_retry_predicate_non_idempotent", "get", "request"]
