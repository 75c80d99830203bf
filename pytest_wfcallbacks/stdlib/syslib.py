"""The ``sys`` module: environment, logging, virtual time and sleeping."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..errors import type_error, value_error
from ..values import type_name
from .registry import REGISTRY, CallContext, param
from .timelib import parse as parse_time

SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
_LOGGABLE = ("integer", "double", "boolean", "string", "list", "map")


@REGISTRY.function("sys.get_env", param("name", "string"), param("default", "string", default=None), context=True)
def get_env(ctx: CallContext, name: str, default: str | None) -> str | None:
    """A built-in (``GOOGLE_CLOUD_PROJECT_ID``...) or user environment variable; ``default`` when unset."""
    value = ctx.get_env(name)
    return default if value is None else value


@REGISTRY.function("sys.now", context=True)
def now(ctx: CallContext) -> float:
    """Virtual time in seconds since the Unix epoch."""
    return ctx.now()


@REGISTRY.function(
    "sys.log",
    param("data", "any", default=None),
    param("severity", "string", default="DEFAULT"),
    param("text", "any", default=None),
    param("json", "map", default=None),
    param("timeout", "number", default=None),
    blocking=True,
    context=True,
)
def log(
    ctx: CallContext, data: Any, severity: str, text: Any, json: Any, timeout: Any
) -> Generator[Any, Any, None]:
    """Record a log entry; exactly one of ``data``, ``text`` or ``json``."""
    given = [name for name, value in (("data", data), ("text", text), ("json", json)) if value is not None]
    if len(given) != 1:
        raise type_error(
            "sys.log needs exactly one of data, text or json"
            + (f" (got {', '.join(given)})" if given else " (got none)")
        )
    if severity not in SEVERITIES:
        raise value_error(f"sys.log severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if timeout is not None and timeout < 0:
        raise value_error("sys.log timeout must not be negative")
    payload = data if data is not None else text if text is not None else json
    if type_name(payload) not in _LOGGABLE:
        raise type_error(f"sys.log cannot log a {type_name(payload)}")
    if text is not None and isinstance(payload, (list, dict)):
        from ..values import json_encode

        payload = json_encode(payload)
    ctx.log(severity, payload)
    return
    yield  # pragma: no cover - a generator: sys.log is a blocking call


@REGISTRY.function("sys.sleep", param("seconds", "number"), blocking=True, context=True)
def sleep(ctx: CallContext, seconds: float) -> Generator[Any, Any, None]:
    """Suspend for ``seconds`` of virtual time (0 to one year)."""
    limit = ctx.kernel.settings.limits.sleep_seconds
    if seconds < 0:
        raise value_error(f"sys.sleep: seconds must not be negative, got {seconds}")
    if seconds > limit:
        raise value_error(f"sys.sleep: at most {limit:g} seconds (one year), got {seconds}")
    yield from ctx.sleep(seconds)


@REGISTRY.function("sys.sleep_until", param("time", "string"), blocking=True, context=True)
def sleep_until(ctx: CallContext, time: str) -> Generator[Any, Any, None]:
    """Suspend until an RFC 3339 instant (at once when it is past; at most one year ahead)."""
    target = parse_time(time)
    seconds = target - ctx.now()
    limit = ctx.kernel.settings.limits.sleep_seconds
    if seconds > limit:
        raise value_error(f"sys.sleep_until: {time} is more than one year ahead")
    if seconds > 0:
        yield from ctx.sleep(seconds)


__all__ = ["SEVERITIES", "get_env", "log", "now", "sleep", "sleep_until"]
