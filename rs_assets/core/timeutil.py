"""Datetime parsing and formatting that tolerates what real stations send."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(value: object) -> datetime | None:
    """Parse station datetimes: 0 to 7+ fractional digits, with or without ``Z``; null or empty is None.

    Naive values are taken as UTC, because every station interface speaks UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 datetime string, got {type(value).__name__}")
    match = _ISO.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 datetime: {value!r}")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    text = f"{match['date']}T{match['time']}.{frac}{'+00:00' if tz == 'Z' else tz}"
    return datetime.fromisoformat(text).astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Millisecond precision with ``Z``, the form stations and the RS catalog filters expect."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def format_item_datetime(value: datetime | None) -> str | None:
    """Item datetimes in the RS form (milliseconds, ``Z``); None stays None so that absent fields stay absent."""
    return None if value is None else format_datetime(value)


def format_precise_datetime(value: datetime) -> str:
    """Microseconds kept, for state that must compare exactly with what a station said (sensor cursors)."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> datetime:
    return datetime.now(UTC)


def last_due_day(now: datetime, deadline_hour: int) -> date:
    """The latest day (UTC) whose deadline has passed, when a day is due by ``deadline_hour`` of the next one."""
    now = now.astimezone(UTC)
    return now.date() - timedelta(days=1 if now.hour >= deadline_hour else 2)
