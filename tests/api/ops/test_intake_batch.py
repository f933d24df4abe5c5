"""Group commit of intake (both databases; :mod:`api.ops.intake_batch`): reports queued together
are written in one transaction, each stored exactly once and routed as alone; a bad report gets
its own error while the rest are stored; the database failing mid-batch fails the whole batch
with nothing of it written."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import event, func, select, text

from api.ops import intake
from api.ops.access import User
from api.ops.intake_batch import batcher_for, store_report_batched
from api.ops.service import Service
from api.settings import Settings
from dispatch import AppRole
from store import db
from store.dberrors import Conflict, DatabaseUnavailable
from store.groupwrite import write_batch
from store.incidents import get_incidents, insert_incidents, list_events
from store.models import incident_events, incidents
from store.shapes import to_shapely
from tests.api.ops.test_publishing import M1, M2, points
from tests.loops import run_loop

DISPATCHER = User(1, "dispatcher", AppRole.DISPATCHER, None)


@pytest.fixture
def service(seeded_url: str) -> Iterator[Service]:
    engine = db.make_engine(seeded_url)
    yield Service(Settings(database_url=seeded_url, intake_batch=True, locator_dir=None), engine)
    engine.dispose()


def body(lon: float, lat: float, text_: str) -> dict:
    return {"lon": lon, "lat": lat, "category": "安全隐患", "description": text_}


def spots() -> list[tuple[float, float]]:
    p = points()
    return [p["west"], p["east"], p["m2"]]


def stored(service: Service, tag: str) -> dict[str, dict]:
    """Incidents whose description starts with ``tag``, by id, with their event count."""
    with db.read(service.engine) as conn:
        rows = conn.execute(select(incidents).where(incidents.c.description.like(f"{tag}%"))).all()
        counts = dict(
            conn.execute(
                select(incident_events.c.incident_id, func.count())
                .where(incident_events.c.incident_id.in_([r.id for r in rows]))
                .group_by(incident_events.c.incident_id)
            ).all()
        )
    return {r.id: dict(r._mapping) | {"n_events": counts.get(r.id, 0)} for r in rows}


async def gather_batched(service: Service, reports: list[intake.Report]) -> list[object]:
    return await asyncio.gather(*(store_report_batched(service, r) for r in reports), return_exceptions=True)


def test_concurrent_reports_are_stored_once_in_one_transaction_and_routed_as_alone(service) -> None:
    reports = [
        intake.prepare_report(service, DISPATCHER, body(*spots()[i % 3], f"batch {i}")) for i in range(30)
    ]

    async def run() -> tuple[list[object], list[int]]:
        out = await gather_batched(service, reports)
        return out, batcher_for(service).stats.sizes

    out, sizes = run_loop(run())
    assert sizes == [30]  # one transaction for all of them
    assert all(isinstance(r, dict) for r in out), [r for r in out if not isinstance(r, dict)][:1]
    assert [r["id"] for r in out] == [r.id for r in reports]  # type: ignore[index]
    rows = stored(service, "batch ")
    assert len(rows) == 30
    for rep in reports:
        row = rows[rep.id]
        assert row["n_events"] == len(rep.events) == 3  # 上报, 受理, 交办: all of them, once
        for key in ("micro_code", "general_code", "community_code", "assignee_id", "state", "seq"):
            assert row[key] == rep.record[key], key
        assert row["layer_version_id"] == rep.record["layer_version_id"]
    assert {rows[r.id]["micro_code"] for r in reports} == {M1, M2}


def test_a_bad_report_in_a_batch_gets_its_own_error_and_the_others_are_stored(service) -> None:
    first = intake.prepare_report(service, DISPATCHER, body(*spots()[2], "dup 0"))
    intake.store_report(service, first)
    good = [intake.prepare_report(service, DISPATCHER, body(*spots()[i % 3], f"dup {i}")) for i in (1, 2, 3)]
    again = dataclasses.replace(first, redo=None)  # the same incident id again: a duplicate

    async def run() -> tuple[list[object], list[int]]:
        out = await gather_batched(service, [good[0], again, good[1], good[2]])
        return out, batcher_for(service).stats.sizes

    out, sizes = run_loop(run())
    assert sizes == [4]  # they were in one batch, which failed and was stored one by one
    assert isinstance(out[1], Conflict) and first.id in str(out[1].en)
    assert [r["id"] for r in (out[0], out[2], out[3])] == [g.id for g in good]  # type: ignore[index]
    rows = stored(service, "dup ")
    assert sorted(rows) == sorted([first.id, *(g.id for g in good)])  # nothing lost, none twice
    assert all(r["n_events"] == 3 for r in rows.values())  # the duplicate added no event


def test_the_database_failing_mid_batch_fails_all_of_it_with_nothing_written(service, db_kind) -> None:
    """The connection is cut for real in the middle of the batch's transaction (on PostgreSQL, after
    the switch lock, the events' table is locked by another session and the server terminates the
    writer's backend while its insert waits there; on SQLite the connection is closed under it
    between the incidents' insert and the events'): every report of the batch gets
    DatabaseUnavailable (503), none is stored, not even half."""
    reports = [
        intake.prepare_report(service, DISPATCHER, body(*spots()[i % 3], f"cut {i}")) for i in range(5)
    ]
    armed = threading.Event()
    armed.set()
    if db_kind == "postgis":
        out = _cut_while_waiting_for_events(service, reports, armed)
    else:

        @event.listens_for(service.engine, "before_cursor_execute")
        def cut(conn, cursor, statement, params, context, executemany) -> None:
            if armed.is_set() and statement.lstrip().upper().startswith("INSERT INTO INCIDENT_EVENTS"):
                armed.clear()
                conn.connection.dbapi_connection.close()

        try:
            out = run_loop(gather_batched(service, reports))
        finally:
            event.remove(service.engine, "before_cursor_execute", cut)
    assert not armed.is_set()  # the cut happened
    # the database went away under the batch: 503 for every report of it (clients retry) ...
    assert len(out) == 5 and all(isinstance(r, DatabaseUnavailable) for r in out), out
    assert stored(service, "cut ") == {}  # ... and nothing of it written, not even the incidents
    # the pool recovers: the same reports stored afterwards, once each, with all their events
    out = run_loop(gather_batched(service, reports))
    assert all(isinstance(r, dict) for r in out), out
    rows = stored(service, "cut ")
    assert sorted(rows) == sorted(r.id for r in reports) and all(r["n_events"] == 3 for r in rows.values())


def _cut_while_waiting_for_events(
    service: Service, reports: list[intake.Report], armed: threading.Event
) -> list:
    """Store ``reports`` in one batch on PostgreSQL while another session holds the events' table
    locked; once the writer waits for that lock, terminate the writer's backend."""
    with service.engine.connect() as holder:
        holder.execute(text("LOCK TABLE incident_events IN ACCESS EXCLUSIVE MODE"))
        holder_pid = holder.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(run_loop, gather_batched(service, reports))
            deadline = time.monotonic() + 30
            while armed.is_set() and time.monotonic() < deadline:
                with service.engine.connect() as other:
                    pid = other.execute(
                        text("SELECT pid FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"),
                        {"holder": holder_pid},
                    ).scalar()
                    if pid is not None:
                        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                        armed.clear()
                time.sleep(0.01)
            holder.rollback()
            return pending.result(timeout=60)


