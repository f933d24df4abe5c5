"""Published grid layers held in memory per worker, reloaded when a new version is published.

Every worker polls a cheap fingerprint (the ids of the published versions) at most every
``poll_s`` seconds, so a publish reaches every worker within about that time. One locator covers
every community's published micro-grids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from geo.hierarchy import Hierarchy
from geo.locator import Locator


@dataclass(frozen=True)
class Published:
    """One community's published layer version."""

    community_code: str
    version_id: int
    version_number: int
    hierarchy: Hierarchy


@dataclass(frozen=True)
class Combined:
    """All published layers together, with one locator."""

    by_community: dict[str, Published]
    hierarchy: Hierarchy
    locator: Locator


class GridCache:
    """The published layers, rebuilt when ``fingerprint()`` changes."""

    def __init__(
        self,
        fingerprint: Callable[[], Hashable],
        load: Callable[[], list[tuple[str, int, int, Hierarchy]]],
        *,
        snap_m: float = 30.0,
        poll_s: float = 0.5,
    ) -> None:
        self._fingerprint = fingerprint
        self._load = load
        self._snap_m = snap_m
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._fp: Hashable = None
        self._combined: Combined | None = None

    def current_locator(self) -> Combined:
        """The published layers and their locator, refreshed if stale."""
        if time.monotonic() - self._checked >= self._poll_s or self._combined is None:
            with self._lock:
                if time.monotonic() - self._checked >= self._poll_s or self._combined is None:
                    fp = self._fingerprint()
                    if fp != self._fp or self._combined is None:
                        self._combined = self._build()
                        self._fp = fp
                    self._checked = time.monotonic()
        assert self._combined is not None
        return self._combined

    def current(self) -> dict[str, Published]:
        """The published layers by community code."""
        return self.current_locator().by_community

    def _build(self) -> Combined:
        layers = {code: Published(code, vid, num, h) for code, vid, num, h in self._load()}
        h = Hierarchy(g for p in layers.values() for g in p.hierarchy)
        return Combined(layers, h, Locator.from_hierarchy(h, snap_tolerance_m=self._snap_m))

    def invalidate(self) -> None:
        self._checked = float("-inf")
