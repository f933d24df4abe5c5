"""Incidents and their append-only events, with optimistic concurrency.

The column names are the field names of ``dispatch.incident.Incident`` (plus storage facts: raw
point and CRS, layer version, on_boundary/snapped/distance_m, resident name/phone, created_at), and
an event dict is ``dispatch.events.Event.to_dict()``. So the API does::

    with store.db.write(engine) as conn:          # report (and any automatic first steps)
        insert_incident(conn, to_record(inc) | extras, event.to_dict(), *later_events)
    with store.db.write(engine) as conn:          # any later action
        cur = get_incident(conn, id)                       # read seq
        ...                                                # dispatch decides: new event
        append_event(conn, id, event.to_dict(), expected_seq=cur["seq"])

:func:`append_event` applies ``event["after"]`` (the changed fields) and bumps ``seq`` only if the
row still has ``expected_seq``; otherwise it raises :class:`~store.dberrors.Conflict` and the
caller's transaction is rolled back, so of two workers applying a transition to the same state,
exactly one wins. ``(incident_id, seq)`` is unique as a second guard. Functions never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Connection, bindparam, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from geo.errors import NotFound
from store import shapes
from store.dberrors import Conflict
from store.models import UTCDateTime, incident_events, incidents

#: Columns a caller may set (everything but the geometry, which follows lon/lat).
INCIDENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in incidents.c if c.name != "geom")
EVENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in incident_events.c if c.name != "id")
_TIME_COLUMNS = frozenset(
    c.name for t in (incidents, incident_events) for c in t.c if isinstance(c.type, UTCDateTime)
)


def _plain(name: str, value: Any) -> Any:
    """Enum → its value; ISO text → datetime for time columns."""
    if isinstance(value, Enum):
        value = value.value
    if name in _TIME_COLUMNS and isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value


def _incident_values(fields: Mapping[str, Any], *, with_geom: bool = True) -> dict[str, Any]:
    unknown = set(fields) - set(INCIDENT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown incident columns: {sorted(unknown)}")
    values = {k: _plain(k, v) for k, v in fields.items()}
    if with_geom and ("lon" in values or "lat" in values):
        lon, lat = values.get("lon"), values.get("lat")
        values["geom"] = shapes.to_db(Point(lon, lat)) if lon is not None and lat is not None else None
    return values


def _event_values(incident_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: _plain(k, event.get(k)) for k in EVENT_COLUMNS if k != "incident_id"}
    values["incident_id"] = incident_id
    return values


#: Statements built once: values travel as execute parameters, so SQLAlchemy reuses the compiled
#: form instead of building bind parameters and a cache key per call (that was most of the cost of
#: an intake under load).
_INSERT_INCIDENT = insert(incidents)
_INSERT_EVENT = insert(incident_events)
_UPDATE_AT_SEQ = update(incidents).where(
    incidents.c.id == bindparam("_where_id"), incidents.c.seq == bindparam("_where_seq")
)


def insert_incident(
    conn: Connection,
    record: Mapping[str, Any],
    first_event: Mapping[str, Any],
    *later_events: Mapping[str, Any],
) -> None:
    """Insert a new incident and its events in the caller's transaction.

    ``record`` holds incident columns (unknown keys are refused with ValueError) and describes the
    incident *after* every given event; ``first_event`` has seq 1 and ``later_events`` (e.g. the
    automatic 受理 and 交办 of an intake) follow it with seq 2, 3, …. ``seq`` defaults to the last
    event's seq, ``created_at`` to now. A duplicate id raises :class:`Conflict`.
    """
    values, events = new_incident_values(record, (first_event, *later_events))
    incident_id = str(values["id"])
    try:
        with conn.begin_nested():
            conn.execute(_INSERT_INCIDENT, values)
    except IntegrityError as exc:
        if get_incident_or_none(conn, incident_id) is not None:
            raise Conflict(
                f"事件编号已存在：{incident_id}", f"incident {incident_id} already exists", field="id"
            ) from exc
        raise
    conn.execute(_INSERT_EVENT, events)


def new_incident_values(
    record: Mapping[str, Any], events_in: Sequence[Mapping[str, Any]], *, with_geom: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The columns of a new incident and of its events as inserted (see :func:`insert_incident`):
    checked, with ``seq`` and ``created_at`` defaulted and the geometry following lon/lat
    (``with_geom=False``: no ``geom``, for a writer that makes the point itself)."""
    values = _incident_values(record, with_geom=with_geom)
    incident_id = str(values["id"])
    events = [_event_values(incident_id, e) for e in events_in]
    if [e["seq"] for e in events] != list(range(events[0]["seq"], events[0]["seq"] + len(events))):
        raise ValueError("event seqs must be consecutive")
    values.setdefault("seq", events[-1]["seq"])
    values.setdefault("created_at", datetime.now(UTC))
    if values["seq"] != events[-1]["seq"]:
        raise ValueError("incident seq must equal its last event's seq")
    return values, events


