"""geo.mvt encodes the same bytes as the mapbox-vector-tile package (the options store.tiles uses)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from bench.citygen import city_partition
from geo.mvt import encode_layer
from geo.tiles import tile_for_lonlat, tile_geometries

OPTIONS = {"extents": 4096, "quantize_bounds": None, "y_coord_down": True, "check_winding_order": True}


def package(name, features) -> bytes:
    if not features:
        return b""
    return bytes(
        mapbox_vector_tile.encode(
            [{"name": name, "features": [{"geometry": g, "properties": p} for g, p in features]}],
            default_options=OPTIONS,
        )
    )


@pytest.mark.parametrize("z", [11, 13, 15])
def test_voronoi_city_tiles_match_the_package(z: int) -> None:
    _codes, polys = city_partition(800, side_km=3.0)
    c = shapely.centroid(shapely.union_all(polys))
    t = tile_for_lonlat(c.x, c.y, z)
    geoms = tile_geometries(polys, t)
    feats = [
        (
            g,
            {
                "code": f"C{i:04d}",
                "level": "micro",
                "households": 50 + i % 3,
                "ratio": i / 7,
                "on": i % 2 == 0,
            },
        )
        for i, g in enumerate(geoms)
        if g is not None
    ]
    assert feats
    assert encode_layer("micro", feats) == package("micro", feats)


def test_holes_multipolygons_repeats_and_collapsed_rings_match_the_package() -> None:
    square = [(0, 0), (100, 0), (100, 100), (0, 100)]
    hole = [(10, 10), (10, 20), (20, 20), (20, 10)]
    feats = [
        (shapely.Polygon(square, [hole]), {"a": 1}),
        (shapely.Polygon(square[::-1], [hole[::-1]]), {"a": 1.0, "b": True}),  # wrong winding
        (shapely.MultiPolygon([shapely.Polygon(square), shapely.box(200, 200, 300, 300)]), {"b": 1}),
        (shapely.Polygon([(0, 0), (0, 0), (50, 0), (50, 50), (50, 50), (0, 50)]), {"c": "街道"}),
        (shapely.Polygon([(5, 5), (6, 6), (5, 5)]), {"d": -2}),  # collapsed: left out
        (shapely.Polygon([(-70, -70), (5000, -70), (5000, 5000)]), {"e": 2**40}),
    ]
    for f in feats:
        assert encode_layer("x", [f]) == package("x", [f])
    assert encode_layer("x", feats) == package("x", feats)


def test_points_match_the_package_and_other_geometries_fall_back() -> None:
    xy = np.random.default_rng(3).integers(-64, 4160, (300, 2)).tolist()
    pts = [
        (shapely.Point(x, y), {"id": i, "state": "处理中", "urgent": i % 3 == 0, "w": i * 0.5})
        for i, (x, y) in enumerate(xy)
    ]
    assert encode_layer("incidents", pts) == package("incidents", pts)
    assert encode_layer("x", [(shapely.LineString([(0, 0), (5, 5)]), {})]) is None
    assert encode_layer("x", []) == b""
