"""Reading and writing grid layer files (store.files.layerfile), on files written by GDAL in tmp dirs."""

from __future__ import annotations

import socket
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, box

from geo import crs as geo_crs
from geo.elements import Element
from geo.hierarchy import Grid, Level
from store.files.columns import ColumnMapping
from store.files.errors import (
    AmbiguousLayer,
    BadValue,
    LimitExceeded,
    MissingColumn,
    NoCRS,
    ProjectedAsDegrees,
    UnsafeArchive,
    UnsafeXML,
    UnsupportedFormat,
)
from store.files.layerfile import FORMATS, Limits, read_layer, write_layer
from tests.layerfile_fixtures import COMMUNITY, GENERAL_A, X0, Y0, elements, hierarchy

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "boundaries"
SUFFIX = {"geojson": "geojson", "gpkg": "gpkg", "shp": "zip", "kml": "kml", "csv": "csv"}
#: CSV carries no CRS: it is read with crs= like any other CRS-less file.
READ_CRS = {"csv": "wgs84"}
LAYER = {"gpkg": "grids"}
TOL = 1e-9


def same_geometry(a: shapely.Geometry, b: shapely.Geometry, tol: float = TOL) -> bool:
    """Same type and vertex count, every vertex within ``tol`` degrees (ring start and direction free)."""
    return (
        a.geom_type == b.geom_type
        and shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)
        and shapely.hausdorff_distance(a, b) <= tol
    )


def assert_same_grids(expected: list[Grid], got: list[Grid], tol: float = TOL) -> None:
    assert [g.code for g in got] == [g.code for g in expected]
    for e, g in zip(expected, got, strict=True):
        assert (g.name, g.level, g.parent_code, g.community_code, g.kind, g.households) == (
            e.name,
            e.level,
            e.parent_code,
            e.community_code,
            e.kind,
            e.households,
        ), e.code
        assert same_geometry(e.geometry, g.geometry, tol), e.code


def write_gdf(path: Path, rows: list[dict], geoms: list, crs: str | None, **kwargs) -> Path:
    """A layer written by GDAL through pyogrio.write_dataframe."""
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)
    if crs is None:
        with pytest.warns(UserWarning, match="'crs' was not provided"):
            pyogrio.write_dataframe(gdf, path, **kwargs)
    else:
        pyogrio.write_dataframe(gdf, path, **kwargs)
    return path


def grid_rows(grids: list[Grid], parent: str = "parent_code") -> list[dict]:
    """Attribute rows; shapefiles get ``parent_cod``, the name GDAL truncates ``parent_code`` to."""
    return [
        {"code": g.code, "name": g.name, "level": g.level.value, parent: g.parent_code or ""} for g in grids
    ]


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_fixture_hierarchy(tmp_path: Path, fmt: str) -> None:
    grids = hierarchy()
    path = tmp_path / f"grids.{SUFFIX[fmt]}"
    write_layer(grids, path, fmt)
    data = read_layer(path, crs=READ_CRS.get(fmt), layer=LAYER.get(fmt))
    assert_same_grids(grids, data.grids)
    assert data.elements == []
    assert data.source_crs == "wgs84"
    assert any(g.geometry.geom_type == "MultiPolygon" for g in data.grids)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_sample_grids(tmp_path: Path, fmt: str) -> None:
    sample = SAMPLE / "grids.geojson"
    if not sample.exists():
        pytest.skip("data/boundaries/grids.geojson not generated yet")
    grids = read_layer(sample).grids
    assert len(grids) > 100
    path = tmp_path / f"sample.{SUFFIX[fmt]}"
    write_layer(grids, path, fmt)
    assert_same_grids(grids, read_layer(path, crs=READ_CRS.get(fmt), layer=LAYER.get(fmt)).grids)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_elements_beside_grids(tmp_path: Path, fmt: str) -> None:
    els = elements()
    path = tmp_path / f"out.{SUFFIX[fmt]}"
    write_layer(hierarchy(), path, fmt, elements=els)
    if fmt == "gpkg":
        got = read_layer(path, layer="elements").elements
    elif fmt == "shp":
        side = tmp_path / "out_elements.zip"
        got = [
            e
            for fam in ("polygon", "line", "point")
            for e in read_layer(side, layer=f"out_elements_{fam}").elements
        ]
    else:
        got = read_layer(tmp_path / f"out_elements.{SUFFIX[fmt]}", crs=READ_CRS.get(fmt)).elements
    assert sorted(e.id for e in got) == [e.id for e in els]
    for e in els:
        g = next(x for x in got if x.id == e.id)
        assert (g.type, g.name, g.households, g.community_code, g.micro_code) == (
            e.type,
            e.name,
            e.households,
            e.community_code,
            e.micro_code,
        )
        assert same_geometry(e.geometry, g.geometry)


