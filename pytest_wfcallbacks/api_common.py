"""What the Executions/Workflows API modules share: the API error, timestamps and durations as
protobuf's JSON mapping writes them, and page tokens.

Moved out of api.py as is; api.py re-exports these names.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from .callbacks import error_envelope
from .clock import NS, datetime_to_ns, ns_to_datetime
from .errors import WfCallbacksError


class ApiError(WfCallbacksError):
    """An API request the service would refuse: answered with Google's error envelope."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def envelope(self) -> dict[str, Any]:
        """``{"error": {"code", "message", "status"}}``."""
        return error_envelope(self.code, self.status, self.message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def format_timestamp(ns: int) -> str:
    """RFC 3339 in UTC with ``Z``, fractional digits as protobuf's JSON mapping writes them (0, 3, 6 or 9)."""
    text = ns_to_datetime(ns - ns % 1000).strftime("%Y-%m-%dT%H:%M:%S")
    return text + _fraction(ns % NS) + "Z"


def format_duration(ns: int) -> str:
    """A protobuf Duration in JSON: ``"12.500s"``, ``"3s"``."""
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    return f"{sign}{ns // NS}{_fraction(ns % NS)}s"


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def parse_timestamp(text: str) -> int:
    """Epoch nanoseconds of an RFC 3339 timestamp (``Z`` or an offset); ValueError when malformed."""
    match = re.fullmatch(r"(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
                         r"(?P<zone>[Zz]|[+-]\d\d:\d\d)", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    zone = match.group("zone").upper().replace("Z", "+00:00")
    moment = datetime.fromisoformat(match.group("base") + zone)
    nanos = int((match.group("frac") or "").ljust(9, "0"))
    return datetime_to_ns(moment) + nanos


def _page(items: list[dict[str, Any]], request: Request, *, default_size: int,
          max_size: int) -> tuple[list[dict[str, Any]], str]:
    try:
        size = int(request.args.get("pageSize", "0") or 0)
    except ValueError:
        raise _bad(f"pageSize must be an integer, got {request.args.get('pageSize')!r}") from None
    if size < 0:
        raise _bad("pageSize must not be negative")
    size = min(size or default_size, max_size)
    token = request.args.get("pageToken", "")
    offset = 0
    if token:
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["offset"]
            if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= len(items):
                raise ValueError(offset)
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            raise _bad(f"pageToken {token[:100]!r} is invalid: pass the nextPageToken of the previous page "
                       "(with the same filter and orderBy)") from None
    page = items[offset:offset + size]
    more = offset + size < len(items)
    next_token = base64.urlsafe_b64encode(json.dumps({"offset": offset + size}).encode()).decode() if more else ""
    return page, next_token


__all__ = ["ApiError", "format_duration", "format_timestamp", "parse_timestamp"]
