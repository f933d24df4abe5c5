"""Writers: concurrent write transactions from several processes (as ``weiwang serve --workers``)
and threads never lose an update or fail on a lock, on both engines; on SpatiaLite they queue on the
file's advisory lock, held exactly while a write transaction is open."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from store import db

PROCESSES = 2
THREADS = 2
INCREMENTS = 25


def _bump(url: str, n: int) -> None:
    """``n`` read-modify-write increments of the counter, each in its own write transaction (on
    PostgreSQL the writer locks the row, as ``store.db`` asks of writers that must serialise)."""
    engine = db.make_engine(url)
    select = "SELECT value FROM scratch_counter WHERE id = 1"
    if not db.is_sqlite(engine):
        select += " FOR UPDATE"
    try:
        for _ in range(n):
            with db.write(engine) as conn:
                value = conn.execute(text(select)).scalar_one()
                conn.execute(text("UPDATE scratch_counter SET value = :v WHERE id = 1"), {"v": value + 1})
    finally:
        engine.dispose()


def _process(url: str) -> None:
    threads = [threading.Thread(target=_bump, args=(url, INCREMENTS)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_writers_in_processes_and_threads_lose_no_update(engine: Engine, db_url: str) -> None:
    with db.write(engine) as conn:
        conn.execute(text("CREATE TABLE scratch_counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO scratch_counter VALUES (1, 0)"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process, args=(db_url,)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    with db.read(engine) as conn:
        final = conn.execute(text("SELECT value FROM scratch_counter WHERE id = 1")).scalar_one()
    assert final == PROCESSES * THREADS * INCREMENTS


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we took
    return True


def test_sqlite_writer_lock_is_held_exactly_during_a_write(tmp_path: Path) -> None:
    """SpatiaLite only (PostgreSQL locks rows itself)."""
    database = tmp_path / "w.sqlite"
    engine = db.make_engine(f"sqlite:///{database}")
    lock = database.with_name(database.name + "-writer")
    with db.write(engine):
        assert not _lock_is_free(lock)
        with db.read(engine):  # a reader inside a write does not touch the queue
            assert not _lock_is_free(lock)
    assert _lock_is_free(lock)
    with db.read(engine):
        assert _lock_is_free(lock)
    with pytest.raises(RuntimeError), db.write(engine):
        raise RuntimeError("rolled back")
    assert _lock_is_free(lock)
    engine.dispose()


def test_sqlite_write_without_waiting_raises_writer_busy_and_writes_nothing(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with db.write(engine) as conn:
        conn.execute(text("CREATE TABLE scratch (v INTEGER)"))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write(engine) as conn:
            conn.execute(text("INSERT INTO scratch VALUES (1)"))
            holding.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert holding.wait(10)
        with pytest.raises(db.WriterBusy), db.write(engine, wait=False) as conn:
            conn.execute(text("INSERT INTO scratch VALUES (2)"))
    finally:
        release.set()
        t.join(10)
    with db.write(engine, wait=False) as conn:  # free again: no wait needed
        conn.execute(text("INSERT INTO scratch VALUES (3)"))
    with db.read(engine) as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM scratch ORDER BY v"))] == [1, 3]
    engine.dispose()
