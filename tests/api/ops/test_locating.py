"""Bulk locating (``api.ops.locating.locate_file``): CSV, Parquet and GeoPackage in and out, bad rows
answered with ``error``, answers equal to shapely ``covers`` on a random sample, ``layer_version``
from the published version, the output written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from api.ops.locating import RESULT_COLUMNS, file_layer, locate_file, locate_table
from api.ops.service import open_service
from api.settings import Settings
from geo.crs import from_wgs84
from geo.errors import WeiwangError
from store.files.errors import UnsupportedFormat
from store.inforce import LayerView

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "boundaries"


@pytest.fixture(scope="module")
def file_view() -> LayerView:
    return file_layer(SAMPLE, 30.0)


@pytest.fixture
def published(seeded_url: str) -> Iterator[LayerView]:
    """The published version of the seeded database, as ``weiwang locate`` reads it."""
    with open_service(Settings(database_url=seeded_url), files=False) as service:
        yield service.layers.current()


def random_points(view: LayerView, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Points over the micro-grids' bounding box, plus vertices of grids (points on boundaries)."""
    geoms = [g.geometry for g in view.hierarchy.micro]
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(seed)
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    verts = shapely.get_coordinates(shapely.boundary(geoms[:10]))[::3]
    return np.concatenate([lon, verts[:, 0]]), np.concatenate([lat, verts[:, 1]])


def assert_matches_covers(view: LayerView, lon: np.ndarray, lat: np.ndarray, res: pd.DataFrame) -> int:
    """Each point covered by exactly one micro-grid is answered that grid; a point covered by several
    (on a shared edge) one of them; a point covered by none is outside or snapped. Returns the
    number of points compared against exactly one grid."""
    micro = view.hierarchy.micro
    polys = np.array([g.geometry for g in micro], dtype=object)
    codes = np.array([g.code for g in micro], dtype=object)
    shapely.prepare(polys)
    exact = 0
    for i in range(len(lon)):
        covering = set(codes[shapely.covers(polys, shapely.Point(lon[i], lat[i]))])
        got = res["micro_code"].iloc[i]
        if len(covering) == 1:
            assert got == next(iter(covering)), i
            exact += 1
        elif covering:
            assert got in covering and bool(res["on_boundary"].iloc[i]), i
        else:
            assert got is None or bool(res["snapped"].iloc[i]), i
    return exact


def test_csv_round_trip_with_bad_rows(published: LayerView, tmp_path: Path) -> None:
    lon, lat = random_points(published, 3000)
    n = len(lon)
    text_lon = [repr(float(v)) for v in lon]
    text_lat = [repr(float(v)) for v in lat]
    text_lon[1], text_lat[2], text_lon[3] = "abc", "", "nan"
    text_lon[4], text_lat[4] = "30.41", "104.08"  # swapped: the latitude is out of range
    text_lon[5], text_lat[5] = "30.41", "80.0"  # swapped, both in range
    ids = [f"{i:06d}" for i in range(n)]
    pd.DataFrame({"id": ids, "备注": ["a,b"] * n, "经度": text_lon, "纬度": text_lat}).to_csv(
        tmp_path / "in.csv", index=False, encoding="utf-8-sig"
    )
    written = locate_file(published, tmp_path / "in.csv", tmp_path / "out.csv")
    assert written == n
    assert not list(tmp_path.glob("*.part*"))
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "备注", "经度", "纬度", *RESULT_COLUMNS]
    assert out["id"].tolist() == ids and out["经度"].tolist() == text_lon  # input text unchanged
    assert (out["备注"] == "a,b").all()
    for i in (1, 2, 3):
        assert "non-finite" in out.loc[i, "error"] and out.loc[i, "micro_code"] == ""
    assert "out of range" in out.loc[4, "error"]
    assert "swapped" in out.loc[5, "error"]
    good = out.drop(index=range(6))
    assert (good["error"] == "").all()
    located = good[good["community_code"] != ""]
    assert set(located["layer_version"]) == {"1"}
    res = pd.read_csv(tmp_path / "out.csv", dtype={"micro_code": object}).drop(index=range(6))
    res["micro_code"] = res["micro_code"].where(res["micro_code"].notna(), None)
    sample = np.r_[6:n:11, n - 60 : n]  # a random sample plus the boundary vertices
    exact = assert_matches_covers(published, lon[sample], lat[sample], res.loc[sample].reset_index(drop=True))
    assert exact > 200


