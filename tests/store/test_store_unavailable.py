"""store.db when the database goes away: PostgreSQL stopped and started again under one engine, and a
connection cut in the middle of a write. While it is down, :func:`store.db.read` / :func:`store.db.write`
raise :class:`store.dberrors.DatabaseUnavailable` (the API's 503), not the driver's error; once it is
back the same engine works at the first try (``pool_pre_ping`` replaces the connections the restart
cut); a write cut before its commit leaves nothing. Errors that are the query's fault pass unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from store import db
from store.dberrors import DatabaseUnavailable
from tests.pgserver import PgServer, for_test


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A cluster of this test's own: it is stopped and restarted, which the shared one must not be."""
    with for_test() as server:
        yield server


@pytest.fixture
def pg_engine(own_pg: PgServer) -> Iterator[Engine]:
    url = own_pg.create_database("weiwang_unavailable", postgis=False)
    engine = db.make_engine(url, files=False)
    with db.write(engine) as conn:
        conn.execute(text("CREATE TABLE t (n integer PRIMARY KEY)"))
    try:
        yield engine
    finally:
        engine.dispose()


def _count(engine: Engine) -> int:
    with db.read(engine) as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


@pytest.mark.postgis
def test_a_restart_is_unavailable_while_down_and_transparent_once_back(
    own_pg: PgServer, pg_engine: Engine
) -> None:
    with db.write(pg_engine) as conn:  # pooled connections that the restart will cut
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _count(pg_engine) == 1
    own_pg.shutdown()
    with pytest.raises(DatabaseUnavailable) as down:
        _count(pg_engine)
    assert down.value.code == "database_unavailable" and "数据库" in down.value.zh
    assert isinstance(down.value.__cause__, OperationalError)
    with pytest.raises(DatabaseUnavailable), db.write(pg_engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    own_pg.restart_server()
    # The first call after the restart succeeds: no stale connection reaches the caller.
    assert _count(pg_engine) == 1
    with db.write(pg_engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert _count(pg_engine) == 2


@pytest.mark.postgis
def test_a_write_cut_before_its_commit_is_unavailable_and_leaves_nothing(
    own_pg: PgServer, pg_engine: Engine
) -> None:
    started, cut = threading.Event(), threading.Event()

    def terminate() -> None:
        started.wait(10)
        with psycopg.connect(own_pg.dsn("weiwang_unavailable"), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'weiwang_unavailable' AND pid <> pg_backend_pid() "
                "AND backend_xid IS NOT NULL"
            )
        cut.set()

    killer = threading.Thread(target=terminate)
    killer.start()
    with pytest.raises(DatabaseUnavailable), db.write(pg_engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (10)"))
        started.set()
        assert cut.wait(10)
        conn.execute(text("INSERT INTO t VALUES (11)"))
    killer.join(10)
    assert _count(pg_engine) == 0


@pytest.mark.postgis
def test_a_wrong_query_is_not_called_unavailable(pg_engine: Engine) -> None:
    with pytest.raises(ProgrammingError), db.read(pg_engine) as conn:
        conn.execute(text("SELECT * FROM no_such_table"))


def test_spatialite_locked_is_unavailable_but_a_wrong_query_is_not(tmp_path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with pytest.raises(OperationalError), db.read(engine) as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()
    import sqlean

    locked = OperationalError("BEGIN IMMEDIATE", {}, sqlean.OperationalError("database is locked"))
    assert db.is_unavailable(locked)
    assert not db.is_unavailable(OperationalError("SELECT", {}, sqlean.OperationalError("no such table: x")))
    assert not db.is_unavailable(ValueError("database is locked"))


@pytest.mark.postgis
def test_a_held_writer_reconnects_after_a_restart_and_is_unavailable_while_down(
    own_pg: PgServer, pg_engine: Engine
) -> None:
    """The intake writer's kept connection (:class:`store.db.HeldWriter`): cut by a restart while
    idle, the next transaction is run again on a fresh connection (nothing lost, nothing doubled);
    while the server is down it is :class:`DatabaseUnavailable`."""
    writer = db.HeldWriter(pg_engine)

    def insert(n: int) -> None:
        writer.run(lambda conn: conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n}))

    try:
        insert(1)
        own_pg.shutdown()
        own_pg.restart_server()  # the kept connection is now stale
        insert(2)
        assert _count(pg_engine) == 2
        own_pg.shutdown()
        with pytest.raises(DatabaseUnavailable):
            insert(3)
        own_pg.restart_server()
        insert(4)
    finally:
        writer.close()
    with db.read(pg_engine) as conn:
        assert [r[0] for r in conn.execute(text("SELECT n FROM t ORDER BY n"))] == [1, 2, 4]