def test_sample_elements_are_read_as_elements() -> None:
    sample = SAMPLE / "elements.geojson"
    if not sample.exists():
        pytest.skip("data/boundaries/elements.geojson not generated yet")
    data = read_layer(sample)
    assert data.grids == [] and len(data.elements) > 100
    assert {e.type for e in data.elements} >= {"小区", "企业"}
    assert all(isinstance(e, Element) and e.id for e in data.elements)


def test_write_replaces_existing_file_and_rejects_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "g.geojson"
    write_layer(hierarchy(), path, "geojson")
    write_layer(hierarchy()[:1], path, "geojson")
    assert [g.code for g in read_layer(path).grids] == [COMMUNITY]
    with pytest.raises(UnsupportedFormat) as err:
        write_layer(hierarchy(), tmp_path / "g.dxf", "dxf")
    assert err.value.code == "unsupported_format"


def test_shapefile_zip_holds_utf8_parts_with_short_field_names(tmp_path: Path) -> None:
    path = tmp_path / "grids.zip"
    write_layer(hierarchy(), path, "shp")
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(f"grids{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg"))
        assert zf.read("grids.cpg").strip() == b"UTF-8"
        dbf = zf.read("grids.dbf")
    assert b"parent\x00" in dbf and b"comm_code" in dbf
    assert "三根松社区".encode() in dbf


def test_csv_has_wkt_column_and_kml_has_names(tmp_path: Path) -> None:
    write_layer(hierarchy(), tmp_path / "g.csv", "csv")
    header = (tmp_path / "g.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split(",") == [
        "code",
        "name",
        "level",
        "kind",
        "parent_code",
        "community_code",
        "households",
        "wkt",
    ]
    write_layer(hierarchy(), tmp_path / "g.kml", "kml")
    assert "<name>三根松社区</name>" in (tmp_path / "g.kml").read_text(encoding="utf-8")


# ---------------------------------------------------------------- CRS


def test_shapefile_in_epsg4544_is_reprojected(tmp_path: Path) -> None:
    grids = hierarchy()
    metric = [geo_crs.reproject_geometry(g.geometry, "wgs84", "EPSG:4544") for g in grids]
    assert shapely.bounds(metric[0])[0] > 400_000  # really metres
    shp = write_gdf(tmp_path / "m.shp", grid_rows(grids, "parent_cod"), metric, "EPSG:4544")
    data = read_layer(shp)
    assert data.source_crs == "EPSG:4544"
    for e, g in zip(grids, data.grids, strict=True):
        assert same_geometry(e.geometry, g.geometry, 1e-8)


def test_file_without_crs_is_refused_unless_crs_given(tmp_path: Path) -> None:
    grids = hierarchy()
    shp = write_gdf(tmp_path / "nocrs.shp", grid_rows(grids, "parent_cod"), [g.geometry for g in grids], None)
    assert not (tmp_path / "nocrs.prj").exists()
    with pytest.raises(NoCRS) as err:
        read_layer(shp)
    assert err.value.code == "no_crs" and "--crs" in err.value.zh
    data = read_layer(shp, crs="cgcs2000")
    assert data.source_crs == "cgcs2000"
    assert same_geometry(data.grids[0].geometry, grids[0].geometry)