def test_parquet_round_trip_and_gcj02(published: LayerView, tmp_path: Path) -> None:
    lon, lat = random_points(published, 2000, seed=5)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    pd.DataFrame({"n": np.arange(len(lon)), "lng": glon, "lat": glat}).to_parquet(tmp_path / "in.parquet")
    locate_file(published, tmp_path / "in.parquet", tmp_path / "out.parquet", crs="gcj02")
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.field("n").type == "int64" and out.schema.field("on_boundary").type == "bool"
    assert out.schema.names == ["n", "lng", "lat", *RESULT_COLUMNS]
    res = out.to_pandas()
    np.testing.assert_allclose(res["wgs84_lon"], lon, atol=1e-6)
    direct = locate_table(published, lon, lat, "wgs84").to_pandas()
    same = ~(direct["on_boundary"].astype(bool) | res["on_boundary"].astype(bool))
    assert (res["micro_code"][same].fillna("") == direct["micro_code"][same].fillna("")).mean() > 0.999
    assert res["layer_version"].dropna().eq(1).all() and res["layer_version"].notna().sum() > 1000


def test_gpkg_in_and_out(file_view: LayerView, tmp_path: Path) -> None:
    lon, lat = random_points(file_view, 500, seed=9)
    geom = shapely.points(lon, lat)
    geom[7] = shapely.LineString([(lon[7], lat[7]), (lon[8], lat[8])])  # not a point: refused per row
    pyogrio.write_dataframe(
        __import__("geopandas").GeoDataFrame({"id": np.arange(len(lon))}, geometry=geom, crs="EPSG:4326"),
        tmp_path / "in.gpkg",
    )
    assert locate_file(file_view, tmp_path / "in.gpkg", tmp_path / "out.gpkg") == len(lon)
    out = pyogrio.read_dataframe(tmp_path / "out.gpkg")
    assert list(out.columns) == ["id", *RESULT_COLUMNS, "geometry"]
    assert out.crs.to_epsg() == 4326
    assert out.loc[7, "error"] and out.geometry[7] is None
    ok = out.drop(index=7)
    np.testing.assert_allclose(ok.geometry.x, np.delete(lon, 7), atol=1e-7)
    assert ok["layer_version"].isna().all()  # a file has no version
    res = ok.reset_index(drop=True).astype(object).where(ok.reset_index(drop=True).notna(), None)
    assert assert_matches_covers(file_view, np.delete(lon, 7), np.delete(lat, 7), res) > 100
    # and a GeoPackage read back into a CSV
    locate_file(file_view, tmp_path / "out.gpkg", tmp_path / "again.csv")
    again = pd.read_csv(tmp_path / "again.csv", dtype={"micro_code": str})
    assert again["micro_code"].fillna("").tolist() == out["micro_code"].fillna("").tolist()


def test_unknown_suffix_and_failed_write_leave_nothing(file_view: LayerView, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("lon,lat\n104.08,30.41\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormat):
        locate_file(file_view, tmp_path / "in.csv", tmp_path / "out.xlsx")
    (tmp_path / "bad.csv").write_text("x1,y1\n104.08,30.41\n", encoding="utf-8")
    for out in ("out.csv", "out.parquet", "out.gpkg"):
        with pytest.raises(WeiwangError, match="longitude"):
            locate_file(file_view, tmp_path / "bad.csv", tmp_path / out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "in.csv"]


def test_header_only_file_gives_empty_outputs(file_view: LayerView, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,lon,lat\n", encoding="utf-8")
    for out in ("out.csv", "out.parquet", "out.gpkg"):
        assert locate_file(file_view, tmp_path / "in.csv", tmp_path / out) == 0
    assert pq.read_table(tmp_path / "out.parquet").schema.names == ["id", "lon", "lat", *RESULT_COLUMNS]
    assert len(pyogrio.read_dataframe(tmp_path / "out.gpkg")) == 0
