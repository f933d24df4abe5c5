"""Hostile layer files: each failure class of issue 14 is refused before any library can raise or
hang, with an error naming the feature, grid code, field or limit in zh-CN and English (no SQL, no
server path, serialisable as JSON), and an import of it leaves the database byte-identical (both
databases). Every file is generated here; the big ones too."""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from sqlalchemy import Engine

from api.http.errors import status_for
from geo.errors import UnknownCRS, WeiwangError
from store.files.errors import BadValue, LimitExceeded, UnreadableFile, UnsupportedFormat
from store.files.layerfile import Limits, list_layers, read_layer
from store.importing import import_layer
from tests.store.store_fixtures import COMMUNITY, snapshot

CODE = "510116004001001001"
SQUARE = [[104.0, 30.0], [104.001, 30.0], [104.001, 30.001], [104.0, 30.001], [104.0, 30.0]]
LEAKS = ("SELECT", "sqlite3_", "/tmp", "/work", "Traceback", "OGR")


def feature(ring: list, **props: object) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": CODE, "level": "micro", "name": "一号微网格", **props},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def geojson(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def kml(coords: str, encoding: str = "UTF-8", name: str = "一号微网格") -> bytes:
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<Placemark><name>{name}</name><ExtendedData>"
        f'<Data name="code"><value>{CODE}</value></Data><Data name="level"><value>micro</value></Data>'
        "</ExtendedData><Polygon><outerBoundaryIs><LinearRing>"
        f"<coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
        "</Document></kml>"
    )
    return doc.encode("gb18030" if encoding.upper() in ("GBK", "GB2312", "GB18030") else "utf-8")


def grids_frame(n: int = 1, **extra: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [f"{CODE[:-2]}{i:02d}" for i in range(n)], "level": ["micro"] * n, **extra},
        geometry=[box(104 + i * 0.001, 30, 104.001 + i * 0.001, 30.001) for i in range(n)],
        crs=4326,
    )


def ring_wkb(coords: list[tuple[float, float]]) -> bytes:
    """A Polygon WKB with one ring exactly as given (shapely would refuse to build some of these)."""
    body = b"".join(struct.pack("<dd", x, y) for x, y in coords)
    return struct.pack("<BIII", 1, 3, 1, len(coords)) + body


def gpkg_with_wkb(path: Path, wkb: bytes, name: str = "一号") -> Path:
    pyogrio.raw.write(
        path,
        geometry=np.array([wkb], dtype=object),
        field_data=[
            np.array([CODE], dtype=object),
            np.array(["micro"], dtype=object),
            np.array([name], dtype=object),
        ],
        fields=["code", "level", "name"],
        geometry_type="Polygon",
        crs="EPSG:4326",
        driver="GPKG",
        layer="grids",
    )
    return path


def shapefile_zip(folder: Path, name: str, patch_dbf: Callable[[bytearray, int, int], bytes]) -> Path:
    """A zipped 11-grid shapefile whose .dbf ``patch_dbf(dbf, header_len, record_len)`` rewrites."""
    grids_frame(11).to_file(folder / "a.shp")
    dbf = bytearray((folder / "a.dbf").read_bytes())
    _, header_len, record_len = struct.unpack_from("<IHH", dbf, 4)
    out = folder / name
    with zipfile.ZipFile(out, "w") as z:
        for ext in ("shp", "shx", "prj"):
            z.write(folder / f"a.{ext}", f"a.{ext}")
        z.writestr("a.dbf", patch_dbf(dbf, header_len, record_len))
    return out


def _short_dbf(dbf: bytearray, header_len: int, record_len: int) -> bytes:
    out = bytearray(dbf[: header_len + 10 * record_len]) + b"\x1a"
    struct.pack_into("<I", out, 4, 10)
    return bytes(out)


def _huge_dbf(dbf: bytearray, header_len: int, record_len: int) -> bytes:
    struct.pack_into("<I", dbf, 4, 2**31)
    return bytes(dbf)