def test_projected_metres_as_degrees_refused(tmp_path: Path) -> None:
    grids = hierarchy()
    metric = [geo_crs.reproject_geometry(g.geometry, "wgs84", "EPSG:4544") for g in grids]
    # GeoJSON has no CRS member, so RFC 7946 says WGS84: the metres are read as degrees.
    path = write_gdf(tmp_path / "metres.geojson", grid_rows(grids), metric, None)
    with pytest.raises(ProjectedAsDegrees) as err:
        read_layer(path)
    assert err.value.code == "projected_as_degrees"
    assert "EPSG:4544" in err.value.zh and "EPSG:4544" in err.value.en
    fixed = read_layer(path, crs="EPSG:4544")
    assert same_geometry(fixed.grids[3].geometry, grids[3].geometry, 1e-8)
    assert any("EPSG:4544" in w for w in fixed.warnings)  # file said WGS84, read as asked


def test_gcj02_input_is_shifted_back_to_wgs84(tmp_path: Path) -> None:
    grids = hierarchy()
    shifted = [
        shapely.transform(g.geometry, lambda c: np.column_stack(geo_crs.wgs84_to_gcj02(c[:, 0], c[:, 1])))
        for g in grids
    ]
    assert not same_geometry(shifted[0], grids[0].geometry, 1e-3)  # ~367 m off
    path = write_gdf(tmp_path / "gcj.geojson", grid_rows(grids), shifted, "EPSG:4326", driver="GeoJSON")
    data = read_layer(path, crs="gcj02")
    assert data.source_crs == "gcj02"
    for e, g in zip(grids, data.grids, strict=True):
        assert same_geometry(e.geometry, g.geometry, 1e-9)


# ---------------------------------------------------------------- shapefile encodings


def _chinese_shp(tmp_path: Path, encoding: str) -> Path:
    grids = hierarchy()
    return write_gdf(
        tmp_path / f"enc_{encoding}.shp",
        grid_rows(grids, "parent_cod"),
        [g.geometry for g in grids],
        "EPSG:4326",
        encoding=encoding,
    )


def test_gbk_shapefile_with_cpg(tmp_path: Path) -> None:
    shp = _chinese_shp(tmp_path, "GBK")
    assert shp.with_suffix(".cpg").read_text().strip() == "GBK"
    assert [g.name for g in read_layer(shp).grids] == [g.name for g in hierarchy()]


@pytest.mark.parametrize("cpg", ["936", "CP936", "gb2312"])
def test_gbk_shapefile_with_other_cpg_spellings(tmp_path: Path, cpg: str) -> None:
    shp = _chinese_shp(tmp_path, "GBK")
    shp.with_suffix(".cpg").write_text(cpg)
    assert read_layer(shp).grids[0].name == "三根松社区"


def test_gbk_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = _chinese_shp(tmp_path, "GBK")
    shp.with_suffix(".cpg").unlink()
    data = read_layer(shp)
    assert [g.name for g in data.grids] == [g.name for g in hierarchy()]
    assert any("GB18030" in w for w in data.warnings)


def test_utf8_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = _chinese_shp(tmp_path, "UTF-8")
    shp.with_suffix(".cpg").unlink()
    assert [g.name for g in read_layer(shp).grids] == [g.name for g in hierarchy()]


def test_gbk_shapefile_without_cpg_inside_zip(tmp_path: Path) -> None:
    shp = _chinese_shp(tmp_path, "GBK")
    path = tmp_path / "gbk.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            zf.write(shp.with_suffix(suffix), arcname=f"dir/GBK{suffix.upper()}")
    assert read_layer(path).grids[2].name == "天府科技园专属网格"


def test_gbk_csv_from_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    wkt = shapely.to_wkt(hierarchy()[0].geometry, rounding_precision=-1)
    path.write_bytes(f'编码,名称,层级,wkt\n{COMMUNITY},三根松社区,总网格,"{wkt}"\n'.encode("gbk"))
    data = read_layer(path, crs="wgs84")
    assert (data.grids[0].name, data.grids[0].level) == ("三根松社区", Level.COMMUNITY)
    assert any("GB18030" in w for w in data.warnings)


