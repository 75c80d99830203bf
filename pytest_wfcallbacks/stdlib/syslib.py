"""The ``sys`` module: environment, logging, virtual time and sleeping.

``sys.log`` records a `LogEntry` on the execution (``execution.logs``). Its
``payload`` is the Workflows value for ``data`` and ``json`` (a map stays a
map, as the service's ``jsonPayload``; other ``data`` values are kept as they
are), and always a string for ``text`` (numbers and booleans through
``string()``, lists and maps as compact JSON), as the service's
``textPayload``.

``sys.sleep`` and ``sys.sleep_until`` block on the runtime's virtual clock;
neither reads real time.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..errors import WorkflowError, type_error, value_error
from ..values import json_encode, to_string, type_name
from .registry import REGISTRY, CallContext, param
from .timelib import parse_ns

SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
_LOGGABLE = ("integer", "double", "boolean", "string", "list", "map")


@REGISTRY.function("sys.get_env", param("name", "string"), param("default", "string", default=None), context=True)
def get_env(ctx: CallContext, name: str, default: str | None) -> str | None:
    """A built-in (``GOOGLE_CLOUD_PROJECT_ID``...) or user environment variable; ``default`` when unset.

    The built-ins come from the runtime settings (``project``, ``project_number``,
    ``location``, ``service_account``) and the execution (workflow id, execution
    id, revision id); user variables from the ``env`` setting and ``deploy(env=...)``.
    An unset name is not an error: the result is ``default`` (null when omitted).
    """
    value = ctx.get_env(name)
    return default if value is None else value


@REGISTRY.function("sys.now", context=True)
def now(ctx: CallContext) -> float:
    """Virtual time in seconds since the Unix epoch (a double)."""
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
    """Record a log entry; exactly one of ``data``, ``text`` or ``json`` (TypeError otherwise)."""
    given = [name for name, value in (("data", data), ("text", text), ("json", json)) if value is not None]
    if len(given) != 1:
        raise type_error(
            "sys.log needs exactly one of the arguments data, text or json"
            + (f" (got {' and '.join(given)})" if given else " (got none)")
        )
    if severity not in SEVERITIES:
        raise value_error(f"sys.log severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if timeout is not None and timeout < 0:
        raise value_error(f"sys.log timeout must not be negative, got {timeout}")
    payload = data if data is not None else text if text is not None else json
    if type_name(payload) not in _LOGGABLE:
        raise type_error(
            f"sys.log cannot log a {type_name(payload)} as {given[0]} "
            "(use an integer, double, boolean, string, list or map)"
        )
    if text is not None and type(payload) is not str:
        payload = json_encode(payload) if type(payload) in (list, dict) else to_string(payload)
    ctx.log(severity, payload)
    return
    yield  # pragma: no cover - a generator: sys.log is a blocking call


@REGISTRY.function("sys.sleep", param("seconds", "number"), blocking=True, context=True)
def sleep(ctx: CallContext, seconds: float) -> Generator[Any, Any, None]:
    """Suspend for ``seconds`` of virtual time (0 to one year; ValueError outside)."""
    limit = ctx.kernel.settings.limits.sleep_seconds
    if seconds < 0:
        raise value_error(f"sys.sleep: seconds must not be negative, got {seconds}")
    if seconds > limit:
        raise value_error(f"sys.sleep: at most {limit:g} seconds (one year), got {seconds}")
    yield from ctx.sleep(seconds)


@REGISTRY.function("sys.sleep_until", param("time", "string"), blocking=True, context=True)
def sleep_until(ctx: CallContext, time: str) -> Generator[Any, Any, None]:
    """Suspend until an RFC 3339 instant such as ``2026-01-01T00:00:10.5Z``.

    Returns at once when the instant is past; more than one year ahead, or text
    that is not an RFC 3339 date-time with an offset, is a ValueError.
    """
    try:
        deadline = parse_ns(time)
    except WorkflowError:
        raise value_error(
            f"sys.sleep_until: {time!r} is not an RFC 3339 timestamp (e.g. 2026-01-01T12:00:00.000000Z)"
        ) from None
    limit_ns = round(ctx.kernel.settings.limits.sleep_seconds * 1_000_000_000)
    # The clock counts integer nanoseconds; ctx.now() is a double and would round them.
    remaining_ns = deadline - ctx.kernel.clock.now_ns
    if remaining_ns > limit_ns:
        raise value_error(f"sys.sleep_until: {time} is more than one year ahead of the current time")
    if remaining_ns > 0:
        yield from ctx.sleep(remaining_ns / 1_000_000_000)


__all__ = ["SEVERITIES", "get_env", "log", "now", "sleep", "sleep_until"]
