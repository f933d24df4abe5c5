"""Intake's group commit on PostgreSQL: one statement on the event loop, or one transaction.

:mod:`api.ops.intake_batch` writes a batch of prepared reports at once: the shared layer-switch
lock, the in-force check (:func:`store.inforce.check_versions`), the incidents and their events,
and the stored rows to answer with (:func:`stored_row`, built from the values inserted). On
PostgreSQL a served worker does it with :class:`ReportWriter`: ONE statement in autocommit
(``weiwang_store_reports``, migration 0008) sent from the event loop, the commit and its WAL flush
in the same round trip. The check runs in Python on the versions the process holds
(:meth:`store.inforce.LayersInForce.committed`) and the statement confirms under the lock that the
committed table still holds exactly those; otherwise (:class:`VersionsMoved`), or on any other
error, nothing was written and the batch goes to :func:`write_batch` in the writer thread.

:func:`write_batch` is that transaction: on PostgreSQL :func:`write_new_incidents`, two round trips
through psycopg's pipeline mode on the transaction's own connection —

1. ``pg_advisory_xact_lock_shared`` (the switch lock, :func:`store.versions.hold_switch`), then
   the published and retired versions — a separate statement, so its READ COMMITTED snapshot is
   taken after the lock is held — then the incidents and the events (``executemany``), all sent
   at once and read back with one sync;
2. the versions are checked in Python: a report located on other versions than those in force at
   its instant raises :class:`~store.inforce.LayersChanged` and the caller rolls the whole
   transaction back (nothing was committed); else the caller commits.

Measured on 2 cores (``bench_intake``'s write stage, bench/README.md): a batch of one takes 1.76
ms wall and 0.97 ms of client CPU as the transaction, 1.71 ms and 0.52 ms as one statement through
psycopg's async ``execute`` — 1.17 ms and 0.35 ms on libpq's layer as :class:`ReportWriter` now runs
it; a batch of eight 0.48 against 0.12–0.16 ms CPU per report. In the served worker the writer
thread, waiting on the GIL behind the event loop after each round trip, stretched batches to 15–20
ms under load. The rows answered equal the read-back (tests compare them with
:func:`store.incidents.get_incidents`, and rows, events and points with those of
:func:`store.incidents.insert_incidents`). SpatiaLite keeps the SQLAlchemy path: one writer per
file and no round trips.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
import psycopg
from psycopg import pq, sql
from psycopg.rows import namedtuple_row
from sqlalchemy import JSON, Boolean, Connection, Engine, Float, Integer
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.sql.elements import False_, True_

from store.db import unavailable
from store.incidents import (
    EVENT_COLUMNS,
    INCIDENT_COLUMNS,
    get_incidents,
    insert_incidents,
    new_incident_values,
)
from store.inforce import PUBLISHED_VERSIONS, LayersChanged, check_located_many, check_versions
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


_PG = psycopg_dialect()
_UTC = UTCDateTime()
_LOCK_SQL = "SELECT pg_advisory_xact_lock_shared(%s)"
#: :data:`store.inforce.PUBLISHED_VERSIONS` (the one statement of the check) as PostgreSQL text.
_VERSIONS_SQL = str(PUBLISHED_VERSIONS.compile(dialect=_PG, compile_kwargs={"literal_binds": True}))
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


# -- one statement: the async writer of a served worker ------------------------------------------

#: SQLSTATE raised by ``weiwang_store_reports`` (migration 0008) when the committed version table is
#: not the one the reports were checked against.
VERSIONS_MOVED = "WW409"
STORE_REPORTS_SQL = "SELECT weiwang_store_reports(%s, %s)"
_INCIDENT_KEYS = tuple(str(n) for n in INCIDENT_COLUMNS)  # plain str: orjson refuses str subclasses
_EVENT_KEYS = tuple(str(n) for n in EVENT_COLUMNS)
_TIME_KEYS = frozenset(n for n in _INCIDENT_KEYS if isinstance(incidents.c[n].type, UTCDateTime))
_FLOAT_KEYS = tuple(n for n in _INCIDENT_KEYS if isinstance(incidents.c[n].type, Float))
_EVENT_TIME_KEYS = frozenset(n for n in _EVENT_KEYS if isinstance(incident_events.c[n].type, UTCDateTime))


class VersionsMoved(LayersChanged):
    """The committed version table is not the one the reports were checked against (a publish
    since this process last read it, or one in between): nothing was written; check again in a
    transaction (:func:`write_batch`)."""


def _utc(value: datetime | None) -> datetime | None:
    """A time column's value as :class:`store.models.UTCDateTime` binds it on PostgreSQL."""
    return _UTC.process_bind_param(value, _PG)