def test_unknown_crs_name_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.geojson"
    write_layer(hierarchy(), path, "geojson")
    with pytest.raises(Exception) as err:
        read_layer(path, crs="EPSG:99999999")
    assert getattr(err.value, "code", None) == "unknown_crs"


# ---------------------------------------------------------------- columns


def test_chinese_column_names_and_level_values(tmp_path: Path) -> None:
    level_zh = {Level.COMMUNITY: "社区", Level.GENERAL: "一般网格", Level.MICRO: "微网格"}
    grids = hierarchy()
    rows = [
        {
            "编码": g.code,
            "名称": g.name,
            "层级": level_zh[g.level],
            "上级编码": g.parent_code,
            "户数": g.households,
        }
        for g in grids
    ]
    path = write_gdf(
        tmp_path / "zh.geojson", rows, [g.geometry for g in grids], "EPSG:4326", driver="GeoJSON"
    )
    got = read_layer(path).grids
    assert [(g.code, g.name, g.level, g.parent_code, g.households) for g in got] == [
        (g.code, g.name, g.level, g.parent_code, g.households) for g in grids
    ]
    assert got[0].kind == "社区" and got[3].kind == "微网格"


def test_mapping_override_and_extra_columns(tmp_path: Path) -> None:
    grids = hierarchy()
    rows = [
        {
            "GRID_ID": g.code,
            "title": g.name,
            "tier": g.level.value,
            "up": g.parent_code,
            "code": "x",
            "note": "备注",
        }
        for g in grids
    ]
    path = write_gdf(tmp_path / "custom.gpkg", rows, [g.geometry for g in grids], "EPSG:4326")
    mapping = ColumnMapping(code="GRID_ID", name="title", level="tier", parent="up")
    got = read_layer(path, mapping=mapping).grids
    assert [(g.code, g.name, g.parent_code) for g in got] == [(g.code, g.name, g.parent_code) for g in grids]
    assert got[0].extra == {"code": "x", "note": "备注"}
    with pytest.raises(MissingColumn) as err:
        read_layer(path, mapping=ColumnMapping(code="nope", level="tier"))
    assert "nope" in err.value.en and "GRID_ID" in err.value.en


def test_missing_level_column_lists_columns_found(tmp_path: Path) -> None:
    grids = hierarchy()
    rows = [{"code": g.code, "名称": g.name, "备注": ""} for g in grids]
    path = write_gdf(
        tmp_path / "nolevel.geojson", rows, [g.geometry for g in grids], "EPSG:4326", driver="GeoJSON"
    )
    with pytest.raises(MissingColumn) as err:
        read_layer(path)
    assert err.value.code == "missing_column" and err.value.field == "level"
    assert err.value.detail["columns_found"] == ["code", "名称", "备注"]
    assert "名称" in err.value.zh and "备注" in err.value.en


def test_bad_level_value_and_bad_households(tmp_path: Path) -> None:
    g = hierarchy()[0]
    path = write_gdf(
        tmp_path / "bad.geojson",
        [{"code": g.code, "level": "街道"}],
        [g.geometry],
        "EPSG:4326",
        driver="GeoJSON",
    )
    with pytest.raises(BadValue) as err:
        read_layer(path)
    assert "街道" in err.value.zh and err.value.detail["row"] == 1
    path2 = write_gdf(
        tmp_path / "bad2.geojson",
        [{"code": g.code, "level": "community", "households": "很多"}],
        [g.geometry],
        "EPSG:4326",
        driver="GeoJSON",
    )
    with pytest.raises(BadValue):
        read_layer(path2)


def test_point_geometry_is_not_a_grid(tmp_path: Path) -> None:
    path = write_gdf(
        tmp_path / "pt.geojson",
        [{"code": "1", "level": "micro"}],
        [Point(X0, Y0)],
        "EPSG:4326",
        driver="GeoJSON",
    )
    with pytest.raises(BadValue) as err:
        read_layer(path)
    assert err.value.field == "geometry"