def _twin(rep: intake.Report, n: int) -> intake.Report:
    """The same report under another id (its record and events renamed)."""
    twin_id = f"{rep.id[:-2]}{n:02d}"
    record = rep.record | {"id": twin_id}
    events = tuple(e | {"incident_id": twin_id} for e in rep.events)
    return dataclasses.replace(rep, id=twin_id, record=record, events=events)


def twin_reports(service: Service, tag: str) -> list[intake.Report]:
    """Reports of every kind a batch holds: plain, with a resident, urgent in GCJ-02, and late
    (located at the instant it names)."""
    p = spots()
    bodies = [
        body(*p[0], f"{tag} plain"),
        body(*p[1], f"{tag} resident")
        | {"reporter": {"name": "张三", "phone": "13800001111"}, "address": "1号"},
        body(*p[2], f"{tag} urgent") | {"urgent": True, "crs": "gcj02"},
        body(*p[2], f"{tag} late") | {"reported_at": datetime(2026, 12, 1, 8, 0)},
    ]
    return [intake.prepare_report(service, DISPATCHER, b) for b in bodies]


def assert_stored_as_sqlalchemy_stores(
    service: Service, reports: list[intake.Report], answered: list[dict]
) -> None:
    """``answered`` is what is stored for ``reports``, value for value and type for type, and the
    rows, events and points equal those of twins stored by :func:`store.incidents.insert_incidents`."""
    twins = [_twin(r, i) for i, r in enumerate(reports)]
    with db.write(service.engine) as conn:
        insert_incidents(conn, [(t.record, t.events) for t in twins])
    with db.read(service.engine) as conn:
        back = get_incidents(conn, [r.id for r in reports])
        back_twins = get_incidents(conn, [t.id for t in twins])
        events = {r.id: [dict(e) for e in list_events(conn, r.id)] for r in (*reports, *twins)}
        points = dict(conn.execute(select(incidents.c.id, incidents.c.geom)).all())
    assert answered == back
    assert [type(v) for r in answered for v in r.values()] == [type(v) for r in back for v in r.values()]
    for rep, twin, row, twin_row in zip(reports, twins, back, back_twins, strict=True):
        assert {**row, "id": None, "created_at": None} == {**twin_row, "id": None, "created_at": None}
        mine, theirs = events[rep.id], events[twin.id]
        assert len(mine) == len(rep.events) >= 1
        assert [{**e, "id": None, "incident_id": None} for e in mine] == [
            {**e, "id": None, "incident_id": None} for e in theirs
        ]
        assert to_shapely(points[rep.id]).wkb == to_shapely(points[twin.id]).wkb  # SRID and doubles
        assert to_shapely(points[rep.id]).coords[0] == (row["lon"], row["lat"])


