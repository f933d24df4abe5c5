"""Intake's group commit on PostgreSQL in two round trips: one pipeline, then the commit.

:func:`api.ops.intake_batch.store_batch` writes a batch of prepared reports in one transaction: the
shared layer-switch lock, the committed version table (the in-force check of
:func:`store.inforce.check_located_many`), the incidents, their events, and the stored rows to
answer with. Through SQLAlchemy that was seven statements, each a round trip and ~0.3 ms of client
CPU; a writer thread waiting on the GIL after each round trip (the event loop holds it while
requests are busy) stretched a batch to 15–20 ms under load. Here, on PostgreSQL, the same
statements go through psycopg's pipeline mode on the transaction's own connection:

1. ``pg_advisory_xact_lock_shared`` (the switch lock, :func:`store.versions.hold_switch`), then
   the published and retired versions — a separate statement, so its READ COMMITTED snapshot is
   taken after the lock is held — then the incidents and the events (``executemany``), all sent
   at once and read back with one sync;
2. the versions are checked in Python (:func:`store.inforce.check_versions`): a report located on
   other versions than those in force at its instant raises :class:`~store.inforce.LayersChanged`
   and the caller rolls the whole transaction back (nothing was committed), as before; else the
   caller commits.

The rows answered are built from the values inserted (:func:`stored_row`): every column the
read-back returned, with the server defaults filled in and each value in the type the database
gives back (tests compare them with :func:`store.incidents.get_incidents`, and the stored rows and
events with those of :func:`store.incidents.insert_incidents`). SpatiaLite keeps that path: it has
one writer per file and no round trips.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from psycopg import sql
from psycopg.rows import namedtuple_row
from sqlalchemy import JSON, Boolean, Connection, Float, Integer
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.sql.elements import False_, True_

from store.incidents import (
    EVENT_COLUMNS,
    INCIDENT_COLUMNS,
    get_incidents,
    insert_incidents,
    new_incident_values,
)
from store.inforce import PUBLISHED_VERSIONS, check_located_many, check_versions
from store.models import UTCDateTime, incident_events, incidents
from store.versions import SWITCH_LOCK_KEY


def _server_default(name: str) -> Any:
    """The value the database stores for an incident column left out of an INSERT."""
    col = incidents.c[name]
    if col.server_default is None:
        return None
    arg = col.server_default.arg  # type: ignore[attr-defined]
    if isinstance(arg, (False_, True_)):
        return isinstance(arg, True_)
    if isinstance(arg, str):
        return int(arg) if isinstance(col.type, Integer) else arg
    raise TypeError(f"server default of incidents.{name} not understood: {arg!r}")


def _reader(name: str) -> Any:
    """How a value of incident column ``name`` comes back from the database (None stays None)."""
    kind = incidents.c[name].type
    if isinstance(kind, UTCDateTime):
        return lambda v: v.astimezone(UTC)
    if isinstance(kind, Boolean):
        return bool
    if isinstance(kind, Float):
        return float
    if isinstance(kind, Integer):
        return int
    return None


_DEFAULTS: dict[str, Any] = {n: _server_default(n) for n in INCIDENT_COLUMNS}
_READERS: dict[str, Any] = {n: _reader(n) for n in INCIDENT_COLUMNS}


def _cast(table: Any, name: str) -> str:
    kind = table.c[name].type
    if isinstance(kind, UTCDateTime):
        return "::timestamptz"
    if isinstance(kind, JSON):
        return "::json"
    return ""


def _insert(table: Any, names: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    """``INSERT INTO table (names…) VALUES (%s…)``, each placeholder cast as the column's type;
    ``extra``: one more (column, SQL expression)."""
    cols = [sql.Identifier(n) for n in names]
    vals = [sql.SQL("%s" + _cast(table, n)) for n in names]
    if extra is not None:
        cols.append(sql.Identifier(extra[0]))
        vals.append(sql.SQL(extra[1]))  # type: ignore[arg-type]  # a constant of this module
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table.name), sql.SQL(", ").join(cols), sql.SQL(", ").join(vals)
    )
    return query.as_string(None)


_LOCK_SQL = "SELECT pg_advisory_xact_lock_shared(%s)"
#: :data:`store.inforce.PUBLISHED_VERSIONS` (the one statement of the check) as PostgreSQL text.
_VERSIONS_SQL = str(
    PUBLISHED_VERSIONS.compile(dialect=psycopg_dialect(), compile_kwargs={"literal_binds": True})
)
#: The point as :func:`store.shapes.to_db` stores it (the same double coordinates, SRID 4326).
_INCIDENT_SQL = _insert(incidents, INCIDENT_COLUMNS, ("geom", "ST_SetSRID(ST_MakePoint(%s, %s), 4326)"))
_EVENT_NAMES = EVENT_COLUMNS
_EVENT_SQL = _insert(incident_events, _EVENT_NAMES)
_JSON_EVENT = frozenset(n for n in _EVENT_NAMES if _cast(incident_events, n) == "::json")


def stored_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """The incident row as :func:`store.incidents.get_incidents` reads it back after inserting
    ``values`` (from :func:`store.incidents.new_incident_values`)."""
    row: dict[str, Any] = {}
    for name in INCIDENT_COLUMNS:
        value = values[name] if name in values else _DEFAULTS[name]
        read = _READERS[name]
        row[name] = read(value) if value is not None and read is not None else value
    return row


def write_new_incidents(
    conn: Connection,
    located: Sequence[tuple[datetime | date | None, Sequence[int]]],
    items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> list[dict[str, Any]]:
    """In the caller's transaction on PostgreSQL: the switch lock, the in-force check of
    ``located`` and the incidents with their events (``items`` as for
    :func:`store.incidents.insert_incidents`), in one pipeline; returns the stored rows in the
    order given. Raises :class:`~store.inforce.LayersChanged` (or the database's error for a bad
    row) — the caller rolls back. See the module docstring."""
    incident_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    answers: list[dict[str, Any]] = []
    for record, events in items:
        values, ev_values = new_incident_values(record, events)
        answers.append(stored_row(values))
        row = [values[n] if n in values else _DEFAULTS[n] for n in INCIDENT_COLUMNS]
        incident_rows.append((*row, values.get("lon"), values.get("lat")))
        for ev in ev_values:
            event_rows.append(tuple(json.dumps(ev[n]) if n in _JSON_EVENT else ev[n] for n in _EVENT_NAMES))
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.pipeline(),
        raw.cursor() as lock,
        raw.cursor(row_factory=namedtuple_row) as versions,
        raw.cursor() as cur,
    ):
        lock.execute(_LOCK_SQL, (SWITCH_LOCK_KEY,))
        versions.execute(_VERSIONS_SQL)
        if incident_rows:
            cur.executemany(_INCIDENT_SQL, incident_rows)
        if event_rows:
            cur.executemany(_EVENT_SQL, event_rows)
        found = versions.fetchall()  # the pipeline is synced here: every statement has run
    check_versions(found, [(at, ids) for at, ids in located if at is not None])
    return answers


def write_batch(
    conn: Connection,
    located: Sequence[tuple[datetime | date | None, Sequence[int]]],
    items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> list[dict[str, Any]]:
    """A group commit's write in the caller's transaction, on either database: on PostgreSQL
    :func:`write_new_incidents`; on SpatiaLite the same steps through SQLAlchemy
    (:func:`store.inforce.check_located_many`, :func:`store.incidents.insert_incidents`, the
    read-back). Returns the stored rows in the order given."""
    if conn.dialect.name == "postgresql":
        return write_new_incidents(conn, located, items)
    check_located_many(conn, [(at, ids) for at, ids in located if at is not None])
    insert_incidents(conn, items)
    return get_incidents(conn, [str(record["id"]) for record, _ in items])
