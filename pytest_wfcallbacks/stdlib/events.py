"""The ``events`` module: callback endpoints (the slot contract lives in `callbacks`)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..errors import type_error, value_error
from ..values import type_name
from .registry import REGISTRY, CallContext, param

CALLBACK_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")


# Not blocking in the service's list, but only meaningful in a call step: the
# project treats it as call-step only (docs/semantics.md §2.2), so expressions reject it.
@REGISTRY.function(
    "events.create_callback_endpoint",
    param("http_callback_method", "string", default="POST"),
    blocking=True,
    context=True,
)
def create_callback_endpoint(ctx: CallContext, http_callback_method: str) -> Generator[Any, Any, dict[str, Any]]:
    """Create an endpoint accepting one HTTP method; returns ``{"url": ...}``."""
    if http_callback_method not in CALLBACK_METHODS:
        raise value_error(
            f"http_callback_method must be one of {', '.join(CALLBACK_METHODS)}, got {http_callback_method!r}"
        )
    return ctx.create_callback(http_callback_method)
    yield  # pragma: no cover


@REGISTRY.function(
    "events.await_callback",
    param("callback", "map"),
    param("timeout", "number", default=None),
    blocking=True,
    context=True,
)
def await_callback(ctx: CallContext, callback: dict[str, Any], timeout: float | None) -> Generator[Any, Any, Any]:
    """Wait for one request on the endpoint; TimeoutError after ``timeout`` seconds (default 12 hours)."""
    url = callback.get("url")
    if not isinstance(url, str):
        raise (type_error if url is not None else value_error)(
            f"await_callback needs the map returned by create_callback_endpoint (with a string url), "
            f"got url of type {type_name(url)}"
        )
    if timeout is None:
        timeout = ctx.kernel.settings.limits.await_timeout_default
    elif timeout < 0:
        raise value_error(f"await_callback timeout must not be negative, got {timeout}")
    return (yield from ctx.await_callback(callback, float(timeout)))


__all__ = ["CALLBACK_METHODS", "await_callback", "create_callback_endpoint"]
