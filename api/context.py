"""The running service's shared parts: settings, engine, the grid cache, the roster cache.

One :class:`Context` per app (per worker process), built by :func:`api.app.create_app`. Routes
reach it through ``request.app.state.ctx``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from api.gridcache import GridCache, Published
from api.settings import Settings
from geo.hierarchy import Hierarchy
from geo.locator import Locator
from geo.roles import Post
from store import db
from store.grids import load_hierarchy, published_layers
from store.models import PUBLISHED, RETIRED, users
from store.people import posts as load_posts
from store.versions import Version, as_instant, fingerprint, list_communities, list_versions

#: How long a worker trusts an account row it looked up: a disabled account or a changed role takes
#: effect on every worker within this time (the per-request lookup was a hot spot under load).
ACCOUNT_TTL_S = 2.0

T = TypeVar("T")


class Context:
    """Settings, engine and the caches every route uses."""

    def __init__(
        self, settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        #: The service's clock (tests inject one to make incidents overdue).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.grids = GridCache(
            self._fingerprint,
            self._load_published,
            snap_m=settings.snap_tolerance_m,
            poll_s=settings.version_poll_s,
        )
        self._posts: dict[str, Any] = {}
        self._posts_lock = threading.Lock()
        self._cache: dict[Hashable, tuple[float, Any]] = {}
        self._historic: OrderedDict[tuple[int, ...], tuple[Hierarchy, Locator]] = OrderedDict()
        self._historic_lock = threading.Lock()

    def _fingerprint(self) -> tuple[int, ...]:
        with db.read(self.engine) as conn:
            return fingerprint(conn)

    def _load_published(self) -> list[tuple[str, int, int, Hierarchy]]:
        with db.read(self.engine) as conn:
            return published_layers(conn)

    def published(self) -> dict[str, Published]:
        return self.grids.current()

    def _versions(self) -> list[Version]:
        """Every community's versions, re-read at most every ``version_poll_s`` seconds (one read
        per poll instead of one per community per report)."""

        def load() -> list[Version]:
            with db.read(self.engine) as conn:
                return [v for c in list_communities(conn) for v in list_versions(conn, c["code"])]

        return self.cached("versions", load, self.settings.version_poll_s)

    def versions_at(self, at: datetime) -> dict[str, Version]:
        """The version of each community in force at ``at`` (as :func:`store.versions.version_at`:
        published or retired, ``valid_from <= at < valid_to``); communities with none are absent."""
        t = as_instant(at)
        out: dict[str, Version] = {}
        for v in self._versions():
            if (
                v.state in (PUBLISHED, RETIRED)
                and v.valid_from is not None
                and v.valid_from <= t
                and (v.valid_to is None or v.valid_to > t)
            ):
                out[v.community_code] = v
        return out

    def layer_at(self, at: datetime) -> tuple[Hierarchy, Locator, dict[str, Version]]:
        """The combined hierarchy and locator of the versions in force at ``at``.

        Holds no database connection while asking the grid cache (which may open one to poll):
        nesting the two deadlocked the connection pool under concurrent reports."""
        versions = self.versions_at(at)
        key = tuple(sorted(v.id for v in versions.values()))
        current = self.grids.current_locator()
        if key == tuple(sorted(p.version_id for p in current.by_community.values())):
            return current.hierarchy, current.locator, versions
        with self._historic_lock:
            hit = self._historic.get(key)
            if hit is not None:
                self._historic.move_to_end(key)
                return hit[0], hit[1], versions
        with db.read(self.engine) as conn:  # versions in force never change their grids
            grids = [g for v in versions.values() for g in load_hierarchy(conn, v.id)]
        h = Hierarchy(grids)
        loc = Locator.from_hierarchy(h, snap_tolerance_m=self.settings.snap_tolerance_m)
        with self._historic_lock:
            self._historic[key] = (h, loc)
            while len(self._historic) > 8:
                self._historic.popitem(last=False)
        return h, loc, versions

    @property
    def roster_ttl_s(self) -> float:
        """How long the roster and other reference data are cached: ``version_poll_s``, at least 0.5 s."""
        return max(self.settings.version_poll_s, 0.5)

    def posts(self, community_code: str | None = None) -> list[Post]:
        """The roster (all dates), cached for ``version_poll_s`` seconds."""
        key = community_code or ""
        now = time.monotonic()
        with self._posts_lock:
            hit = self._posts.get(key)
            if hit is not None and now - hit[0] < self.roster_ttl_s:
                return hit[1]
        with db.read(self.engine) as conn:
            found = load_posts(conn, community_code=community_code)
        with self._posts_lock:
            self._posts[key] = (now, found)
        return found

    def cached(self, key: Hashable, load: Callable[[], T], ttl_s: float) -> T:
        """``load()``, remembered under ``key`` for ``ttl_s`` seconds in this worker (0: no cache)."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
        value = load()
        self._cache[key] = (now, value)
        return value

    def account(self, user_id: int) -> Any:
        """The ``users`` row of an account (None if absent), cached for :data:`ACCOUNT_TTL_S`."""

        def load() -> Any:
            with db.read(self.engine) as conn:
                return conn.execute(users.select().where(users.c.id == user_id)).first()

        return self.cached(("account", user_id), load, ACCOUNT_TTL_S)

    def forget(self, key: Hashable) -> None:
        """Drop one :meth:`cached` value in this worker (others see the change within its TTL)."""
        self._cache.pop(key, None)

    def invalidate(self) -> None:
        self.grids.invalidate()
        self._cache.clear()
        with self._posts_lock:
            self._posts.clear()
