"""One locator per machine (store/files/locatorfile.py): a locator stored as memory-mapped files
answers exactly like one freshly built from the same grids, on both databases; a second process
(another SharedLocators on the same folder) maps it instead of building; other grids get another key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import shapely

from geo.hierarchy import Hierarchy, Level
from store import db
from store.files.locatorfile import SharedLocators, load_locator, locator_key
from store.inforce import LayersInForce


def _points(h: Hierarchy, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Random points over the layer and around it, plus every micro-grid vertex and edge midpoint."""
    micro = [g.geometry for g in h if g.level is Level.MICRO]
    xmin, ymin, xmax, ymax = shapely.total_bounds(micro)
    rng = np.random.default_rng(15)
    x = rng.uniform(xmin - 0.002, xmax + 0.002, n)
    y = rng.uniform(ymin - 0.002, ymax + 0.002, n)
    c = np.concatenate([shapely.get_coordinates(g) for g in micro])
    mid = (c[:-1] + c[1:]) / 2
    return np.r_[x, c[:, 0], mid[:, 0]], np.r_[y, c[:, 1], mid[:, 1]]


def _mapped(array: np.ndarray) -> bool:
    """True when ``array``'s memory is a file mapping (a memmap somewhere down its bases)."""
    base: object = array
    while base is not None:
        if isinstance(base, np.memmap):
            return True
        base = getattr(base, "base", None)
    return False


def test_shared_locator_answers_like_a_fresh_one(seeded_url: str, tmp_path: Path) -> None:
    builds: list[str] = []
    engine = db.make_engine(seeded_url)
    try:
        fresh = LayersInForce(engine, snap_m=30.0).current()
        shared = LayersInForce(
            engine, snap_m=30.0, locators=SharedLocators(tmp_path, on_build=lambda k, _s: builds.append(k))
        ).current()
        other = LayersInForce(
            engine, snap_m=30.0, locators=SharedLocators(tmp_path, on_build=lambda k, _s: builds.append(k))
        ).current()
        loc_f, loc_s, loc_o = fresh.locator, shared.locator, other.locator
    finally:
        engine.dispose()
    assert len(builds) == 1, builds  # the second "process" mapped the stored one
    assert _mapped(loc_s._raster) and not loc_s._raster.flags.writeable  # the file's pages, read-only
    assert type(loc_s._raster) is np.ndarray  # a plain view: no memmap code on each scalar read
    x, y = _points(fresh.hierarchy)
    a, b, c = loc_f.locate(x, y), loc_s.locate(x, y), loc_o.locate(x, y)
    for name in ("index", "on_boundary", "snapped", "distance_m", "general_code", "community_code"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(getattr(a, name), getattr(c, name)), name
    assert a.on_boundary.sum() > 100 and a.snapped.any() and (a.index < 0).any()
    for i in range(0, len(x), 97):
        assert loc_s.locate_one(float(x[i]), float(y[i])) == loc_f.locate_one(float(x[i]), float(y[i]))


def test_key_follows_the_grids(seeded_url: str, tmp_path: Path) -> None:
    """Renaming one micro-grid, or another snap tolerance, is another locator; the same grids read
    again are the same key (so versions with equal content share one folder)."""
    engine = db.make_engine(seeded_url)
    try:
        h = LayersInForce(engine, snap_m=30.0).current().hierarchy
    finally:
        engine.dispose()
    micro = next(g for g in h if g.level is Level.MICRO)
    renamed = Hierarchy([dataclasses.replace(g, name="改名") if g is micro else g for g in h])
    assert locator_key(h, 30.0) == locator_key(Hierarchy(list(h)), 30.0)
    assert len({locator_key(h, 30.0), locator_key(renamed, 30.0), locator_key(h, 10.0)}) == 3
    shared = SharedLocators(tmp_path)
    loc = shared(renamed, 30.0)
    assert loc.locate_one(*micro.geometry.representative_point().coords[0]).micro_name == "改名"
    assert load_locator(tmp_path / locator_key(h, 30.0)) is None  # not built for the other grids


def test_prune_removes_what_no_process_used_for_days(tmp_path: Path) -> None:
    """A locator not mapped for ``keep_days`` goes at the next build; a recently used one stays."""
    import os
    import time

    from shapely.geometry import box

    from geo.hierarchy import Grid

    def layer(name: str) -> Hierarchy:
        return Hierarchy([Grid("510116004001001001", name, Level.MICRO, box(104.08, 30.40, 104.081, 30.401))])

    shared = SharedLocators(tmp_path, keep_days=1)
    old, recent = layer("旧"), layer("近")
    shared(old, 30.0)
    shared(recent, 30.0)
    week_ago = time.time() - 7 * 86400
    for key in (locator_key(old, 30.0), locator_key(recent, 30.0)):
        for p in (tmp_path / key, *(tmp_path / key).iterdir()):
            os.utime(p, (week_ago, week_ago))
    shared(recent, 30.0)  # mapped again: marked as used now
    shared(layer("新"), 30.0)  # a build prunes
    assert load_locator(tmp_path / locator_key(old, 30.0)) is None
    assert not (tmp_path / f"{locator_key(old, 30.0)}.lock").exists()
    assert load_locator(tmp_path / locator_key(recent, 30.0)) is not None
