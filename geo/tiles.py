"""Web Mercator vector tiles, the pure part: tile addresses, bounds, clipping and quantisation.

A tile ``z/x/y`` is the XYZ (Google / OSM) scheme on EPSG:3857: ``x`` grows east, ``y`` grows
south, ``0 <= x, y < 2**z``. Inside a tile, coordinates are integers on a grid of ``extent``
(4096) units per side with ``y`` pointing down, as the Mapbox Vector Tile specification and
PostGIS's ``ST_AsMVTGeom`` write them. :func:`tile_geometries` is this module's ``ST_AsMVTGeom``:

1. clip to the tile grown by ``buffer`` units on each side (so strokes at the edge join up),
2. move into tile coordinates and snap to the integer grid (:func:`shapely.set_precision`, which
   keeps polygons valid and turns a polygon smaller than a unit into an empty geometry),
3. drop what became empty.

The store encodes the result (``mapbox-vector-tile`` on SpatiaLite) or lets PostGIS do the same
(``ST_AsMVTGeom``/``ST_AsMVT``); decoded, both give the same features. Geometries come in WGS84
lon/lat and are projected with the spherical Mercator formulas (exact for EPSG:3857).

>>> tile_bounds(TileCoord(0, 0, 0))
(-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244)
>>> t = tile_for_lonlat(104.08, 30.40, 14); (t.z, t.x, t.y)
(14, 12928, 6738)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from geo.errors import WeiwangError

#: Half the side of the EPSG:3857 square (metres): the world spans [-R·π, R·π] on both axes.
ORIGIN_SHIFT = math.pi * 6378137.0
#: Latitude where Web Mercator stops (the square's edge).
MAX_LAT = 85.05112877980659
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22


class InvalidTile(WeiwangError):
    """A tile address that does not exist (z outside the layer's zoom range, x or y off the grid)."""

    code = "invalid_tile"


@dataclass(frozen=True)
class TileCoord:
    z: int
    x: int
    y: int

    @property
    def path(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"


def parse_tile(z: object, x: object, y: object, *, min_zoom: int = 0, max_zoom: int = MAX_ZOOM) -> TileCoord:
    """A tile from its three path parts (text or int), checked: integers, ``min_zoom <= z <=
    max_zoom`` and ``0 <= x, y < 2**z``; :class:`InvalidTile` naming the part otherwise.

    >>> parse_tile("3", "7", "0")
    TileCoord(z=3, x=7, y=0)
    >>> try:
    ...     parse_tile(3, 8, 0)
    ... except InvalidTile as err:
    ...     print(err.field, err.en)
    x x must be an integer from 0 to 7 at zoom 3
    """
    values: dict[str, int] = {}
    for name, raw in (("z", z), ("x", x), ("y", y)):
        text = str(raw)
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise InvalidTile(
                f"瓦片坐标 {name} 应为非负整数：{text[:20]}",
                f"tile {name} must be a non-negative integer, not {text[:20]!r}",
                field=name,
            )
        values[name] = int(text)
    tz = values["z"]
    if not min_zoom <= tz <= max_zoom:
        raise InvalidTile(
            f"该图层的缩放级别 z 应在 {min_zoom}–{max_zoom} 之间（收到 {tz}）",
            f"zoom z must be from {min_zoom} to {max_zoom} for this layer (got {tz})",
            field="z",
        )
    n = 1 << tz
    for name in ("x", "y"):
        if values[name] >= n:
            raise InvalidTile(
                f"缩放级别 {tz} 下 {name} 应为 0–{n - 1} 的整数（收到 {values[name]}）",
                f"{name} must be an integer from 0 to {n - 1} at zoom {tz}",
                field=name,
            )
    return TileCoord(tz, values["x"], values["y"])


def tile_bounds(t: TileCoord) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of the tile in EPSG:3857 metres (``ST_TileEnvelope``)."""
    size = 2 * ORIGIN_SHIFT / (1 << t.z)
    minx = -ORIGIN_SHIFT + t.x * size
    maxy = ORIGIN_SHIFT - t.y * size
    return minx, maxy - size, minx + size, maxy


def buffered_bounds(t: TileCoord, buffer: int = BUFFER, extent: int = EXTENT) -> tuple[float, ...]:
    """:func:`tile_bounds` grown by ``buffer`` tile units on each side."""
    minx, miny, maxx, maxy = tile_bounds(t)
    pad = (maxx - minx) * buffer / extent
    return minx - pad, miny - pad, maxx + pad, maxy + pad


def lonlat_to_mercator(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 lon/lat (degrees) → EPSG:3857 x/y (metres)."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LAT, MAX_LAT)
    x = lon_a * ORIGIN_SHIFT / 180.0
    y = np.log(np.tan((90.0 + lat_a) * math.pi / 360.0)) * 6378137.0
    return x, y


def mercator_to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """EPSG:3857 x/y (metres) → WGS84 lon/lat (degrees)."""
    x_a = np.asarray(x, dtype=np.float64)
    y_a = np.asarray(y, dtype=np.float64)
    lon = x_a / ORIGIN_SHIFT * 180.0
    lat = np.degrees(2 * np.arctan(np.exp(y_a / 6378137.0)) - math.pi / 2)
    return lon, lat


def lonlat_bounds(
    t: TileCoord, buffer: int = BUFFER, extent: int = EXTENT
) -> tuple[float, float, float, float]:
    """The buffered tile as a WGS84 box ``(west, south, east, north)``: the prefilter of a query."""
    minx, miny, maxx, maxy = buffered_bounds(t, buffer, extent)
    (w, e), (s, n) = mercator_to_lonlat([minx, maxx], [miny, maxy])
    return float(w), float(s), float(e), float(n)


def tile_for_lonlat(lon: float, lat: float, z: int) -> TileCoord:
    """The tile holding a WGS84 point at zoom ``z``."""
    x, y = lonlat_to_mercator(lon, lat)
    n = 1 << z
    size = 2 * ORIGIN_SHIFT / n
    tx = min(n - 1, max(0, int((float(x) + ORIGIN_SHIFT) // size)))
    ty = min(n - 1, max(0, int((ORIGIN_SHIFT - float(y)) // size)))
    return TileCoord(z, tx, ty)


def tile_geometries(
    geoms: Sequence[BaseGeometry | None] | NDArray[np.object_],
    t: TileCoord,
    *,
    extent: int = EXTENT,
    buffer: int = BUFFER,
) -> NDArray[np.object_]:
    """WGS84 geometries as integer tile coordinates (y down), clipped to the buffered tile; None
    where nothing is left (outside the tile, or collapsed below one unit). See the module doc."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    present = np.array([g is not None and not g.is_empty for g in arr], dtype=bool)
    out = np.full(len(arr), None, dtype=object)
    if not present.any():
        return out
    minx, miny, maxx, maxy = tile_bounds(t)
    sx = extent / (maxx - minx)
    sy = extent / (maxy - miny)

    def to_tile(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        mx, my = lonlat_to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([(mx - minx) * sx, (maxy - my) * sy])

    g = shapely.transform(arr[present], to_tile)
    g = shapely.clip_by_rect(g, -buffer, -buffer, extent + buffer, extent + buffer)
    g = shapely.set_precision(g, 1.0)
    dims = shapely.get_dimensions(arr[present])
    for i in np.flatnonzero(shapely.get_type_id(g) == 7):  # a collection: keep the input's dimension
        parts = [p for p in shapely.get_parts(g[i]) if shapely.get_dimensions(p) == dims[i]]
        g[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    keep = ~shapely.is_empty(g)
    idx = np.flatnonzero(present)
    out[idx[keep]] = g[keep]
    return out
