"""Append-only incident events and replay.

Each action produces one :class:`Event`. ``before``/``after`` hold the changed fields of the
incident record (see :func:`dispatch.incident.to_record`) — for the report event ``before`` is
empty and ``after`` is the whole record — so :func:`replay` rebuilds the incident from its events
alone, without re-running permission checks or needing configuration (time limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.errors import InvalidInput
from dispatch.incident import Incident, from_record
from dispatch.states import Action, State


@dataclass(frozen=True, slots=True)
class Event:
    """One change to one incident.

    ``seq`` counts from 1 per incident with no gap. ``actor_role`` is the principal that granted the
    action (an AppRole value, a grid Role value, or 承办人). ``payload`` is the action's input plus
    derived keys (verify actions add ``handler_id``). All dicts are JSON-ready.
    """

    incident_id: str
    seq: int
    action: Action
    actor_id: str
    actor_role: str
    at: datetime
    from_state: State | None
    to_state: State
    payload: Mapping[str, Any] = field(default_factory=dict)
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO datetime, enum values)."""
        return {
            "incident_id": self.incident_id,
            "seq": self.seq,
            "action": self.action.value,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "at": self.at.isoformat(),
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value,
            "payload": dict(self.payload),
            "before": dict(self.before),
            "after": dict(self.after),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`to_dict`."""
        return cls(
            incident_id=str(d["incident_id"]),
            seq=int(d["seq"]),
            action=Action(d["action"]),
            actor_id=str(d["actor_id"]),
            actor_role=str(d["actor_role"]),
            at=d["at"] if isinstance(d["at"], datetime) else datetime.fromisoformat(d["at"]),
            from_state=State(d["from_state"]) if d.get("from_state") else None,
            to_state=State(d["to_state"]),
            payload=dict(d.get("payload") or {}),
            before=dict(d.get("before") or {}),
            after=dict(d.get("after") or {}),
        )


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) restricted to the keys whose values differ."""
    keys = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


def replay(events: Iterable[Event]) -> Incident:
    """Rebuild an incident from its events (any order; sorted by ``seq``).

    Raises :class:`InvalidInput` (field ``events``) when the events are empty, mix incidents, do
    not start with the report at seq 1, or have a gap in ``seq``. A prefix of the events gives the
    incident as it was after the last one.
    """
    evs = sorted(events, key=lambda e: e.seq)
    if not evs:
        raise InvalidInput("没有事件记录", "no events to replay", field="events")
    first = evs[0]
    if first.seq != 1 or first.action is not Action.REPORT:
        raise InvalidInput(
            "事件记录应从上报开始", "events must start with the report at seq 1", field="events"
        )
    record: dict[str, Any] = dict(first.after)
    for expected, ev in enumerate(evs, start=1):
        if ev.incident_id != first.incident_id or ev.seq != expected:
            raise InvalidInput(
                f"事件记录不连续：第 {expected} 条",
                f"events are not one incident's contiguous sequence at seq {expected}",
                field="events",
            )
        if expected > 1:
            record.update(ev.after)
    return from_record(record)