def recursive_view_gpkg(path: Path) -> Path:
    """A GeoPackage whose only layer is a view that never ends (the original reader spun for ever)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "PRAGMA application_id = 1196444487;"
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT,"
        " organization_coordsys_id INTEGER, definition TEXT, description TEXT);"
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT,"
        " description TEXT DEFAULT '', last_change TEXT, min_x REAL, min_y REAL, max_x REAL, max_y REAL,"
        " srs_id INTEGER);"
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,"
        " srs_id INTEGER, z INTEGER, m INTEGER);"
        "CREATE VIEW v AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r)"
        " SELECT x AS fid, x AS code FROM r;"
        "INSERT INTO gpkg_contents(table_name, data_type, identifier) VALUES ('v', 'attributes', 'v');"
    )
    conn.close()
    return path


#: name → (build the file in a folder, the error class, what the message or field must name)
HOSTILE: dict[str, tuple[Callable[[Path], Path], type[WeiwangError], str]] = {
    "ring not closed": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE[:-1]))),
        BadValue,
        "not closed",
    ),
    "ring of 3 positions": (
        lambda d: _write(d / "a.geojson", geojson(feature([SQUARE[0], SQUARE[1], SQUARE[0]]))),
        BadValue,
        "3 positions",
    ),
    "ring of 1 position": (
        lambda d: _write(d / "a.geojson", geojson(feature([SQUARE[0]]))),
        BadValue,
        "1 positions",
    ),
    "bare Infinity": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE)).replace(b"104.001", b"Infinity", 1)),
        UnreadableFile,
        "Infinity",
    ),
    "bare NaN": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE)).replace(b"104.001", b"NaN", 1)),
        UnreadableFile,
        "NaN",
    ),
    "number overflowing to inf": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE)).replace(b"104.001", b"1e400", 1)),
        BadValue,
        "finite",
    ),
    "coordinate true": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE)).replace(b"104.001", b"true", 1)),
        BadValue,
        "not a number",
    ),
    "NUL in a name": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE, name="一号\u0000微网格"))),
        BadValue,
        "'name'",
    ),
    "boolean households": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE, households=True))),
        BadValue,
        "households",
    ),
    "10,000 properties": (
        lambda d: _write(d / "a.geojson", geojson(feature(SQUARE, **{f"p{i}": i for i in range(10_000)}))),
        LimitExceeded,
        "max_properties",
    ),
    "too many property bytes": (
        lambda d: _write(
            d / "a.geojson", geojson(feature(SQUARE, **{f"p{i}": "长" * 1900 for i in range(40)}))
        ),
        LimitExceeded,
        "max_property_bytes",
    ),
    "garbage SQLite header": (
        lambda d: _write(d / "a.gpkg", b"SQLite format 3\x00" + b"\xff" * 4000),
        UnreadableFile,
        "a.gpkg",
    ),
    "zip named .gpkg": (
        lambda d: _write(d / "a.gpkg", _zip_bytes({"a.geojson": geojson(feature(SQUARE))})),
        UnsupportedFormat,
        "a.gpkg",
    ),
    "self-feeding view": (lambda d: recursive_view_gpkg(d / "a.gpkg"), UnsupportedFormat, "view"),
    "11 shapes, 10 records": (lambda d: shapefile_zip(d, "a.zip", _short_dbf), UnreadableFile, "11 shapes"),
    ".dbf claiming 2^31 records": (
        lambda d: shapefile_zip(d, "a.zip", _huge_dbf),
        UnreadableFile,
        "2147483648",
    ),
    "KML ring not closed": (
        lambda d: _write(d / "a.kml", kml("104,30 104.001,30 104.001,30.001 104,30.001")),
        BadValue,
        "not closed",
    ),
    "KML ring of 3 positions": (
        lambda d: _write(d / "a.kml", kml("104,30 104.001,30 104,30")),
        BadValue,
        "3 positions",
    ),
    "KML coordinate not a number": (
        lambda d: _write(d / "a.kml", kml("104,30 104.001,nan 104.001,30.001 104,30")),
        BadValue,
        "finite",
    ),
    "GeoPackage ring not closed": (
        lambda d: gpkg_with_wkb(
            d / "a.gpkg", ring_wkb([(104, 30), (104.001, 30), (104.001, 30.001), (104, 30.001)])
        ),
        BadValue,
        "not closed",
    ),
    "GeoPackage ring of 3 positions": (
        lambda d: gpkg_with_wkb(d / "a.gpkg", ring_wkb([(104, 30), (104.001, 30), (104, 30)])),
        BadValue,
        "3 positions",
    ),
    "GeoPackage NaN coordinate": (
        lambda d: gpkg_with_wkb(
            d / "a.gpkg", ring_wkb([(104, 30), (math.nan, 30), (104, 30.001), (104, 30)])
        ),
        BadValue,
        "finite",
    ),
    "GeoPackage NUL in a name": (
        lambda d: gpkg_with_wkb(
            d / "a.gpkg", ring_wkb([(104, 30), (104.001, 30), (104, 30.001), (104, 30)]), "a\x01b"
        ),
        BadValue,
        "'name'",
    ),
}
#: Where the message must also name the grid (feature 1, code CODE).
NAMES_GRID = {k for k, (_, cls, _) in HOSTILE.items() if cls is BadValue and "households" not in k}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def assert_named(err: WeiwangError, needle: str) -> None:
    """zh and en present, ``needle`` named, no internals, and the whole error writable as strict JSON."""
    assert err.zh and err.en and any("\u4e00" <= c <= "\u9fff" for c in err.zh)
    body = json.dumps(err.to_dict(), ensure_ascii=False, allow_nan=False)
    assert needle in body, body
    for leak in LEAKS:
        assert leak not in body, body
    assert 400 <= status_for(err) < 500


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_refused_by_name(tmp_path: Path, case: str) -> None:
    build, cls, needle = HOSTILE[case]
    path = build(tmp_path)
    started = time.monotonic()
    with pytest.raises(cls) as err:
        read_layer(path)
    assert time.monotonic() - started < 5
    assert_named(err.value, needle)
    if case in NAMES_GRID:
        assert "feature 1" in err.value.en and "第 1 个要素" in err.value.zh
        assert CODE in err.value.en and err.value.detail["feature"] == 1


@pytest.mark.serial
def test_the_recursive_view_does_not_hang_the_layer_listing(tmp_path: Path) -> None:
    path = recursive_view_gpkg(tmp_path / "v.gpkg")
    started = time.monotonic()
    with pytest.raises(UnsupportedFormat):
        list_layers(path)
    with pytest.raises(UnsupportedFormat):
        read_layer(path, layer="v")
    assert time.monotonic() - started < 2


def test_gbk_kml_is_decoded_by_us(tmp_path: Path) -> None:
    path = _write(tmp_path / "gbk.kml", kml("104,30 104.001,30 104.001,30.001 104,30", encoding="GBK"))
    assert "网格".encode("gb18030") in path.read_bytes()
    grids = read_layer(path).grids
    assert [(g.code, g.name) for g in grids] == [(CODE, "一号微网格")]
    assert path.read_bytes().startswith(
        b'<?xml version="1.0" encoding="GBK"?>'
    )  # the upload is not rewritten


def test_a_kml_declaring_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.kml", kml("104,30 104.001,30 104.001,30.001 104,30", encoding="x-nonesuch"))
    with pytest.raises(WeiwangError) as err:
        read_layer(path)
    assert_named(err.value, "x-nonesuch")


@pytest.mark.parametrize("label", ["GCJ02 ", " wgs84", "wgs84\x00", "gcj02\n"])
def test_crs_labels_match_exactly(tmp_path: Path, label: str) -> None:
    path = _write(tmp_path / "a.geojson", geojson(feature(SQUARE)))
    with pytest.raises(UnknownCRS) as err:
        read_layer(path, crs=label)
    assert err.value.field == "crs"
    assert_named(err.value, "crs")
    assert read_layer(path, crs=label.strip(" \x00\n")).grids[0].code == CODE


def test_equal_shape_and_record_counts_still_read(tmp_path: Path) -> None:
    path = shapefile_zip(tmp_path, "ok.zip", lambda dbf, h, r: bytes(dbf))
    assert len(read_layer(path).grids) == 11


def test_a_feature_at_the_limits_passes_and_one_over_is_refused(tmp_path: Path) -> None:
    limits = Limits(max_properties=5, max_property_bytes=100)
    ok = _write(tmp_path / "ok.geojson", geojson(feature(SQUARE, a="x" * 40)))
    assert read_layer(ok, limits=limits).grids
    over = _write(tmp_path / "over.geojson", geojson(feature(SQUARE, a="x" * 40, b="y" * 40)))
    with pytest.raises(LimitExceeded) as err:
        read_layer(over, limits=limits)
    assert err.value.field in ("max_properties", "max_property_bytes")


def _write_big_ring(path: Path, n: int) -> None:
    """One polygon of ``n`` vertices, written in chunks (the test itself stays small)."""
    with open(path, "w") as fh:
        fh.write(
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"' + CODE + '",'
        )
        fh.write('"level":"micro"},"geometry":{"type":"Polygon","coordinates":[[')
        step = 2 * math.pi / n
        for start in range(0, n, 50_000):
            fh.write(
                ",".join(
                    f"[{104 + 0.01 * math.cos(i * step):.9f},{30 + 0.01 * math.sin(i * step):.9f}]"
                    for i in range(start, min(n, start + 50_000))
                )
                + ","
            )
        fh.write(f"[{104.01:.9f},{30:.9f}]]]}}}}]}}")


def _write_big_kml(path: Path, n: int) -> None:
    """One KML Placemark whose ring has ``n`` vertices, written in chunks."""
    head, tail = kml("@").decode().split("@")
    step = 2 * math.pi / n
    with open(path, "w") as fh:
        fh.write(head)
        for start in range(0, n, 50_000):
            fh.write(
                " ".join(
                    f"{104 + 0.01 * math.cos(i * step):.9f},{30 + 0.01 * math.sin(i * step):.9f}"
                    for i in range(start, min(n, start + 50_000))
                )
                + " "
            )
        fh.write(f"104.01,30{tail}")


@pytest.mark.parametrize("fmt", ["geojson", "kml"])
def test_a_million_vertex_file_is_refused_while_streaming(tmp_path: Path, fmt: str) -> None:
    """Refused in seconds with little memory, at the first vertex over the limit. Measured in a
    fresh process (peak RSS above the process after imports)."""
    path = tmp_path / f"big.{fmt}"
    (_write_big_ring if fmt == "geojson" else _write_big_kml)(path, 1_000_000)
    assert path.stat().st_size > 25 * 2**20
    probe = (
        "import resource, sys, time\n"
        "from store.files.layerfile import read_layer\n"
        "from store.files.errors import LimitExceeded\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    read_layer(sys.argv[1])\n"
        "except LimitExceeded as e:\n"
        "    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
        "    print(e.field, time.monotonic() - t, grown / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out[0] == "max_vertices_per_feature", out
    seconds, grown_mb = float(out[1]), float(out[2])
    assert seconds < 5, seconds
    assert grown_mb < 64, grown_mb


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_refused_import_leaves_the_database_byte_identical(
    seeded_engine: Engine, tmp_path: Path, case: str
) -> None:
    build, cls, _ = HOSTILE[case]
    path = build(tmp_path)
    before = snapshot(seeded_engine)
    with pytest.raises(cls):
        import_layer(seeded_engine, path, COMMUNITY, commit=True)
    assert snapshot(seeded_engine) == before


# --- property-based: random structures and numbers never escape as anything but a domain error ---

_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 180.0, 90.0, 1e8, 1e9]),
    st.booleans(),
)
_scalars = st.one_of(st.none(), _numbers, st.text(max_size=30))
_positions = st.lists(_numbers, min_size=0, max_size=5)
_rings = st.lists(_positions, min_size=0, max_size=6)
_json = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
_geometry = st.one_of(
    st.none(),
    _json,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["Polygon", "MultiPolygon", "Point", "LineString", "GeometryCollection", "Nope"]
            ),
            "coordinates": st.one_of(st.lists(_rings, max_size=3), _rings, _positions, _json),
        }
    ),
)
_props = st.dictionaries(
    st.sampled_from(["code", "level", "name", "households", "parent_code", "type", "x"])
    | st.text(max_size=6),
    st.one_of(_scalars, st.sampled_from(["micro", "general", "community", CODE, "小区"])),
    max_size=6,
)
_feature = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Feature", "Feature", "Feature", "X"]),
        "properties": _props | st.none(),
        "geometry": _geometry,
    }
)


def _reads_or_refuses(path: Path) -> None:
    try:
        read_layer(path, limits=Limits(max_vertices=5_000))
    except WeiwangError as err:
        assert 400 <= status_for(err) < 500
        json.dumps(err.to_dict(), allow_nan=False)


@settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    features=st.lists(_feature, max_size=4),
    raw_tokens=st.lists(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "true"]), max_size=2),
)
def test_fuzz_geojson_reader(
    tmp_path_factory: pytest.TempPathFactory, features: list, raw_tokens: list
) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    for token in raw_tokens:  # tokens json.dumps would never write
        text = text.replace("0.0", token, 1)
    path = tmp_path_factory.mktemp("fuzz") / "f.geojson"
    path.write_text(text, encoding="utf-8")
    _reads_or_refuses(path)


@settings(max_examples=100, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    coords=st.lists(
        st.tuples(_numbers, _numbers).map(lambda t: f"{t[0]!s},{t[1]!s}")
        | st.text(alphabet="0123456789.,-eE naif", max_size=12),
        max_size=8,
    ),
    name=st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="<&"), max_size=10),
    encoding=st.sampled_from(["UTF-8", "GBK"]),
)
def test_fuzz_kml_reader(
    tmp_path_factory: pytest.TempPathFactory, coords: list, name: str, encoding: str
) -> None:
    try:
        data = kml(" ".join(coords), encoding=encoding, name=name)
    except UnicodeEncodeError:
        return
    path = tmp_path_factory.mktemp("fuzz") / "f.kml"
    path.write_bytes(data)
    _reads_or_refuses(path)


@settings(max_examples=100, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), keep=st.integers(min_value=0, max_value=4096))
def test_fuzz_geopackage_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, keep: int) -> None:
    """A real GeoPackage with bytes overwritten at a random place."""
    folder = tmp_path_factory.mktemp("fuzz")
    base = folder / "base.gpkg"
    if not base.exists():
        grids_frame(2).to_file(base, layer="grids")
    raw = bytearray(base.read_bytes())
    at = keep % max(1, len(raw))
    raw[at : at + len(data)] = data
    path = folder / "f.gpkg"
    path.write_bytes(bytes(raw))
    _reads_or_refuses(path)


@settings(max_examples=100, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(["shp", "shx", "dbf"]),
    data=st.binary(max_size=64),
    at=st.integers(min_value=0, max_value=2000),
    cut=st.booleans(),
)
def test_fuzz_shapefile_parts(
    tmp_path_factory: pytest.TempPathFactory, which: str, data: bytes, at: int, cut: bool
) -> None:
    """A real zipped shapefile with one part overwritten (and maybe truncated) at a random place."""
    folder = tmp_path_factory.mktemp("fuzz")
    grids_frame(3).to_file(folder / "a.shp")
    parts = {ext: (folder / f"a.{ext}").read_bytes() for ext in ("shp", "shx", "dbf", "prj")}
    raw = bytearray(parts[which])
    at %= len(raw)
    raw[at : at + len(data)] = data
    parts[which] = bytes(raw[:at] if cut else raw)
    path = folder / "f.zip"
    with zipfile.ZipFile(path, "w") as z:
        for ext, content in parts.items():
            z.writestr(f"a.{ext}", content)
    _reads_or_refuses(path)
