"""``geo.onepoint.locate_one`` gives the locator's own answer for every point: inside, on shared
edges and vertices, in the hole, overlapping grids, snapped, outside but in the community, far
outside, on a fresh locator and on one read back from its state (as the shared one is), and on the
sample communities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from geo.locator import Locator
from geo.onepoint import locate_one
from tests.geo.test_locator import GRIDS, SHAPES, hierarchy


def _points(bounds: tuple[float, float, float, float], geoms: list, n: int, seed: int) -> list[tuple]:
    """Random points over ``bounds`` and a margin, every vertex, edge midpoints, and points just
    off each vertex (snap range and beyond)."""
    x0, y0, x1, y1 = bounds
    mx, my = (x1 - x0) * 0.3 + 0.002, (y1 - y0) * 0.3 + 0.002
    rng = np.random.default_rng(seed)
    xs = rng.uniform(x0 - mx, x1 + mx, n)
    ys = rng.uniform(y0 - my, y1 + my, n)
    verts = np.concatenate([shapely.get_coordinates(g) for g in geoms])
    mids = (verts[:-1] + verts[1:]) / 2
    off = np.concatenate([verts + d for d in ((1e-4, 0.0), (0.0, -2e-4), (-5e-4, 5e-4))])
    pts = np.concatenate([np.column_stack([xs, ys]), verts, mids, off])
    return [(float(x), float(y)) for x, y in pts]


def _shared(loc: Locator) -> Locator:
    arrays, meta = loc.to_state()
    return Locator.from_state({k: np.array(v) for k, v in arrays.items()}, json.loads(json.dumps(meta)))


def _agree(loc: Locator, pts: list[tuple[float, float]]) -> None:
    kinds = {"inside": 0, "boundary": 0, "snapped": 0, "outside": 0}
    for x, y in pts:
        want = loc.locate_one(x, y)
        assert locate_one(loc, x, y) == want, (x, y)
        kinds["snapped" if want.snapped else "outside" if want.outside else "inside"] += 1
        kinds["boundary"] += want.on_boundary
    assert all(kinds.values()), kinds  # every kind of answer was compared


@pytest.mark.parametrize("shared", [False, True])
def test_same_answers_as_the_locator(shared: bool) -> None:
    loc = Locator.from_hierarchy(hierarchy())
    loc = _shared(loc) if shared else loc
    geoms = list(SHAPES.values())
    _agree(loc, _points(shapely.total_bounds(geoms), geoms, 2500, 3))
    _agree(loc, _points(shapely.total_bounds(geoms), geoms, 800, 4))  # again: answers kept per grid


def test_overlapping_grids() -> None:
    big, small = box(104.079, 30.400, 104.081, 30.402), box(104.0795, 30.4005, 104.0805, 30.4015)
    loc = Locator.from_polygons(["B", "A"], [big, small])
    for x, y in _points((104.079, 30.400, 104.081, 30.402), [big, small], 1200, 5):
        assert locate_one(loc, x, y) == loc.locate_one(x, y), (x, y)


@pytest.mark.skipif(not GRIDS.exists(), reason="sample data not generated")
def test_sample_data() -> None:
    from shapely.geometry import shape

    fc = json.loads(GRIDS.read_text(encoding="utf-8"))
    micro = [f for f in fc["features"] if f["properties"]["level"] == "micro"]
    geoms = [shape(f["geometry"]) for f in micro]
    loc = _shared(Locator.from_polygons([str(f["properties"]["code"]) for f in micro], geoms))
    _agree(loc, _points(shapely.total_bounds(geoms), geoms[::5], 6000, 6))
