"""Database engines: SpatiaLite (embedded, the default) or PostGIS (server), chosen by URL.

One code path serves both. The URL decides:

* ``None`` → ``WEIWANG_DATABASE_URL`` if set, else the SpatiaLite file ``data/weiwang.sqlite``
  relative to the **current directory** (created with its folder on first use). The API passes its
  URL explicitly; the fallback exists for the CLI run from a checkout.
* ``sqlite:///path`` → SpatiaLite through ``sqlean`` (a DB-API module that can load extensions; the
  stdlib module here cannot). WAL journal + ``busy_timeout`` so readers never block on a writer;
  ``synchronous = NORMAL`` (the setting SQLite recommends with WAL: a commit does not wait for
  fsync; the file is never corrupted, but a power cut may lose the last commits).
* ``postgresql+psycopg://…`` (``postgresql://`` is rewritten to it) → PostGIS via psycopg 3.

Transactions: :func:`read` and :func:`write` open one transaction each. On SQLite ``write`` starts
with ``BEGIN IMMEDIATE`` (the write lock up front, so two writers never fail on a lock upgrade);
reads start with a deferred ``BEGIN`` and so see one snapshot. Writers of one file first queue on
an advisory lock (``flock`` on ``<file>-writer``, plus a thread lock within a process): SQLite's
own busy handler waits by sleeping up to 100 ms at a time, which under concurrent reports from
several workers put hundreds of milliseconds on the slowest requests; the queue hands the lock
straight to the next writer. Other programs writing the file still meet ``busy_timeout``.
On PostgreSQL both are ordinary READ COMMITTED transactions; writers that must serialise lock a row.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from geo.errors import WeiwangError
from store.dberrors import DatabaseUnavailable

T = TypeVar("T")

log = logging.getLogger("weiwang.store")

#: Environment variable holding the database URL.
URL_ENV = "WEIWANG_DATABASE_URL"
#: Default SpatiaLite file, relative to the current directory.
DEFAULT_SQLITE = Path("data") / "weiwang.sqlite"
#: How long a SQLite connection waits for a lock before giving up (milliseconds).
BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_WRITE_OPTION = "weiwang_write"
#: The writer queue of each SpatiaLite engine (see the module docstring).
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


class BadDatabaseURL(WeiwangError):
    """A database URL that is neither SpatiaLite (sqlite://) nor PostGIS (postgresql+psycopg://)."""

    code = "bad_database_url"


def resolve_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``$WEIWANG_DATABASE_URL``, else the default SpatiaLite file."""
    url = url or os.environ.get(URL_ENV) or None
    if url is None:
        return f"sqlite:///{DEFAULT_SQLITE}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise BadDatabaseURL(
            f"不支持的数据库地址：{scheme}（应为 sqlite:/// 或 postgresql+psycopg://）",
            f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql+psycopg://)",
            field="database_url",
        )
    return url


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


#: True once a SpatiaLite engine was made in this process without GDAL loaded first.
_SPATIALITE_WITHOUT_GDAL = False


def load_gdal() -> None:
    """Load GDAL (pyogrio) now. STACK.md: GDAL loaded into a process after mod_spatialite corrupts
    the heap (a crash at some later point), so it must come first. Raises RuntimeError, instead of
    crashing later, when a SpatiaLite engine was already made without it (``files=False``)."""
    import sys

    if "pyogrio" in sys.modules:
        return
    if _SPATIALITE_WITHOUT_GDAL:
        raise RuntimeError(
            "GDAL must be loaded before SpatiaLite: make the engine with files=True in a process "
            "that reads or writes layer files"
        )
    import pyogrio  # noqa: F401  (loaded for its side effect)


def spatialite_without_gdal() -> bool:
    """True once this process made a SpatiaLite engine without GDAL loaded first (``files=False``)."""
    return _SPATIALITE_WITHOUT_GDAL


def make_engine(url: str | None = None, *, files: bool = True, **kwargs: Any) -> Engine:
    """An engine for SpatiaLite or PostGIS (see the module docstring for how ``url`` is resolved).

    ``files=False`` promises that this process will not read or write layer files, so a SpatiaLite
    engine skips loading GDAL first (:func:`load_gdal`, ~0.2 s a command's start-up would pay);
    a later file read then refuses instead of crashing. Extra keyword arguments go to
    :func:`sqlalchemy.create_engine`.
    """
    global _SPATIALITE_WITHOUT_GDAL
    resolved = resolve_url(url)
    if resolved.startswith("sqlite"):
        if files:
            load_gdal()
        else:
            import sys

            _SPATIALITE_WITHOUT_GDAL = _SPATIALITE_WITHOUT_GDAL or "pyogrio" not in sys.modules
        return _spatialite_engine(resolved, **kwargs)
    return create_engine(resolved, pool_pre_ping=True, **kwargs)


def _spatialite_engine(url: str, **kwargs: Any) -> Engine:
    import sqlean
    from geoalchemy2 import load_spatialite

    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BadDatabaseURL(
            "SpatiaLite 需要数据库文件路径（不支持内存库）",
            "SpatiaLite needs a file path (in-memory databases are not shared between connections)",
            field="database_url",
        )
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        module=sqlean,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN itself, so
        # every statement (DDL included) is inside the transaction we asked for.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
        dbapi_conn.execute("PRAGMA synchronous = NORMAL")
        load_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    _WRITERS[engine] = _WriterQueue(Path(database).with_name(Path(database).name + "-writer"))
    return engine


class _WriterQueue:
    """Writers of one SQLite file, one at a time: a thread lock, then ``flock`` on a lock file
    (opened per process; closing it on exit releases the lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()  # re-entrant: a nested write fails as SQLite decides
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self, wait: bool = True) -> Iterator[None]:
        if not self._thread_lock.acquire(blocking=wait):
            raise WriterBusy("another thread of this process is writing")
        try:
            if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                self._pid = os.getpid()
            if self._depth == 0:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise WriterBusy("another process is writing") from None
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class WriterBusy(Exception):
    """``write(engine, wait=False)`` on SpatiaLite while another writer holds the file."""


@contextmanager
def write(engine: Engine, *, wait: bool = True) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back (all of it) on any error.

    ``wait=False`` (SpatiaLite): raise :class:`WriterBusy` at once instead of queueing behind
    another writer — for callers on an event loop, which must not block while, say, a planner's
    large import commits. On PostgreSQL writers do not queue here and ``wait`` has no effect."""
    queue = _WRITERS.get(engine)
    with _unavailable_as_domain_error():
        if queue is not None:
            with queue.held(wait), _write_tx(engine) as conn:
                yield conn
        else:
            with _write_tx(engine) as conn:
                yield conn


@contextmanager
def _write_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect().execution_options(**{_WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


class HeldWriter:
    """Write transactions on one connection kept checked out (a writer thread's, for its
    lifetime): no pool checkout and no ``pool_pre_ping`` round trip per transaction, as with
    :func:`write`. Use it from one thread only.

    The same failures as :func:`write`: a cut connection is :class:`DatabaseUnavailable` and is
    dropped (the next transaction connects again). As with the pre-ping, a connection that went
    stale while idle never fails a caller by itself: when the kept connection is found cut before
    the commit was sent, the transaction (``work``, run again from the start) is retried once on a
    fresh connection. A commit cut on its way is not retried (its outcome is unknown): it is
    :class:`DatabaseUnavailable`, like any error of a fresh connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def run(self, work: Callable[[Connection], T], *, wait: bool = True) -> T:
        """``work(conn)`` in one write transaction, committed when it returns (see the class)."""
        queue = _WRITERS.get(self.engine)
        with _unavailable_as_domain_error():
            if queue is not None:
                with queue.held(wait):
                    return self._run(work)
            return self._run(work)

    def _run(self, work: Callable[[Connection], T]) -> T:
        reused = self._conn is not None
        conn = self._connection()
        committing = False
        try:
            with conn.begin():
                out = work(conn)
                committing = True  # the commit is sent as the block ends
        except DBAPIError as err:
            if conn.invalidated or is_unavailable(err):
                self._drop()
            if committing or not reused or not err.connection_invalidated:
                raise
            return self._run(work)  # the kept connection went stale: once more, freshly connected
        except BaseException:
            if conn.invalidated:
                self._drop()
            raise
        return out

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._drop()
            self._conn = self.engine.connect().execution_options(**{_WRITE_OPTION: True})
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a cut connection may fail to close: it is discarded either way
                log.debug("closing a dropped writer connection failed", exc_info=True)

    def close(self) -> None:
        """Close the connection (the writer is ending). Closed, not returned: the engine may have
        been disposed meanwhile, and a connection returned to a disposed pool is never closed."""
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.invalidate()
        self._drop()


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """One read transaction (a consistent snapshot on SQLite; READ COMMITTED on PostgreSQL)."""
    with _unavailable_as_domain_error(), engine.connect() as conn, conn.begin():
        yield conn


def is_unavailable(err: BaseException) -> bool:
    """True for a driver error that means "the database is not there right now", not "this query
    is wrong": a connection SQLAlchemy found cut, any PostgreSQL operational error (cannot connect,
    the server shutting down or starting up, the connection terminated by an administrator — SQLSTATE
    classes 08, 53, 57 and 58), or a SpatiaLite file still locked after ``busy_timeout``."""
    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    if not isinstance(err, (OperationalError, InterfaceError)):
        return False
    orig = err.orig
    if type(orig).__module__.startswith("psycopg"):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


@contextmanager
def _unavailable_as_domain_error() -> Iterator[None]:
    """Turn :func:`is_unavailable` errors into :class:`~store.dberrors.DatabaseUnavailable` (a 503
    with a zh-CN + en message in the API, not a 500); every other error passes unchanged. The
    transaction was rolled back (or never began): the caller may simply try again. A connection that
    went stale while the server restarted is replaced at the next checkout (``pool_pre_ping``)."""
    try:
        yield
    except DBAPIError as err:
        if not is_unavailable(err):
            raise
        raise unavailable(err.orig if err.orig is not None else err) from err


def unavailable(cause: BaseException) -> DatabaseUnavailable:
    """The :class:`~store.dberrors.DatabaseUnavailable` to raise for ``cause`` (logged)."""
    log.warning("database unavailable: %s", (str(cause).strip().splitlines() or [repr(cause)])[0][:300])
    return DatabaseUnavailable(
        "数据库暂时不可用（可能正在重启），请稍后重试",
        "the database is unavailable for the moment (it may be restarting); please try again shortly",
    )


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate filter: never touch tables we do not model (SpatiaLite's own metadata tables,
    PostGIS's spatial_ref_sys), and let GeoAlchemy2 skip its implicit spatial indexes."""
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and reflected and compare_to is None:
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def alembic_config(conn: Connection | None = None) -> Any:
    """Alembic configured in code (no alembic.ini needed, works from any directory)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` in one transaction."""
    from alembic import command

    with write(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


def head_revision() -> str:
    """The newest migration's revision id, read from the migration files' names (``NNNN_*.py``)
    without importing Alembic (which costs ~0.4 s of a command's start-up)."""
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return names[-1][:4]


def ensure_schema(engine: Engine) -> None:
    """Migrate only when the database is behind :func:`head_revision` (one cheap query otherwise)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with read(engine) as conn:
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no alembic_version table yet: a new database
        rev = None
    if rev != head_revision():
        upgrade(engine)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with read(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()
