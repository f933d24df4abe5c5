"""Time zones: the one rule for every package.

Stored and compared times are timezone-aware instants (the database keeps UTC). A time a person
typed without a zone — a CLI ``--at 2026-03-01T08:00``, a report's ``reported_at`` without an
offset — is **Beijing time** (China Standard Time, UTC+8, no daylight saving), because every user
is in China. A bare date means 00:00 Beijing time that day, and "today" is the Beijing date.

>>> as_instant(date(2026, 3, 1)).isoformat()
'2026-03-01T00:00:00+08:00'
>>> as_instant(datetime(2026, 3, 1, 8, 0)).isoformat()
'2026-03-01T08:00:00+08:00'
>>> beijing_date(datetime(2026, 2, 28, 16, 0, tzinfo=UTC))
datetime.date(2026, 3, 1)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

#: China Standard Time (UTC+8).
CST = timezone(timedelta(hours=8), "CST")


def as_instant(at: datetime | date | None) -> datetime:
    """A timezone-aware instant: None → now; a date → 00:00 Beijing time that day; a naive
    datetime → that wall-clock time in Beijing; an aware one unchanged."""
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo is not None else at.replace(tzinfo=CST)
    return datetime.combine(at, time(0, 0), tzinfo=CST)


def beijing_date(at: datetime) -> date:
    """The calendar date in Beijing of an instant (a naive one is already Beijing time)."""
    return as_instant(at).astimezone(CST).date()


def beijing_midnight(day: date) -> datetime:
    """00:00 Beijing time of ``day``: where a Beijing calendar day starts."""
    return datetime.combine(day, time(0, 0), tzinfo=CST)


def beijing_text(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as a person in Beijing reads it ("—" for none)."""
    return "—" if at is None else as_instant(at).astimezone(CST).strftime(fmt)
