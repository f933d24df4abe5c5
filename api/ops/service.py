"""The running service's shared parts: settings, engine, clock, the layers in force and small caches.

One :class:`Service` per process (per worker), built by whichever face runs: the HTTP app
(:func:`api.http.app.create_app`), a CLI command (:func:`open_service`) or a notebook. Every
operation of :mod:`api.ops` takes it as its first argument.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from api.settings import Settings
from geo.roles import Post
from geo.times import beijing_date
from store import db
from store.changes import ROSTER
from store.inforce import LayersInForce

if TYPE_CHECKING:
    from geo.hierarchy import Hierarchy
    from geo.locator import Locator

#: Name of the thread that keeps the published layers' locator ready (:meth:`Service.watch_layers`).
WATCHER_THREAD = "weiwang-layers-watch"

#: How long a worker trusts an account row it looked up: a disabled account or a changed role takes
#: effect on every worker within this time (the per-request lookup was a hot spot under load).
ACCOUNT_TTL_S = 2.0

#: A value :meth:`Service.refreshed` answers while its reload is late, at most this many TTLs old.
STALE_LIMIT = 4
#: A refreshed value nobody read for this long is no longer reloaded in the background.
REFRESH_IDLE_S = 60.0

T = TypeVar("T")


class Service:
    """Settings, engine, clock, :class:`~store.inforce.LayersInForce` and the caches operations use."""

    def __init__(
        self, settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        #: The service's clock (tests inject one to make incidents overdue).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        #: The grid layers in force: the one place that decides which version answers.
        self.layers = LayersInForce(
            engine,
            snap_m=settings.snap_tolerance_m,
            poll_s=settings.version_poll_s,
            locators=_shared_locators(settings.locator_dir) if settings.locator_dir else None,
        )
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._cache: dict[Hashable, tuple[float, Any]] = {}
        #: What the watcher reloads (:meth:`refreshed`): key → [load, ttl_s, last read, counter
        #: name, counter value it was loaded at].
        self._refresh: dict[Hashable, list[Any]] = {}
        #: The change counters as the watcher last read them (:mod:`store.changes`).
        self._counters: dict[str, int] = {}
        self._per_roster: dict[str, tuple[list[Post], Any]] = {}

    def today(self) -> date:
        """Today's Beijing date by the service's clock."""
        return beijing_date(self.clock())

    @property
    def roster_ttl_s(self) -> float:
        """How long the roster and other reference data are cached: ``version_poll_s``, at least 0.5 s."""
        return max(self.settings.version_poll_s, 0.5)

    def posts(self, community_code: str | None = None) -> list[Post]:
        """The roster (all dates), cached for :attr:`roster_ttl_s` seconds (:meth:`refreshed`)."""
        from store.people import posts as load_posts

        def load() -> list[Post]:
            with db.read(self.engine) as conn:
                return load_posts(conn, community_code=community_code)

        return self.refreshed(("posts", community_code or ""), load, self.roster_ttl_s, ROSTER)

    def per_roster(self, name: str, build: Callable[[list[Post]], T]) -> T:
        """``build(roster)`` for the whole roster of :meth:`posts`, remembered while that returns the
        same list (after a reload, at its TTL or a roster change, it is built again)."""
        posts = self.posts()
        hit = self._per_roster.get(name)
        if hit is None or hit[0] is not posts:
            hit = (posts, build(posts))
            self._per_roster[name] = hit
        return hit[1]  # type: ignore[no-any-return]

    def cached(self, key: Hashable, load: Callable[[], T], ttl_s: float) -> T:
        """``load()``, remembered under ``key`` for ``ttl_s`` seconds in this process (0: no cache)."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        self._cache[key] = (now, value)
        return value

    def refreshed(self, key: Hashable, load: Callable[[], T], ttl_s: float, counter: str | None = None) -> T:
        """:meth:`cached` for reference data a request needs on the hot path (the roster, time
        limits, account rows). In a served process (the watcher thread running) the watcher keeps
        each such value fresh and a request answers from the value held instead of waiting for a
        reload: with ``counter`` (a :mod:`store.changes` name) the watcher reloads it only when that
        counter moved — one tiny query per poll, where reloading the roster on a timer held the GIL
        for 13–65 ms every 0.5 s under load — else before ``ttl_s`` runs out. A value reloaded and
        unchanged stays the same object (so what is built from it, like :meth:`per_roster`, stays
        valid). A value the watcher has not confirmed for :data:`STALE_LIMIT` × ``ttl_s``, or one
        not read for :data:`REFRESH_IDLE_S`, is loaded by its next reader; without a watcher a
        reader reloads it after ``ttl_s``, as :meth:`cached` does."""
        now = time.monotonic()
        hit = self._cache.get(key)
        entry = self._refresh.get(key)
        if entry is not None:
            entry[2] = now
        if hit is not None:
            age = now - hit[0]
            if age < ttl_s or (entry is not None and self._watching() and age < STALE_LIMIT * ttl_s):
                return hit[1]  # type: ignore[no-any-return]
        seen = self._counters.get(counter) if counter is not None and self._counters else None
        value = load()
        if hit is not None and hit[1] == value:
            value = hit[1]  # unchanged: the same object, as the watcher keeps it
        self._cache[key] = (now, value)
        self._refresh[key] = [load, ttl_s, now, counter, seen]
        return value

    def _watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def _reload_refreshed(self) -> None:
        """The watcher's share of :meth:`refreshed`: reload what changed (by its counter) or would
        expire before the next poll; confirm the rest."""
        import logging

        from store.changes import read_counters

        if not self._refresh:
            return
        try:
            with db.read(self.engine) as conn:
                counters = read_counters(conn)
        except Exception:  # the database away for a moment: reload on the timer meanwhile
            logging.getLogger("weiwang.cache").warning("could not read the change counters", exc_info=True)
            counters = None
        self._counters = counters or {}
        now = time.monotonic()
        poll = self._poll_s()
        for key, entry in list(self._refresh.items()):
            load, ttl_s, last_read, counter, seen = entry
            hit = self._cache.get(key)
            if now - last_read > REFRESH_IDLE_S or hit is None:
                self._refresh.pop(key, None)  # nobody reads it (or it was invalidated)
                continue
            current = counters.get(counter) if counter is not None and counters is not None else None
            if current is not None:
                if current == seen:  # nothing written since it was loaded
                    if self._cache.get(key) is hit:
                        self._cache[key] = (time.monotonic(), hit[1])
                    continue
            elif now - hit[0] < ttl_s - poll:
                continue
            try:
                value = load()
            except Exception:  # the next reader loads it (and gets the error) if this keeps failing
                logging.getLogger("weiwang.cache").warning("could not reload %r", key, exc_info=True)
                continue
            if self._cache.get(key) is not hit:  # invalidated or reloaded meanwhile: leave the newer one
                continue
            self._cache[key] = (time.monotonic(), hit[1] if hit[1] == value else value)
            entry[4] = current

    def _poll_s(self) -> float:
        return max(self.settings.version_poll_s, 0.2)

    def kept(self, key: Hashable, still: Callable[[T], bool], load: Callable[[], T]) -> T:
        """``load()``, remembered under ``key`` in this process for as long as ``still(value)`` holds
        of the value remembered (no TTL: the value says itself what it depends on)."""
        hit = self._cache.get(key)
        if hit is not None and still(hit[1]):
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        self._cache[key] = (time.monotonic(), value)
        return value

    def forget(self, key: Hashable) -> None:
        """Drop one :meth:`cached` value in this process (others see the change within its TTL)."""
        self._cache.pop(key, None)

    def invalidate(self) -> None:
        """Forget every cache (after a publish or a roster change made by this process)."""
        self.layers.refresh()
        self._cache.clear()

    def warm(self) -> None:
        """Fill the caches a request would otherwise fill (the served app calls it at start-up)."""
        from geo.errors import NotFound

        with suppress(NotFound):
            self.layers.current().locator.prepare()
        self.posts()
        self.watch_layers()

    def watch_layers(self) -> None:
        """Keep the published layers' locator ready in the background (one daemon thread): every
        ``version_poll_s`` it asks for the current view, so after a publish the new version's
        locator is loaded (or built once for the machine) here, not inside a request. A request
        that comes first still gets the version in force at its instant: it waits for (or builds)
        that locator, never answers from the previous one."""
        if self._watcher is not None:
            return
        self._stop_watching = threading.Event()  # its own: a stopped thread never resumes
        thread = threading.Thread(
            target=self._watch, args=(self._stop_watching,), name=WATCHER_THREAD, daemon=True
        )
        self._watcher = thread
        thread.start()

    def _watch(self, stop: threading.Event) -> None:
        import logging

        from geo.errors import NotFound

        log = logging.getLogger("weiwang.layers")
        while not stop.wait(self._poll_s()):
            self._reload_refreshed()
            try:
                self.layers.current().locator.prepare()
            except NotFound:
                continue
            except Exception:  # a watcher must outlive one bad poll (logged)
                if stop.is_set():
                    return
                log.exception("layers watcher: could not prepare the published layers")
                stop.wait(5.0)

    def stop_watching(self, timeout_s: float = 10.0) -> None:
        """Stop the watcher thread of :meth:`watch_layers` (if any) and wait for it: at shutdown,
        before the database goes away, so it does not poll (and log) a database that is gone. A
        poll already running ends first (up to ``timeout_s``)."""
        thread, self._watcher = self._watcher, None
        if thread is None:
            return
        self._stop_watching.set()
        thread.join(timeout_s)


def _shared_locators(folder: Path) -> Callable[[Hierarchy, float], Locator]:
    """Locators shared machine-wide through ``folder`` (:class:`store.files.locatorfile.SharedLocators`),
    imported on first use so commands that locate nothing start fast."""
    shared: list[Any] = []

    def get(hierarchy: Hierarchy, snap_m: float) -> Locator:
        if not shared:
            from store.files.locatorfile import SharedLocators

            shared.append(SharedLocators(folder))
        return shared[0].shared(hierarchy, snap_m)  # type: ignore[no-any-return]

    return get


@contextmanager
def open_service(
    settings: Settings | None = None, *, url: str | None = None, files: bool = True
) -> Iterator[Service]:
    """A :class:`Service` for one command or notebook, its engine disposed at the end.

    Brings the schema to the latest migration only when it is behind (a cheap check), and never
    seeds data or creates accounts: a command that only reads leaves the database as it was.
    ``files=False``: the caller reads or writes no layer file (a faster start; see
    :func:`store.db.make_engine`)."""
    if settings is None:
        settings = Settings(database_url=url) if url else Settings()
    engine = db.make_engine(settings.database_url, files=files)
    try:
        db.ensure_schema(engine)
        yield Service(settings, engine)
    finally:
        engine.dispose()
