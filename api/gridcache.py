"""Published grid layers held in memory per worker, reloaded when a new version is published.

Every worker polls a cheap fingerprint (the ids of the published versions) at most every
``poll_s`` seconds, so a publish reaches every worker within about that time.
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
    """One community's published layer: its version and a ready locator."""

    community_code: str
    version_id: int
    version_number: int
    hierarchy: Hierarchy
    locator: Locator


class GridCache:
    """Locators for the published versions, rebuilt when ``fingerprint()`` changes."""

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
        self._checked = 0.0
        self._fp: Hashable = None
        self._all: dict[str, Published] = {}

    def current(self) -> dict[str, Published]:
        """The published layers by community code, refreshed if stale."""
        now = time.monotonic()
        if now - self._checked >= self._poll_s:
            with self._lock:
                if now - self._checked >= self._poll_s:
                    fp = self._fingerprint()
                    if fp != self._fp or not self._all:
                        self._all = {
                            code: Published(
                                code, vid, num, h, Locator.from_hierarchy(h, snap_tolerance_m=self._snap_m)
                            )
                            for code, vid, num, h in self._load()
                        }
                        self._fp = fp
                    self._checked = time.monotonic()
        return self._all

    def invalidate(self) -> None:
        self._checked = 0.0
