"""The ``time`` module: ``time.format`` and ``time.parse``.

``time.format`` writes ISO-8601 with exactly six fractional digits and ``Z`` when
the offset is zero (as ``time.format(t, "GMT")`` does in the reference), else a
``+HH:MM`` offset. ``time.parse`` accepts RFC 3339 section 5.6 date-times (an
offset or ``Z`` is required) with any number of fractional digits.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo

from ..errors import value_error
from .registry import REGISTRY, param

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<zulu>[Zz])|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))"
)


def _zone(name: str) -> tzinfo:
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise value_error(f"unknown time zone {name!r}") from None


def _offset_text(offset: timedelta | None) -> str:
    if not offset:
        return "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    minutes = abs(total) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@REGISTRY.function("time.format", param("seconds", "number"), param("timezone", "string", default=""))
def format_(seconds: int | float, timezone_name: str) -> str:
    """ISO-8601 text of a Unix timestamp in UTC or the named IANA zone, with microseconds.

    ``time.format(1720788633, "Europe/Paris")`` is ``"2024-07-12T14:50:33.000000+02:00"``.
    """
    zone = _zone(timezone_name)
    if type(seconds) is int:
        micros = seconds * 1_000_000
    else:
        if math.isnan(seconds) or math.isinf(seconds):
            raise value_error(f"time.format(): {seconds!r} is not a timestamp")
        micros = round(Fraction(seconds) * 1_000_000)
    try:
        moment = (_EPOCH + timedelta(microseconds=micros)).astimezone(zone)
    except (OverflowError, ValueError):
        raise value_error(f"time.format(): timestamp {seconds!r} is out of range") from None
    # isoformat() pads the year to four digits (strftime("%Y") does not on every platform).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + _offset_text(moment.utcoffset())


def parse_exact(value: str) -> Fraction:
    """Exact seconds since the Unix epoch for an RFC 3339 date-time; ValueError Workflows error otherwise."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise value_error(f"time.parse(): {value!r} is not an RFC 3339 date-time")
    part = match.group
    try:
        if part("zulu"):
            zone = timezone.utc
        else:
            offset = timedelta(hours=int(part("off_hour")), minutes=int(part("off_minute")))
            if int(part("off_minute")) > 59:
                raise ValueError("offset minutes out of range")
            zone = timezone(-offset if part("sign") == "-" else offset)
        moment = datetime(
            int(part("year")),
            int(part("month")),
            int(part("day")),
            int(part("hour")),
            int(part("minute")),
            int(part("second")),
            tzinfo=zone,
        )
        delta = moment - _EPOCH
        exact = Fraction(delta.days * 86_400 + delta.seconds)
        fraction = part("fraction")
        if fraction:
            exact += Fraction(int(fraction), 10 ** len(fraction))
    except (ValueError, OverflowError) as exc:
        raise value_error(f"time.parse(): {value!r} is not a valid date-time ({exc})") from None
    return exact


def parse_ns(value: str) -> int:
    """Epoch nanoseconds (rounded) for an RFC 3339 date-time, for ``sys.sleep_until``."""
    return round(parse_exact(value) * 1_000_000_000)


@REGISTRY.function("time.parse", param("value", "string"))
def parse(value: str) -> float:
    """Seconds since the Unix epoch (a double) for an RFC 3339 date-time such as ``2024-05-08T12:01:00Z``."""
    return float(parse_exact(value))


__all__ = ["format_", "parse", "parse_exact", "parse_ns"]
