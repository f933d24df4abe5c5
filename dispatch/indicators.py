"""Period indicators 结案率 / 按期结案率 and friends, per community, grid or handler.

Definitions (all counted on the state each incident had at ``as_of = min(now, period_end)``,
rebuilt from its events that happened at ``at < period_end`` and ``at ≤ now``):

* **应结案数** (``due``): incidents not 无效/已合并 whose deadline falls in ``[period_start, as_of)``,
  **plus** those closed in ``[period_start, as_of)`` on or before their deadline (DOMAIN.md: a case
  closed on time counts at once, not only when its deadline passes). Incidents never assigned have
  no deadline and are never due.
* **缓办数** (``deferred``): due incidents in 缓办 at ``as_of``.
* **结案数** (``closed``): due incidents in 已结案 at ``as_of``.
* **按期结案数** (``closed_on_time``): closed ones with ``closed_at ≤ deadline``.
* **结案率** = 结案数 / (应结案数 − 缓办数); **按期结案率** = 按期结案数 / (应结案数 − 缓办数);
  exact :class:`~fractions.Fraction`, ``None`` when the denominator is 0.
* **返工** (``rework``): failed 核查 events in ``[period_start, as_of]``; per handler they count
  against the handler at the time of the check.
* **督办次数** (``supervised``): 督办 events in ``[period_start, as_of]``, counted like 返工 (per
  handler: against the handler at the time of the 督办).
* **median_handling**: median of ``closed_at − assigned_at`` (first 交办 → 结案, wall clock,
  including time in 缓办) over the closed due incidents; ``None`` if none.
* **open** / **overdue**: incidents open (any state but 已结案/已合并/无效; 缓办 is open) and
  overdue (:func:`dispatch.deadlines.overdue`) at ``as_of`` — snapshots, not period counts.

* **Urgent cases** (``urgent_*``): the same counts restricted to incidents flagged urgent or in
  category 应急管理风险隐患; DOMAIN.md targets 100 % closed and ≥ 95 % on time.

Grouping uses the codes the incident was reported with (``community_code``, ``general_code``,
``micro_code``) or its current assignee (``handler``); a missing code groups under ``None``.
Thresholds (DOMAIN.md): 结案率 ≥ 90 %, 按期结案率 ≥ 70 % (urgent: 100 %, ≥ 95 %); a flag is ``None``
when its rate is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from dispatch.categories import Category
from dispatch.deadlines import overdue
from dispatch.errors import InvalidInput
from dispatch.events import Event, replay
from dispatch.incident import Incident
from dispatch.states import Action, State
from dispatch.validation import check_aware

#: 结案率 target (≥ 90 %).
CLOSE_RATE_TARGET = Fraction(9, 10)
#: 按期结案率 target (≥ 70 %).
ON_TIME_RATE_TARGET = Fraction(7, 10)
#: Urgent cases: 结案率 target (100 %) and 按期结案率 target (≥ 95 %).
URGENT_CLOSE_RATE_TARGET = Fraction(1)
URGENT_ON_TIME_RATE_TARGET = Fraction(19, 20)


def _rate(part: int, due: int, deferred: int) -> Fraction | None:
    base = due - deferred
    return Fraction(part, base) if base else None


def _meets(rate: Fraction | None, target: Fraction) -> bool | None:
    return None if rate is None else rate >= target


GroupBy = Literal["community", "general", "micro", "handler"]
GROUP_BY: tuple[str, ...] = ("community", "general", "micro", "handler")


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """Indicators of one group (``key``: a grid code or a person id, or None) for one period."""

    group_by: str
    key: str | None
    due: int = 0
    deferred: int = 0
    closed: int = 0
    closed_on_time: int = 0
    rework: int = 0
    supervised: int = 0
    open: int = 0
    overdue: int = 0
    urgent_due: int = 0
    urgent_deferred: int = 0
    urgent_closed: int = 0
    urgent_closed_on_time: int = 0
    handling_times: tuple[timedelta, ...] = field(default=(), repr=False)

    @property
    def base(self) -> int:
        """应结案数 − 缓办数."""
        return self.due - self.deferred

    @property
    def close_rate(self) -> Fraction | None:
        """结案率, None when 应结案数 − 缓办数 = 0."""
        return _rate(self.closed, self.due, self.deferred)

    @property
    def on_time_rate(self) -> Fraction | None:
        """按期结案率, None when 应结案数 − 缓办数 = 0."""
        return _rate(self.closed_on_time, self.due, self.deferred)

    @property
    def urgent_close_rate(self) -> Fraction | None:
        return _rate(self.urgent_closed, self.urgent_due, self.urgent_deferred)

    @property
    def urgent_on_time_rate(self) -> Fraction | None:
        return _rate(self.urgent_closed_on_time, self.urgent_due, self.urgent_deferred)

    @property
    def median_handling(self) -> timedelta | None:
        """Median 交办 → 结案 time of the closed due incidents."""
        xs = sorted(self.handling_times)
        if not xs:
            return None
        mid = len(xs) // 2
        return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2

    @property
    def meets_close_rate(self) -> bool | None:
        return _meets(self.close_rate, CLOSE_RATE_TARGET)

    @property
    def meets_on_time_rate(self) -> bool | None:
        return _meets(self.on_time_rate, ON_TIME_RATE_TARGET)

    @property
    def meets_urgent_close_rate(self) -> bool | None:
        return _meets(self.urgent_close_rate, URGENT_CLOSE_RATE_TARGET)

    @property
    def meets_urgent_on_time_rate(self) -> bool | None:
        return _meets(self.urgent_on_time_rate, URGENT_ON_TIME_RATE_TARGET)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: rates as floats (None kept), median in hours."""
        med = self.median_handling
        return {
            "group_by": self.group_by,
            "key": self.key,
            "due": self.due,
            "deferred": self.deferred,
            "closed": self.closed,
            "closed_on_time": self.closed_on_time,
            "close_rate": _float(self.close_rate),
            "on_time_rate": _float(self.on_time_rate),
            "meets_close_rate": self.meets_close_rate,
            "meets_on_time_rate": self.meets_on_time_rate,
            "rework": self.rework,
            "supervised": self.supervised,
            "median_handling_hours": None if med is None else med.total_seconds() / 3600,
            "open": self.open,
            "overdue": self.overdue,
            "urgent_due": self.urgent_due,
            "urgent_deferred": self.urgent_deferred,
            "urgent_closed": self.urgent_closed,
            "urgent_closed_on_time": self.urgent_closed_on_time,
            "urgent_close_rate": _float(self.urgent_close_rate),
            "urgent_on_time_rate": _float(self.urgent_on_time_rate),
            "meets_urgent_close_rate": self.meets_urgent_close_rate,
            "meets_urgent_on_time_rate": self.meets_urgent_on_time_rate,
        }


