"""Tests for geo.crs: offsets against an independent scalar implementation, exact inverses,
validation messages, CRS parsing, local metric CRS and areas."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box

import geo.crs as crs
from geo.crs import (
    LOCAL_METRIC_EPSG,
    CRSSpec,
    area_m2,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_local_metric,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    get_transformer,
    meters_per_degree,
    parse_crs,
    reproject_geometry,
    to_local_metric,
    to_wgs84,
    validate_lonlat,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import InvalidCoordinates, UnknownCRS

GEOD = Geod(ellps="WGS84")
XINGLONG = (104.08, 30.40)
CITIES = {
    "beijing": (116.397, 39.908),
    "chengdu": (104.066, 30.657),
    "shanghai": (121.4737, 31.2304),
    "urumqi": (87.6168, 43.8256),
    "xinglong": XINGLONG,
}
ROUND_TRIP_MAX_M = 0.01


def dist_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres (pyproj Geod, independent of geo.crs)."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# ---- an independent, straightforward scalar implementation of the published formulas ------------


def ref_transform_lat(x: float, y: float) -> float:
    pi = math.pi
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * pi) + 320 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def ref_transform_lon(x: float, y: float) -> float:
    pi = math.pi
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def ref_out_of_china(lon: float, lat: float) -> bool:
    return lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271


def ref_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    a, ee = 6378245.0, 0.00669342162296594323
    if ref_out_of_china(lon, lat):
        return lon, lat
    dlat = ref_transform_lat(lon - 105.0, lat - 35.0)
    dlon = ref_transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - ee * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def ref_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def one_step_gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The common non-iterative inverse, to show the exact-inverse test can fail."""
    mg_lon, mg_lat = ref_wgs84_to_gcj02(lon, lat)
    return 2 * lon - mg_lon, 2 * lat - mg_lat


