"""Intake's group commit as one statement on PostgreSQL (:class:`store.groupwrite.ReportWriter`,
``weiwang_store_reports`` of migration 0008): it stores exactly what the transaction of
:func:`store.groupwrite.write_batch` and SQLAlchemy's insert store; a version table other than the
one checked writes nothing; a kept connection cut while idle neither fails the next batch nor
stores a batch twice, even when the cut backend commits after the look-up; a refused statement
writes nothing and its connection goes on; one cancelled while awaited drops its connection; a
deallocated one is prepared again; a server away is DatabaseUnavailable. SpatiaLite has no such statement."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from api.ops import intake
from api.ops.intake_batch import batcher_for
from api.ops.service import Service
from api.settings import Settings
from store import db
from store.dberrors import DatabaseUnavailable
from store.groupwrite import (
    STORE_REPORTS_SQL,
    ReportWriter,
    StatementFailed,
    VersionsMoved,
    store_reports_params,
)
from store.inforce import LayersChanged
from store.versions import SWITCH_LOCK_KEY
from tests.api.ops.test_intake_batch import (
    DISPATCHER,
    assert_stored_as_sqlalchemy_stores,
    body,
    gather_batched,
    spots,
    stored,
    twin_reports,
)
from tests.loops import run_loop

#: PostgreSQL only: SpatiaLite's writer is in-process, there is no statement to send.
pytestmark = [pytest.mark.postgis, pytest.mark.parametrize("db_template", ["postgis"], indirect=True)]


@pytest.fixture
def pg_service(seeded_url: str) -> Iterator[Service]:
    engine = db.make_engine(seeded_url)
    yield Service(Settings(database_url=seeded_url, intake_batch=True, locator_dir=None), engine)
    engine.dispose()


def _reports(service: Service, tag: str, n: int = 3) -> list[intake.Report]:
    return [intake.prepare_report(service, DISPATCHER, body(*spots()[i % 3], f"{tag} {i}")) for i in range(n)]


def _write(
    writer: ReportWriter, service: Service, reports: list[intake.Report], committed: Any = None
) -> Any:
    async def go() -> list[dict[str, Any]]:
        try:
            return await writer.write(
                service.layers.committed() if committed is None else committed,
                [(r.at, r.version_ids) for r in reports],
                [(r.record, r.events) for r in reports],
            )
        finally:
            writer.close()  # the connection belongs to this loop

    return run_loop(go())


def test_one_statement_stores_what_the_transaction_stores(pg_service: Service) -> None:
    reports = twin_reports(pg_service, "one")
    answered = _write(ReportWriter(pg_service.engine), pg_service, reports)
    assert_stored_as_sqlalchemy_stores(pg_service, reports, answered)


def test_the_served_batches_take_the_one_statement(pg_service: Service) -> None:
    reports = _reports(pg_service, "served", 12)

    async def run() -> tuple[list[object], int]:
        out = await gather_batched(pg_service, reports)
        return out, batcher_for(pg_service).stats.fallbacks

    out, fallbacks = run_loop(run())
    assert all(isinstance(r, dict) for r in out), out
    assert fallbacks == 0
    assert sorted(stored(pg_service, "served ")) == sorted(r.id for r in reports)


def test_another_version_table_writes_nothing(pg_service: Service) -> None:
    service = pg_service
    committed = service.layers.committed()
    assert committed
    moved = [replace(committed[0], valid_to=committed[0].valid_from + timedelta(days=400)), *committed[1:]]
    reports = _reports(service, "moved")
    # the table holds other rows than those the reports were checked on: refused by the statement
    with pytest.raises(VersionsMoved):
        _write(ReportWriter(service.engine), service, reports, moved)
    # the reports are not located on versions in force by the rows given: refused before sending
    with pytest.raises(LayersChanged):
        _write(ReportWriter(service.engine), service, reports, committed[1:])
    assert stored(service, "moved ") == {}
    assert len(_write(ReportWriter(service.engine), service, reports)) == len(reports)
    assert sorted(stored(service, "moved ")) == sorted(r.id for r in reports)


def test_a_kept_connection_cut_stores_each_batch_once(pg_service: Service) -> None:
    service = pg_service
    writer = ReportWriter(service.engine)
    first, second = _reports(service, "kept a"), _reports(service, "kept b")

    def cut() -> None:
        assert writer._conn is not None
        with db.write(service.engine) as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": writer._conn.info.backend_pid})

    async def go() -> list[list[dict[str, Any]]]:
        out = [await _write_on(writer, service, first)]
        cut()  # idle: the next batch finds its connection cut, nothing of it sent
        out.append(await _write_on(writer, service, second))
        cut()  # the same batch once more: the lookup finds it stored, it is not written again
        out.append(await _write_on(writer, service, second))
        writer.close()
        return out

    out = run_loop(go())
    assert [len(o) for o in out] == [3, 3, 3]
    # the second call made its rows anew (created_at is stamped per call), else the same answer
    assert [r | {"created_at": None} for r in out[1]] == [r | {"created_at": None} for r in out[2]]
    rows = stored(service, "kept ")
    assert sorted(rows) == sorted(r.id for r in (*first, *second))
    assert all(r["n_events"] == len(first[0].events) for r in rows.values())


async def _write_on(writer: ReportWriter, service: Service, reports: list[intake.Report]) -> Any:
    return await writer.write(
        service.layers.committed(),
        [(r.at, r.version_ids) for r in reports],
        [(r.record, r.events) for r in reports],
    )


def test_a_server_away_is_unavailable(pg_service: Service, tmp_path) -> None:
    engine = db.make_engine("postgresql+psycopg://postgres@127.0.0.1:9/weiwang_nowhere", files=False)
    with pytest.raises(DatabaseUnavailable):
        _write(ReportWriter(engine), pg_service, _reports(pg_service, "away", 1))
    assert stored(pg_service, "away ") == {}


def test_a_number_json_cannot_carry_goes_to_the_transaction(pg_service: Service) -> None:
    rep = _reports(pg_service, "nan", 1)[0]
    rep = replace(rep, record=rep.record | {"distance_m": float("nan")})
    with pytest.raises(ValueError, match="distance_m"):  # refused before anything is sent
        _write(ReportWriter(pg_service.engine), pg_service, [rep])
    assert stored(pg_service, "nan ") == {}

    async def run() -> tuple[list[object], int]:
        out = await gather_batched(pg_service, [rep])
        return out, batcher_for(pg_service).stats.fallbacks

    out, fallbacks = run_loop(run())
    assert fallbacks == 1 and isinstance(out[0], dict)
    assert math.isnan(stored(pg_service, "nan ")[rep.id]["distance_m"])  # stored as it is


def test_a_refused_statement_writes_nothing_and_keeps_the_connection(pg_service: Service) -> None:
    service = pg_service
    writer = ReportWriter(service.engine)
    first, again, later = _reports(service, "refused a"), _reports(service, "refused b", 1), None

    async def go() -> tuple[int, int]:
        await _write_on(writer, service, first)
        assert writer._conn is not None
        pid = writer._conn.info.backend_pid
        with pytest.raises(StatementFailed) as refused:  # the same incidents once more: duplicate ids
            await _write_on(writer, service, [again[0], *first])
        assert refused.value.sqlstate == "23505"
        nonlocal later
        later = await _write_on(writer, service, again)  # the same connection goes on
        assert writer._conn is not None
        same = writer._conn.info.backend_pid
        writer.close()
        return pid, same

    pid, same = run_loop(go())
    assert pid == same and later is not None and len(later) == 1
    assert sorted(stored(service, "refused ")) == sorted(r.id for r in (*first, *again))


def test_a_statement_cancelled_while_awaited_drops_its_connection(pg_service: Service) -> None:
    """The statement is held on the layer-switch lock (another connection holds it exclusively, as
    a publish does), so it is surely awaited when the write is cancelled."""
    service = pg_service
    writer = ReportWriter(service.engine)
    warm, cancelled, after = (_reports(service, f"cancel {t}") for t in "abc")
    holder = psycopg.connect(writer.conninfo)

    async def go() -> None:
        await _write_on(writer, service, warm)  # connected, statement prepared
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (SWITCH_LOCK_KEY,))  # held until commit
        task = asyncio.get_running_loop().create_task(_write_on(writer, service, cancelled))
        await asyncio.sleep(0.2)  # sent, now awaiting a result that cannot come while the lock is held
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert writer._conn is None  # a result may still be due on it: not reused
        holder.commit()
        assert len(await _write_on(writer, service, after)) == len(after)

    try:
        run_loop(go())
    finally:
        writer.close()
        holder.close()
    rows = stored(service, "cancel ")
    assert {r.id for r in (*warm, *after)} <= set(rows)
    got = {r.id for r in cancelled} & set(rows)
    assert got in (set(), {r.id for r in cancelled})  # one statement: whole or nothing


def test_a_cut_backend_committing_after_the_look_up_stores_the_batch_once(pg_service: Service) -> None:
    """Across a network a cut connection's backend may still be running: here another transaction
    holds the batch uncommitted while the writer looks it up (nothing found) and writes it again
    (waiting on the same ids), then commits. The rewrite is refused as a duplicate; the writer looks
    again, finds the batch whole and answers it: stored once, no error."""
    service = pg_service
    writer = ReportWriter(service.engine)
    first, late = _reports(service, "late a"), _reports(service, "late b")
    _, params = store_reports_params(
        service.layers.committed(),
        [(r.at, r.version_ids) for r in late],
        [(r.record, r.events) for r in late],
    )
    holder = psycopg.connect(writer.conninfo)  # a transaction, not autocommit: the batch held uncommitted
    holder.execute(STORE_REPORTS_SQL, params)
    timer = threading.Timer(1.0, holder.commit)

    async def go() -> list[dict[str, Any]]:
        await _write_on(writer, service, first)
        assert writer._conn is not None
        with db.write(service.engine) as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": writer._conn.info.backend_pid})
        timer.start()  # commits while the rewrite waits on the held ids
        try:
            return await _write_on(writer, service, late)
        finally:
            writer.close()

    try:
        answered = run_loop(go())
    finally:
        timer.join()
        holder.close()
    assert [a["id"] for a in answered] == [r.id for r in late]
    rows = stored(service, "late ")
    assert sorted(rows) == sorted(r.id for r in (*first, *late))
    assert all(r["n_events"] == len(late[0].events) for r in rows.values())


def test_a_deallocated_statement_is_prepared_again(pg_service: Service) -> None:
    service = pg_service
    writer = ReportWriter(service.engine)
    first, lost, after = (_reports(service, f"dealloc {t}") for t in "abc")

    async def go() -> None:
        await _write_on(writer, service, first)  # prepared on the kept connection
        assert writer._conn is not None
        await writer._conn.execute("DEALLOCATE weiwang_store_reports")  # as DISCARD ALL would
        with pytest.raises(StatementFailed) as gone:  # this batch goes to the transaction
            await _write_on(writer, service, lost)
        assert gone.value.sqlstate == "26000"
        assert len(await _write_on(writer, service, after)) == len(after)  # prepared anew
        writer.close()

    run_loop(go())
    assert sorted(stored(service, "dealloc ")) == sorted(r.id for r in (*first, *after))
