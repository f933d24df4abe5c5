"""Time limits, overdue, escalation and the 督办清单 (supervision list).

交办 starts the clock: the deadline is ``assigned_at + limit_hours`` (wall-clock hours, not working
hours), shifted later by time spent in 缓办 (the clock pauses). An incident is overdue when its
clock runs (已交办, 处置中, 已反馈) and ``now > deadline`` (exactly at the deadline is on time).
Escalation goes one role level up per started overdue period (a period is the incident's own time
limit): 微网格员 → 微网格长 → 一般网格员 → 总网格长, skipping vacant posts and the handler.
Every function takes ``now``; only :func:`supervision_list_now` reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from dispatch.categories import Category
from dispatch.incident import Incident
from dispatch.routing import holders
from dispatch.validation import check_aware, check_hours
from geo.roles import Post, Role

#: Default time limit per category, hours (应急管理风险隐患 is urgent by nature).
DEFAULT_HOURS: Mapping[Category, float] = MappingProxyType(
    {
        Category.STABILITY: 24.0,
        Category.DISPUTE: 72.0,
        Category.SAFETY: 24.0,
        Category.EMERGENCY: 4.0,
        Category.REQUEST: 120.0,
    }
)
#: Default limit for an incident flagged urgent (never longer than its category's limit).
DEFAULT_URGENT_HOURS = 4.0


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """Time limit per category in hours, and the limit for urgent incidents (one set per community)."""

    hours: Mapping[Category, float] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    urgent_hours: float = DEFAULT_URGENT_HOURS

    def hours_for(self, category: Category, urgent: bool = False) -> float:
        """The limit for ``category``: ``min(category limit, urgent_hours)`` when urgent.

        >>> TimeLimits().hours_for(Category.DISPUTE), TimeLimits().hours_for(Category.DISPUTE, True)
        (72.0, 4.0)
        """
        base = self.hours.get(category, DEFAULT_HOURS[category])
        return min(base, self.urgent_hours) if urgent else base

    @classmethod
    def from_mapping(cls, hours: Mapping[str, Any], urgent_hours: Any = None) -> TimeLimits:
        """From a settings mapping keyed by Chinese value or English key; missing categories keep defaults."""
        merged = dict(DEFAULT_HOURS)
        for k, v in hours.items():
            merged[Category.parse(k)] = check_hours(f"time_limits.{k}", v)
        urgent = DEFAULT_URGENT_HOURS if urgent_hours is None else check_hours("urgent_hours", urgent_hours)
        return cls(merged, urgent)


DEFAULT_TIME_LIMITS = TimeLimits()


def limits_for(community_code: str | None, per_community: Mapping[str, TimeLimits]) -> TimeLimits:
    """The community's configured limits, or :data:`DEFAULT_TIME_LIMITS`."""
    if community_code is None:
        return DEFAULT_TIME_LIMITS
    return per_community.get(community_code, DEFAULT_TIME_LIMITS)


def overdue_by(incident: Incident, now: datetime) -> timedelta | None:
    """How long past its deadline a running incident is at ``now``; None if not overdue."""
    check_aware("now", now)
    if not incident.state.clock_running or incident.deadline is None or now <= incident.deadline:
        return None
    return now - incident.deadline


def overdue(incident: Incident, now: datetime) -> bool:
    """True when the clock runs and ``now > deadline`` (缓办 and final states are never overdue)."""
    return overdue_by(incident, now) is not None


def periods_overdue(incident: Incident, now: datetime) -> int:
    """Started overdue periods: 0 on time, 1 for (0, 1 period] late, 2 for (1, 2] … ."""
    late = overdue_by(incident, now)
    if late is None:
        return 0
    period = timedelta(hours=incident.limit_hours or DEFAULT_HOURS[incident.category])
    return max(1, math.ceil(late / period))


#: Escalation ladder, bottom up.
ESCALATION_CHAIN: tuple[Role, ...] = (
    Role.MICRO_WORKER,
    Role.MICRO_HEAD,
    Role.GENERAL_WORKER,
    Role.COMMUNITY_HEAD,
)


def _grid_of(role: Role, incident: Incident) -> str | None:
    if role is Role.COMMUNITY_HEAD:
        return incident.community_code
    if role is Role.GENERAL_WORKER:
        return incident.general_code
    return incident.micro_code


def escalation_target(
    incident: Incident, levels: int, posts: Sequence[Post], now: datetime
) -> tuple[Role, str | None, str | None]:
    """(role, person_id, grid_code) ``levels`` steps above the handler's role.

    A handler without a grid role counts as 微网格员. Vacant posts and posts held by the handler
    are skipped upward; if all are, the result is the 总网格长 role with person None. Posts count if
    valid on ``now.date()`` in ``now``'s own timezone (pass Beijing time, UTC+8).
    """
    start = (
        ESCALATION_CHAIN.index(incident.assignee_role) if incident.assignee_role in ESCALATION_CHAIN else 0
    )
    idx = min(start + max(levels, 0), len(ESCALATION_CHAIN) - 1)
    day = now.date()
    for role in ESCALATION_CHAIN[idx:]:
        grid = _grid_of(role, incident)
        for p in holders(posts, role, grid, day):
            if p.person_id != incident.assignee_id:
                return role, p.person_id, grid
    return Role.COMMUNITY_HEAD, None, incident.community_code


@dataclass(frozen=True, slots=True)
class SupervisionItem:
    """One line of the 督办清单: an overdue open incident and whom to escalate it to."""

    incident_id: str
    category: Category
    state: str
    community_code: str | None
    handler_id: str | None
    handler_role: Role | None
    deadline: datetime
    overdue_by: timedelta
    periods_overdue: int
    escalate_role: Role
    escalate_person_id: str | None
    escalate_grid_code: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``overdue_hours`` rounded to 0.1 h."""
        return {
            "incident_id": self.incident_id,
            "category": self.category.value,
            "state": self.state,
            "community_code": self.community_code,
            "handler_id": self.handler_id,
            "handler_role": self.handler_role.value if self.handler_role else None,
            "deadline": self.deadline.isoformat(),
            "overdue_hours": round(self.overdue_by.total_seconds() / 3600, 1),
            "periods_overdue": self.periods_overdue,
            "escalate_role": self.escalate_role.value,
            "escalate_person_id": self.escalate_person_id,
            "escalate_grid_code": self.escalate_grid_code,
        }


def supervision_list(
    incidents: Iterable[Incident], now: datetime, posts: Sequence[Post] = ()
) -> list[SupervisionItem]:
    """Overdue open incidents at ``now``, most overdue first (ties by incident id)."""
    check_aware("now", now)
    items: list[SupervisionItem] = []
    for inc in incidents:
        late = overdue_by(inc, now)
        if late is None or inc.deadline is None:
            continue
        periods = periods_overdue(inc, now)
        role, person, grid = escalation_target(inc, periods, posts, now)
        items.append(
            SupervisionItem(
                inc.id,
                inc.category,
                inc.state.value,
                inc.community_code,
                inc.assignee_id,
                inc.assignee_role,
                inc.deadline,
                late,
                periods,
                role,
                person,
                grid,
            )
        )
    items.sort(key=lambda it: (-it.overdue_by, it.incident_id))
    return items


def supervision_list_now(
    incidents: Iterable[Incident], posts: Sequence[Post] = (), now: datetime | None = None
) -> list[SupervisionItem]:
    """:func:`supervision_list` at the current time unless ``now`` is given (thin wrapper)."""
    return supervision_list(incidents, now if now is not None else datetime.now(UTC), posts)
