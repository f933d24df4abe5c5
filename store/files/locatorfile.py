"""One locator per machine: a built :class:`geo.locator.Locator` kept as memory-mapped files.

A locator over 50,000 micro-grids is some 100 MB of numpy arrays (the lookup raster, the edge
tables, the outline index). Built once per grid content and stored under ``folder/<key>/`` (one
``.npy`` per array and ``meta.json``), every worker maps the same files read-only
(``np.load(mmap_mode="r")``), so the pages are shared through the page cache instead of being
built and held once per worker.

The key is a digest of what the locator is built from (codes, names, levels, parents, geometry as
WKB, the snap tolerance and the file format), so a folder can never answer for other grids: a
published version, a draft redrawn later, or another database with the same version ids each get
their own folder. The first process that needs a key builds it under an exclusive ``flock`` on
``<key>.lock``; the others wait on that lock and then map what it wrote (build or wait, never a
second build). The folder appears by an atomic rename, complete or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.hierarchy import Hierarchy
from geo.locator import Locator

#: Bumped whenever :meth:`Locator.to_state` changes what it stores.
FORMAT = 3
#: Stored locators no process has mapped for this many days are removed (:meth:`SharedLocators.prune`).
KEEP_DAYS = 7.0


def locator_key(hierarchy: Hierarchy, snap_m: float) -> str:
    """A digest of everything :meth:`Locator.from_hierarchy` reads from ``hierarchy``."""
    grids = list(hierarchy)
    h = hashlib.sha256(f"weiwang-locator/{FORMAT}/{snap_m!r}/{len(grids)}".encode())
    # One JSON document for the labels, the WKB lengths, then the WKB: unambiguous, three updates.
    labels = [[g.code, g.name, g.level.value, g.parent_code, g.community_code] for g in grids]
    h.update(json.dumps(labels, ensure_ascii=False).encode())
    blobs = shapely.to_wkb(np.array([g.geometry for g in grids], dtype=object)).tolist()
    h.update(np.array([len(b) for b in blobs], dtype="<i8").tobytes())
    h.update(b"".join(blobs))
    return h.hexdigest()[:32]


def save_locator(locator: Locator, folder: Path) -> None:
    """Write ``locator`` (prepared) to ``folder`` atomically; keep an existing folder as it is."""
    arrays, meta = locator.to_state()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, default=float), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_locator(folder: Path) -> Locator | None:
    """The locator stored in ``folder``, its arrays memory-mapped read-only; None when absent.

    Each array is a plain ndarray view of its ``numpy.memmap`` (the same mapped pages, no copy):
    every scalar read of a memmap runs numpy's Python ``__getitem__``/``__array_wrap__``, ~5 % of a
    report's CPU in the locator's per-point path."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    arrays = {
        p.stem: np.load(p, mmap_mode="r", allow_pickle=False).view(np.ndarray) for p in folder.glob("*.npy")
    }
    return Locator.from_state(arrays, meta)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class SharedLocators:
    """Locators shared by every process of a machine through ``folder`` (see the module doc).

    ``shared(hierarchy, snap_m)`` answers the stored locator for those grids, building and storing
    it first when no process has (``built`` records who built what, for tests and benchmarks).
    """

    def __init__(
        self,
        folder: Path,
        *,
        on_build: Callable[[str, float], None] | None = None,
        keep_days: float = KEEP_DAYS,
    ) -> None:
        self.folder = Path(folder)
        self.on_build = on_build
        self.keep_s = keep_days * 86400.0

    def path(self, key: str) -> Path:
        return self.folder / key

    def __call__(self, hierarchy: Hierarchy, snap_m: float) -> Locator:
        return self.shared(hierarchy, snap_m)

    def shared(self, hierarchy: Hierarchy, snap_m: float) -> Locator:
        key = locator_key(hierarchy, snap_m)
        folder = self.path(key)
        found = load_locator(folder)
        if found is not None:
            _touch(folder)
            return found
        with _locked(self.folder / f"{key}.lock"):
            found = load_locator(folder)  # built by another process while this one waited
            if found is not None:
                return found
            t0 = time.perf_counter()
            built = Locator.from_hierarchy(hierarchy, snap_tolerance_m=snap_m, prepare=True)
            save_locator(built, folder)
            seconds = time.perf_counter() - t0
            _record(folder, seconds)
            if self.on_build is not None:
                self.on_build(key, seconds)
        self.prune(keep=key)
        loaded = load_locator(folder)
        return loaded if loaded is not None else built

    def prune(self, keep: str = "") -> list[str]:
        """Remove stored locators no process has mapped for ``keep_days`` (each under its lock,
        skipped while another process holds it), and leftovers of interrupted writes. Runs after
        each build, so old versions do not pile up. Returns the keys removed."""
        removed: list[str] = []
        now = time.time()
        for d in self.folder.iterdir() if self.folder.is_dir() else ():
            if not d.is_dir() or d.name == keep:
                continue
            try:
                last = max(p.stat().st_mtime for p in (d, *d.iterdir()))
            except (OSError, ValueError):
                continue
            if now - last <= self.keep_s:
                continue
            if d.name.startswith("."):  # a write that never finished
                shutil.rmtree(d, ignore_errors=True)
                continue
            lock = self.folder / f"{d.name}.lock"
            with contextlib.suppress(OSError), lock.open("a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                shutil.rmtree(d, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed.append(d.name)
        return removed


def _touch(folder: Path) -> None:
    """Mark a stored locator as used now (what :meth:`SharedLocators.prune` goes by)."""
    with contextlib.suppress(OSError):
        (folder / "used").touch()


def _record(folder: Path, seconds: float) -> None:
    """Who built this locator and how long it took (``built.json`` beside the arrays)."""
    info: dict[str, Any] = {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "seconds": round(seconds, 3),
        "at": time.time(),
    }
    with contextlib.suppress(OSError):
        (folder / "built.json").write_text(json.dumps(info), encoding="utf-8")
