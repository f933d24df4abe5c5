"""The running service's shared parts: settings, engine, the grid cache, the roster cache.

One :class:`Context` per app (per worker process), built by :func:`api.app.create_app`. Routes
reach it through ``request.app.state.ctx``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from api.gridcache import GridCache, Published
from api.settings import Settings
from geo.hierarchy import Hierarchy
from geo.locator import Locator
from geo.roles import Post
from store import db
from store.grids import load_hierarchy, published_layers
from store.people import posts as load_posts
from store.versions import Version, fingerprint, list_communities, version_at


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

    def layer_at(self, at: datetime) -> tuple[Hierarchy, Locator, dict[str, Version]]:
        """The combined hierarchy and locator of the versions in force at ``at``."""
        with db.read(self.engine) as conn:
            versions = {}
            for c in list_communities(conn):
                v = version_at(conn, c["code"], at)
                if v is not None:
                    versions[c["code"]] = v
            key = tuple(sorted(v.id for v in versions.values()))
            current = self.grids.current_locator()
            if key == tuple(sorted(p.version_id for p in current.by_community.values())):
                return current.hierarchy, current.locator, versions
            with self._historic_lock:
                hit = self._historic.get(key)
                if hit is not None:
                    self._historic.move_to_end(key)
                    return hit[0], hit[1], versions
            grids = [g for v in versions.values() for g in load_hierarchy(conn, v.id)]
        h = Hierarchy(grids)
        loc = Locator.from_hierarchy(h, snap_tolerance_m=self.settings.snap_tolerance_m)
        with self._historic_lock:
            self._historic[key] = (h, loc)
            while len(self._historic) > 8:
                self._historic.popitem(last=False)
        return h, loc, versions

    def posts(self, community_code: str | None = None) -> list[Post]:
        """The roster (all dates), cached for ``version_poll_s`` seconds."""
        key = community_code or ""
        now = time.monotonic()
        with self._posts_lock:
            hit = self._posts.get(key)
            if hit is not None and now - hit[0] < max(self.settings.version_poll_s, 0.5):
                return hit[1]
        with db.read(self.engine) as conn:
            found = load_posts(conn, community_code=community_code)
        with self._posts_lock:
            self._posts[key] = (now, found)
        return found

    def invalidate(self) -> None:
        self.grids.invalidate()
        with self._posts_lock:
            self._posts.clear()
