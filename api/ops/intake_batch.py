"""Group commit of intake: reports arriving together are written in one transaction.

With a durable database every commit waits for its fsync (PostgreSQL with ``fsync`` and
``synchronous_commit`` on: a WAL flush per commit). A report that is ready to store
(:func:`api.ops.intake.prepare_report` has converted, located and routed it) is queued and its
caller awaits a future; one writer per event loop takes everything queued — up to
``intake_batch_max``, after waiting up to ``intake_batch_window_ms`` for more (default 0: whatever
queued while the previous batch was being written) — and stores it at once: the shared
layer-switch lock and the in-force check once (the same rule as a single report), the incidents
and their events, one commit. On PostgreSQL that is ONE statement awaited on the event loop
(:class:`store.groupwrite.ReportWriter`: no thread, the commit in the same round trip); when it
fails for any reason but the database being away it wrote nothing, and the batch takes the path
SpatiaLite always takes: ONE transaction (:func:`store.groupwrite.write_batch`) in the worker's
writer thread. Only after the commit is each caller's future resolved, so every 201 is durable as
far as the database's commit is.

Failures never lose, duplicate or half-write a report:

* the database unavailable (:class:`store.dberrors.DatabaseUnavailable`, a 503) during the batch:
  the transaction is rolled back as a whole and every report of the batch gets that error;
* any other error (a duplicate id, a constraint, a publish that switched the map meanwhile so a
  report must be located again): the batch is rolled back and each report is stored on its own
  with :func:`api.ops.intake.store_report` (its own transaction, its own relocation after a
  publish), so only the bad one gets its own error.

The writer thread waits for the SpatiaLite writer queue and for a publish holding the switch lock
(``wait=True``): it is not the event loop, which keeps answering meanwhile. The one statement
waits for that lock on the database's side, the event loop awaiting it without blocking.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from api.ops.intake import Report, store_report
from api.ops.service import Service
from store import db
from store.dberrors import DatabaseUnavailable
from store.groupwrite import ReportWriter, write_batch


def store_batch(
    service: Service, reports: list[Report], writer: db.HeldWriter | None = None
) -> list[dict[str, Any] | BaseException]:
    """Write ``reports`` in one transaction; per report its stored row or its own error (see the
    module docstring). Blocking: call it from a thread, not from an event loop. ``writer``: the
    connection that thread keeps (:class:`store.db.HeldWriter`; default one checked out now).

    A batch of one takes the same path (no savepoint); only when it fails is the report stored by
    :func:`api.ops.intake.store_report`, which names a duplicate id."""

    def write(conn: Connection) -> list[dict[str, Any]]:
        located = [(r.at, r.version_ids) for r in reports]
        return write_batch(conn, located, [(r.record, r.events) for r in reports])

    try:
        if writer is None:
            with db.write(service.engine) as conn:
                rows = write(conn)
        else:
            rows = writer.run(write)
        return list(rows)
    except DatabaseUnavailable as err:  # rolled back as a whole: all of them may be retried
        return [err] * len(reports)
    except Exception:
        return [_store_alone(service, r) for r in reports]


def _store_alone(service: Service, report_: Report) -> dict[str, Any] | BaseException:
    try:
        return store_report(service, report_)
    except Exception as err:
        return err


@dataclass
class _Stats:
    """Counters of one batcher (tests assert that a batch formed; the bench may print them)."""

    batches: int = 0
    reports: int = 0
    #: Batches the one-statement write (PostgreSQL) passed to :func:`store_batch`.
    fallbacks: int = 0
    sizes: list[int] = field(default_factory=list)


class IntakeBatcher:
    """The group commit of one service on one event loop (see the module docstring)."""

    def __init__(self, service: Service) -> None:
        self.service = service  # no reference to the loop: it is the key that keeps this alive
        self.max_batch = service.settings.intake_batch_max
        self.window_s = service.settings.intake_batch_window_ms / 1000.0
        self.stats = _Stats()
        self._pending: list[tuple[Report, asyncio.Future[dict[str, Any]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-writer")
        #: The writer thread's connection, kept between batches (no checkout, no pre-ping each).
        self._held = db.HeldWriter(service.engine)
        weakref.finalize(self, self._held.close)
        #: PostgreSQL: the batch as one statement on this loop (:class:`store.groupwrite.ReportWriter`).
        self._one: ReportWriter | None = None
        if service.engine.dialect.name == "postgresql":
            self._one = ReportWriter(service.engine)
            weakref.finalize(self, self._one.close)

    async def store(self, report_: Report) -> dict[str, Any]:
        """Queue ``report_`` and return its stored row once its batch has committed (or raise the
        error its write got)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending.append((report_, fut))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        return await fut

    async def _write_all(self) -> None:
        try:
            await self._write_pending()
        finally:
            self._writer = None  # a finished task would keep its loop alive (the key of this batcher)

    async def _store(self, reports: list[Report]) -> list[dict[str, Any] | BaseException]:
        """One batch: on PostgreSQL one statement on this loop; when that fails but for the database
        being away (a publish since the versions were read, a duplicate id, any error: nothing was
        written), and on SpatiaLite, :func:`store_batch` in the writer thread, as before."""
        if self._one is not None:
            try:
                return list(
                    await self._one.write(
                        self.service.layers.committed(),
                        [(r.at, r.version_ids) for r in reports],
                        [(r.record, r.events) for r in reports],
                    )
                )
            except DatabaseUnavailable as err:
                return [err] * len(reports)
            except Exception:
                self.stats.fallbacks += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, store_batch, self.service, reports, self._held)

    async def _write_pending(self) -> None:
        while self._pending:
            if self.window_s > 0 and len(self._pending) < self.max_batch:
                await asyncio.sleep(self.window_s)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            reports = [r for r, _ in batch]
            try:
                results = await self._store(reports)
            except asyncio.CancelledError:  # the loop is closing: nobody waits forever
                for _, fut in (*batch, *self._pending):
                    fut.cancel()
                self._pending = []
                raise
            except Exception as err:
                results = [err] * len(batch)
            self.stats.batches += 1
            self.stats.reports += len(batch)
            if len(self.stats.sizes) < 10_000:
                self.stats.sizes.append(len(batch))
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():  # the caller went away (client disconnected); the row is stored
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)


_LOCK = threading.Lock()


def batcher_for(service: Service) -> IntakeBatcher:
    """The batcher of ``service`` on the running event loop (made on first use). Kept on the
    service, by loop (weakly: a closed loop's batcher goes, and its writer thread with it)."""
    loop = asyncio.get_running_loop()
    with _LOCK:
        per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IntakeBatcher] | None = getattr(
            service, "_intake_batchers", None
        )
        if per_loop is None:
            per_loop = weakref.WeakKeyDictionary()
            service._intake_batchers = per_loop  # type: ignore[attr-defined]
        found = per_loop.get(loop)
        if found is None:
            found = per_loop[loop] = IntakeBatcher(service)
        return found


async def store_report_batched(service: Service, report_: Report) -> dict[str, Any]:
    """Store a prepared report through the group commit of this worker; returns the stored row
    once it is committed (see the module docstring)."""
    return await batcher_for(service).store(report_)
