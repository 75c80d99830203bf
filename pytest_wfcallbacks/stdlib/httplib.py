"""The ``http`` module: outbound requests (performed by `outbound.OutboundHttp`) and retry policies.

Arguments are checked here, before anything is sent (docs/semantics.md §4.3):
wrong types are ``TypeError`` (also from the registry's signatures), bad values
``ValueError``. The retry policies and predicates follow docs/decisions.md #17.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import httpx

from ..errors import type_error, value_error
from ..outbound import check_header, query_params
from ..values import type_name
from .registry import REGISTRY, CallContext, FunctionRef, param
from .retrylib import DEFAULT_BACKOFF

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")
#: The largest request timeout the service accepts, in seconds.
MAX_TIMEOUT = 1800.0
#: The request timeout when the workflow sets none, in seconds.
DEFAULT_TIMEOUT = 300.0
AUTH_TYPES = ("OIDC", "OAuth2")

_SERVICE_NAME_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/namespaces/[^/]+/services/[^/]+$")

_COMMON_TAIL = (
    param("headers", "map", default=None),
    param("query", "map", default=None),
    param("auth", "map", default=None),
    param("private_service_name", "string", default=None),
    param("ca_certificate", "string", "bytes", default=None),
)


def _check_url(name: str, url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise value_error(f"{name}: invalid url {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise value_error(f"{name}: url must be an absolute http:// or https:// URL, got {url!r}")


def _check_timeout(name: str, timeout: Any) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if timeout <= 0 or timeout > MAX_TIMEOUT:
        raise value_error(f"{name}: timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {timeout}")
    return float(timeout)


def _check_auth(name: str, auth: dict[str, Any]) -> dict[str, Any]:
    kind = auth.get("type")
    if kind is None:
        raise value_error(f"{name}: auth needs a type ({' or '.join(AUTH_TYPES)})")
    if type(kind) is not str:
        raise type_error(f"{name}: auth type must be a string, got {type_name(kind)}")
    if kind not in AUTH_TYPES:
        raise value_error(f"{name}: auth type must be {' or '.join(AUTH_TYPES)}, got {kind!r}")
    allowed = {"type", "audience"} if kind == "OIDC" else {"type", "scopes", "scope"}
    for key, value in auth.items():
        if key not in allowed:
            raise value_error(f"{name}: {key!r} is not an {kind} auth field (allowed: {', '.join(sorted(allowed))})")
        if key == "audience" and type(value) is not str:
            raise type_error(f"{name}: auth audience must be a string, got {type_name(value)}")
        if key in ("scopes", "scope") and not (
            type(value) is str or (type(value) is list and all(type(item) is str for item in value))
        ):
            raise type_error(f"{name}: auth {key} must be a string or a list of strings, got {type_name(value)}")
    return auth


def _request(
    ctx: CallContext, name: str, method: Any, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
    private_service_name: Any, ca_certificate: Any,
) -> Generator[Any, Any, Any]:
    if method not in HTTP_METHODS:
        raise value_error(f"{name}: method must be one of {', '.join(HTTP_METHODS)}, got {method!r}")
    _check_url(name, url)
    seconds = _check_timeout(name, timeout)
    checked_headers = {str(key): check_header(str(key), value) for key, value in (headers or {}).items()}
    query_params(query or {})  # TypeError for a bad value, before anything is sent
    if auth is not None:
        _check_auth(name, auth)
    if private_service_name is not None and not _SERVICE_NAME_RE.match(private_service_name):
        raise value_error(f"{name}: private_service_name must look like projects/<project>/locations/<location>/"
                          f"namespaces/<namespace>/services/<service>, got {private_service_name!r}")
    spec = {"method": method, "url": url, "timeout": seconds, "body": body, "headers": checked_headers,
            "query": query or {}, "auth": auth, "private_service_name": private_service_name,
            "ca_certificate": ca_certificate}
    return (yield from ctx.http_request(spec))


@REGISTRY.function("http.get", param("url", "string"), param("timeout", "number", default=None),
                   *_COMMON_TAIL, blocking=True, context=True)
def get(ctx: CallContext, url: str, timeout: Any, headers: Any, query: Any, auth: Any, private_service_name: Any,
        ca_certificate: Any) -> Generator[Any, Any, Any]:
    """HTTP GET; returns ``{code, headers, body}``; HttpError for status >= 400."""
    return (yield from _request(ctx, "http.get", "GET", url, timeout, None, headers, query, auth,
                                private_service_name, ca_certificate))


def _with_body(method: str) -> None:
    name = f"http.{method.lower()}"

    @REGISTRY.function(name, param("url", "string"), param("timeout", "number", default=None),
                       param("body", "any", default=None), *_COMMON_TAIL, blocking=True, context=True)
    def send(ctx: CallContext, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
             private_service_name: Any, ca_certificate: Any) -> Generator[Any, Any, Any]:
        return (yield from _request(ctx, name, method, url, timeout, body, headers, query, auth,
                                    private_service_name, ca_certificate))

    send.__doc__ = f"HTTP {method}; returns ``{{code, headers, body}}``; HttpError for status >= 400."


for _method in ("POST", "PUT", "PATCH", "DELETE"):
    _with_body(_method)


@REGISTRY.function("http.request", param("method", "string"), param("url", "string"),
                   param("timeout", "number", default=None), param("body", "any", default=None), *_COMMON_TAIL,
                   blocking=True, context=True)
def request(ctx: CallContext, method: str, url: str, timeout: Any, body: Any, headers: Any, query: Any, auth: Any,
            private_service_name: Any, ca_certificate: Any) -> Generator[Any, Any, Any]:
    """HTTP request with any method (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT, TRACE)."""
    return (yield from _request(ctx, "http.request", method, url, timeout, body, headers, query, auth,
                                private_service_name, ca_certificate))


#: Status codes and tags each default predicate retries (docs/decisions.md #17).
IDEMPOTENT_CODES = frozenset({429, 502, 503, 504})
IDEMPOTENT_TAGS = frozenset({"ConnectionError", "ConnectionFailedError", "TimeoutError"})
NON_IDEMPOTENT_CODES = frozenset({429, 503})
NON_IDEMPOTENT_TAGS = frozenset({"ConnectionFailedError"})


def _matches(exception: Any, codes: frozenset[int], tags: frozenset[str]) -> bool:
    if type(exception) is not dict:
        return False
    error_tags = exception.get("tags")
    if type(error_tags) is not list:
        return False
    code = exception.get("code")
    if "HttpError" in error_tags and type(code) is int and code in codes:
        return True
    return any(type(tag) is str and tag in tags for tag in error_tags)


@REGISTRY.function("http.default_retry_predicate", param("exception", "any"))
def default_retry_predicate(exception: Any) -> bool:
    """True for HTTP 429, 502, 503, 504, ConnectionError, ConnectionFailedError, TimeoutError (docs/decisions.md)."""
    return _matches(exception, IDEMPOTENT_CODES, IDEMPOTENT_TAGS)


@REGISTRY.function("http.default_retry_predicate_non_idempotent", param("exception", "any"))
def default_retry_predicate_non_idempotent(exception: Any) -> bool:
    """True for HTTP 429, 503 and ConnectionFailedError (docs/decisions.md #17)."""
    return _matches(exception, NON_IDEMPOTENT_CODES, NON_IDEMPOTENT_TAGS)


REGISTRY.constant("http.default_retry", {
    "predicate": FunctionRef("http.default_retry_predicate"), "max_retries": 5, "backoff": dict(DEFAULT_BACKOFF)})
REGISTRY.constant("http.default_retry_non_idempotent", {
    "predicate": FunctionRef("http.default_retry_predicate_non_idempotent"), "max_retries": 5,
    "backoff": dict(DEFAULT_BACKOFF)})

__all__ = ["AUTH_TYPES", "DEFAULT_TIMEOUT", "HTTP_METHODS", "IDEMPOTENT_CODES", "IDEMPOTENT_TAGS", "MAX_TIMEOUT",
           "NON_IDEMPOTENT_CODES", "NON_IDEMPOTENT_TAGS", "default_retry_predicate",
           "default_retry_predicate_non_idempotent", "get", "request"]
