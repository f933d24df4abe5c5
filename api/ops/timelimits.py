"""办理时限: each community's time limit per incident category, over the defaults.

Limits set the deadline when an incident is 交办; changing them affects later 交办 only.
"""

from __future__ import annotations

from typing import Any

from api.ops.service import Service
from dispatch import Category
from dispatch.deadlines import DEFAULT_TIME_LIMITS, TimeLimits
from store import db
from store.changes import TIME_LIMITS
from store.timelimits import URGENT_KEY, load_time_limits, set_time_limits


def _key(community_code: str) -> tuple[str, str]:
    return ("time_limits", community_code)


def limits_from_rows(rows: dict[str, int]) -> TimeLimits:
    """:class:`TimeLimits` from a community's ``time_limits`` rows (see :mod:`store.timelimits`)."""
    if not rows:
        return DEFAULT_TIME_LIMITS
    hours = {k: v for k, v in rows.items() if k != URGENT_KEY}
    return TimeLimits.from_mapping(hours, rows.get(URGENT_KEY))


def time_limits_for(service: Service, community_code: str | None) -> TimeLimits:
    """The community's limits in force, cached like the roster (:attr:`Service.roster_ttl_s`)."""
    if community_code is None:
        return DEFAULT_TIME_LIMITS

    def load() -> TimeLimits:
        with db.read(service.engine) as conn:
            return limits_from_rows(load_time_limits(conn, community_code))

    return service.refreshed(_key(community_code), load, service.roster_ttl_s, TIME_LIMITS)


def view(community_code: str, rows: dict[str, int]) -> dict[str, Any]:
    """What a person is shown: the limits in force and which of them the community configured."""
    limits = limits_from_rows(rows)
    return {
        "community_code": community_code,
        "hours": {c.value: limits.hours_for(c) for c in limits.hours},
        "urgent_hours": limits.urgent_hours,
        "configured": dict(sorted(rows.items())),
        "defaults": {c.value: DEFAULT_TIME_LIMITS.hours_for(c) for c in DEFAULT_TIME_LIMITS.hours},
        "default_urgent_hours": DEFAULT_TIME_LIMITS.urgent_hours,
    }


def get_time_limits(service: Service, community_code: str) -> dict[str, Any]:
    """The community's limits (:func:`view`); NotFound for an unknown community."""
    with db.read(service.engine) as conn:
        rows = load_time_limits(conn, community_code)
    return view(community_code, rows)


def set_limits(
    service: Service,
    community_code: str,
    hours: dict[str, int],
    urgent_hours: int | None = None,
    *,
    replace: bool = True,
) -> dict[str, Any]:
    """Set limits (categories by Chinese value or English key). ``replace``: categories left out
    return to the defaults; otherwise only those named change."""
    changes: dict[str, int] = {Category.parse(k).value: int(v) for k, v in hours.items()}
    if urgent_hours is not None:
        changes[URGENT_KEY] = int(urgent_hours)
    with db.write(service.engine) as conn:
        rows = {} if replace else load_time_limits(conn, community_code)
        stored = set_time_limits(conn, community_code, rows | changes)
    service.forget(_key(community_code))
    return view(community_code, stored)
