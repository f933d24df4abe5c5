"""geo.tiles: tile addresses, bounds, and the clip-and-snap that a tile's geometries go through."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import shapely

from geo import tiles
from geo.tiles import (
    InvalidTile,
    TileCoord,
    lonlat_bounds,
    parse_tile,
    tile_bounds,
    tile_for_lonlat,
    tile_geometries,
)


def test_doctests() -> None:
    assert doctest.testmod(tiles).failed == 0


def test_bounds_nest_and_round_trip() -> None:
    t = tile_for_lonlat(104.081, 30.405, 15)
    w, s, e, n = lonlat_bounds(t, buffer=0)
    assert w <= 104.081 <= e and s <= 30.405 <= n
    # the four children share the parent's bounds
    kids = [TileCoord(16, 2 * t.x + dx, 2 * t.y + dy) for dx in (0, 1) for dy in (0, 1)]
    xs = [tile_bounds(k) for k in kids]
    assert np.allclose(
        (min(b[0] for b in xs), min(b[1] for b in xs), max(b[2] for b in xs), max(b[3] for b in xs)),
        tile_bounds(t),
    )


@pytest.mark.parametrize(
    ("z", "x", "y", "field"),
    [("a", 0, 0, "z"), (3, 8, 0, "x"), (3, 0, 8, "y"), (-1, 0, 0, "z"), (3, "1.5", 0, "x"), ("٣", 0, 0, "z")],
)
def test_parse_tile_refuses_what_does_not_exist(z, x, y, field) -> None:
    with pytest.raises(InvalidTile) as err:
        parse_tile(z, x, y)
    assert err.value.field == field and err.value.zh and err.value.en


def test_zoom_range_is_enforced() -> None:
    assert parse_tile(13, 0, 0, min_zoom=13) == TileCoord(13, 0, 0)
    with pytest.raises(InvalidTile):
        parse_tile(12, 0, 0, min_zoom=13)


def test_clip_snap_and_collapse() -> None:
    t = tile_for_lonlat(104.081, 30.405, 15)
    w, s, e, n = lonlat_bounds(t, buffer=0)
    whole = shapely.box(w - 1, s - 1, e + 1, n + 1)  # covers the tile: clipped to the buffered square
    tiny = shapely.box(104.081, 30.405, 104.081 + 1e-7, 30.405 + 1e-7)  # ≈ 1 cm: below one unit
    outside = shapely.Point(w - 1, s)
    inside = shapely.Point((w + e) / 2, (s + n) / 2)
    g = tile_geometries([whole, tiny, outside, inside, None], t)
    assert g[0].bounds == (-64.0, -64.0, 4160.0, 4160.0)
    assert g[1] is None and g[2] is None and g[4] is None
    assert (g[3].x, g[3].y) == (2048.0, 2048.0)
    # y points down: the northern half of the tile has the smaller y
    north = tile_geometries([shapely.box(w, (s + n) / 2, e, n)], t)[0]
    assert north.bounds[1] == 0 and north.bounds[3] == pytest.approx(2048, abs=1)
