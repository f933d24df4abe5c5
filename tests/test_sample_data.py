"""Checks of the synthetic sample data in ``data/boundaries`` (grids, elements, people, party orgs).

The files are read with json/csv/shapely only; pyproj reproduces the numbering rule in EPSG:4544.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"
FILES = ("grids.geojson", "elements.geojson", "people.csv", "party_orgs.json")
SGS, WY = "510116004001", "510116004002"
EXPECTED = {SGS: (6, 83, "社区", "一般网格"), WY: (9, 21, "村", "专属网格")}
ROW_BAND_M = {"general": 500.0, "micro": 150.0}  # as documented in data/boundaries/README.md
AREA_EPS = 1e-14  # deg², about 1e-4 m²


@cache
def collection(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@cache
def grids() -> dict[str, dict[str, Any]]:
    out = {}
    for f in collection("grids.geojson")["features"]:
        p = dict(f["properties"])
        p["geom"] = shape(f["geometry"])
        out[p["code"]] = p
    return out


@cache
def elements() -> list[dict[str, Any]]:
    return [
        dict(f["properties"], geom=shape(f["geometry"])) for f in collection("elements.geojson")["features"]
    ]


@cache
def people() -> list[dict[str, str]]:
    with (DATA / "people.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def orgs() -> list[dict[str, Any]]:
    return json.loads((DATA / "party_orgs.json").read_text(encoding="utf-8"))


def children(code: str) -> list[dict[str, Any]]:
    return sorted((g for g in grids().values() if g["parent_code"] == code), key=lambda g: g["code"])


def of_level(level: str, community: str | None = None) -> list[dict[str, Any]]:
    return [
        g
        for g in grids().values()
        if g["level"] == level and (community is None or g["community_code"] == community)
    ]


# ---------------------------------------------------------------------------------------------------


def test_collections_say_synthetic() -> None:
    for name in ("grids.geojson", "elements.geojson"):
        fc = collection(name)
        assert fc["type"] == "FeatureCollection"
        assert fc["synthetic"] is True
        assert "SYNTHETIC" in fc["note"]
    assert "SYNTHETIC" in (DATA / "README.md").read_text(encoding="utf-8")


def test_property_keys_and_feature_order() -> None:
    keys = {"code", "name", "level", "kind", "parent_code", "community_code", "households"}
    feats = collection("grids.geojson")["features"]
    assert all(set(f["properties"]) == keys for f in feats)
    codes = [f["properties"]["code"] for f in feats]
    assert codes == sorted(codes)
    ekeys = {"id", "type", "name", "households", "community_code", "micro_code"}
    efeats = collection("elements.geojson")["features"]
    assert all(set(f["properties"]) == ekeys for f in efeats)
    ids = [f["properties"]["id"] for f in efeats]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("community", [SGS, WY])
def test_counts_and_kinds(community: str) -> None:
    n_gen, n_micro, ckind, gkind = EXPECTED[community]
    comm = of_level("community", community)
    assert len(comm) == 1 and comm[0]["kind"] == ckind and comm[0]["parent_code"] is None
    gens = of_level("general", community)
    assert len(gens) == n_gen and {g["kind"] for g in gens} == {gkind}
    micros = of_level("micro", community)
    assert len(micros) == n_micro and {m["kind"] for m in micros} == {"微网格"}


def test_codes_unique_hierarchical() -> None:
    gs = collection("grids.geojson")["features"]
    assert len({f["properties"]["code"] for f in gs}) == len(gs)
    length = {"community": 12, "general": 15, "micro": 18}
    for code, g in grids().items():
        assert re.fullmatch(r"\d+", code) and len(code) == length[g["level"]], code
        assert code.startswith(g["community_code"])
        if g["level"] == "community":
            assert code == g["community_code"]
        else:
            parent = grids()[g["parent_code"]]
            assert code[:-3] == parent["code"] and code[-3:] != "000"
            assert {"general": "community", "micro": "general"}[g["level"]] == parent["level"]
    assert {g["code"] for g in of_level("community")} == {SGS, WY}


def test_geometries_valid_polygons_ccw() -> None:
    for g in grids().values():
        geom = g["geom"]
        assert geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_empty
        assert shapely.is_valid(geom), g["code"]
        for poly in shapely.get_parts(geom):
            assert not poly.interiors, g["code"]
            assert poly.exterior.is_ccw, g["code"]
        xy = shapely.get_coordinates(geom)
        assert (xy[:, 0] > 104.0).all() and (xy[:, 0] < 104.2).all()
        assert (xy[:, 1] > 30.35).all() and (xy[:, 1] < 30.45).all()


@pytest.mark.parametrize("level", ["general", "community"])
def test_children_cover_parent_exactly(level: str) -> None:
    for parent in of_level(level):
        kids = [k["geom"] for k in children(parent["code"])]
        assert shapely.coverage_is_valid(kids), parent["code"]
        union = shapely.coverage_union_all(kids)
        assert shapely.symmetric_difference(union, parent["geom"]).area < AREA_EPS, parent["code"]


def test_micro_grids_of_a_community_form_a_coverage() -> None:
    for community in (SGS, WY):
        micros = [m["geom"] for m in of_level("micro", community)]
        assert shapely.coverage_is_valid(micros)
        union = shapely.coverage_union_all(micros)
        assert shapely.symmetric_difference(union, grids()[community]["geom"]).area < AREA_EPS


def test_community_and_village_touch_without_overlap() -> None:
    a, b = grids()[SGS]["geom"], grids()[WY]["geom"]
    assert shapely.intersection(a, b).area < AREA_EPS
    assert shapely.coverage_is_valid([a, b])
    shared = shapely.intersection(a.boundary, b.boundary)
    assert shared.length > 0.01  # about 1.7 km of common border


def test_households() -> None:
    per_micro: Counter[str] = Counter()
    for e in elements():
        if e["micro_code"]:
            per_micro[e["micro_code"]] += e["households"]
    for m in of_level("micro"):
        assert 30 <= m["households"] <= 100, (m["code"], m["households"])
        assert m["households"] == per_micro[m["code"]], m["code"]
    for level in ("general", "community"):
        for g in of_level(level):
            assert g["households"] == sum(k["households"] for k in children(g["code"]))


def test_elements_lie_in_their_grids() -> None:
    micro = {m["code"]: m["geom"] for m in of_level("micro")}
    cover = shapely.union_all([grids()[SGS]["geom"], grids()[WY]["geom"]]).buffer(1e-7)
    linear = {"绿道", "主干道", "次干道", "水系"}
    for e in elements():
        g = e["geom"]
        assert shapely.is_valid(g) and not g.is_empty, e["id"]
        if e["type"] in linear:
            assert e["micro_code"] is None and g.covered_by(cover), e["id"]
            assert g.geom_type in ("LineString", "MultiLineString", "Polygon"), e["id"]
            continue
        home = micro[e["micro_code"]]
        assert grids()[e["micro_code"]]["community_code"] == e["community_code"]
        if g.geom_type == "Point":
            assert home.contains(g) and home.boundary.distance(g) > 1e-6, e["id"]
        else:
            assert g.geom_type in ("Polygon", "MultiPolygon"), e["id"]
            assert g.covered_by(home), e["id"]
            assert all(p.exterior.is_ccw for p in shapely.get_parts(g)), e["id"]
            others = [c for c, m in micro.items() if c != e["micro_code"] and m.intersection(g).area > 0]
            assert not others, e["id"]
        if e["type"] in ("小区", "院落"):
            assert e["households"] > 0
        else:
            assert e["households"] == 0


def test_element_mix() -> None:
    kinds = Counter((e["community_code"], e["type"]) for e in elements())
    assert kinds[(SGS, "企业")] >= 10
    assert kinds[(WY, "企业")] >= 1
    assert kinds[(SGS, "商铺")] >= 20
    assert kinds[(SGS, "公园")] >= 1
    assert kinds[(SGS, "绿道")] + kinds[(WY, "绿道")] >= 2
    assert kinds[(SGS, "主干道")] >= 1 and kinds[(SGS, "次干道")] >= 1
    assert kinds[(WY, "水系")] >= 1
    for m in of_level("micro"):
        homes = [e for e in elements() if e["micro_code"] == m["code"] and e["type"] in ("小区", "院落")]
        assert homes, m["code"]


def test_people_roles() -> None:
    rows = people()
    assert list(rows[0]) == ["person_id", "name", "phone", "role", "grid_code", "community_code", "note"]
    assert len({r["person_id"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"13800000\d{3}|1380000\d{4}", r["phone"]) for r in rows)
    by = defaultdict(Counter)
    for r in rows:
        assert r["grid_code"] in grids() and grids()[r["grid_code"]]["community_code"] == r["community_code"]
        by[r["grid_code"]][r["role"]] += 1
    level_role = {"community": "总网格长", "general": "一般网格员", "micro": "微网格长"}
    for r in rows:
        level = grids()[r["grid_code"]]["level"]
        assert r["role"] == level_role[level] or (level == "micro" and r["role"] == "微网格员")
    for c in of_level("community"):
        assert by[c["code"]]["总网格长"] == 1
    for g in of_level("general"):
        assert 1 <= by[g["code"]]["一般网格员"] <= 2
    for m in of_level("micro"):
        assert by[m["code"]]["微网格长"] == 1
        assert 1 <= by[m["code"]]["微网格员"] <= 2
    notes = {r["note"] for r in rows if r["role"] == "微网格长"}
    assert {"物业项目经理", "园区运营负责人"} <= notes


def test_party_orgs() -> None:
    counts = Counter((o["community_code"], o["type"]) for o in orgs())
    assert counts == {
        (SGS, "网格党支部"): 2,
        (SGS, "网格党小组"): 6,
        (SGS, "企业党组织"): 10,
        (WY, "网格党支部"): 3,
        (WY, "专属网格党支部"): 4,
        (WY, "微网格党小组"): 8,
    }
    codes = {o["code"] for o in orgs()}
    assert len(codes) == len(orgs())
    element_by_id = {e["id"]: e for e in elements()}
    for o in orgs():
        assert o["parent_code"] is None or o["parent_code"] in codes
        assert all(grids()[c]["community_code"] == o["community_code"] for c in o["grid_codes"])
        if o["type"] == "企业党组织":
            e = element_by_id[o["element_id"]]
            assert e["type"] == "企业" and o["grid_codes"] == [e["micro_code"]]
        else:
            assert o["element_id"] is None
    for community in (SGS, WY):  # 全覆盖: the grid branches cover every general grid exactly once
        branches = [o for o in orgs() if o["community_code"] == community and o["type"] == "网格党支部"]
        covered = sorted(c for b in branches for c in b["grid_codes"])
        assert covered == sorted(g["code"] for g in of_level("general", community))
    sgs_groups = [o for o in orgs() if o["type"] == "网格党小组"]
    assert sorted(c for o in sgs_groups for c in o["grid_codes"]) == sorted(
        g["code"] for g in of_level("general", SGS)
    )
    assert all(
        len(b["grid_codes"]) == 3 for b in orgs() if b["type"] == "网格党支部" and b["community_code"] == SGS
    )


_TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)


def reading_order(kids: list[dict[str, Any]], band: float) -> list[str]:
    """The README rule: rows from the north (band in metres), west → east inside a row."""
    keys = {}
    for k in kids:
        p = k["geom"].point_on_surface()
        x, y = _TO_METRIC.transform(p.x, p.y)
        keys[k["code"]] = (float(x), float(y))
    left = sorted(keys, key=lambda c: (-keys[c][1], keys[c][0]))
    order: list[str] = []
    while left:
        top = keys[left[0]][1]
        row = [c for c in left if top - keys[c][1] < band]
        order += sorted(row, key=lambda c: (keys[c][0], -keys[c][1]))
        left = [c for c in left if c not in row]
    return order


@pytest.mark.parametrize("level", ["community", "general"])
def test_numbering_west_east_north_south(level: str) -> None:
    band = ROW_BAND_M["general" if level == "community" else "micro"]
    for parent in of_level(level):
        kids = children(parent["code"])
        assert [k["code"] for k in kids] == reading_order(kids, band), parent["code"]
        seqs = [int(k["code"][-3:]) for k in kids]
        assert seqs == list(range(1, len(kids) + 1))
        # the first child sits in the northernmost row: nobody is a full band north of it
        ys = [_TO_METRIC.transform(*k["geom"].point_on_surface().coords[0])[1] for k in kids]
        assert max(ys) - ys[0] < band
        assert math.isfinite(ys[0])


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    script = DATA / "make_sample.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=120)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
