"""Tiny named test geometries near Xinglong Street (WGS84 lon/lat), built from metre offsets.

Shapes are drawn in EPSG:4544 metres east/north of :data:`ORIGIN` and converted to WGS84, so their
metric areas are exact: ``local_box(0, 0, 50, 100)`` is 5,000 m² in EPSG:4544. Reuse freely.

:func:`clean_hierarchy_grids` is a valid three-level hierarchy (1 community, 2 general grids,
4 micro-grids, 50 households each) that tests perturb to plant one defect at a time::

    community 510116004001       (0..200 m × 0..100 m)
      general 510116004001001    (0..100)   micro …001001 (0..50), …001002 (50..100)
      general 510116004001002    (100..200) micro …002001 (100..150), …002002 (150..200)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo.hierarchy import Grid, Hierarchy, Level

#: WGS84 lon/lat of the local origin (near 兴隆湖).
ORIGIN = (104.08, 30.40)


@lru_cache(maxsize=1)
def _tr() -> tuple[Transformer, Transformer, tuple[float, float]]:
    fwd = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    inv = Transformer.from_crs("EPSG:4544", "EPSG:4326", always_xy=True)
    return fwd, inv, fwd.transform(*ORIGIN)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 lon/lat of the point ``x`` metres east and ``y`` metres north of ORIGIN (EPSG:4544)."""
    _, inv, (x0, y0) = _tr()
    return inv.transform(x0 + x, y0 + y)


def local_polygon(coords: Iterable[tuple[float, float]]) -> Polygon:
    """A WGS84 polygon from a ring in local metres (not validated: bow-ties stay bow-ties)."""
    return Polygon([lonlat(x, y) for x, y in coords])


def local_area_m2(geometry: BaseGeometry) -> float:
    """Planar area in EPSG:4544 m² of a WGS84 geometry (what geo.validate measures)."""
    fwd = _tr()[0]
    return float(shapely.transform(geometry, lambda x, y: fwd.transform(x, y), interleaved=False).area)


def local_box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return local_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def local_point(x: float, y: float) -> Point:
    return Point(lonlat(x, y))


def local_line(coords: Sequence[tuple[float, float]]) -> LineString:
    return LineString([lonlat(x, y) for x, y in coords])


# --- named geometries ----------------------------------------------------------------------------
SQUARE_A = local_box(0, 0, 100, 100)  #: 10,000 m²
SQUARE_B = local_box(100, 0, 200, 100)  #: shares SQUARE_A's east edge exactly
SQUARE_A_SHIFTED = local_box(90, 0, 190, 100)  #: overlaps SQUARE_A by 10 × 100 = 1,000 m²
BOWTIE = local_polygon([(0, 0), (50, 100), (0, 100), (50, 0)])  #: self-intersects at (25, 50)
SQUARE_WITH_HOLE = Polygon(
    SQUARE_A.exterior.coords, [[lonlat(40, 40), lonlat(60, 40), lonlat(60, 60), lonlat(40, 60)]]
)  #: 10,000 − 400 = 9,600 m²
EMPTY = Polygon()
POINT_ON_SHARED_EDGE = local_point(100, 50)  #: on the edge between SQUARE_A and SQUARE_B

COMMUNITY = "510116004001"
GENERAL_1 = COMMUNITY + "001"
GENERAL_2 = COMMUNITY + "002"
MICRO_11, MICRO_12 = GENERAL_1 + "001", GENERAL_1 + "002"
MICRO_21, MICRO_22 = GENERAL_2 + "001", GENERAL_2 + "002"
MICROS = (MICRO_11, MICRO_12, MICRO_21, MICRO_22)


def grid(
    code: str,
    level: Level,
    geometry: BaseGeometry,
    parent: str | None = None,
    households: int | None = None,
    name: str | None = None,
) -> Grid:
    kind = {Level.COMMUNITY: "社区", Level.GENERAL: "一般网格", Level.MICRO: "微网格"}[level]
    return Grid(
        code=code,
        name=name or f"{kind}{code[-3:]}",
        level=level,
        geometry=geometry,
        parent_code=parent,
        community_code=code[:12],
        kind=kind,
        households=households,
    )


def clean_hierarchy_grids(households: int | None = 50) -> list[Grid]:
    """The clean fixture (see module docstring) as a list, in a stable order."""
    return [
        grid(COMMUNITY, Level.COMMUNITY, local_box(0, 0, 200, 100)),
        grid(GENERAL_1, Level.GENERAL, local_box(0, 0, 100, 100), COMMUNITY),
        grid(GENERAL_2, Level.GENERAL, local_box(100, 0, 200, 100), COMMUNITY),
        grid(MICRO_11, Level.MICRO, local_box(0, 0, 50, 100), GENERAL_1, households),
        grid(MICRO_12, Level.MICRO, local_box(50, 0, 100, 100), GENERAL_1, households),
        grid(MICRO_21, Level.MICRO, local_box(100, 0, 150, 100), GENERAL_2, households),
        grid(MICRO_22, Level.MICRO, local_box(150, 0, 200, 100), GENERAL_2, households),
    ]


def clean_hierarchy(households: int | None = 50) -> Hierarchy:
    return Hierarchy(clean_hierarchy_grids(households))


def with_grid(grids: Sequence[Grid], which: str, /, **changes: object) -> list[Grid]:
    """Copy of ``grids`` with the (first) grid coded ``which`` changed, e.g. ``geometry=BOWTIE``."""
    out, done = [], False
    for g in grids:
        if g.code == which and not done:
            g, done = replace(g, **changes), True
        out.append(g)
    if not done:
        raise KeyError(which)
    return out