def china_grid(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n×n regular grid over China (73–135 E, 18–54 N) as 2-D arrays."""
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, n), np.linspace(18.0, 54.0, n))
    return lon, lat


# ---- forward formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize("city", sorted(CITIES))
def test_forward_matches_reference_scalar_implementation(city):
    lon, lat = CITIES[city]
    g_ref = ref_wgs84_to_gcj02(lon, lat)
    b_ref = ref_gcj02_to_bd09(*g_ref)
    g = wgs84_to_gcj02(lon, lat)
    b = wgs84_to_bd09(lon, lat)
    assert g == pytest.approx(g_ref, abs=1e-12)
    assert b == pytest.approx(b_ref, abs=1e-12)
    assert gcj02_to_bd09(*g_ref) == pytest.approx(b_ref, abs=1e-12)
    assert g != (lon, lat)


def test_forward_arrays_match_reference_on_grid():
    lon, lat = china_grid(40)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    ref = np.array([ref_wgs84_to_gcj02(a, b) for a, b in zip(lon.ravel(), lat.ravel(), strict=True)])
    assert np.max(np.abs(g_lon.ravel() - ref[:, 0])) < 1e-12
    assert np.max(np.abs(g_lat.ravel() - ref[:, 1])) < 1e-12


def test_known_offsets_at_xinglong():
    lon, lat = XINGLONG
    gcj_shift = float(dist_m(lon, lat, *wgs84_to_gcj02(lon, lat)))
    bd_shift = float(dist_m(lon, lat, *wgs84_to_bd09(lon, lat)))
    assert 300 < gcj_shift < 400
    assert 900 < bd_shift < 1000
    assert gcj_shift == pytest.approx(367, abs=1)  # DOMAIN.md
    assert bd_shift == pytest.approx(948, abs=1)


def test_scalars_give_floats_and_arrays_keep_shape():
    out = wgs84_to_gcj02(*XINGLONG)
    assert all(type(v) is float for v in out)
    lon, lat = china_grid(7)
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        a, b = fn(lon, lat)
        assert isinstance(a, np.ndarray) and a.shape == (7, 7) and b.shape == (7, 7)
    a, _ = wgs84_to_gcj02([104.08, 116.397], [30.40, 39.908])
    assert a.shape == (2,)
    # inputs are never modified in place
    lon0 = lon.copy()
    gcj02_to_wgs84(lon, lat)
    assert np.array_equal(lon, lon0)


def test_scalar_and_array_paths_agree():
    """Scalars run in pure Python, arrays in numpy: same formulas, same numbers."""
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(73, 135, 200), rng.uniform(18, 54, 200)
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        arr = np.column_stack(fn(lon, lat))
        one = np.array([fn(a, b) for a, b in zip(lon, lat, strict=True)])
        assert np.abs(arr - one).max() < 1e-12, fn.__name__
    assert to_wgs84(np.float64(104.08), np.float64(30.40), "gcj02") == gcj02_to_wgs84(104.08, 30.40)
    nan_lon, lat_out = gcj02_to_wgs84(float("nan"), 30.40)
    assert math.isnan(nan_lon) and lat_out == 30.40


# ---- exact inverses ---------------------------------------------------------------------------------

china_lon = st.floats(min_value=73.0, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=3.0, max_value=54.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_within_1cm(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert float(dist_m(lon, lat, *back)) <= ROUND_TRIP_MAX_M


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trip_within_1cm(lon, lat):
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert float(dist_m(lon, lat, *back)) <= ROUND_TRIP_MAX_M
    gcj = wgs84_to_gcj02(lon, lat)
    assert float(dist_m(*gcj, *bd09_to_gcj02(*gcj02_to_bd09(*gcj)))) <= ROUND_TRIP_MAX_M


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_inverse_of_given_gcj02_point_maps_forward_onto_it(lon, lat):
    """Start from a GCJ-02 point (as a phone reports it), not from WGS84."""
    w = gcj02_to_wgs84(lon, lat)
    assert float(dist_m(lon, lat, *wgs84_to_gcj02(*w))) <= ROUND_TRIP_MAX_M
    b = bd09_to_wgs84(lon, lat)
    assert float(dist_m(lon, lat, *wgs84_to_bd09(*b))) <= ROUND_TRIP_MAX_M


def test_round_trips_on_10k_grid_as_arrays():
    lon, lat = china_grid(100)
    g = wgs84_to_gcj02(lon, lat)
    back = gcj02_to_wgs84(*g)
    assert back[0].shape == (100, 100)
    assert dist_m(lon, lat, *back).max() <= ROUND_TRIP_MAX_M
    back_bd = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert dist_m(lon, lat, *back_bd).max() <= ROUND_TRIP_MAX_M
    # the one-step inverse found in small packages would fail this bound (by metres somewhere)
    one_step = np.array(
        [one_step_gcj02_to_wgs84(a, b) for a, b in zip(g[0].ravel(), g[1].ravel(), strict=True)]
    )
    assert dist_m(lon.ravel(), lat.ravel(), one_step[:, 0], one_step[:, 1]).max() > 1.0


def test_round_trip_at_xinglong_is_sub_millimetre():
    back = gcj02_to_wgs84(*wgs84_to_gcj02(*XINGLONG))
    assert float(dist_m(*XINGLONG, *back)) < 1e-3
    back = bd09_to_wgs84(*wgs84_to_bd09(*XINGLONG))
    assert float(dist_m(*XINGLONG, *back)) < 1e-3


# ---- outside China, non-finite, rectangle edge ------------------------------------------------------

OUTSIDE = {
    "paris": (2.35, 48.86),
    "tokyo": (139.69, 35.69),
    "sydney": (151.21, -33.87),
    "moscow": (37.62, 55.75),
}


@pytest.mark.parametrize("place", sorted(OUTSIDE))
def test_gcj02_is_identity_outside_china(place):
    lon, lat = OUTSIDE[place]
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_gcj02_rectangle_edges_are_inside():
    assert wgs84_to_gcj02(72.004, 30.0) != (72.004, 30.0)
    assert wgs84_to_gcj02(72.0039, 30.0) == (72.0039, 30.0)
    assert wgs84_to_gcj02(100.0, 55.8271) != (100.0, 55.8271)
    assert wgs84_to_gcj02(100.0, 55.8272) == (100.0, 55.8272)


def test_mixed_array_in_and_out_of_china():
    lon = np.array([104.08, 2.35, 116.397, 139.69])
    lat = np.array([30.40, 48.86, 39.908, 35.69])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert g_lon[1] == 2.35 and g_lat[3] == 35.69
    assert (g_lon[0], g_lat[0]) == pytest.approx(ref_wgs84_to_gcj02(104.08, 30.40), abs=1e-12)
    back = gcj02_to_wgs84(g_lon, g_lat)
    assert dist_m(lon, lat, *back).max() <= ROUND_TRIP_MAX_M


def test_non_finite_values_pass_through_without_warnings():
    lon = np.array([104.08, np.nan, np.inf, 116.397])
    lat = np.array([30.40, 30.0, 30.0, -np.inf])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, bd09_to_wgs84, wgs84_to_bd09):
        a, b = fn(lon, lat)
        assert np.isnan(a[1]) and np.isposinf(a[2]) and np.isneginf(b[3])
        assert np.isfinite(a[0]) and np.isfinite(b[0])


# ---- validation -------------------------------------------------------------------------------------


def raised(lon, lat, **kw) -> InvalidCoordinates:
    with pytest.raises(InvalidCoordinates) as info:
        validate_lonlat(lon, lat, **kw)
    json.dumps(info.value.to_dict(), allow_nan=False, ensure_ascii=False)  # API-safe detail
    return info.value


def test_valid_points_pass_and_come_back_as_floats():
    assert validate_lonlat(*XINGLONG) == XINGLONG
    assert validate_lonlat(2.35, 48.86) == (2.35, 48.86)  # outside China is still a valid point
    assert validate_lonlat(-180, -90) == (-180.0, -90.0)  # the limits themselves are valid
    lon, _ = validate_lonlat([104.08, 116.397], [30.40, 39.908])
    assert lon.dtype == np.float64 and lon.shape == (2,)


@pytest.mark.parametrize(
    ("lon", "lat", "reason", "field"),
    [
        (float("nan"), 30.40, "non_finite", "lon"),
        (104.08, float("inf"), "non_finite", "lat"),
        (181.0, 30.40, "out_of_range", "lon"),
        (104.08, -90.5, "out_of_range", "lat"),
        (-104.08, 95.0, "out_of_range", "lat"),  # swapped (95, -104.08) is not in China either
    ],
)
def test_invalid_points_raise(lon, lat, reason, field):
    exc = raised(lon, lat)
    assert exc.detail["reason"] == reason
    assert exc.field == field
    assert exc.code == "invalid_coordinates"
    assert "顺序似乎颠倒" not in exc.zh


def test_swapped_pair_is_reported_as_swapped():
    exc = raised(30.40, 104.08)
    assert exc.detail["reason"] == "swapped"
    assert "经纬度顺序似乎颠倒" in exc.zh
    assert "latitude and longitude look swapped" in exc.en
    assert "104.08" in exc.en and "30.4" in exc.en


def test_swapped_pair_in_range_but_outside_china_is_reported_as_swapped():
    exc = raised(30.40, 80.0)  # a valid Arctic point, but (80, 30.4) is Tibet
    assert exc.detail["reason"] == "swapped"


def test_array_reports_first_bad_index_and_count():
    lon = np.array([104.08, 116.397, 121.47, 30.40, 500.0])
    lat = np.array([30.40, 39.908, 31.23, 104.08, 30.0])
    exc = raised(lon, lat, field_prefix="points.")
    assert exc.detail["index"] == 3
    assert exc.detail["count"] == 2
    assert exc.detail["reason"] == "swapped"
    assert exc.field == "points.lon"
    assert "第 3 个点" in exc.zh and "point 3" in exc.en


def test_field_prefix_and_non_numeric_input():
    assert raised(104.08, 91.0, field_prefix="location.").field == "location.lat"
    assert raised("abc", 30.0).detail["reason"] == "not_numeric"
    assert raised(None, 30.0).detail["reason"] == "not_numeric"
    assert raised([104.08, None], [30.4, 30.4]).detail["reason"] == "not_numeric"
    assert raised(True, 30.0).detail["reason"] == "not_numeric"
    assert raised([[104.08, 104.09], [104.1]], [30.4, 30.4]).detail["reason"] == "not_numeric"
    assert raised([104.08, 104.09, 104.1], [30.4, 30.4]).detail["reason"] == "shape_mismatch"
    exc = raised(np.array([104.08, np.nan]), np.array([30.4, 30.4]))
    assert exc.detail["lon"] == "nan" and exc.detail["index"] == 1


# ---- CRS parsing and pyproj conversions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        (4326, "wgs84"),
        ("OGC:CRS84", "wgs84"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "wgs84"),
        ("cgcs2000", "cgcs2000"),
        ("CGCS2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("4490", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("epsg:4544", "EPSG:4544"),
        ("urn:ogc:def:crs:EPSG::4544", "EPSG:4544"),
        ("http://www.opengis.net/def/crs/EPSG/0/4544", "EPSG:4544"),
        ("EPSG:32648", "EPSG:32648"),
        ("3857", "EPSG:3857"),
        ("EPSG:4214", "EPSG:4214"),
    ],
)
def test_parse_crs_names(text, name):
    spec = parse_crs(text)
    assert isinstance(spec, CRSSpec)
    assert spec.name == name
    assert parse_crs(spec) is spec


def test_parse_crs_kinds():
    assert parse_crs("EPSG:4544").epsg == 4544 and not parse_crs("EPSG:4544").is_geographic
    assert parse_crs("EPSG:4214").is_geographic
    assert parse_crs("gcj02").epsg is None and parse_crs("bd09").epsg is None
    assert parse_crs("4326") == parse_crs("wgs84")


@pytest.mark.parametrize(
    "value", ["foo", "EPSG:999999", "EPSG:5773", "EPSG:4978", "", "EPSG:", "gcj03", None, True, 1.5]
)
def test_unknown_crs_raises_naming_the_value(value):
    with pytest.raises(UnknownCRS) as info:
        parse_crs(value)
    exc = info.value
    assert exc.code == "unknown_crs"
    shown = value if isinstance(value, str) else repr(value)
    assert shown in exc.zh and shown in exc.en
    assert "坐标系" in exc.zh


@pytest.mark.parametrize(
    "value", ["GCJ02 ", " wgs84", "EPSG:4544 ", "gcj02\t", "bd09\n", "wgs84\x00", "\u3000gcj02"]
)
def test_crs_labels_match_exactly_never_trimmed(value):
    """Issue 14: ``GCJ02 `` was accepted after trimming; a label with surrounding spaces or control
    characters is refused, naming the label (escaped), on every face that parses one."""
    with pytest.raises(UnknownCRS) as info:
        parse_crs(value)
    shown = value.encode("unicode_escape").decode("ascii")
    assert info.value.code == "unknown_crs" and info.value.field == "crs"
    assert shown in info.value.zh and repr(shown) in info.value.en
    assert info.value.detail == {"crs": shown}


def test_epsg_4544_near_xinglong_against_gauss_kruger_series():
    """Independent first terms of the Gauss–Krüger series on the CGCS2000 ellipsoid (≈ 1 m)."""
    lon, lat = XINGLONG
    x, y = from_wgs84(lon, lat, "EPSG:4544")
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    phi, dl = math.radians(lat), math.radians(lon - 105.0)
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    t2 = math.tan(phi) ** 2
    eta2 = e2 / (1 - e2) * math.cos(phi) ** 2
    lc = dl * math.cos(phi)
    meridian = a * (
        (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * phi
        - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * phi)
        + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * phi)
        - (35 * e2**3 / 3072) * math.sin(6 * phi)
    )
    east = 500000 + n * lc * (1 + lc**2 * (1 - t2 + eta2) / 6)
    north = meridian + n * math.tan(phi) * lc**2 / 2 * (1 + lc**2 * (5 - t2 + 9 * eta2) / 12)
    assert x == pytest.approx(east, abs=1.0)
    assert y == pytest.approx(north, abs=1.0)
    assert 400_000 < x < 420_000 and 3_360_000 < y < 3_370_000


def test_epsg_4544_point_converts_back_to_xinglong():
    lon, lat = to_wgs84(411_589.0, 3_364_815.0, "EPSG:4544")
    assert lon == pytest.approx(104.08, abs=1e-5)
    assert lat == pytest.approx(30.40, abs=1e-5)
    lon, lat = to_wgs84(*from_wgs84(*XINGLONG, "epsg:4544"), "4544")
    assert (lon, lat) == pytest.approx(XINGLONG, abs=1e-9)
    arr = to_wgs84(np.array([411_589.0, 411_689.0]), np.array([3_364_815.0, 3_364_815.0]), "EPSG:4544")
    assert arr[0].shape == (2,) and 0 < arr[0][1] - arr[0][0] < 0.002


def test_to_and_from_wgs84_dispatch_by_system():
    lon, lat = XINGLONG
    assert to_wgs84(lon, lat, "wgs84") == (lon, lat)
    assert to_wgs84(lon, lat, "EPSG:4490") == (lon, lat)  # CGCS2000 passed through
    assert from_wgs84(lon, lat, "gcj02") == wgs84_to_gcj02(lon, lat)
    assert from_wgs84(lon, lat, "bd09") == wgs84_to_bd09(lon, lat)
    assert to_wgs84(*from_wgs84(lon, lat, "bd09"), "bd09") == pytest.approx((lon, lat), abs=1e-9)
    utm = from_wgs84(lon, lat, "EPSG:32648")
    assert to_wgs84(*utm, "EPSG:32648") == pytest.approx((lon, lat), abs=1e-9)


def test_transformers_are_cached_and_offsets_have_none():
    assert get_transformer("wgs84", "EPSG:4544") is get_transformer(4326, "4544")
    with pytest.raises(UnknownCRS):
        get_transformer("gcj02", "wgs84")


@pytest.mark.parametrize(
    ("src", "dst"), [(4326, 4544), (4544, 4326), (4326, 32648), (4214, 4326), (4490, 4326)]
)
def test_cached_transformers_match_pyproj_from_crs_in_other_threads(src, dst):
    """The cached transformer (a plain pipeline where PROJ found one operation, the full search
    result where it keeps several, as for Beijing 1954) gives pyproj's own numbers, here and in a
    fresh thread, where pyproj rebuilds its PROJ object."""
    import threading

    from pyproj import Transformer

    rng = np.random.default_rng(7)
    if CRS_IS_GEOGRAPHIC[src]:
        x, y = rng.uniform(70, 140, 500), rng.uniform(0, 56, 500)
    else:
        x, y = rng.uniform(-2e6, 3e6, 500), rng.uniform(0, 9e6, 500)
    expected = Transformer.from_crs(src, dst, always_xy=True).transform(x, y)
    cached = get_transformer(src, dst)
    got: list[tuple] = [cached.transform(x, y)]
    thread = threading.Thread(target=lambda: got.append(cached.transform(x, y)))
    thread.start()
    thread.join()
    assert len(got) == 2
    for result in got:
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(result, expected, strict=True))


CRS_IS_GEOGRAPHIC = {4326: True, 4490: True, 4214: True, 4544: False, 32648: False}


# ---- geometries: local metric, reprojection, area ---------------------------------------------------

# A 0.01° × 0.01° square near Xinglong, and the same square given in GCJ-02.
SQUARE = box(104.08, 30.40, 104.09, 30.41)


def ellipsoid_square_area(lon0, lat0, lon1, lat1) -> float:
    """Area between two parallels and meridians: Δλ ∫ M N cos φ dφ (Simpson), no pyproj."""
    a, e2 = 6378137.0, 0.00669437999014
    dl = math.radians(lon1 - lon0)
    p0, p1 = math.radians(lat0), math.radians(lat1)

    def g(phi):
        w = 1 - e2 * math.sin(phi) ** 2
        return a * (1 - e2) / w**1.5 * a / math.sqrt(w) * math.cos(phi)

    k = 20
    h = (p1 - p0) / k
    s = g(p0) + g(p1) + sum((4 if i % 2 else 2) * g(p0 + i * h) for i in range(1, k))
    return dl * s * h / 3


def test_square_area_matches_independent_formula_and_planar_area():
    geodesic = area_m2(SQUARE)
    assert geodesic == pytest.approx(ellipsoid_square_area(104.08, 30.40, 104.09, 30.41), rel=1e-3)
    assert geodesic == pytest.approx(to_local_metric(SQUARE).area, rel=1e-3)
    assert 1.0e6 < geodesic < 1.1e6


def test_area_orientation_holes_and_multipolygons():
    cw = Polygon(list(SQUARE.exterior.coords)[::-1])
    assert area_m2(cw) == pytest.approx(area_m2(SQUARE), rel=1e-12)
    hole = box(104.083, 30.403, 104.087, 30.407)
    with_hole = Polygon(SQUARE.exterior.coords, [hole.exterior.coords])  # hole oriented like shell
    assert area_m2(with_hole) == pytest.approx(area_m2(SQUARE) - area_m2(hole), rel=1e-9)
    other = box(104.10, 30.40, 104.11, 30.41)
    mixed = MultiPolygon([SQUARE, Polygon(list(other.exterior.coords)[::-1])])
    assert area_m2(mixed) == pytest.approx(area_m2(SQUARE) + area_m2(other), rel=1e-9)
    assert area_m2(Polygon()) == 0.0
    assert area_m2(Point(*XINGLONG)) == 0.0


def test_local_metric_round_trip():
    metric = to_local_metric(SQUARE)
    minx, miny, _, _ = metric.bounds
    assert 400_000 < minx < 420_000 and 3_360_000 < miny < 3_370_000
    back = from_local_metric(metric)
    assert np.abs(np.asarray(back.exterior.coords) - np.asarray(SQUARE.exterior.coords)).max() < 1e-9
    assert LOCAL_METRIC_EPSG == 4544
    many = to_local_metric(np.array([SQUARE, None], dtype=object))
    assert many[1] is None and many[0].equals_exact(metric, 1e-6)


def test_same_square_in_gcj02_reprojects_onto_wgs84():
    square_gcj = reproject_geometry(SQUARE, "wgs84", "gcj02")
    shift = float(dist_m(SQUARE.centroid.x, SQUARE.centroid.y, square_gcj.centroid.x, square_gcj.centroid.y))
    assert 300 < shift < 400
    back = reproject_geometry(square_gcj, "gcj02", "wgs84")
    assert np.abs(np.asarray(back.exterior.coords) - np.asarray(SQUARE.exterior.coords)).max() < 1e-9
    assert reproject_geometry(SQUARE, "wgs84", "EPSG:4326") is SQUARE


def test_meters_per_degree_matches_geodesic_steps():
    m_lon, m_lat = meters_per_degree(30.40)
    step = 1e-3
    assert m_lon * step == pytest.approx(float(dist_m(104.08, 30.40, 104.08 + step, 30.40)), rel=1e-5)
    assert m_lat * step == pytest.approx(
        float(dist_m(104.08, 30.40 - step / 2, 104.08, 30.40 + step / 2)), rel=1e-5
    )
    arr_lon, _ = meters_per_degree(np.array([0.0, 60.0]))
    assert arr_lon[1] == pytest.approx(arr_lon[0] / 2, rel=5e-3)


def test_docstring_examples():
    result = doctest.testmod(crs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


#: Cities across China (Xinglong, Beijing, Shanghai, Guangzhou, Urumqi, Harbin, Lhasa, Haikou) and
#: two points near the rectangle's west and east edges.
INVERSE_POINTS = [
    (104.08, 30.40),
    (116.397, 39.908),
    (121.4737, 31.2304),
    (113.2644, 23.1291),
    (87.6168, 43.8256),
    (126.6425, 45.7567),
    (91.1409, 29.6456),
    (110.35, 20.02),
    (73.5, 39.5),
    (134.5, 48.0),
]


@pytest.mark.parametrize(("lon", "lat"), INVERSE_POINTS)
def test_gcj02_inverse_is_exact_to_1e7_m(lon, lat):
    """The iteration runs to convergence: back to the start within 1e-7 m (3 rounds leave ~1e-4 m)."""
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert float(dist_m(lon, lat, *back)) <= 1e-7


def test_gcj02_inverse_is_exact_to_1e7_m_as_arrays():
    lon, lat = (np.array(c) for c in zip(*INVERSE_POINTS, strict=True))
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert dist_m(lon, lat, *back).max() <= 1e-7