def test_the_rows_answered_are_the_rows_stored_as_sqlalchemy_stores_them(service) -> None:
    """The batch's transaction (on PostgreSQL one pipeline of raw statements,
    :func:`store.groupwrite.write_batch`) answers exactly the rows read back afterwards, and stores
    incidents, events and points exactly as :func:`store.incidents.insert_incidents` does."""
    reports = twin_reports(service, "twin")
    with db.write(service.engine) as conn:
        answered = write_batch(
            conn, [(r.at, r.version_ids) for r in reports], [(r.record, r.events) for r in reports]
        )
    assert_stored_as_sqlalchemy_stores(service, reports, answered)


def test_reports_over_http_with_group_commit(seeded_url: str) -> None:
    """Concurrent POSTs through the served route with ``intake_batch`` on: each valid one 201 with
    its Location and stored once; a point far outside every community gets its own 4xx."""
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    app = create_app(
        Settings(database_url=seeded_url, secret_key="s", intake_batch=True, locator_dir=None), prepare=True
    )
    try:
        with TestClient(app) as client:
            tok = client.post(
                "/api/v1/auth/login", json={"username": "dispatcher", "password": "dispatch-demo"}
            )
            headers = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            bodies = [body(*spots()[i % 3], f"http {i}") for i in range(12)]
            bodies[5] = body(100.0, 40.0, "http far")
            answers: list[object] = [None] * len(bodies)

            def send(i: int) -> None:
                answers[i] = client.post("/api/v1/incidents", json=bodies[i], headers=headers)

            threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        codes = [a.status_code for a in answers]  # type: ignore[attr-defined]
        assert codes[5] in (400, 422) and codes[:5] + codes[6:] == [201] * 11, codes
        ids = [a.json()["id"] for i, a in enumerate(answers) if i != 5]  # type: ignore[attr-defined]
        assert all(a.headers["Location"].endswith(a.json()["id"]) for i, a in enumerate(answers) if i != 5)  # type: ignore[attr-defined]
        rows = stored(app.state.service, "http ")
        assert sorted(rows) == sorted(ids) and all(r["n_events"] == 3 for r in rows.values())
    finally:
        app.state.service.engine.dispose()


def test_batches_during_a_publish_are_never_mixed_nor_lost(seeded_url: str) -> None:
    """The publish rule holds through the group commit: batches written while another service
    publishes (this worker's version table stale for up to 0.5 s) keep every report on the version
    in force at its receipt; a batch that meets the switch is stored one by one and relocated."""
    import time

    from api.ops import drafts, publishing
    from store.inforce import in_force
    from store.versions import list_versions
    from tests.api.ops.test_publishing import C, split_wkt

    engine = db.make_engine(seeded_url)
    try:
        planner = Service(Settings(database_url=seeded_url, version_poll_s=0.0, locator_dir=None), engine)
        worker = Service(
            Settings(database_url=seeded_url, version_poll_s=0.5, intake_batch=True, locator_dir=None), engine
        )
        drafts.new(planner, C)
        drafts.apply(planner, C, 2, "split", {"grid": M1, "line": split_wkt()})
        worker.layers.at(None, None).locator  # noqa: B018 (built before the stream)
        publisher = threading.Timer(0.5, lambda: publishing.publish(planner, C, 2, by="planner"))

        async def stream() -> tuple[list[object], list[int]]:
            out: list[object] = []
            stop = time.monotonic() + 1.6
            i = 0
            while time.monotonic() < stop:
                reports = [
                    await asyncio.to_thread(
                        intake.prepare_report, worker, DISPATCHER, body(*spots()[(i + k) % 3], f"pub {i}-{k}")
                    )
                    for k in range(6)
                ]
                out += await gather_batched(worker, reports)
                i += 1
            return out, batcher_for(worker).stats.sizes

        publisher.start()
        out, sizes = run_loop(stream())
        publisher.join(60)
        errors = [r for r in out if not isinstance(r, dict)]
        assert errors == [] and max(sizes) == 6, (errors[:3], sizes)
        with db.read(engine) as conn:
            versions = list_versions(conn, C)
            rows = conn.execute(
                select(incidents.c.id, incidents.c.reported_at, incidents.c.layer_version_id).where(
                    incidents.c.description.like("pub %")
                )
            ).all()
        assert sorted(r.id for r in rows) == sorted(r["id"] for r in out)  # type: ignore[index]
        switch = next(v for v in versions if v.number == 2).valid_from
        assert any(r.reported_at < switch for r in rows) and any(r.reported_at >= switch for r in rows)
        wrong = [
            r
            for r in rows
            if not any(v.id == r.layer_version_id and in_force(v, r.reported_at) for v in versions)
        ]
        assert wrong == []
    finally:
        engine.dispose()