def _float(rate: Fraction | None) -> float | None:
    return None if rate is None else float(rate)


#: Events counted per period, against the handler at the time of the event.
_EVENT_COUNTERS = {Action.VERIFY_FAIL: "rework", Action.SUPERVISE: "supervised"}


def _key(inc: Incident, group_by: str) -> str | None:
    if group_by == "community":
        return inc.community_code
    if group_by == "general":
        return inc.general_code
    if group_by == "micro":
        return inc.micro_code
    return inc.assignee_id


def indicators(
    incidents: Iterable[Incident],
    events: Sequence[Event],
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    group_by: GroupBy | str = "community",
) -> list[IndicatorRow]:
    """One :class:`IndicatorRow` per group that had an incident by ``as_of``, sorted by key (None last).

    Incidents with no event at all in ``events`` are taken as given (data without history);
    incidents whose events all come after ``as_of`` did not exist yet and are skipped.
    """
    for name, value in (("period_start", period_start), ("period_end", period_end), ("now", now)):
        check_aware(name, value)
    if period_end <= period_start:
        raise InvalidInput(
            "统计期结束应晚于开始", "period_end must be after period_start", field="period_end"
        )
    if group_by not in GROUP_BY:
        raise InvalidInput(
            f"分组方式无效：{group_by!r}", f"group_by must be one of {', '.join(GROUP_BY)}", field="group_by"
        )
    as_of = min(now, period_end)
    by_incident: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_incident[ev.incident_id].append(ev)

    counts: dict[str | None, dict[str, Any]] = {}

    def row(key: str | None) -> dict[str, Any]:
        return counts.setdefault(
            key,
            {
                "due": 0,
                "deferred": 0,
                "closed": 0,
                "closed_on_time": 0,
                "rework": 0,
                "supervised": 0,
                "open": 0,
                "overdue": 0,
                "urgent_due": 0,
                "urgent_deferred": 0,
                "urgent_closed": 0,
                "urgent_closed_on_time": 0,
                "handling_times": [],
            },
        )

    for inc in incidents:
        evs = by_incident.get(inc.id)
        if evs is None:
            snap = inc
            if snap.reported_at > as_of:
                continue
        else:
            seen = [e for e in evs if e.at < period_end and e.at <= now]
            if not seen:
                continue
            snap = replay(seen)
            for e in seen:
                counter = _EVENT_COUNTERS.get(e.action)
                if counter and e.at >= period_start:
                    who = e.payload.get("handler_id") if group_by == "handler" else _key(snap, group_by)
                    row(who)[counter] += 1
        r = row(_key(snap, group_by))
        r["open"] += snap.is_open
        r["overdue"] += overdue(snap, as_of)
        closed = snap.state is State.CLOSED and snap.closed_at is not None and snap.deadline is not None
        on_time = closed and snap.closed_at <= snap.deadline  # type: ignore[operator]
        closed_early = on_time and period_start <= snap.closed_at < as_of  # type: ignore[operator]
        due = (
            snap.state not in (State.VOID, State.MERGED)
            and snap.deadline is not None
            and (period_start <= snap.deadline < as_of or closed_early)
        )
        if not due:
            continue  # closed: both set
        urgent = snap.urgent or snap.category is Category.EMERGENCY
        for prefix, counted in (("", True), ("urgent_", urgent)):
            if counted:
                r[prefix + "due"] += 1
                r[prefix + "deferred"] += snap.state is State.DEFERRED
                r[prefix + "closed"] += closed
                r[prefix + "closed_on_time"] += on_time
        if closed and snap.closed_at is not None and snap.assigned_at is not None:
            r["handling_times"].append(snap.closed_at - snap.assigned_at)

    rows = [
        IndicatorRow(group_by, key, **{**c, "handling_times": tuple(c["handling_times"])})
        for key, c in counts.items()
    ]
    rows.sort(key=lambda r: (r.key is None, r.key or ""))
    return rows
