"""Shapely geometries as matplotlib paths (polygons with holes, multi-parts, lines)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from matplotlib.path import Path
from shapely.geometry.base import BaseGeometry


def _ring_codes(n: int) -> np.ndarray:
    codes = np.full(n, Path.LINETO, dtype=Path.code_type)
    codes[0] = Path.MOVETO
    codes[-1] = Path.CLOSEPOLY
    return codes


def polygon_path(geom: BaseGeometry) -> Path:
    """One compound path for a (multi)polygon; holes stay holes (even-odd independent: rings are
    oriented exterior CCW, interiors CW)."""
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for poly in shapely.get_parts(shapely.normalize(geom)):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        poly = shapely.orient_polygons(poly)
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)
            verts.append(xy)
            codes.append(_ring_codes(len(xy)))
    if not verts:
        return Path(np.zeros((0, 2)))
    return Path(np.concatenate(verts), np.concatenate(codes))


def line_segments(geoms: Iterable[BaseGeometry]) -> list[np.ndarray]:
    """Coordinate arrays of every line part (polygon boundaries included), for a ``LineCollection``."""
    out: list[np.ndarray] = []
    for geom in geoms:
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = geom.boundary
        for part in shapely.get_parts(geom):
            if part.geom_type in ("LineString", "LinearRing") and not part.is_empty:
                out.append(np.asarray(part.coords)[:, :2])
            elif part.geom_type == "MultiLineString":
                out.extend(np.asarray(p.coords)[:, :2] for p in part.geoms)
    return out