def test_invalid_polygon_is_kept_as_read_and_3d_dropped(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(X0, Y0, 5), (X0 + 0.01, Y0 + 0.01, 5), (X0 + 0.01, Y0, 5), (X0, Y0 + 0.01, 5)])
    path = write_gdf(tmp_path / "bow.gpkg", [{"code": "1", "level": "micro"}], [bowtie], "EPSG:4326")
    got = read_layer(path).grids[0].geometry
    assert not got.is_valid and not got.has_z
    assert same_geometry(got, shapely.force_2d(bowtie))


def test_progress_is_reported(tmp_path: Path) -> None:
    n = 2500
    cells = [box(X0 + i * 1e-4, Y0, X0 + (i + 1) * 1e-4, Y0 + 1e-4) for i in range(n)]
    rows = [{"code": f"{COMMUNITY}001{i:03d}", "level": "micro", "parent_code": GENERAL_A} for i in range(n)]
    path = write_gdf(tmp_path / "many.gpkg", rows, cells, "EPSG:4326")
    calls: list[tuple[int, int]] = []
    assert len(read_layer(path, progress=lambda d, t: calls.append((d, t))).grids) == n
    assert calls == [(1000, n), (2000, n), (n, n)]


# ---------------------------------------------------------------- limits


def _limit_name(err: pytest.ExceptionInfo[LimitExceeded]) -> str:
    assert err.value.code == "limit_exceeded"
    name = err.value.detail["limit"]
    assert name in err.value.zh and name in err.value.en
    return name


def test_limits_each_named(tmp_path: Path) -> None:
    grids = hierarchy()
    path = tmp_path / "g.gpkg"
    write_layer(grids, path, "gpkg")
    cases = {
        "max_features": Limits(max_features=6),
        "max_vertices": Limits(max_vertices=30),
        "max_vertices_per_feature": Limits(max_vertices_per_feature=9),
        "max_bytes": Limits(max_bytes=path.stat().st_size - 1),
        "max_string_chars": Limits(max_string_chars=8),
    }
    for name, limits in cases.items():
        with pytest.raises(LimitExceeded) as err:
            read_layer(path, layer="grids", limits=limits)
        assert _limit_name(err) == name
    # At the limit passes: 7 features, MultiPolygon has 10 vertices, longest name 9 characters.
    exact = Limits(max_features=7, max_vertices_per_feature=10, max_string_chars=18)
    assert len(read_layer(path, layer="grids", limits=exact).grids) == 7


def test_vertex_limit_on_one_huge_ring(tmp_path: Path) -> None:
    t = np.linspace(0, 2 * np.pi, 150_000)
    ring = shapely.Polygon(np.column_stack([X0 + 0.001 * np.cos(t), Y0 + 0.001 * np.sin(t)]))
    path = write_gdf(
        tmp_path / "huge.geojson", [{"code": "1", "level": "micro"}], [ring], "EPSG:4326", driver="GeoJSON"
    )
    with pytest.raises(LimitExceeded) as err:
        read_layer(path)
    assert _limit_name(err) == "max_vertices_per_feature"
    # counted while streaming: refused at the first vertex over the limit, not after reading all
    assert (
        err.value.detail["value"] == Limits().max_vertices_per_feature + 1 < shapely.get_num_coordinates(ring)
    )


# ---------------------------------------------------------------- KML safety


