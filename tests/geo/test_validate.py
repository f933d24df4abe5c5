"""geo.validate: one planted defect per fixture → exactly that finding; the sample data is clean."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from geo.crs import from_local_metric, to_local_metric
from geo.elements import Element
from geo.hierarchy import Grid, Hierarchy, Level
from geo.validate import FINDING_CODES, Finding, ValidationOptions, summarize, validate
from tests.fixtures_geo import (
    BOWTIE,
    COMMUNITY,
    EMPTY,
    GENERAL_1,
    GENERAL_2,
    MICRO_11,
    MICRO_12,
    MICRO_21,
    MICRO_22,
    MICROS,
    clean_hierarchy,
    clean_hierarchy_grids,
    grid,
    local_area_m2,
    local_box,
    local_line,
    local_point,
    lonlat,
    with_grid,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "boundaries"


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[Finding], code: str) -> Finding:
    """The single finding, asserting it is the only one and has ``code``."""
    assert codes(findings) == [code], [f.message_zh for f in findings]
    return findings[0]


def element(
    eid: str, geometry, households: int = 0, type_: str = "小区", micro: str | None = None
) -> Element:
    return Element(
        id=eid,
        type=type_,
        name=f"要素{eid}",
        geometry=geometry,
        households=households,
        community_code=COMMUNITY,
        micro_code=micro,
    )


# --- clean -------------------------------------------------------------------------------------


def test_clean_fixture_has_no_findings() -> None:
    inside = [element("e1", local_box(5, 5, 45, 45), micro=MICRO_11), element("p1", local_point(120, 20))]
    road = element("r1", local_line([(0, 50), (200, 50)]), type_="主干道")
    findings = validate(clean_hierarchy(), elements=[*inside, road], staffed_micro=MICROS)
    assert findings == []
    assert summarize(findings) == {
        "total": 0,
        "errors": 0,
        "warnings": 0,
        "by_code": {},
        "clean": True,
        "ok": True,
    }


def test_point_on_shared_edge_is_inside_not_straddling() -> None:
    assert validate(clean_hierarchy(), elements=[element("p", local_point(50, 50))]) == []


# --- geometry ----------------------------------------------------------------------------------


def test_bowtie_is_invalid_with_location() -> None:
    f = only(
        validate(Hierarchy(with_grid(clean_hierarchy_grids(), MICRO_11, geometry=BOWTIE))), "invalid_geometry"
    )
    assert f.severity == "error" and f.grids == (MICRO_11,)
    assert "Self-intersection" in f.message_zh
    assert f.geometry is not None and f.geometry.geom_type == "Point"
    assert f.geometry.distance(local_point(25, 50)) < 1e-7  # the crossing, in degrees


def test_empty_geometry() -> None:
    f = only(
        validate(Hierarchy(with_grid(clean_hierarchy_grids(), MICRO_22, geometry=EMPTY))), "empty_geometry"
    )
    assert f.grids == (MICRO_22,) and f.geometry is None


def test_non_polygonal_grid_is_invalid() -> None:
    f = only(
        validate(Hierarchy(with_grid(clean_hierarchy_grids(), MICRO_22, geometry=local_point(175, 50)))),
        "invalid_geometry",
    )
    assert "Point" in f.message_en


# --- codes and parents -------------------------------------------------------------------------


def test_duplicate_code() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_12, code=MICRO_11)
    f = only(validate(Hierarchy(grids)), "duplicate_code")
    assert f.grids == (MICRO_11,) and "2 次" in f.message_zh
    assert f.geometry is not None and f.geometry.area > 0


def test_identical_copy_is_only_a_duplicate() -> None:
    grids = clean_hierarchy_grids()
    assert codes(validate(Hierarchy([*grids, grids[-1]]))) == ["duplicate_code"]


def test_missing_code() -> None:
    f = only(validate(Hierarchy(with_grid(clean_hierarchy_grids(), MICRO_21, code=" "))), "missing_code")
    assert f.grids == ("#5",)


def test_missing_parent() -> None:
    orphan = grid(COMMUNITY + "003001", Level.MICRO, local_box(300, 0, 350, 100), COMMUNITY + "003", 50)
    f = only(validate(Hierarchy([*clean_hierarchy_grids(), orphan])), "missing_parent")
    assert f.grids == (orphan.code, COMMUNITY + "003")


def test_micro_under_community_is_wrong_parent_level() -> None:
    extra = [
        grid(COMMUNITY[:-1] + "2", Level.COMMUNITY, local_box(300, 0, 350, 100)),
        grid(COMMUNITY[:-1] + "2001001", Level.MICRO, local_box(300, 0, 350, 100), COMMUNITY[:-1] + "2", 50),
    ]
    f = only(validate(Hierarchy([*clean_hierarchy_grids(), *extra])), "wrong_parent_level")
    assert f.grids == (extra[1].code, extra[0].code)


def test_community_with_parent_is_wrong_parent_level() -> None:
    grids = with_grid(clean_hierarchy_grids(), COMMUNITY, parent_code="510116004")
    assert only(validate(Hierarchy(grids)), "wrong_parent_level").grids == (COMMUNITY, "510116004")


def test_code_not_prefixed_by_parent() -> None:
    grids = clean_hierarchy_grids()
    bad = "510116004001009001"
    grids = with_grid(grids, MICRO_12, code=bad)
    f = only(validate(Hierarchy(grids)), "code_format")
    assert f.grids == (bad,) and f.severity == "warning"
    assert codes(validate(Hierarchy(grids), options=ValidationOptions(check_code_format=False))) == []


def test_community_code_mismatch() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_21, community_code="510116004002")
    assert only(validate(Hierarchy(grids)), "community_mismatch").grids == (MICRO_21, COMMUNITY)


# --- containment, overlap, gap, sliver -----------------------------------------------------------


def test_micro_sticking_out_of_parent() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 50, 110))
    f = only(validate(Hierarchy(grids)), "not_inside_parent")
    assert f.grids == (MICRO_11, GENERAL_1)
    assert f.area_m2 == pytest.approx(500, rel=1e-3)
    assert f.geometry is not None and f.geometry.contains(local_point(25, 105))


def test_overlapping_siblings() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 60, 100))
    f = only(validate(Hierarchy(grids)), "overlap")
    assert f.grids == (MICRO_11, MICRO_12)
    assert f.area_m2 == pytest.approx(1000, rel=1e-3)
    assert "重叠 1000.0 平方米" in f.message_zh
    assert f.geometry is not None and f.geometry.contains(local_point(55, 50))


def test_overlap_across_communities() -> None:
    other = "510116004002"
    extra = [
        grid(other, Level.COMMUNITY, local_box(180, 0, 300, 100)),
        grid(other + "001", Level.GENERAL, local_box(180, 0, 300, 100), other),
        grid(other + "001001", Level.MICRO, local_box(180, 0, 300, 100), other + "001", 50),
    ]
    found = validate(Hierarchy([*clean_hierarchy_grids(), *extra]))
    assert codes(found) == ["overlap"] * 3
    pairs = {f.grids: f.area_m2 for f in found}
    assert set(pairs) == {(COMMUNITY, other), (GENERAL_2, other + "001"), (MICRO_22, other + "001001")}
    assert all(a == pytest.approx(2000, rel=1e-3) for a in pairs.values())


def test_shared_edges_are_not_overlaps() -> None:
    # the clean fixture is all shared edges: nothing to report even at a 1 cm² tolerance
    tiny = ValidationOptions(overlap_tolerance_m2=1e-4, gap_tolerance_m2=1e-4, inside_tolerance_m2=1e-4)
    assert validate(clean_hierarchy(), options=tiny) == []


def test_gap_between_siblings() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 45, 100))
    f = only(validate(Hierarchy(grids)), "gap")
    assert f.grids == (GENERAL_1,)
    assert f.area_m2 == pytest.approx(500, rel=1e-3)
    assert f.geometry is not None and f.geometry.contains(local_point(47.5, 50))


def test_gap_below_tolerance_is_ignored() -> None:
    notch = local_box(0, 0, 50, 100).difference(local_box(49, 50, 50, 51))  # 1 m × 1 m = 1 m²
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=notch)
    assert validate(Hierarchy(grids), options=ValidationOptions(gap_tolerance_m2=1.5)) == []
    assert codes(validate(Hierarchy(grids), options=ValidationOptions(gap_tolerance_m2=0.5))) == ["gap"]


# --- lon/lat topology: T-junctions and the documented tolerance ----------------------------------


def _lonlat_layer(notch: bool = False) -> list[Grid]:
    """A 1.2 km × 1.2 km community drawn in lon/lat as QGIS users draw it: every inner vertex is the
    lon/lat midpoint of its parent's straight edge (T-junctions), so the edges nest exactly in lon/lat
    but not after projection. ``notch`` cuts a 1 m × 1 m square (EPSG:4544) out of micro-grid 001001
    at the middle of its edge with 001002."""
    sw, se, ne, nw = lonlat(0, 0), lonlat(1200, 0), lonlat(1200, 1200), lonlat(0, 1200)

    def mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)

    s_mid, n_mid = mid(sw, se), mid(nw, ne)  # general grids split west/east at the lon/lat middle
    w_q, e_q = mid(sw, s_mid), mid(nw, n_mid)  # micro-grids split the west general once more
    m1: BaseGeometry = Polygon([sw, w_q, e_q, nw])
    if notch:
        x, y = to_local_metric(Point(mid(w_q, e_q))).coords[0]
        m1 = m1.difference(from_local_metric(box(x - 1, y, x, y + 1)))
    return [
        grid(COMMUNITY, Level.COMMUNITY, Polygon([sw, se, ne, nw])),
        grid(GENERAL_1, Level.GENERAL, Polygon([sw, s_mid, n_mid, nw]), COMMUNITY),
        grid(GENERAL_2, Level.GENERAL, Polygon([s_mid, se, ne, n_mid]), COMMUNITY),
        grid(MICRO_11, Level.MICRO, m1, GENERAL_1, 50),
        grid(MICRO_12, Level.MICRO, Polygon([w_q, s_mid, n_mid, e_q]), GENERAL_1, 50),
        grid(MICRO_21, Level.MICRO, Polygon([s_mid, se, ne, n_mid]), GENERAL_2, 50),
    ]


def test_lonlat_t_junctions_nest_exactly() -> None:
    # projected first, these edges sag apart by ~1.5 cm and used to give gaps and "outside parent"
    assert validate(Hierarchy(_lonlat_layer())) == []
    tiny = ValidationOptions(overlap_tolerance_m2=1e-4, gap_tolerance_m2=1e-4, inside_tolerance_m2=1e-4)
    assert validate(Hierarchy(_lonlat_layer()), options=tiny) == []


def test_planted_one_square_metre_sliver_is_found_in_lonlat_layer() -> None:
    f = only(validate(Hierarchy(_lonlat_layer(notch=True))), "gap")
    assert f.grids == (GENERAL_1,)
    assert f.area_m2 == pytest.approx(1.0, abs=0.01)
    assert "1.0 平方米" in f.message_zh


def test_metric_lens_below_topology_tolerance_is_not_a_gap() -> None:
    # a 2 cm × 100 m strip (2 m², above the area tolerance) is thinner than 10 cm: one edge, not a gap
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 49.98, 100))
    assert validate(Hierarchy(grids)) == []
    assert codes(validate(Hierarchy(grids), options=ValidationOptions(topology_tolerance_m=0.01))) == ["gap"]


def test_micro_grid_in_two_pieces_is_not_contiguous() -> None:
    two = local_box(0, 0, 50, 40).union(local_box(0, 60, 50, 100))
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=two)
    found = validate(Hierarchy(grids))
    assert codes(found) == ["gap", "not_contiguous"]
    f = found[1]
    assert f.grids == (MICRO_11,) and f.severity == "error"
    assert "2 块" in f.message_zh and f.area_m2 == pytest.approx(2000, rel=1e-3)
    assert found[0].area_m2 == pytest.approx(1000, rel=1e-3)  # the 20 m band between the pieces


def test_general_without_micro_is_one_gap() -> None:
    grids = [g for g in clean_hierarchy_grids() if g.code not in (MICRO_21, MICRO_22)]
    f = only(validate(Hierarchy(grids)), "gap")
    assert f.grids == (GENERAL_2,) and f.area_m2 == pytest.approx(10_000, rel=1e-3)
    assert "没有下级网格" in f.message_zh


def test_enclosed_gap_between_communities() -> None:
    # a second community wraps around the east end of the first, leaving a 10 m × 100 m hole
    other = "510116004002"
    ring = local_box(0, -50, 300, 150).difference(local_box(0, 0, 210, 100))
    extra = [
        grid(other, Level.COMMUNITY, ring),
        grid(other + "001", Level.GENERAL, ring, other),
        grid(other + "001001", Level.MICRO, ring, other + "001", 50),
    ]
    loose = ValidationOptions(compactness_min=0)  # the ring is not compact; only the gap matters here
    f = only(validate(Hierarchy([*clean_hierarchy_grids(), *extra]), options=loose), "gap")
    assert f.grids == (COMMUNITY, other)
    assert f.area_m2 == pytest.approx(1000, rel=1e-3)
    assert f.geometry is not None and f.geometry.contains(local_point(205, 50))


def test_hole_inside_one_community_is_its_own_shape() -> None:
    grids = clean_hierarchy_grids()
    hole = local_box(20, 20, 30, 30)
    for code in (COMMUNITY, GENERAL_1, MICRO_11):
        old = next(g for g in grids if g.code == code).geometry
        grids = with_grid(grids, code, geometry=old.difference(hole))
    assert validate(Hierarchy(grids)) == []


def test_sliver() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_12, geometry=local_box(50, 0, 99, 100))
    grids.append(grid(GENERAL_1 + "003", Level.MICRO, local_box(99, 0, 100, 100), GENERAL_1, 40))
    f = only(validate(Hierarchy(grids)), "sliver")
    assert f.grids == (GENERAL_1 + "003",) and f.severity == "warning"
    assert f.area_m2 == pytest.approx(100, rel=1e-3)


def test_tiny_grid_is_sliver_by_area() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_12, geometry=local_box(50, 0, 100, 95))
    grids.append(grid(GENERAL_1 + "003", Level.MICRO, local_box(94, 95, 100, 100), GENERAL_1, 40))
    # 6 × 5 m = 30 m² < 50 m²; the rest of the strip (50..94 × 95..100) is a gap
    found = validate(Hierarchy(grids))
    assert codes(found) == ["gap", "sliver"]
    assert found[1].area_m2 == pytest.approx(30, rel=1e-3)


# --- elements ----------------------------------------------------------------------------------


def test_element_outside() -> None:
    f = only(
        validate(clean_hierarchy(), elements=[element("shop", local_point(250, 50), type_="商铺")]),
        "element_outside",
    )
    assert f.elements == ("shop",) and f.grids == ()


def test_polygon_element_partly_outside() -> None:
    f = only(
        validate(clean_hierarchy(), elements=[element("c", local_box(10, 90, 40, 120))]), "element_outside"
    )
    assert f.area_m2 == pytest.approx(600, rel=1e-3) and f.grids == (MICRO_11,)


def test_element_straddling_two_micro_grids() -> None:
    f = only(
        validate(clean_hierarchy(), elements=[element("c", local_box(40, 40, 60, 60))]), "element_straddles"
    )
    assert f.grids == (MICRO_11, MICRO_12) and f.elements == ("c",)
    assert f.area_m2 == pytest.approx(200, rel=1e-3)


def test_linear_element_must_lie_within_communities() -> None:
    road = element("r", local_line([(0, 50), (230, 50)]), type_="次干道")
    f = only(validate(clean_hierarchy(), elements=[road]), "element_outside")
    assert "30.0 米" in f.message_zh


def test_element_micro_mismatch() -> None:
    e = element("c", local_box(5, 5, 45, 45), micro=MICRO_22)
    assert only(validate(clean_hierarchy(), elements=[e]), "element_micro_mismatch").grids == (
        MICRO_22,
        MICRO_11,
    )


def test_duplicate_element_id() -> None:
    e = element("c", local_box(5, 5, 45, 45))
    assert only(validate(clean_hierarchy(), elements=[e, e]), "duplicate_element_id").elements == ("c",)


# --- staffing and households -------------------------------------------------------------------


def test_unstaffed_micro_grid() -> None:
    f = only(validate(clean_hierarchy(), staffed_micro=[MICRO_11, MICRO_12, MICRO_21]), "unstaffed")
    assert f.grids == (MICRO_22,)
    assert validate(clean_hierarchy(), staffed_micro=None) == []


def test_households_outside_band() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, households=10)
    grids = with_grid(grids, MICRO_21, households=150)
    found = validate(Hierarchy(grids))
    assert codes(found) == ["households_out_of_band"] * 2
    assert [f.grids for f in found] == [(MICRO_11,), (MICRO_21,)]
    assert "户数 10" in found[0].message_zh and "户数 150" in found[1].message_zh


def test_households_band_is_closed() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, households=30)
    assert validate(Hierarchy(with_grid(grids, MICRO_21, households=100))) == []


def test_households_from_elements_when_grid_has_none() -> None:
    h = clean_hierarchy(households=None)
    assert validate(h) == []  # no households and no elements: nothing to check
    halves = [element("a", local_box(5, 5, 45, 45), 20), element("b", local_box(5, 55, 45, 95), 20)]
    others = [element(f"c{x}", local_box(x + 5, 5, x + 45, 95), 40) for x in (50, 100, 150)]
    assert validate(h, elements=halves + others) == []  # 20 + 20 in MICRO_11, 40 elsewhere
    f = only(validate(h, elements=halves[:1] + others), "households_out_of_band")
    assert f.grids == (MICRO_11,) and "户数 20（按要素合计）" in f.message_zh


# --- output shape ------------------------------------------------------------------------------


def test_findings_sorted_and_serialisable() -> None:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 60, 100), households=5)
    found = validate(Hierarchy(grids), staffed_micro=[])
    assert codes(found) == [
        "overlap",
        "households_out_of_band",
        "unstaffed",
        "unstaffed",
        "unstaffed",
        "unstaffed",
    ]
    assert found == validate(Hierarchy(list(reversed(grids))), staffed_micro=[])
    d = json.loads(json.dumps(found[0].to_dict()))
    assert (
        d["code"] == "overlap"
        and d["geometry"]["type"] == "Polygon"
        and d["area_m2"] == pytest.approx(1000, 0.01)
    )
    assert found[0].to_feature()["type"] == "Feature"
    s = summarize(found)
    assert s["errors"] == 1 and s["warnings"] == 5 and s["by_code"]["unstaffed"] == 4
    assert not s["clean"] and not s["ok"]
    assert set(s["by_code"]) <= set(FINDING_CODES)


# --- the sample data ---------------------------------------------------------------------------


def load_sample() -> tuple[Hierarchy, list[Element], set[str]]:
    with (DATA / "grids.geojson").open(encoding="utf-8") as fh:
        fc = json.load(fh)
    grids = [Grid.from_properties(f["properties"], shape(f["geometry"])) for f in fc["features"]]
    elements: list[Element] = []
    if (DATA / "elements.geojson").exists():
        with (DATA / "elements.geojson").open(encoding="utf-8") as fh:
            elements = [
                Element.from_properties(f["properties"], shape(f["geometry"]))
                for f in json.load(fh)["features"]
            ]
    staffed: set[str] = set()
    if (DATA / "people.csv").exists():
        with (DATA / "people.csv").open(encoding="utf-8", newline="") as fh:
            staffed = {row["grid_code"] for row in csv.DictReader(fh) if row["role"] == "微网格员"}
    return Hierarchy(grids), elements, staffed


@pytest.mark.skipif(not (DATA / "grids.geojson").exists(), reason="sample data not generated yet")
def test_sample_data_validates_clean() -> None:
    h, elements, staffed = load_sample()
    assert len(h.micro) == 104
    found = validate(h, elements=elements, staffed_micro=staffed if (DATA / "people.csv").exists() else None)
    assert [f.message_zh for f in found] == []
    assert shapely.is_valid(shapely.union_all([g.geometry for g in h.communities]))


@pytest.mark.skipif(not (DATA / "grids.geojson").exists(), reason="sample data not generated yet")
def test_sample_data_with_one_micro_removed_has_that_gap() -> None:
    h, _, _ = load_sample()
    victim = sorted(h.micro, key=lambda g: g.code)[len(h.micro) // 2]
    found = validate(Hierarchy(g for g in h if g.code != victim.code))
    f = only(found, "gap")
    assert f.grids == (victim.parent_code,)
    assert f.geometry is not None and f.geometry.contains(victim.geometry.representative_point())
    assert f.area_m2 == pytest.approx(local_area_m2(victim.geometry), rel=1e-3)


# --- balance per level and community, compactness, party coverage -------------------------------


def test_general_band_and_community_override() -> None:
    grids = clean_hierarchy_grids()  # 50 households per micro-grid
    grids = with_grid(grids, GENERAL_1, households=100)
    grids = with_grid(grids, GENERAL_2, households=300)
    found = validate(Hierarchy(grids), options=ValidationOptions(general_households_band=(80, 200)))
    f = only(found, "households_out_of_band")
    assert f.grids == (GENERAL_2,) and "一般网格" in f.message_zh and "300" in f.message_zh
    tighter = ValidationOptions(bands_by_community={COMMUNITY: {"micro": (60, 80)}})
    assert codes(validate(Hierarchy(grids), options=tighter)) == ["households_out_of_band"] * 4
    other = ValidationOptions(bands_by_community={"510116004002": {"micro": (60, 80)}})
    assert validate(Hierarchy(grids), options=other) == []


def test_snaking_micro_grid_is_not_compact() -> None:
    # an L of two 8 m-wide arms in 001001's 50 × 100 m: 4π·1136/300² ≈ 0.16; the rest goes to 001002
    ell = local_box(0, 0, 8, 100).union(local_box(0, 0, 50, 8))
    rest = local_box(0, 0, 100, 100).difference(ell)
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=ell)
    grids = with_grid(grids, MICRO_12, geometry=rest)
    f = only(validate(Hierarchy(grids)), "not_compact")
    assert f.grids == (MICRO_11,) and f.severity == "warning" and "Polsby–Popper 指数 0.16" in f.message_zh
    assert validate(Hierarchy(grids), options=ValidationOptions(compactness_min=0.15)) == []


def test_party_coverage_none_and_two() -> None:
    orgs = [
        {"code": "XZ01", "type": "网格党小组", "grid_codes": [GENERAL_1]},
        {"code": "XZ02", "type": "微网格党小组", "grid_codes": [MICRO_21, MICRO_12]},
        {"code": "ZB01", "type": "网格党支部", "grid_codes": [GENERAL_2]},  # a 支部 is not a 小组
    ]
    found = validate(clean_hierarchy(), party_orgs=orgs)
    assert [(f.code, f.grids) for f in found] == [
        ("party_overlap", (MICRO_12,)),
        ("party_uncovered", (MICRO_22,)),
    ]
    assert "XZ01、XZ02" in found[0].message_zh
    assert validate(clean_hierarchy()) == []  # without organisations: not checked


@pytest.mark.skipif(not (DATA / "party_orgs.json").exists(), reason="sample data not generated yet")
def test_sample_party_coverage() -> None:
    h, _, _ = load_sample()
    orgs = json.loads((DATA / "party_orgs.json").read_text(encoding="utf-8"))
    found = validate(h, party_orgs=orgs)
    # 三根松: a 网格党小组 per general grid covers every micro-grid; 瓦窑村: 8 院落党小组 for 21 micro-grids
    assert {f.code for f in found} == {"party_uncovered"}
    assert {f.grids[0][:12] for f in found} == {"510116004002"} and len(found) == 13
