"""The incident record (事件) and its plain-dict form for storage and events.

:class:`Incident` is an immutable snapshot; every action returns a new one (see
:mod:`dispatch.actions`). :func:`to_record` gives a JSON-ready dict (datetimes as ISO 8601
strings with offset, enums as their stored values); :func:`from_record` reverses it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from dispatch.categories import Category
from dispatch.errors import InvalidInput
from dispatch.states import State
from geo.roles import Role


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident and everything the loop has decided about it so far.

    Times are timezone-aware. ``assigned_at`` is the first 交办 (the clock start; reassigning keeps
    it and the deadline); ``deadline`` = ``assigned_at`` + ``limit_hours``, shifted later by time
    spent in 缓办. ``seq`` is the sequence number of the last event applied (1 after report).
    """

    id: str
    category: Category
    state: State
    description: str
    reporter_id: str
    reported_at: datetime
    updated_at: datetime
    community_code: str | None
    general_code: str | None = None
    micro_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    urgent: bool = False
    assignee_id: str | None = None
    assignee_role: Role | None = None
    assigned_grid_code: str | None = None
    assigned_at: datetime | None = None
    limit_hours: float | None = None
    deadline: datetime | None = None
    started_at: datetime | None = None
    feedback_by: str | None = None
    feedback_at: datetime | None = None
    feedback_note: str = ""
    verifier_id: str | None = None
    closed_at: datetime | None = None
    rework_count: int = 0
    deferred_from: State | None = None
    deferred_at: datetime | None = None
    defer_reason: str = ""
    merged_into: str | None = None
    void_reason: str = ""
    seq: int = 0

    @property
    def is_open(self) -> bool:
        """Not 已结案, 已合并 or 无效 (缓办 counts as open)."""
        return not self.state.is_final


_DATETIME = {
    "reported_at",
    "updated_at",
    "assigned_at",
    "started_at",
    "feedback_at",
    "closed_at",
    "deferred_at",
    "deadline",
}
_ENUMS: dict[str, type] = {
    "category": Category,
    "state": State,
    "deferred_from": State,
    "assignee_role": Role,
}

#: Field names of :class:`Incident` in declaration order (the record's keys).
INCIDENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Incident))


def _dump(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DATETIME:
        return value.isoformat()
    if name in _ENUMS:
        return value.value
    return value


def _load(name: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if name in _DATETIME:
            return value if isinstance(value, datetime) else datetime.fromisoformat(value)
        if name in _ENUMS:
            return _ENUMS[name](value)
        if name in ("lon", "lat", "limit_hours"):
            return float(value)
        if name == "rework_count" or name == "seq":
            return int(value)
        if name == "urgent":
            return bool(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"记录字段 {name} 无效", f"invalid record field {name}: {value!r}", field=name
        ) from exc
    return value


def to_record(incident: Incident) -> dict[str, Any]:
    """JSON-ready dict of every field (ISO datetimes, enum values)."""
    return {name: _dump(name, getattr(incident, name)) for name in INCIDENT_FIELDS}


def record_diff(old: Incident, new: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
    """``dispatch.events.diff(to_record(old), to_record(new))`` without dumping every field twice:
    a field holding the very same object in both (what ``dataclasses.replace`` keeps) dumps the
    same, so only the others are compared as dumped. Same keys, order and values."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in INCIDENT_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a is b:
            continue
        da, db = _dump(name, a), _dump(name, b)
        if da != db:
            before[name], after[name] = da, db
    return before, after


def from_record(record: Mapping[str, Any]) -> Incident:
    """Inverse of :func:`to_record`; unknown keys are refused, missing optional ones take defaults."""
    unknown = set(record) - set(INCIDENT_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"未知记录字段 {name}", f"unknown record field {name}", field=name)
    return Incident(**{k: _load(k, v) for k, v in record.items()})