@pytest.fixture
def listener():
    """A local TCP port that records whether anything connected (proves no fetch happened)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


PLACEMARK = (
    "<Placemark><name>&x;</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
    "104.08,30.40 104.09,30.40 104.09,30.41 104.08,30.40</coordinates></LinearRing></outerBoundaryIs>"
    "</Polygon></Placemark>"
)


def test_kml_external_entity_refused_without_network(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    for target in (f"http://127.0.0.1:{port}/x", "file:///etc/passwd"):
        path = tmp_path / "ext.kml"
        path.write_text(
            f'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "{target}">]>'
            f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{PLACEMARK}</Document></kml>'
        )
        with pytest.raises(UnsafeXML) as err:
            read_layer(path)
        assert err.value.code == "unsafe_xml"
    assert not _connected(listener)


def test_kml_billion_laughs_refused(tmp_path: Path) -> None:
    lol = '<!ENTITY x0 "lol">' + "".join(f'<!ENTITY x{i} "{f"&x{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "lol.kml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE kml [{lol}<!ENTITY x "&x9;">]>'
        f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{PLACEMARK}</Document></kml>'
    )
    with pytest.raises(UnsafeXML):
        read_layer(path)


def test_kml_network_link_and_kmz_entity_refused(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    path = tmp_path / "link.kml"
    path.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink><Link>'
        f"<href>http://127.0.0.1:{port}/more.kml</href></Link></NetworkLink></Document></kml>"
    )
    with pytest.raises(UnsafeXML):
        read_layer(path)
    kmz = tmp_path / "bad.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr(
            "doc.kml", f'<!DOCTYPE kml [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/">]><kml>{PLACEMARK}</kml>'
        )
    with pytest.raises(UnsafeXML):
        read_layer(kmz)
    assert not _connected(listener)


def test_geojson_linked_crs_refused_without_network(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    path = tmp_path / "link.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "crs": {"type": "link", "properties": '
        f'{{"href": "http://127.0.0.1:{port}/crs.wkt", "type": "ogcwkt"}}}}, "features": []}}'
    )
    with pytest.raises(UnsupportedFormat) as err:
        read_layer(path)
    assert "link" in err.value.en
    escaped = tmp_path / "escaped.geojson"
    escaped.write_text(path.read_text().replace('"crs"', '"\\u0063rs"').replace('"link"', '"\\u006cink"'))
    with pytest.raises(UnsupportedFormat):
        read_layer(escaped)
    assert not _connected(listener)


def test_kmz_round_trip(tmp_path: Path) -> None:
    write_layer(hierarchy(), tmp_path / "g.kml", "kml")
    kmz = tmp_path / "g.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.write(tmp_path / "g.kml", arcname="doc.kml")
        zf.writestr("files/icon.png", b"\x89PNG")
    assert_same_grids(hierarchy(), read_layer(kmz).grids)


# ---------------------------------------------------------------- archives


@pytest.fixture
def shp_parts(tmp_path: Path) -> dict[str, bytes]:
    write_layer(hierarchy(), tmp_path / "grids.zip", "shp")
    with zipfile.ZipFile(tmp_path / "grids.zip") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "name", ["../evil.shp", "a/../../evil.shp", "/abs/evil.shp", "C:/evil.shp", "..\\evil.shp"]
)
def test_zip_path_traversal_refused(tmp_path: Path, shp_parts: dict[str, bytes], name: str) -> None:
    members = dict(shp_parts)
    members[name] = members["grids.shp"]
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafeArchive) as err:
        read_layer(_zip(work / "evil.zip", members))
    assert err.value.code == "unsafe_archive"
    assert not (tmp_path / "evil.shp").exists()


def test_zip_symlink_member_refused(tmp_path: Path, shp_parts: dict[str, bytes]) -> None:
    path = _zip(tmp_path / "link.zip", shp_parts)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("grids.prj.lnk")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive) as err:
        read_layer(path)
    assert "link" in err.value.en


def test_zip_too_many_members_refused(tmp_path: Path, shp_parts: dict[str, bytes]) -> None:
    members = dict(shp_parts) | {f"junk/{i}.txt": b"" for i in range(10)}
    path = _zip(tmp_path / "many.zip", members)
    with pytest.raises(UnsafeArchive) as err:
        read_layer(path, limits=Limits(max_zip_members=12))
    assert "max_zip_members" in err.value.en
    assert len(read_layer(path, limits=Limits(max_zip_members=15)).grids) == 7


def test_zip_declared_size_over_limit_refused(tmp_path: Path, shp_parts: dict[str, bytes]) -> None:
    path = _zip(tmp_path / "big.zip", shp_parts | {"pad.bin": bytes(3 * 2**20)})
    with pytest.raises(UnsafeArchive) as err:
        read_layer(path, limits=Limits(max_unzipped_bytes=2 * 2**20))
    assert "max_unzipped_bytes" in err.value.en


def _lying_zip(path: Path, name: str, payload: bytes, declared: int) -> None:
    """A one-member zip whose headers claim ``declared`` bytes while the data inflates to ``payload``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(payload) + comp.flush()
    crc = zlib.crc32(payload[:declared])
    fname = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), declared, len(fname), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(data),
        declared,
        len(fname),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    cd_offset = len(local) + len(fname) + len(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(fname), cd_offset, 0)
    path.write_bytes(local + fname + data + central + fname + end)


