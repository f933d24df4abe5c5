"""Decoding and comparing vector tiles in tests: MVT bytes → {layer: [(attributes, geometry)]} in
tile coordinates (y down), and the reference features of a GeoJSON collection cut to a tile."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import shapely
from shapely.geometry import shape

from geo.tiles import TileCoord, tile_geometries


def decode(body: bytes) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """Each layer's features as (attributes, shapely geometry in tile units, y down)."""
    if not body:
        return {}
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for name, layer in mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}).items():
        out[name] = [
            (dict(f["properties"]), shapely.make_valid(shape(f["geometry"]))) for f in layer["features"]
        ]
    return out


def reference(features: list[dict[str, Any]], t: TileCoord) -> list[tuple[dict[str, Any], Any]]:
    """GeoJSON features (WGS84) cut to tile ``t`` the way a tile must (None attributes left out)."""
    geoms = tile_geometries([shape(f["geometry"]) for f in features], t)
    return [
        ({k: v for k, v in f["properties"].items() if v is not None}, g)
        for f, g in zip(features, geoms, strict=True)
        if g is not None
    ]


def assert_same(
    got: list[tuple[dict[str, Any], Any]], want: list[tuple[dict[str, Any], Any]], key: str
) -> None:
    """Same features by ``key`` attribute, same attributes, geometries within 2 tile units of each
    other inside the tile proper (both snap to the unit grid), and polygon areas apart by less than
    the perimeter (a unit's shift of every edge)."""
    g = {a[key]: (a, geom) for a, geom in got}
    w = {a[key]: (a, geom) for a, geom in want}
    assert len(g) == len(got), "duplicate features in the tile"
    missing, extra = sorted(set(w) - set(g)), sorted(set(g) - set(w))
    # a feature in the buffer only, or collapsing there, may survive on one side only
    for k in missing:
        assert _outside_tile(w[k][1]), (
            k,
            w[k][1].wkt[:200],
        )
    for k in extra:
        assert _outside_tile(g[k][1]), (k, g[k][1].wkt[:200])
    for k in set(g) & set(w):
        (ga, gg), (wa, wg) = g[k], w[k]
        assert ga == wa, (k, ga, wa)
        assert gg.geom_type.removeprefix("Multi") == wg.geom_type.removeprefix("Multi"), (k, gg.geom_type)
        # Compare what is drawn, the tile proper: every vertex inside it lies within 2 units of the
        # other's outline. (Beyond the tile's edge, in the buffer, a long edge nearly parallel to the
        # buffer's border meets it where the snapping happened to put it: PostGIS snaps, then clips.)
        assert _vertices_near(gg, wg) <= 2.0 and _vertices_near(wg, gg) <= 2.0, (
            k,
            gg.wkt[:300],
            wg.wkt[:300],
        )
        gi, wi = shapely.clip_by_rect(gg, 0, 0, 4096, 4096), shapely.clip_by_rect(wg, 0, 0, 4096, 4096)
        if wi.area > 0:  # snapping moves an edge by under a unit: the area by under the perimeter
            assert abs(gi.area - wi.area) <= wi.length + 16, (k, gi.area, wi.area)


def _vertices_near(a: Any, b: Any, extent: int = 4096) -> float:
    """The largest distance from a vertex of ``a`` inside the tile proper to ``b``'s outline."""
    xy = shapely.get_coordinates(a)
    xy = xy[(xy[:, 0] > 0) & (xy[:, 0] < extent) & (xy[:, 1] > 0) & (xy[:, 1] < extent)]
    if not len(xy):
        return 0.0
    outline = b.boundary if b.area > 0 else b
    return float(shapely.distance(shapely.points(xy), outline).max())


def _outside_tile(geom: Any, extent: int = 4096) -> bool:
    """Whether ``geom`` draws (next to) nothing in the tile proper: in the buffer only, or a sliver."""
    inside = shapely.clip_by_rect(geom, 0, 0, extent, extent)
    return bool(inside.is_empty or (inside.area <= 16 and inside.length <= 64))