def store_reports_params(
    committed: Sequence[Any],
    located: Sequence[tuple[datetime | date | None, Sequence[int]]],
    items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> tuple[list[dict[str, Any]], tuple[Any, ...]]:
    """The in-force check of ``located`` on ``committed`` (the published and retired versions this
    process holds, :meth:`store.inforce.LayersInForce.committed`; :class:`LayersChanged` when it
    fails), then (the rows to answer, the parameters of :data:`STORE_REPORTS_SQL`): the switch
    lock's key and one JSON document — those versions, the incidents (every column, the point as
    EWKT of the same doubles) and their events."""
    check_versions(committed, [(at, ids) for at, ids in located if at is not None])
    new: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for record, events_in in items:
        values, ev_values = new_incident_values(record, events_in, with_geom=False)
        answers.append(stored_row(values))
        row = {n: values[n] if n in values else _DEFAULTS[n] for n in _INCIDENT_KEYS}
        for n in _TIME_KEYS:
            row[n] = _utc(row[n])
        for n in _FLOAT_KEYS:  # JSON has no NaN or infinity (orjson writes null): the transaction
            if row[n] is not None and not math.isfinite(row[n]):  # stores them as they are
                raise ValueError(f"incidents.{n} is {row[n]!r}: not a JSON number")
        lon, lat = values.get("lon"), values.get("lat")
        row["geom"] = (
            None if lon is None or lat is None else f"SRID=4326;POINT({float(lon)!r} {float(lat)!r})"
        )
        new.append(row)
        for ev in ev_values:
            events.append({n: _utc(ev[n]) if n in _EVENT_TIME_KEYS else ev[n] for n in _EVENT_KEYS})
    versions = [
        {"id": v.id, "state": v.state, "valid_from": _utc(v.valid_from), "valid_to": _utc(v.valid_to)}
        for v in committed
    ]
    batch = {"versions": versions, "incidents": new, "events": events}
    return answers, (SWITCH_LOCK_KEY, orjson.dumps(batch).decode())


class StatementFailed(Exception):
    """The one statement was refused by the database (its connection is still good): nothing was
    written. ``sqlstate`` names the error (``23505`` a duplicate id, …)."""

    def __init__(self, sqlstate: str | None, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate


class ReportWriter:
    """Intake's group commit on PostgreSQL as ONE statement on the event loop (a served worker's).

    ``weiwang_store_reports`` (migration 0008) in autocommit: one round trip, the commit (and its
    WAL flush) included, no writer thread — a thread waiting on the GIL behind the event loop after
    each round trip was most of intake's latency tail. The in-force check runs here on the versions
    this process holds, and the statement confirms under the switch lock that the committed table
    still holds exactly those (else :class:`VersionsMoved`, nothing written): the same rule as
    :func:`write_new_incidents` reading the table in its transaction.

    One kept connection per event loop (psycopg's), the statement prepared on it once and run
    through its libpq connection (:mod:`psycopg.pq`): sent, then awaited with the socket watched by
    the loop only while a result is due. psycopg's async ``execute`` (a cursor, its lock, the
    generators and waits around them) cost ~80 µs more CPU per batch (bench_intake's one-statement
    stage), the same machinery this skips.

    Failures: a statement error leaves nothing written (one statement) and is raised as
    :class:`StatementFailed`, or :class:`VersionsMoved`; the connection lost is
    :class:`~store.dberrors.DatabaseUnavailable`, except that when the kept connection is found
    cut (the server restarted while it was idle) the batch is looked up on a fresh connection by its
    incident ids — stored whole (the commit got through before the cut) or not at all, then written
    once more; a rewrite refused as a duplicate is looked up again (the cut backend, still running
    across a network, committed meanwhile) — so a stale connection never fails a report, and none
    is stored twice."""

    def __init__(self, engine: Engine) -> None:
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._prepared = False

    async def write(
        self,
        committed: Sequence[Any],
        located: Sequence[tuple[datetime | date | None, Sequence[int]]],
        items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    ) -> list[dict[str, Any]]:
        """Store ``items`` (as for :func:`write_batch`) in one statement; the stored rows in order."""
        answers, params = store_reports_params(committed, located, items)
        ids = [str(record["id"]) for record, _ in items]
        kept = self._conn is not None and not self._conn.closed
        conn = await self._connection()
        try:
            await self._store(conn, params)
            return answers
        except psycopg.OperationalError as err:  # the connection is gone
            self.close()
            if not kept:
                raise unavailable(err) from err
        # the kept connection was cut: did the statement commit before that?
        conn = await self._connection()
        try:
            if await self._stored(conn, ids):
                return answers
            try:
                await self._store(conn, params)
            except StatementFailed as err:
                # the cut backend may still have been running and committed after the look-up (its
                # rows then hold our ids: the rewrite waited for them and was refused)
                if err.sqlstate != _UNIQUE_VIOLATION or not await self._stored(conn, ids):
                    raise
            return answers
        except psycopg.OperationalError as err:
            self.close()
            raise unavailable(err) from err

    @staticmethod
    async def _stored(conn: psycopg.AsyncConnection[Any], ids: list[str]) -> bool:
        """Whether every incident of ``ids`` is committed (a batch is one statement: all or none)."""
        found = await (await conn.execute(_COUNT_SQL, (ids,))).fetchone()
        return found is not None and found[0] == len(ids)

    async def _store(self, conn: psycopg.AsyncConnection[Any], params: tuple[Any, ...]) -> None:
        """Run :data:`STORE_REPORTS_SQL` with ``params`` on ``conn`` (prepared on first use)."""
        pg = conn.pgconn
        try:
            if not self._prepared:
                pg.send_prepare(_PREPARED, _PREPARED_SQL, None)
                await self._results(pg)
                self._prepared = True
            lock_key, doc = params
            pg.send_query_prepared(_PREPARED, [str(int(lock_key)).encode(), doc.encode()], None)
            await self._results(pg)
        except asyncio.CancelledError:  # a result may still be due on it: not reused
            self.close()
            raise
        except StatementFailed as err:
            if err.sqlstate == _NO_SUCH_STATEMENT:  # deallocated (DISCARD ALL…): prepare it again
                self._prepared = False
            raise

    @staticmethod
    async def _results(pg: Any) -> None:
        """Flush what was sent, wait for every result of it (the loop watching the socket only
        meanwhile) and raise the first error among them."""
        loop = asyncio.get_running_loop()
        while pg.flush():  # nonblocking (psycopg's async connection): the rest when writable
            await _ready(loop, loop.add_writer, loop.remove_writer, pg.socket)
        while True:
            pg.consume_input()  # OperationalError when the connection is gone
            if not pg.is_busy():
                break
            await _ready(loop, loop.add_reader, loop.remove_reader, pg.socket)
        failed: StatementFailed | None = None
        while (res := pg.get_result()) is not None:
            if res.status == pq.ExecStatus.FATAL_ERROR and failed is None:
                state = res.error_field(pq.DiagnosticField.SQLSTATE)
                failed = StatementFailed(
                    state.decode() if state else None, (res.error_message or b"").decode(errors="replace")
                )
        if pg.status == pq.ConnStatus.BAD:
            raise psycopg.OperationalError("the connection to the server was lost")
        if failed is not None:
            if failed.sqlstate == VERSIONS_MOVED:
                raise _moved() from failed
            raise failed

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._prepared = False
            try:
                self._conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            except psycopg.OperationalError as err:
                raise unavailable(err) from err
        return self._conn

    def close(self) -> None:
        """Close the kept connection now (no await needed: the socket is closed, nothing is sent)."""
        conn, self._conn = self._conn, None
        self._prepared = False
        if conn is not None and not conn.closed:
            conn.pgconn.finish()


async def _ready(loop: asyncio.AbstractEventLoop, add: Any, remove: Any, fd: int) -> None:
    """Until ``fd`` is ready (``add``/``remove``: the loop's add_reader/remove_reader or writer pair)."""
    fut: asyncio.Future[None] = loop.create_future()
    add(fd, _set_done, fut)
    try:
        await fut
    finally:
        remove(fd)


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


_UNIQUE_VIOLATION = "23505"
_NO_SUCH_STATEMENT = "26000"
_PREPARED = b"weiwang_store_reports"
_PREPARED_SQL = b"SELECT weiwang_store_reports($1, $2)"  # STORE_REPORTS_SQL in libpq's placeholders
_COUNT_SQL = "SELECT count(*) FROM incidents WHERE id = ANY(%s)"


def _moved() -> VersionsMoved:
    return VersionsMoved(
        "网格版本刚刚切换，正在按上报时生效的版本重新定位",
        "the grid version switched meanwhile; locating again against the version in force",
        field="reported_at",
    )
