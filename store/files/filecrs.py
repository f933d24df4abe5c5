"""The coordinate reference system of a layer file, and reprojection of its geometries to WGS84.

The file's own CRS (.prj, GeoPackage srs, GeoJSON) is used unless the caller names one (``crs=``,
the CLI's ``--crs``), which wins: that is how GCJ-02/BD-09 data saved under a WGS84 label, or
metres labelled as degrees, are put right. Names accepted: ``wgs84``, ``cgcs2000``, ``gcj02``,
``bd09``, ``EPSG:n``. Output is EPSG:4326 lon/lat (``always_xy``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geo import crs as geo_crs
from geo.errors import UnknownCRS
from store.files.errors import NoCRS, ProjectedAsDegrees

WGS84 = pyproj.CRS.from_epsg(4326)
_SUGGEST = "EPSG:4544（CGCS2000 3度带 中央经线105°E）或 EPSG:32648（UTM 48N）"


@dataclass(frozen=True)
class SourceCRS:
    """Where coordinates come from: a pyproj CRS, plus a GCJ-02/BD-09 shift applied on top of it."""

    label: str
    crs: pyproj.CRS
    shifted: str | None = None

    @property
    def geographic(self) -> bool:
        return self.crs.is_geographic


def _label(crs: pyproj.CRS) -> str:
    """``geo.crs`` canonical name (``wgs84``, ``cgcs2000``, ``EPSG:4544``) when the CRS has an EPSG code."""
    auth = crs.to_authority(min_confidence=90)
    if auth and auth[0] == "EPSG":
        try:
            return geo_crs.parse_crs(int(auth[1])).name
        except UnknownCRS:
            return f"EPSG:{auth[1]}"
    return f"{auth[0]}:{auth[1]}" if auth else (crs.name or "unknown")


def parse_given(text: str) -> SourceCRS:
    """Parse a CRS name as the CLI takes it (:func:`geo.crs.parse_crs`; :class:`UnknownCRS` if not).

    The label must match exactly: surrounding spaces or control characters are refused, not trimmed
    (``"GCJ02 "`` may be a paste of something longer)."""
    if not text or text != text.strip() or any(not c.isprintable() for c in text) or len(text) > 64:
        shown = text[:64].encode("unicode_escape").decode("ascii")
        raise UnknownCRS(
            f"坐标系名称含空格或控制字符，或过长：“{shown}”（应为 wgs84、cgcs2000、gcj02、bd09 或 EPSG:n）",
            f"CRS label with spaces, control characters or too long: {shown!r} "
            "(expected wgs84, cgcs2000, gcj02, bd09 or EPSG:n)",
        )
    spec = geo_crs.parse_crs(text)
    if spec.epsg is None:  # gcj02 / bd09: lon/lat with an offset undone by geo.crs.to_wgs84
        return SourceCRS(spec.name, WGS84, spec.name)
    return SourceCRS(spec.name, pyproj.CRS.from_epsg(spec.epsg))


def from_file(value: str | None) -> SourceCRS | None:
    """The CRS GDAL reports for a layer (``EPSG:n`` or WKT), or None if it has none."""
    if not value:
        return None
    try:
        crs = pyproj.CRS.from_user_input(value)
    except CRSError:
        return None
    return SourceCRS(_label(crs), crs)


def choose(declared: SourceCRS | None, given: str | None, filename: str) -> tuple[SourceCRS, list[str]]:
    """The CRS to read with, and warnings. ``given`` wins over ``declared``; neither → :class:`NoCRS`."""
    if given is None:
        if declared is None:
            raise NoCRS(
                f"文件 {filename} 未声明坐标系（缺少 .prj 等），请用 --crs 指定，例如 --crs wgs84 或 "
                f"--crs {_SUGGEST}",
                f"{filename} declares no CRS (no .prj or equivalent): pass crs=, e.g. wgs84 or EPSG:4544",
                field="crs",
            )
        return declared, []
    chosen = parse_given(given)
    warnings: list[str] = []
    if declared is not None and not declared.crs.equals(chosen.crs, ignore_axis_order=True):
        warnings.append(
            f"文件声明坐标系 {declared.label}，按指定的 {chosen.label} 读取 / "
            f"file declares {declared.label}; read as {chosen.label} as asked"
        )
    return chosen, warnings


def check_degrees(geoms: np.ndarray, src: SourceCRS) -> list[str]:
    """Refuse metres under a geographic CRS; warn on degree-sized values under a projected one."""
    present = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if present.size == 0:
        return []
    b = shapely.bounds(present)
    xmin, ymin = np.nanmin(b[:, 0]), np.nanmin(b[:, 1])
    xmax, ymax = np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
    if src.geographic:
        if max(abs(xmin), abs(xmax)) > 180 or max(abs(ymin), abs(ymax)) > 90:
            raise ProjectedAsDegrees(
                f"坐标超出经纬度范围（x {xmin:.0f}…{xmax:.0f}，y {ymin:.0f}…{ymax:.0f}），"
                f"但坐标系为 {src.label}（经纬度）：这像是投影坐标（米）。请用 --crs 指定投影坐标系，"
                f"例如 --crs {_SUGGEST}",
                f"coordinates out of degree range (x {xmin:.0f}..{xmax:.0f}, y {ymin:.0f}..{ymax:.0f}) "
                f"under geographic {src.label}: projected metres? Pass crs=, e.g. --crs EPSG:4544 "
                "(CGCS2000 / 3-degree GK CM 105E) or EPSG:32648",
                field="crs",
                detail={"bounds": [float(xmin), float(ymin), float(xmax), float(ymax)]},
            )
        return []
    if max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90:
        return [
            f"坐标数值像经纬度，但文件坐标系为投影坐标系 {src.label}，请核对 / "
            f"coordinates look like degrees but the CRS is projected ({src.label}): check it"
        ]
    return []


@lru_cache(maxsize=16)
def _transformer(wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), WGS84, always_xy=True)


def _unshift(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = geo_crs.to_wgs84(coords[:, 0], coords[:, 1], kind)
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return fn


def to_wgs84(geoms: np.ndarray, src: SourceCRS) -> np.ndarray:
    """Geometries (2D) reprojected from ``src`` to EPSG:4326 lon/lat; GCJ-02/BD-09 shifts undone."""
    out = geoms
    if not src.crs.equals(WGS84, ignore_axis_order=True):
        t = _transformer(src.crs.to_wkt())

        def project(coords: np.ndarray) -> np.ndarray:
            x, y = t.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        out = shapely.transform(out, project)
    if src.shifted is not None:
        out = shapely.transform(out, _unshift(src.shifted))
    return out
