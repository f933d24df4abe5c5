"""Coordinate reference systems: the one module for all CRS work in weiwang.

Everything is stored and exchanged in **WGS84 lon/lat** (EPSG:4326, x = longitude). Coordinates
arrive in other systems and are converted at the edges only:

- ``wgs84`` (EPSG:4326) — GPS, GeoJSON.
- ``cgcs2000`` (EPSG:4490) — the official Chinese frame; Tianditu basemaps. Treated as identical to
  WGS84 (pyproj does the same: its EPSG:4490 → 4326 step is a zero "ballpark" offset). The two
  frames agree within centimetres at a common epoch; because CGCS2000 is fixed at epoch 2000.0 and
  the Eurasian plate moves ~3 cm/yr, a surveyed CGCS2000 coordinate and a current-epoch WGS84 fix of
  the same spot can differ by some decimetres — far below micro-grid size and phone GPS accuracy.
- ``gcj02`` — the offset system of Amap/Gaode, Tencent and WeChat location (~367 m off WGS84 at
  Xinglong, 104.08 E 30.40 N). Published forward algorithm; the inverse iterates to ≤ 1e-10°
  (about 0.01 mm), not the common one-step approximation (off by metres).
- ``bd09`` — Baidu's offset on top of GCJ-02 (~948 m off WGS84 at Xinglong). Inverse iterates too.
- any EPSG code pyproj knows that is a 2-D geographic or projected CRS (e.g. ``EPSG:4544``, the
  CGCS2000 3-degree Gauss-Krüger zone with central meridian 105 E that is our local metric CRS).

**What counts as "in China"** for GCJ-02: the widely used coarse rectangle
72.004 ≤ lon ≤ 137.8347, 0.8293 ≤ lat ≤ 55.8271 (edges inclusive). It also covers parts of
neighbouring countries and the sea; outside it GCJ-02 equals WGS84. At its edges the GCJ-02 map is
discontinuous (a shift of up to ~0.01°, ~700 m, switches on), so within ~0.01° of the edges a
GCJ-02 point may have no or two WGS84 preimages and the inverse returns a best effort; further in it
is exact — irrelevant for Chinese cities, all of which lie far inside.
The BD-09 step (GCJ-02 → BD-09) is the published closed formula and applies everywhere.

Array functions take numpy arrays (any shape, broadcast) or scalars and return the same kind:
Python floats for scalar input, float64 arrays otherwise. Non-finite values pass through unchanged;
use :func:`validate_lonlat` to reject them.

pyproj Transformers are cached (``functools.lru_cache``) and built with ``always_xy=True``; they
are thread-safe since pyproj 3.1 (each thread gets its own PROJ object, rebuilt from a pipeline
string where the EPSG search found a single operation: see ``_transformer``). pyproj is imported
when this module is, not on first use: imported after SpatiaLite had loaded the system's PROJ (a
lazy import, tried to save ~90 ms of CLI start-up), it made ``weiwang grids`` die with SIGSEGV.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo.errors import InvalidCoordinates, UnknownCRS

__all__ = [
    "CHINA_BBOX",
    "GCJ02_RECT",
    "LOCAL_METRIC_EPSG",
    "CRSSpec",
    "area_m2",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_local_metric",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "get_transformer",
    "in_gcj02_rect",
    "meters_per_degree",
    "parse_crs",
    "reproject_geometry",
    "to_local_metric",
    "to_wgs84",
    "validate_lonlat",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Planar CRS for metric work around Xinglong: CGCS2000 / 3-degree Gauss-Krüger CM 105E (x east,
#: y north in metres with always_xy; false easting 500 000 m, no zone prefix). Not 4545 (CM 108E).
LOCAL_METRIC_EPSG = 4544

#: The coarse "out_of_china" rectangle of the published GCJ-02 algorithm (lon_min, lat_min,
#: lon_max, lat_max); inside it (edges inclusive) the GCJ-02 offset applies.
GCJ02_RECT = (72.004, 0.8293, 137.8347, 55.8271)

#: Rough bounding box of mainland China used only to recognise swapped lon/lat pairs.
CHINA_BBOX = (73.0, 18.0, 135.0, 54.0)

# Krasovsky 1940 ellipsoid as used by the published GCJ-02 algorithm.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# Iterative inverses: stop when the forward image is within this many degrees of the target
# (1e-10° ≈ 0.01 mm), or after this many rounds (the map is a contraction by ~1e-2; 4–6 rounds do).
_INVERSE_TOL_DEG = 1e-10
_INVERSE_MAX_ITER = 30

_WGS84_A = 6378137.0
_WGS84_E2 = 0.00669437999014  # first eccentricity squared of WGS84

_GEOD = Geod(ellps="WGS84")

Kind = Literal["wgs84", "cgcs2000", "gcj02", "bd09", "epsg"]


# --------------------------------------------------------------------------------------------
# CRS names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CRSSpec:
    """A parsed CRS: ``kind`` says how to convert, ``epsg`` is set for everything pyproj handles.

    ``name`` is canonical (``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:<n>"``),
    so two specs for the same system compare equal however they were spelled.
    """

    name: str
    kind: Kind
    epsg: int | None
    is_geographic: bool
    label_zh: str

    def __str__(self) -> str:
        return self.name


WGS84 = CRSSpec("wgs84", "wgs84", 4326, True, "WGS84 经纬度")
CGCS2000 = CRSSpec("cgcs2000", "cgcs2000", 4490, True, "CGCS2000 国家大地坐标系")
GCJ02 = CRSSpec("gcj02", "gcj02", None, True, "GCJ-02 火星坐标（高德/腾讯/微信）")
BD09 = CRSSpec("bd09", "bd09", None, True, "BD-09 百度坐标")

_ALIASES: dict[str, CRSSpec] = {}
for _spec, _names in (
    (
        WGS84,
        (
            "wgs84",
            "wgs-84",
            "wgs_84",
            "wgs 84",
            "crs84",
            "ogc:crs84",
            "urn:ogc:def:crs:ogc:1.3:crs84",
            "http://www.opengis.net/def/crs/ogc/1.3/crs84",
        ),
    ),
    (CGCS2000, ("cgcs2000", "cgcs-2000", "cgcs_2000", "cgcs 2000")),
    (GCJ02, ("gcj02", "gcj-02", "gcj_02", "gcj")),
    (BD09, ("bd09", "bd-09", "bd_09", "bd09ll")),
):
    for _n in _names:
        _ALIASES[_n] = _spec

_EPSG_RE = re.compile(
    r"^(?:epsg\s*:{1,2}\s*|urn:ogc:def:crs:epsg:[\d.]*:|https?://www\.opengis\.net/def/crs/epsg/[\d.]+/)?"
    r"(\d{1,9})$"
)


def parse_crs(name: str | int | CRSSpec) -> CRSSpec:
    """Parse a CRS name or EPSG code (case-insensitive) into a :class:`CRSSpec`.

    Accepts ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` (with common spellings such as ``GCJ-02``,
    ``CRS84``), ``EPSG:n`` / ``n`` / ``urn:ogc:def:crs:EPSG::n`` / OGC ``.../def/crs/EPSG/0/n``
    for any 2-D geographic or projected CRS in pyproj's EPSG database. EPSG:4326 and EPSG:4490 map
    to ``wgs84`` and ``cgcs2000``. Anything else raises :class:`~geo.errors.UnknownCRS`.

    >>> parse_crs("GCJ-02").name, parse_crs("EPSG:4326").name, parse_crs(4490).name
    ('gcj02', 'wgs84', 'cgcs2000')
    >>> spec = parse_crs("epsg:4544"); spec.name, spec.kind, spec.is_geographic
    ('EPSG:4544', 'epsg', False)

    Labels match exactly: surrounding spaces or control characters are refused, not trimmed.

    >>> try:
    ...     parse_crs("GCJ02 ")
    ... except UnknownCRS as err:
    ...     print(err.code, err.detail)
    unknown_crs {'crs': 'GCJ02 '}
    """
    if isinstance(name, CRSSpec):
        return name
    if isinstance(name, bool) or not isinstance(name, str | int):
        raise _unknown(name)
    if isinstance(name, str) and (name != name.strip() or not name.isprintable()):
        # Labels match exactly, on every face: "GCJ02 " may be the start of a paste of something
        # else, so it is refused (naming the label), never trimmed.
        shown = name[:64].encode("unicode_escape").decode("ascii")
        raise UnknownCRS(
            f"坐标系名称“{shown}”含首尾空格或控制字符：名称须完全一致，不会自动去除。"
            "可用：wgs84、cgcs2000、gcj02、bd09 或 EPSG 代码（如 EPSG:4544）。",
            f"CRS label {shown!r} has surrounding spaces or control characters: labels must match "
            "exactly (wgs84, cgcs2000, gcj02, bd09 or an EPSG code such as EPSG:4544)",
            detail={"crs": shown},
        )
    text = str(name).lower()
    spec = _ALIASES.get(text)
    if spec is not None:
        return spec
    match = _EPSG_RE.match(text)
    if match is None:
        raise _unknown(name)
    return _spec_for_epsg(int(match.group(1)), name)


def _unknown(value: object, reason: str = "") -> UnknownCRS:
    shown = repr(value) if not isinstance(value, str) else value
    zh_reason = "：" + reason if reason else ""
    en_reason = ": " + reason if reason else ""
    return UnknownCRS(
        f"无法识别的坐标系“{shown}”{zh_reason}。"
        "可用：wgs84、cgcs2000、gcj02、bd09 或 EPSG 代码（如 EPSG:4544）。",
        f"unknown coordinate reference system {shown!r}{en_reason}; use wgs84, cgcs2000, gcj02, bd09 "
        "or an EPSG code such as EPSG:4544",
        detail={"crs": shown},
    )


def _spec_for_epsg(code: int, original: object) -> CRSSpec:
    if code == 4326:
        return WGS84
    if code == 4490:
        return CGCS2000
    try:
        crs = _crs_from_epsg(code)
    except CRSError:
        raise _unknown(original, "not in the EPSG database") from None
    usable = (crs.is_geographic or crs.is_projected) and not crs.is_compound and len(crs.axis_info) >= 2
    if not usable:
        raise _unknown(original, "not a 2-D geographic or projected CRS")
    return CRSSpec(f"EPSG:{code}", "epsg", code, bool(crs.is_geographic), crs.name)


@lru_cache(maxsize=256)
def _crs_from_epsg(code: int) -> CRS:
    return CRS.from_epsg(code)


#: What PROJ reports as the definition of a transformer that picks among several operations per point.
_SEVERAL_OPERATIONS = "unavailable until proj_trans is called"


@lru_cache(maxsize=256)
def _transformer(src_epsg: int, dst_epsg: int) -> Transformer:
    """The transformer between two EPSG codes; one chosen operation becomes a plain pipeline.

    A pyproj Transformer rebuilds its PROJ object in each thread that first uses it; built with
    ``from_crs`` that redoes the EPSG database search (~120 ms CPU per thread and transformer),
    built from the pipeline string it is well under a millisecond. The search runs once here; where
    it finds a single operation, its pipeline gives the same numbers. Where PROJ keeps several
    candidates (chosen per point by area of use, e.g. Beijing 1954 → WGS84) the full one is kept.
    """
    found = Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)
    if found.definition == _SEVERAL_OPERATIONS:
        return found
    return Transformer.from_pipeline(found.definition)


def get_transformer(src: str | int | CRSSpec, dst: str | int | CRSSpec) -> Transformer:
    """The cached pyproj Transformer (``always_xy=True``) between two EPSG-backed CRSs.

    GCJ-02 and BD-09 have no EPSG code: use :func:`to_wgs84` / :func:`from_wgs84` for them.
    """
    s, d = parse_crs(src), parse_crs(dst)
    if s.epsg is None or d.epsg is None:
        raise _unknown(s.name if s.epsg is None else d.name, "no pyproj transformer for this system")
    return _transformer(s.epsg, d.epsg)


# --------------------------------------------------------------------------------------------
# Array plumbing
# --------------------------------------------------------------------------------------------


def _as_float_arrays(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Broadcast to float64 arrays (copies); the flag says both inputs were scalars."""
    scalar = np.ndim(x) == 0 and np.ndim(y) == 0
    xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.array(xa, dtype=np.float64), np.array(ya, dtype=np.float64), scalar


def _out(x: NDArray[np.float64], y: NDArray[np.float64], scalar: bool) -> tuple:
    if scalar:
        return float(x), float(y)
    return x, y


def in_gcj02_rect(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_] | bool:
    """True where the GCJ-02 offset applies (inside :data:`GCJ02_RECT`, edges inclusive, finite).

    >>> in_gcj02_rect(104.08, 30.40), in_gcj02_rect(2.35, 48.86), in_gcj02_rect(72.004, 30.0)
    (True, False, True)
    """
    lo, la = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    lon0, lat0, lon1, lat1 = GCJ02_RECT
    inside = (lo >= lon0) & (lo <= lon1) & (la >= lat0) & (la <= lat1)
    return bool(inside) if np.ndim(inside) == 0 else inside


# Kernels run on 1-D float64 arrays (namespace ``_NP``) or on Python floats (``_MATH``: a single
# point costs ~10 µs instead of ~200 µs of numpy call overhead). One formula, two backends.
_NP = SimpleNamespace(sin=np.sin, cos=np.cos, sqrt=np.sqrt, atan2=np.arctan2)
_MATH = SimpleNamespace(sin=math.sin, cos=math.cos, sqrt=math.sqrt, atan2=math.atan2)
#: A kernel coordinate: a Python float (``_MATH``) or a 1-D float64 array (``_NP``). The formulas are
#: written once for both, so the static type stays open.
_Num: TypeAlias = Any
_Kernel: TypeAlias = Callable[[_Num, _Num, SimpleNamespace], tuple[_Num, _Num]]


class _Forward(Protocol):
    """A forward kernel, numpy backend by default."""

    def __call__(self, lon: _Num, lat: _Num, xp: SimpleNamespace = ..., /) -> tuple[_Num, _Num]: ...


def _gcj_delta(lon: _Num, lat: _Num, xp: SimpleNamespace = _NP) -> tuple[_Num, _Num]:
    """The published GCJ-02 offset (degrees) at WGS84 points, without the rectangle test.

    Same polynomial as the reference code; sin(6xπ), sin(xπ), sin(yπ) and cos(lat) come from
    triple-angle / Pythagorean identities (8 instead of 12 transcendental calls; results agree with
    the plain formula to ~1e-15°).
    """
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = xp.sqrt(abs(x))
    s2x = xp.sin(2.0 * x * math.pi)
    s6x = s2x * (3.0 - 4.0 * s2x * s2x)  # sin 3a = 3 sin a − 4 sin³ a
    sx3 = xp.sin(x / 3.0 * math.pi)
    sx = sx3 * (3.0 - 4.0 * sx3 * sx3)
    sy3 = xp.sin(y / 3.0 * math.pi)
    sy = sy3 * (3.0 - 4.0 * sy3 * sy3)
    common = (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    t_lat += (20.0 * sy + 40.0 * sy3) * 2.0 / 3.0
    t_lat += (160.0 * xp.sin(y / 12.0 * math.pi) + 320.0 * xp.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    t_lon += (20.0 * sx + 40.0 * sx3) * 2.0 / 3.0
    t_lon += (150.0 * xp.sin(x / 12.0 * math.pi) + 300.0 * xp.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    sin_lat = xp.sin(lat / 180.0 * math.pi)
    cos_lat = xp.sqrt(1.0 - sin_lat * sin_lat)  # |lat| <= 90 inside the rectangle
    magic = 1.0 - _GCJ_EE * sin_lat * sin_lat
    sqrt_magic = xp.sqrt(magic)
    d_lat = (t_lat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (t_lon * 180.0) / (_GCJ_A / sqrt_magic * cos_lat * math.pi)
    return d_lon, d_lat


def _gcj_forward(lon: _Num, lat: _Num, xp: SimpleNamespace = _NP) -> tuple[_Num, _Num]:
    """Forward GCJ-02 on finite values, identity outside the rectangle."""
    if xp is _MATH:
        if not in_gcj02_rect(lon, lat):
            return lon, lat
        d_lon, d_lat = _gcj_delta(lon, lat, xp)
        return lon + d_lon, lat + d_lat
    inside = np.asarray(in_gcj02_rect(lon, lat))
    if inside.all():
        d_lon, d_lat = _gcj_delta(lon, lat)
        return lon + d_lon, lat + d_lat
    out_lon, out_lat = lon.copy(), lat.copy()
    if inside.any():
        d_lon, d_lat = _gcj_delta(lon[inside], lat[inside])
        out_lon[inside] += d_lon
        out_lat[inside] += d_lat
    return out_lon, out_lat


def _bd_forward(lon: _Num, lat: _Num, xp: SimpleNamespace = _NP) -> tuple[_Num, _Num]:
    z = xp.sqrt(lon * lon + lat * lat) + 0.00002 * xp.sin(lat * _X_PI)
    theta = xp.atan2(lat, lon) + 0.000003 * xp.cos(lon * _X_PI)
    return z * xp.cos(theta) + 0.0065, z * xp.sin(theta) + 0.006


def _bd_inverse_guess(lon: _Num, lat: _Num, xp: SimpleNamespace = _NP) -> tuple[_Num, _Num]:
    """The published one-step BD-09 → GCJ-02 approximation (start point of the iteration)."""
    x = lon - 0.0065
    y = lat - 0.006
    z = xp.sqrt(x * x + y * y) - 0.00002 * xp.sin(y * _X_PI)
    theta = xp.atan2(y, x) - 0.000003 * xp.cos(x * _X_PI)
    return z * xp.cos(theta), z * xp.sin(theta)


def _invert(
    forward: _Forward,
    target_lon: _Num,
    target_lat: _Num,
    guess_lon: _Num,
    guess_lat: _Num,
    xp: SimpleNamespace = _NP,
) -> tuple[_Num, _Num]:
    """Solve ``forward(p) == target`` by fixed-point iteration p ← p − (forward(p) − target).

    The offsets change slowly with position (Jacobian ~1e-2), so the step contracts quickly: 3–5
    rounds. Only unconverged points are iterated; after the bound the last iterate is returned
    (only possible at the discontinuous edge of the GCJ-02 rectangle).
    """
    if xp is _MATH:
        lon, lat = guess_lon, guess_lat
        for _ in range(_INVERSE_MAX_ITER):
            f_lon, f_lat = forward(lon, lat, xp)
            r_lon, r_lat = f_lon - target_lon, f_lat - target_lat
            lon, lat = lon - r_lon, lat - r_lat
            if abs(r_lon) <= _INVERSE_TOL_DEG and abs(r_lat) <= _INVERSE_TOL_DEG:
                break
        return lon, lat
    lon, lat = guess_lon.copy(), guess_lat.copy()
    active = np.arange(lon.size)
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = forward(lon[active], lat[active])
        r_lon = f_lon - target_lon[active]
        r_lat = f_lat - target_lat[active]
        lon[active] -= r_lon
        lat[active] -= r_lat
        still = (np.abs(r_lon) > _INVERSE_TOL_DEG) | (np.abs(r_lat) > _INVERSE_TOL_DEG)
        active = active[still]
        if active.size == 0:
            break
    return lon, lat


def _identity(lon: _Num, lat: _Num, xp: SimpleNamespace) -> tuple[_Num, _Num]:
    return lon, lat


def _apply(fn: _Kernel, lon: ArrayLike, lat: ArrayLike) -> tuple:
    """Run a kernel ``fn(lon, lat, xp)`` over any-shaped input; non-finite values pass through.

    Two scalars take the pure-Python path and return floats; anything else becomes float64 arrays
    of the broadcast shape and the kernel sees the finite points as 1-D arrays.
    """
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        # np.ndim does not narrow ArrayLike: here lon and lat are numbers or 0-d arrays
        x, y = float(lon), float(lat)  # type: ignore[arg-type]
        if math.isfinite(x) and math.isfinite(y):
            rx, ry = fn(x, y, _MATH)
            return float(rx), float(ry)
        return x, y
    xa, ya, _ = _as_float_arrays(lon, lat)
    shape = xa.shape
    fx, fy = xa.reshape(-1), ya.reshape(-1)
    finite = np.isfinite(fx) & np.isfinite(fy)
    if finite.all():
        rx, ry = fn(fx, fy, _NP)
    else:
        rx, ry = fx.copy(), fy.copy()
        if finite.any():
            rx[finite], ry[finite] = fn(fx[finite], fy[finite], _NP)
    return np.asarray(rx).reshape(shape), np.asarray(ry).reshape(shape)


# --------------------------------------------------------------------------------------------
# GCJ-02 and BD-09
# --------------------------------------------------------------------------------------------


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """WGS84 → GCJ-02 (published algorithm; identity outside :data:`GCJ02_RECT`).

    >>> lon, lat = wgs84_to_gcj02(104.08, 30.40)
    >>> round(lon, 6), round(lat, 6)
    (104.082517, 30.397514)
    >>> wgs84_to_gcj02(2.35, 48.86)
    (2.35, 48.86)
    """
    return _apply(_gcj_forward, lon, lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """GCJ-02 → WGS84, exact: iterates until the forward image is within 1e-10° of the input.

    A point outside the rectangle is returned unchanged (GCJ-02 = WGS84 there).

    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(104.08, 30.40))
    >>> abs(lon - 104.08) < 1e-9 and abs(lat - 30.40) < 1e-9
    True
    """

    def kernel(g_lon: _Num, g_lat: _Num, xp: SimpleNamespace) -> tuple[_Num, _Num]:
        return _invert(_gcj_forward, g_lon, g_lat, g_lon, g_lat, xp)

    return _apply(kernel, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """GCJ-02 → BD-09 (published closed formula, applied everywhere)."""
    return _apply(_bd_forward, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """BD-09 → GCJ-02, exact: the one-step formula refined by iteration to 1e-10°."""

    def kernel(b_lon: _Num, b_lat: _Num, xp: SimpleNamespace) -> tuple[_Num, _Num]:
        g_lon, g_lat = _bd_inverse_guess(b_lon, b_lat, xp)
        return _invert(_bd_forward, b_lon, b_lat, g_lon, g_lat, xp)

    return _apply(kernel, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """WGS84 → BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple:
    """BD-09 → WGS84 (via GCJ-02, both steps exact)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --------------------------------------------------------------------------------------------
# Any CRS ↔ WGS84
# --------------------------------------------------------------------------------------------


def to_wgs84(x: ArrayLike, y: ArrayLike, crs: str | int | CRSSpec) -> tuple:
    """Convert coordinates in ``crs`` to WGS84 ``(lon, lat)``; x is easting/longitude.

    CGCS2000 is passed through unchanged (see the module docstring); EPSG codes go through the
    cached pyproj Transformer.

    >>> lon, lat = to_wgs84(*from_wgs84(104.08, 30.40, "EPSG:4544"), "EPSG:4544")
    >>> round(lon, 9), round(lat, 9)
    (104.08, 30.4)
    """
    spec = parse_crs(crs)
    if spec.kind in ("wgs84", "cgcs2000"):
        return _apply(_identity, x, y)
    if spec.kind == "gcj02":
        return gcj02_to_wgs84(x, y)
    if spec.kind == "bd09":
        return bd09_to_wgs84(x, y)
    return _pyproj(_transformer(_epsg(spec), 4326), x, y)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | int | CRSSpec) -> tuple:
    """Convert WGS84 ``(lon, lat)`` to ``crs`` (x, y); the inverse of :func:`to_wgs84`.

    >>> x, y = from_wgs84(104.08, 30.40, "EPSG:4544")
    >>> round(x), round(y)
    (411589, 3364815)
    """
    spec = parse_crs(crs)
    if spec.kind in ("wgs84", "cgcs2000"):
        return _apply(_identity, lon, lat)
    if spec.kind == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if spec.kind == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _pyproj(_transformer(4326, _epsg(spec)), lon, lat)


def _epsg(spec: CRSSpec) -> int:
    if spec.epsg is None:
        raise _unknown(spec.name, "no pyproj transformer for this system")
    return spec.epsg


def _pyproj(transformer: Transformer, x: ArrayLike, y: ArrayLike) -> tuple:
    xa, ya, scalar = _as_float_arrays(x, y)
    rx, ry = transformer.transform(xa, ya)
    return _out(np.asarray(rx, dtype=np.float64), np.asarray(ry, dtype=np.float64), scalar)


def reproject_geometry(
    geometry: BaseGeometry, src: str | int | CRSSpec, dst: str | int | CRSSpec = "wgs84"
) -> BaseGeometry:
    """Reproject a shapely geometry vertex by vertex (through WGS84), keeping 2-D coordinates.

    Straight edges stay straight in the target CRS: fine at grid scale, where edges are short.
    """
    s, d = parse_crs(src), parse_crs(dst)
    if s == d:
        return geometry

    def fn(x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        lon, lat = to_wgs84(x, y, s)
        return from_wgs84(lon, lat, d)

    return shapely.transform(geometry, fn, interleaved=False)


def to_local_metric(geometry: BaseGeometry | ArrayLike) -> BaseGeometry | NDArray[np.object_]:
    """WGS84 geometry → EPSG:4544 metres (x east, y north) for planar work (buffers, snapping).

    Also takes an array of geometries (vectorised by ``shapely.transform``; None stays None).
    The projection's scale error at Xinglong (0.92° from the central meridian) is ~1e-4 in length,
    ~2e-4 in area.
    """
    tr = _transformer(4326, LOCAL_METRIC_EPSG)
    return shapely.transform(geometry, lambda x, y: tr.transform(x, y), interleaved=False)


def from_local_metric(geometry: BaseGeometry | ArrayLike) -> BaseGeometry | NDArray[np.object_]:
    """EPSG:4544 geometry (or array of them) → WGS84 lon/lat; inverse of :func:`to_local_metric`."""
    tr = _transformer(LOCAL_METRIC_EPSG, 4326)
    return shapely.transform(geometry, lambda x, y: tr.transform(x, y), interleaved=False)


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def area_m2(geometry: BaseGeometry) -> float:
    """Geodesic area in m² of a WGS84 (Multi)Polygon, on the WGS84 ellipsoid.

    Rings are normalised first (exterior counter-clockwise, holes clockwise), so holes are
    subtracted and parts of a MultiPolygon add up whatever their stored orientation. Points and
    lines contribute 0; an empty geometry has area 0.

    >>> from shapely.geometry import box
    >>> round(area_m2(box(104.08, 30.40, 104.09, 30.41)) / 1e6, 4)  # km²
    1.0653
    """
    if geometry.is_empty:
        return 0.0
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    area, _perimeter = _GEOD.geometry_area_perimeter(oriented)
    return abs(float(area))


def areas_m2(geometries: ArrayLike) -> NDArray[np.float64]:
    """:func:`area_m2` of many geometries, the same numbers: rings oriented and split out in one
    shapely call each, so only pyproj's ring area runs per ring (no per-geometry Python walk).
    Non-polygonal and empty geometries give 0.

    >>> from shapely.geometry import box
    >>> g = [box(104.08, 30.40, 104.09, 30.41), box(104.0, 30.0, 104.001, 30.001)]
    >>> areas_m2(g).tolist() == [area_m2(x) for x in g]
    True
    """
    geoms = np.asarray(geometries, dtype=object).reshape(-1)
    out = np.zeros(len(geoms))
    poly = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms))
    if not len(poly):
        return out
    parts, part_of = shapely.get_parts(
        shapely.orient_polygons(geoms[poly], exterior_cw=False), return_index=True
    )
    rings, ring_of = shapely.get_rings(parts, return_index=True)  # exterior first, then holes
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    bounds = np.searchsorted(coord_of, np.arange(len(rings) + 1))
    ring_area = np.array(
        [
            _GEOD.polygon_area_perimeter(coords[a:b, 0], coords[a:b, 1])[0]
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]
    )
    # Summed as pyproj's geometry_area_perimeter does: per part exterior then holes, then parts.
    part_area = np.zeros(len(parts))
    for r in range(len(rings)):
        part_area[ring_of[r]] += ring_area[r]
    total = np.zeros(len(poly))
    for q in range(len(parts)):
        total[part_of[q]] += part_area[q]
    out[poly] = np.abs(total)
    return out


def meters_per_degree(lat: ArrayLike) -> tuple:
    """Metres per degree of (longitude, latitude) at ``lat`` on the WGS84 ellipsoid.

    Use it to turn a tolerance in metres into degrees near a point (``tol_deg = m / m_per_deg``).

    >>> m_lon, m_lat = meters_per_degree(30.40)
    >>> round(m_lon), round(m_lat)
    (96097, 110859)
    """
    la = np.asarray(lat, dtype=np.float64)
    phi = np.radians(la)
    w = 1.0 - _WGS84_E2 * np.sin(phi) ** 2
    n = _WGS84_A / np.sqrt(w)  # prime vertical radius
    m = _WGS84_A * (1.0 - _WGS84_E2) / w**1.5  # meridional radius
    per_lon = np.pi / 180.0 * n * np.cos(phi)
    per_lat = np.pi / 180.0 * m
    if la.ndim == 0:
        return float(per_lon), float(per_lat)
    return per_lon, per_lat


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _in_china_bbox(lon: NDArray, lat: NDArray) -> NDArray[np.bool_]:
    lon0, lat0, lon1, lat1 = CHINA_BBOX
    return (lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1)


def _shown(v: float) -> float | str:
    """A JSON-safe value for ``detail`` (NaN and inf become strings)."""
    return v if math.isfinite(v) else repr(v)


def validate_lonlat(lon: ArrayLike, lat: ArrayLike, *, field_prefix: str = "") -> tuple:
    """Check WGS84 lon/lat (scalars or arrays); return them as floats/float64 arrays.

    Raises :class:`~geo.errors.InvalidCoordinates` for non-numeric input (None, strings,
    booleans), non-finite values, |lat| > 90 or |lon| > 180 (the limits themselves are valid), and
    for a pair that looks swapped: the given point is out of range or outside :data:`CHINA_BBOX`
    while the swapped pair lies inside it (so e.g. an Arctic point at lon 20, lat 78 is reported as
    swapped — acceptable for a Chinese service). Arrays of different shapes are refused too.
    For arrays the first bad index is reported in ``detail["index"]`` and the number of bad
    points in ``detail["count"]``; ``field`` names the coordinate at fault.

    >>> validate_lonlat(104.08, 30.40)
    (104.08, 30.4)
    >>> try:
    ...     validate_lonlat(30.40, 104.08)
    ... except InvalidCoordinates as exc:
    ...     print(exc.detail["reason"], "|", exc.zh.split("：")[0])
    swapped | 经纬度顺序似乎颠倒
    """
    # None, strings, booleans and object arrays are refused rather than coerced (None → NaN).
    try:
        numeric = all(np.asarray(v).dtype.kind in "iuf" for v in (lon, lat))
    except ValueError:  # ragged nested lists
        numeric = False
    if not numeric:
        raise InvalidCoordinates(
            "坐标必须是数字（经度, 纬度）。",
            "coordinates must be numbers (lon, lat)",
            field=f"{field_prefix}lon",
            detail={"reason": "not_numeric"},
        )
    try:
        x, y, scalar = _as_float_arrays(lon, lat)
    except ValueError:
        raise InvalidCoordinates(
            f"经度与纬度的个数不一致（{np.shape(lon)} 与 {np.shape(lat)}）。",
            f"longitude and latitude arrays differ in shape ({np.shape(lon)} vs {np.shape(lat)})",
            field=f"{field_prefix}lat",
            detail={"reason": "shape_mismatch"},
        ) from None
    fx, fy = x.reshape(-1), y.reshape(-1)
    with np.errstate(invalid="ignore"):
        bad_lon_finite = ~np.isfinite(fx)
        bad_lat_finite = ~np.isfinite(fy)
        finite = ~(bad_lon_finite | bad_lat_finite)
        lon_range = finite & (np.abs(fx) > 180.0)
        lat_range = finite & (np.abs(fy) > 90.0)
        in_range = finite & ~lon_range & ~lat_range
        swapped = finite & ~(in_range & _in_china_bbox(fx, fy)) & _in_china_bbox(fy, fx)
    bad = bad_lon_finite | bad_lat_finite | lon_range | lat_range | swapped
    if not bad.any():
        return _out(x, y, scalar)

    i = int(np.flatnonzero(bad)[0])
    vx, vy = float(fx[i]), float(fy[i])
    detail: dict = {"lon": _shown(vx), "lat": _shown(vy), "count": int(bad.sum())}
    if not scalar:
        detail["index"] = i
    where_zh = "" if scalar else f"第 {i} 个点："
    where_en = "" if scalar else f"point {i}: "
    f_lon, f_lat = f"{field_prefix}lon", f"{field_prefix}lat"

    if bad_lon_finite[i] or bad_lat_finite[i]:
        detail["reason"] = "non_finite"
        raise InvalidCoordinates(
            f"{where_zh}坐标不是有限数值（经度 {vx}，纬度 {vy}）。",
            f"{where_en}coordinates must be finite numbers (lon={vx}, lat={vy})",
            field=f_lon if bad_lon_finite[i] else f_lat,
            detail=detail,
        )
    if swapped[i]:
        detail["reason"] = "swapped"
        raise InvalidCoordinates(
            f"经纬度顺序似乎颠倒：{where_zh}收到经度 {vx}、纬度 {vy}，而 ({vy}, {vx}) 才落在中国境内。"
            "请按“经度, 纬度”的顺序提供。",
            f"latitude and longitude look swapped: {where_en}got lon={vx}, lat={vy}, but ({vy}, {vx}) "
            "lies in China; send lon, lat in that order",
            field=f_lon,
            detail=detail,
        )
    detail["reason"] = "out_of_range"
    if lon_range[i]:
        raise InvalidCoordinates(
            f"{where_zh}经度 {vx} 超出范围（应在 -180 到 180 之间）。",
            f"{where_en}longitude {vx} is out of range (must be within -180..180)",
            field=f_lon,
            detail=detail,
        )
    raise InvalidCoordinates(
        f"{where_zh}纬度 {vy} 超出范围（应在 -90 到 90 之间）。",
        f"{where_en}latitude {vy} is out of range (must be within -90..90)",
        field=f_lat,
        detail=detail,
    )
