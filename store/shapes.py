"""The one seam between stored geometry and shapely.

Everything that goes into a geometry column passes :func:`to_db`; everything that comes out passes
:func:`to_shapely`. Coordinates are WGS84 lon/lat (SRID 4326) and travel as WKB doubles, so a
round trip is exact. Stored areas are :func:`geo.crs.area_m2` (geodesic, computed in Python so
SpatiaLite and PostGIS store the very same numbers).

>>> from shapely.geometry import box
>>> to_shapely(to_db(box(104.0, 30.0, 104.001, 30.001))).equals(box(104.0, 30.0, 104.001, 30.001))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from geoalchemy2.shape import to_shape as _to_shape
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from geo.errors import WeiwangError

SRID = 4326


class BadGeometry(WeiwangError):
    """A geometry that cannot be stored (empty, not finite, or not WGS84 lon/lat)."""

    code = "bad_geometry"


def to_db(geom: BaseGeometry) -> WKBElement:
    """A shapely geometry (WGS84 lon/lat) as a bind value for a SRID-4326 geometry column."""
    if geom is None or geom.is_empty:
        raise BadGeometry("几何为空，无法保存", "empty geometry cannot be stored", field="geometry")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadGeometry(
            f"坐标超出经纬度范围：{geom.bounds}",
            f"coordinates outside lon/lat range: {geom.bounds}",
            field="geometry",
        )
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    return from_shape(geom, srid=SRID, extended=True)


def to_db_many(geoms: Sequence[BaseGeometry]) -> tuple[list[WKBElement], NDArray[np.float64]]:
    """:func:`to_db` for many geometries at once (shapely array operations, no per-geometry
    Python), and their bounds (``n × 4``: minx, miny, maxx, maxy) for the bbox columns. The same
    bytes and the same refusals as :func:`to_db` (the first refused geometry is named)."""
    arr = np.asarray(list(geoms), dtype=object)
    if len(arr) == 0:
        return [], np.zeros((0, 4))
    bounds = shapely.bounds(arr)
    minx, miny, maxx, maxy = bounds.T
    with np.errstate(invalid="ignore"):
        ok = (minx >= -180) & (minx <= maxx) & (maxx <= 180) & (miny >= -90) & (miny <= maxy) & (maxy <= 90)
    ok &= ~shapely.is_missing(arr)
    if not ok.all():
        to_db(arr[np.flatnonzero(~ok)[0]])  # raises BadGeometry naming the problem
    z = shapely.has_z(arr)
    if z.any():
        arr = arr.copy()
        arr[z] = shapely.force_2d(arr[z])
    blobs = shapely.to_wkb(shapely.set_srid(arr, SRID), include_srid=True)
    return [WKBElement(memoryview(b), srid=SRID, extended=True) for b in blobs], bounds


def to_shapely(value: Any) -> BaseGeometry | None:
    """A value read from a geometry column (WKB element, bytes or hex) as shapely; None stays None."""
    if value is None:
        return None
    if isinstance(value, WKBElement):
        return _to_shape(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return shapely.from_wkb(bytes(value))
    if isinstance(value, str):
        return shapely.from_wkb(value)
    raise TypeError(f"not a geometry value: {type(value).__name__}")


def bbox(geom: BaseGeometry) -> dict[str, float]:
    """The ``minx/miny/maxx/maxy`` columns of a geometry (the SQL prefilter; see store.models)."""
    minx, miny, maxx, maxy = geom.bounds
    return {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}


def point_wkt(lon: float, lat: float) -> str:
    """WKT of a point, with full float precision (repr), for ``ST_GeomFromText(…, 4326)``."""
    return f"POINT({lon!r} {lat!r})"