def test_zip_bomb_with_lying_header_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    payload = bytes(64 * 2**20)  # 64 MiB of zeros, ~64 KiB compressed, declared as 1 KiB
    _lying_zip(path, "grids.geojson", payload, 1024)
    assert path.stat().st_size < 200_000
    with pytest.raises(UnsafeArchive) as err:
        read_layer(path, limits=Limits(max_unzipped_bytes=4 * 2**20))
    assert "past its declared size" in err.value.en
    # An honest header for the same data is stopped by the declared-size check instead.
    _lying_zip(path, "grids.geojson", payload, len(payload))
    with pytest.raises(UnsafeArchive) as err:
        read_layer(path, limits=Limits(max_unzipped_bytes=4 * 2**20))
    assert "declared 67108864 > max_unzipped_bytes" in err.value.en


def test_zip_with_several_datasets_asks_for_layer(tmp_path: Path) -> None:
    write_layer(hierarchy(), tmp_path / "a.geojson", "geojson")
    write_layer(hierarchy()[:3], tmp_path / "b.gpkg", "gpkg")
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(tmp_path / "a.geojson", arcname="x/a.geojson")
        zf.write(tmp_path / "b.gpkg", arcname="b.gpkg")
        zf.writestr("__MACOSX/._b.gpkg", b"junk")
    with pytest.raises(AmbiguousLayer) as err:
        read_layer(path)
    assert err.value.detail["choices"] == ["x/a.geojson", "b.gpkg"]
    assert len(read_layer(path, layer="a").grids) == 7
    assert len(read_layer(path, layer="b.gpkg").grids) == 3


def test_gpkg_with_two_layers_asks_for_layer(tmp_path: Path) -> None:
    path = tmp_path / "both.gpkg"
    write_layer(hierarchy(), path, "gpkg", elements=elements())
    with pytest.raises(AmbiguousLayer) as err:
        read_layer(path)
    assert err.value.detail["choices"] == ["grids", "elements"]
    with pytest.raises(AmbiguousLayer):
        read_layer(path, layer="roads")


# ---------------------------------------------------------------- format checks


def test_disguised_vrt_and_unknown_suffix_refused(tmp_path: Path) -> None:
    vrt = tmp_path / "grids.geojson"
    vrt.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    with pytest.raises(UnsupportedFormat):
        read_layer(vrt)
    vrt_csv = tmp_path / "grids.csv"
    vrt_csv.write_text(vrt.read_text())
    with pytest.raises(UnsupportedFormat):
        read_layer(vrt_csv, crs="wgs84")
    kml_vrt = tmp_path / "grids.kml"
    kml_vrt.write_text(vrt.read_text())
    with pytest.raises(UnsafeXML):
        read_layer(kml_vrt)
    other = tmp_path / "grids.dxf"
    other.write_text("0\nSECTION\n")
    with pytest.raises(UnsupportedFormat):
        read_layer(other)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(Exception) as err:
        read_layer(tmp_path / "nope.geojson")
    assert getattr(err.value, "code", None) == "unreadable_file"
