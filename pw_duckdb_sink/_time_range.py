"""Turning a baseline's `since` / `until` into a bound the DuckDB column can be compared with.

A bound is given as a datetime, a timedelta (that long back from now), the string "today"
(midnight at the start of the current day in `tz`) or an int millisecond epoch (the unit of the
change log's `time`, as elsewhere in the package). Everything is resolved to one aware UTC
instant first, then converted to the comparison value of the column's DuckDB type, so the
SQL only ever compares like with like (the value is bound, never formatted into SQL).
"""

from __future__ import annotations

import datetime as dt
import numbers
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


def zone(tz: str | dt.tzinfo | None) -> dt.tzinfo:
    """The time zone bounds are read in; UTC when none is named."""
    if tz is None:
        return dt.timezone.utc
    if isinstance(tz, dt.tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:  # TypeError: not a str
        raise ValueError(f"tz={tz!r} is not a known time zone; pass an IANA name such as 'Europe/Warsaw'") from exc


def resolve(bound, *, name: str, tz: dt.tzinfo, now: dt.datetime | None = None) -> dt.datetime | None:
    """One bound as an aware datetime (None stays None)."""
    if bound is None:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    if isinstance(bound, dt.datetime):
        # A naive datetime is a wall-clock time in `tz`.
        return bound if bound.tzinfo is not None else bound.replace(tzinfo=tz)
    if isinstance(bound, dt.timedelta):
        if bound < dt.timedelta(0):
            raise ValueError(f"{name}={bound!r} is negative; give how long back from now, e.g. timedelta(days=7)")
        return now - bound
    if isinstance(bound, numbers.Integral) and not isinstance(bound, bool):
        return _EPOCH + dt.timedelta(milliseconds=int(bound))
    if isinstance(bound, str) and bound.lower() == "today":
        local = now.astimezone(tz)
        return dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    raise ValueError(
        f"{name}={bound!r} is not a time bound; pass a datetime, a timedelta (that long back from now), "
        f"'today' (with tz='Area/City' for a local day) or an int millisecond epoch"
    )


def for_column(instant: dt.datetime, duckdb_type: str, *, tz: dt.tzinfo):
    """The value to compare a column of `duckdb_type` with, for one resolved instant.

    Integer columns (like the change log's `time`) hold a millisecond epoch; TIMESTAMP WITH TIME
    ZONE takes the instant itself; a naive TIMESTAMP is read as wall-clock time in `tz`; a DATE
    takes the day the instant falls on in `tz`.
    """
    kind = duckdb_type.upper()
    if kind in _INTEGER_TYPES:
        return datetime_to_ms(instant)
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return instant.astimezone(dt.timezone.utc)
    if kind.startswith("TIMESTAMP"):
        return instant.astimezone(tz).replace(tzinfo=None)
    if kind == "DATE":
        return instant.astimezone(tz).date()
    raise ValueError(
        f"time_column has DuckDB type {duckdb_type}; a time range needs a TIMESTAMP, TIMESTAMPTZ, DATE "
        f"or an integer millisecond epoch column"
    )


def datetime_to_ms(moment: dt.datetime) -> int:
    """A datetime (naive = UTC) as a millisecond epoch, exactly: float seconds would round."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def ms_to_text(ms: int) -> str:
    """A millisecond epoch as ISO text for messages (the number itself if out of range)."""
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"