def insert_incidents(
    conn: Connection, items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]
) -> None:
    """Insert several new incidents, each ``(record, events)`` as for :func:`insert_incident`, with
    one statement for the incidents and one for all their events (a group commit of intake). No
    savepoint per incident: any failure (a duplicate id raises IntegrityError, not Conflict) fails
    the statement, and the caller rolls the whole transaction back and stores them one by one."""
    if not items:
        return
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for record, evs in items:
        values, ev_values = new_incident_values(record, evs)
        rows.append(values)
        events.extend(ev_values)
    conn.execute(_INSERT_INCIDENT, rows)
    conn.execute(_INSERT_EVENT, events)


def get_incidents(conn: Connection, incident_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The incidents with these ids, in the order given, in one query; :class:`NotFound` if any is
    missing."""
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(incident_ids), 500):
        rows = conn.execute(_BY_IDS, {"_ids": list(incident_ids[i : i + 500])})
        found.update((r.id, dict(r._mapping)) for r in rows)
    missing = [i for i in incident_ids if i not in found]
    if missing:
        raise NotFound(f"事件不存在：{missing[0]}", f"no incident {missing[0]}", field="id")
    return [found[i] for i in incident_ids]


def append_event(conn: Connection, incident_id: str, event: Mapping[str, Any], *, expected_seq: int) -> int:
    """Apply one event: set ``event["after"]`` (changed incident fields) and ``seq = expected_seq + 1``
    on the incident, if it is still at ``expected_seq``, and append the event. Returns the new seq.

    Raises :class:`NotFound` for an unknown incident and :class:`Conflict` when another writer got
    there first (the caller must roll back: leaving the ``write`` block by the exception does).
    """
    new_seq = expected_seq + 1
    ev = _event_values(incident_id, event)
    if ev["seq"] != new_seq:
        raise ValueError(f"event seq {ev['seq']} must be expected_seq + 1 = {new_seq}")
    changes = _incident_values({k: v for k, v in dict(event.get("after") or {}).items() if k != "seq"})
    changes["seq"] = new_seq
    changes.setdefault("updated_at", ev["at"])
    result = conn.execute(_UPDATE_AT_SEQ, changes | {"_where_id": incident_id, "_where_seq": expected_seq})
    if result.rowcount != 1:
        current = get_incident(conn, incident_id)  # NotFound if it does not exist
        raise Conflict(
            f"事件 {incident_id} 已被他人更新（第 {current['seq']} 步），请刷新后重试",
            f"incident {incident_id} changed meanwhile (now at seq {current['seq']}, "
            f"expected {expected_seq}); reload and retry",
            field="seq",
            detail={"expected_seq": expected_seq, "current_seq": current["seq"]},
        )
    conn.execute(_INSERT_EVENT, ev)
    return new_seq


_SELECT = select(*(incidents.c[n] for n in INCIDENT_COLUMNS))


_BY_ID = _SELECT.where(incidents.c.id == bindparam("_where_id"))
#: Built once (an expanding IN): the read-back of a group commit compiles nothing per batch.
_BY_IDS = _SELECT.where(incidents.c.id.in_(bindparam("_ids", expanding=True)))


@dataclass(frozen=True)
class Visibility:
    """Which incidents a caller may see — the one rule, applied by every query here.

    ``everything`` (dispatchers, admins, planners, viewers), or only incidents that lie in or were
    assigned to one of ``grids`` (micro or general codes), lie in one of ``communities``, or are
    assigned to ``person_id``. Built for a user by :func:`api.ops.access.scope_for`."""

    everything: bool
    communities: frozenset[str] = frozenset()
    grids: frozenset[str] = frozenset()
    person_id: str | None = None

    def clause(self) -> Any:
        """The rule as a SQL condition on ``incidents`` (None: no restriction)."""
        if self.everything:
            return None
        parts: list[Any] = []
        if self.grids:
            codes = sorted(self.grids)
            parts += [
                incidents.c.micro_code.in_(codes),
                incidents.c.general_code.in_(codes),
                incidents.c.assigned_grid_code.in_(codes),
            ]
        if self.communities:
            parts.append(incidents.c.community_code.in_(sorted(self.communities)))
        if self.person_id:
            parts.append(incidents.c.assignee_id == self.person_id)
        return or_(*parts) if parts else false()


EVERYTHING = Visibility(True)


def get_incident_or_none(
    conn: Connection, incident_id: str, visible: Visibility = EVERYTHING
) -> dict[str, Any] | None:
    """The incident, or None when it does not exist or ``visible`` hides it."""
    if visible.everything:
        row = conn.execute(_BY_ID, {"_where_id": incident_id}).first()
    else:
        q = _SELECT.where(incidents.c.id == incident_id, visible.clause())
        row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def get_incident(conn: Connection, incident_id: str, visible: Visibility = EVERYTHING) -> dict[str, Any]:
    """The incident's columns as a dict (times timezone-aware); :class:`NotFound` if absent or hidden
    (a caller cannot tell the two apart)."""
    found = get_incident_or_none(conn, incident_id, visible)
    if found is None:
        raise NotFound(f"事件不存在：{incident_id}", f"no incident {incident_id}", field="id")
    return found


def _filters(
    community_code: str | None,
    grid_codes: Sequence[str] | None,
    states: Sequence[str] | None,
    categories: Sequence[str] | None,
    assignee_id: str | None,
    visible: Visibility = EVERYTHING,
) -> list[Any]:
    where: list[Any] = []
    if not visible.everything:
        where.append(visible.clause())
    if community_code is not None:
        where.append(incidents.c.community_code == community_code)
    if grid_codes is not None:
        codes = list(grid_codes)
        where.append(
            or_(
                incidents.c.micro_code.in_(codes),
                incidents.c.general_code.in_(codes),
                incidents.c.assigned_grid_code.in_(codes),
            )
        )
    if states is not None:
        where.append(incidents.c.state.in_([_plain("state", s) for s in states]))
    if categories is not None:
        where.append(incidents.c.category.in_([_plain("category", c) for c in categories]))
    if assignee_id is not None:
        where.append(incidents.c.assignee_id == assignee_id)
    return where


def list_incidents(
    conn: Connection,
    *,
    community_code: str | None = None,
    grid_codes: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    assignee_id: str | None = None,
    visible: Visibility = EVERYTHING,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Incidents matching every given filter that ``visible`` lets through, newest report first
    (then id). ``grid_codes`` matches the micro-grid, the general grid or the grid assigned to.
    """
    q = (
        _SELECT.where(*_filters(community_code, grid_codes, states, categories, assignee_id, visible))
        .order_by(incidents.c.reported_at.desc(), incidents.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def lock_in_states(conn: Connection, community_code: str, states: Sequence[str]) -> list[dict[str, Any]]:
    """Every incident of a community in ``states``, locked for this transaction (row locks on
    PostgreSQL; SQLite writers are serialised already), by id: for re-routing at a publish."""
    q = (
        _SELECT.where(*_filters(community_code, None, states, None, None))
        .order_by(incidents.c.id)
        .with_for_update()
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def count_incidents(
    conn: Connection,
    *,
    community_code: str | None = None,
    grid_codes: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    assignee_id: str | None = None,
    visible: Visibility = EVERYTHING,
) -> int:
    q = select(func.count()).select_from(incidents)
    q = q.where(*_filters(community_code, grid_codes, states, categories, assignee_id, visible))
    return int(conn.execute(q).scalar_one())


def list_events(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    """The incident's events in seq order, as dicts shaped like ``Event.to_dict()`` (``at`` a datetime)."""
    rows = conn.execute(
        select(*(incident_events.c[n] for n in EVENT_COLUMNS))
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.seq)
    )
    return [dict(r._mapping) for r in rows]


def list_events_of(conn: Connection, incident_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Events of many incidents at once (in chunks), ordered by incident and seq."""
    ids = list(dict.fromkeys(incident_ids))
    out: list[dict[str, Any]] = []
    cols = [incident_events.c[n] for n in EVENT_COLUMNS]
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            select(*cols)
            .where(incident_events.c.incident_id.in_(ids[i : i + 500]))
            .order_by(incident_events.c.incident_id, incident_events.c.seq)
        )
        out.extend(dict(r._mapping) for r in rows)
    return out


def last_event_id(conn: Connection) -> int:
    """The id of the newest event of any incident (0 when none): every report and every change of
    an incident appends one, so this number moves whenever any incident does. One index lookup
    (the primary key), for answering "nothing changed" without reading incidents."""
    return int(conn.execute(select(func.max(incident_events.c.id))).scalar() or 0)
