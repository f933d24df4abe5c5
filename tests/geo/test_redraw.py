"""geo.redraw: each operation keeps the draft a partition with exact counts, areas and codes, or refuses
naming what it would break. On the tiny fixture (tests.fixtures_geo) and on 三根松 of the sample data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from shapely.geometry import LineString

from geo.crs import area_m2
from geo.hierarchy import Grid, Hierarchy
from geo.redraw import (
    Redraw,
    RedrawRefused,
    add,
    fix,
    merge,
    move_boundary,
    remove,
    rename,
    reparent,
    reshape,
    same_area,
    split,
)
from geo.validate import validate
from tests.fixtures_geo import (
    GENERAL_1,
    GENERAL_2,
    MICRO_11,
    MICRO_12,
    MICRO_21,
    MICRO_22,
    clean_hierarchy_grids,
    local_area_m2,
    local_box,
    local_line,
    local_polygon,
)
from tests.geo.test_validate import DATA, load_sample

SANGENSONG = "510116004001"
G1 = SANGENSONG + "001"
M1, M2, M3 = G1 + "001", G1 + "002", G1 + "003"


def by_code(r: Redraw, code: str) -> Grid:
    (g,) = [g for g in r.grids if g.code == code]
    return g


def used(grids: list[Grid]) -> set[str]:
    return {g.code for g in grids}


def children_area(r: Redraw, parent: str) -> float:
    return sum(area_m2(g.geometry) for g in r.grids if g.parent_code == parent)


def assert_partition(r: Redraw) -> None:
    assert validate(Hierarchy(r.grids)) == []


@pytest.fixture(scope="module")
def sangensong() -> list[Grid]:
    if not (DATA / "grids.geojson").exists():
        pytest.skip("sample data not generated yet")
    h, _, _ = load_sample()
    return list(h.subset(SANGENSONG).grids)


# --- split -------------------------------------------------------------------------------------


def test_split_sample_micro_grid_in_two(sangensong: list[Grid]) -> None:
    old = next(g for g in sangensong if g.code == M1)
    x0, y0, x1, y1 = old.geometry.bounds
    mid = (x0 + x1) / 2
    r = split(sangensong, M1, LineString([(mid, y0 - 0.001), (mid, y1 + 0.001)]), used(sangensong))
    assert len(sangensong) == 90 and len(r.grids) == 91
    assert r.removed == (M1,) and r.added == (G1 + "012", G1 + "013")  # after the 11 in use
    west, east = by_code(r, G1 + "012"), by_code(r, G1 + "013")
    assert west.geometry.centroid.x < mid < east.geometry.centroid.x  # west → east
    assert area_m2(west.geometry) + area_m2(east.geometry) == pytest.approx(area_m2(old.geometry), abs=1.0)
    general = next(g for g in sangensong if g.code == G1)
    assert children_area(r, G1) == pytest.approx(area_m2(general.geometry), abs=1.0)
    assert (west.households or 0) + (east.households or 0) == old.households == 46
    assert west.name == old.name + "-1" and east.name == old.name + "-2"
    untouched = {g.code: g for g in sangensong if g.code != M1}
    assert all(g is untouched[g.code] for g in r.grids if g.code in untouched)
    band = validate(Hierarchy(r.grids))  # partition kept; the halves fall below 30 households
    assert [(f.code, f.grids) for f in band] == [
        ("households_out_of_band", (G1 + "012",)),
        ("households_out_of_band", (G1 + "013",)),
    ]


def test_split_refuses_a_line_that_does_not_cross(sangensong: list[Grid]) -> None:
    x0, y0, _, _ = next(g for g in sangensong if g.code == M1).geometry.bounds
    with pytest.raises(RedrawRefused) as exc:
        split(sangensong, M1, LineString([(x0 - 0.01, y0 - 0.01), (x0 - 0.02, y0 - 0.02)]), used(sangensong))
    assert exc.value.field == "line" and "没有穿过" in exc.value.zh


def test_split_refuses_a_sliver() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused) as exc:
        split(grids, MICRO_11, local_line([(1, -10), (1, 110)]), used(grids))  # a 1 m strip
    assert [f["code"] for f in exc.value.detail["findings"]] == ["sliver"]
    assert "碎片" in exc.value.zh


def test_split_refuses_a_general_grid() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused, match="micro-grids"):
        split(grids, GENERAL_1, local_line([(50, -10), (50, 110)]), used(grids))


# --- merge -------------------------------------------------------------------------------------


def test_merge_adjacent_sample_micro_grids(sangensong: list[Grid]) -> None:
    a, b = (next(g for g in sangensong if g.code == c) for c in (M1, M2))
    r = merge(sangensong, [M1, M2], used(sangensong))
    assert len(r.grids) == 89 and r.removed == (M1, M2) and r.added == (G1 + "012",)
    m = by_code(r, G1 + "012")
    assert m.households == 46 + 68
    assert area_m2(m.geometry) == pytest.approx(area_m2(a.geometry) + area_m2(b.geometry), abs=1.0)
    assert m.geometry.geom_type == "Polygon"
    assert [(f.code, f.grids) for f in validate(Hierarchy(r.grids))] == [
        ("households_out_of_band", (G1 + "012",))  # 114 > 100: the balance table shows it
    ]


def test_merge_refuses_grids_that_are_not_adjacent(sangensong: list[Grid]) -> None:
    with pytest.raises(RedrawRefused) as exc:
        merge(sangensong, [M1, M3], used(sangensong))
    assert exc.value.detail == {"not_adjacent": [M3]} and "不相邻" in exc.value.zh


def test_merge_refuses_grids_of_two_general_grids() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused) as exc:
        merge(grids, [MICRO_12, MICRO_21], used(grids))
    assert exc.value.field == "grids" and "不同的一般网格" in exc.value.zh


def test_a_retired_code_is_never_reused() -> None:
    grids = clean_hierarchy_grids()
    history = used(grids) | {GENERAL_1 + "003", GENERAL_1 + "004"}  # retired in earlier versions
    r = merge(grids, [MICRO_11, MICRO_12], history)
    assert r.added == (GENERAL_1 + "005",)


# --- move a shared boundary --------------------------------------------------------------------


def test_move_boundary_changes_both_neighbours_and_nothing_else() -> None:
    grids = clean_hierarchy_grids()
    r = move_boundary(grids, [MICRO_11, MICRO_12], local_line([(60, -10), (60, 110)]), used(grids))
    assert r.removed == (MICRO_11, MICRO_12) and r.added == (GENERAL_1 + "003", GENERAL_1 + "004")
    west, east = by_code(r, GENERAL_1 + "003"), by_code(r, GENERAL_1 + "004")
    assert local_area_m2(west.geometry) == pytest.approx(6000, abs=0.5)
    assert local_area_m2(east.geometry) == pytest.approx(4000, abs=0.5)
    assert west.households == 60 and east.households == 40  # 50 + 10 of the neighbour's 50
    assert west.name == "微网格001" and east.name == "微网格002"
    before = {g.code: g for g in grids}
    assert [g.code for g in r.grids if g.code in before and g is not before[g.code]] == []
    assert_partition(r)


def test_move_boundary_refuses_grids_that_share_no_boundary(sangensong: list[Grid]) -> None:
    with pytest.raises(RedrawRefused, match="share no boundary"):
        move_boundary(sangensong, [M1, M3], LineString([(104.07, 30.41), (104.08, 30.42)]), used(sangensong))


def test_move_boundary_refuses_neighbours_in_two_general_grids() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused, match="reparent instead"):
        move_boundary(grids, [MICRO_12, MICRO_21], local_line([(90, -10), (90, 110)]), used(grids))


def test_move_boundary_refuses_a_line_leaving_one_side_empty() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused) as exc:
        move_boundary(grids, [MICRO_11, MICRO_12], local_line([(-10, -10), (-10, 110)]), used(grids))
    assert exc.value.field == "line"


# --- reparent, add, remove, rename -------------------------------------------------------------


def test_reparent_moves_the_micro_grid_and_reshapes_both_general_grids() -> None:
    grids = clean_hierarchy_grids()
    r = reparent(grids, MICRO_12, GENERAL_2, used(grids))
    assert r.removed == (MICRO_12,) and r.added == (GENERAL_2 + "003",)
    moved = by_code(r, GENERAL_2 + "003")
    assert moved.parent_code == GENERAL_2 and moved.geometry.equals(grids[4].geometry)
    assert local_area_m2(by_code(r, GENERAL_1).geometry) == pytest.approx(5000, abs=0.5)
    assert local_area_m2(by_code(r, GENERAL_2).geometry) == pytest.approx(15000, abs=0.5)
    assert_partition(r)


def test_reparent_refuses_a_general_grid_that_is_not_a_neighbour() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused) as exc:
        reparent(grids, MICRO_11, GENERAL_2, used(grids))
    assert exc.value.field == "to" and "不相邻" in exc.value.zh


def test_add_takes_its_area_from_the_micro_grids_it_covers() -> None:
    grids = clean_hierarchy_grids()
    r = add(grids, GENERAL_1, local_box(40, 0, 60, 100), "新建微网格", used(grids))
    assert r.removed == (MICRO_11, MICRO_12)
    assert r.added == (GENERAL_1 + "003", GENERAL_1 + "004", GENERAL_1 + "005")  # west → east
    areas = [local_area_m2(by_code(r, c).geometry) for c in r.added]
    assert areas == pytest.approx([4000, 2000, 4000], abs=0.5)
    assert by_code(r, GENERAL_1 + "004").name == "新建微网格"
    assert [by_code(r, c).households for c in r.added] == [40, 20, 40]
    assert [f.code for f in validate(Hierarchy(r.grids))] == ["households_out_of_band"]  # the 20


def test_add_refuses_a_grid_reaching_outside_its_parent() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(RedrawRefused) as exc:
        add(grids, GENERAL_1, local_box(80, 0, 120, 100), "越界", used(grids))
    found = {f["code"] for f in exc.value.detail["findings"]}
    assert "not_inside_parent" in found and "超出上级" in exc.value.zh


def test_remove_gives_the_area_to_the_neighbour_with_the_longest_shared_edge() -> None:
    grids = clean_hierarchy_grids()
    r = remove(grids, MICRO_22, used(grids))
    assert r.removed == (MICRO_21, MICRO_22) and r.added == (GENERAL_2 + "003",)
    assert local_area_m2(by_code(r, GENERAL_2 + "003").geometry) == pytest.approx(10_000, abs=0.5)
    assert by_code(r, GENERAL_2 + "003").households == 100
    assert len(r.grids) == 6
    assert_partition(r)


def test_remove_refuses_the_only_micro_grid() -> None:
    grids = [g for g in clean_hierarchy_grids() if g.code != MICRO_22]
    grids = [replace(g, geometry=local_box(100, 0, 200, 100)) if g.code == MICRO_21 else g for g in grids]
    assert validate(Hierarchy(grids)) == []
    with pytest.raises(RedrawRefused) as exc:
        remove(grids, MICRO_21, used(grids))
    assert exc.value.field == "grid" and "没有相邻" in exc.value.zh


def test_rename_keeps_code_and_area() -> None:
    grids = clean_hierarchy_grids()
    r = rename(grids, MICRO_11, " 松林一组 ")
    assert r.added == () and r.removed == ()
    g = by_code(r, MICRO_11)
    assert g.name == "松林一组" and g.geometry is grids[3].geometry
    with pytest.raises(RedrawRefused):
        rename(grids, MICRO_11, "  ")


def test_unknown_grid_is_not_found() -> None:
    grids = clean_hierarchy_grids()
    with pytest.raises(Exception) as exc:
        remove(grids, GENERAL_1 + "099", used(grids))
    assert getattr(exc.value, "code", None) == "not_found"


# --- fix ---------------------------------------------------------------------------------------


def test_fix_gives_a_gap_to_the_neighbour_sharing_its_longest_edge() -> None:
    grids = [
        replace(g, geometry=local_box(0, 0, 45, 100)) if g.code == MICRO_11 else g
        for g in clean_hierarchy_grids()
    ]
    assert [f.code for f in validate(Hierarchy(grids))] == ["gap"]
    r = fix(grids, used(grids))
    # the 5 m × 100 m gap borders 001001 and 001002 along 100 m each: the lower code takes it
    assert r.removed == (MICRO_11,) and r.added == (GENERAL_1 + "003",)
    assert local_area_m2(by_code(r, GENERAL_1 + "003").geometry) == pytest.approx(5000, abs=0.5)
    assert_partition(r)


def test_fix_merges_a_sliver_into_its_neighbour_and_refuses_a_clean_draft() -> None:
    grids = [
        replace(g, geometry=local_box(50, 0, 99, 100)) if g.code == MICRO_12 else g
        for g in clean_hierarchy_grids()
    ]
    grids.append(replace(grids[4], code=GENERAL_1 + "003", geometry=local_box(99, 0, 100, 100), households=5))
    r = fix(grids, used(grids))
    assert r.removed == (MICRO_12, GENERAL_1 + "003") and r.added == (GENERAL_1 + "004",)
    assert by_code(r, GENERAL_1 + "004").households == 55
    assert_partition(r)
    with pytest.raises(RedrawRefused, match="no gap or sliver"):
        fix(clean_hierarchy_grids(), used(grids))


# --- reshape -----------------------------------------------------------------------------------


def test_reshape_moves_the_shared_boundary_both_ways() -> None:
    grids = clean_hierarchy_grids()
    # grow: 001001 takes 10 m from its sibling; both get new codes, households follow the area
    r = reshape(grids, MICRO_11, local_box(0, 0, 60, 100), used(grids), name="扩大后")
    assert r.operation == "reshape" and r.removed == (MICRO_11, MICRO_12)
    west, east = by_code(r, GENERAL_1 + "003"), by_code(r, GENERAL_1 + "004")
    assert local_area_m2(west.geometry) == pytest.approx(6000, abs=0.5)
    assert local_area_m2(east.geometry) == pytest.approx(4000, abs=0.5)
    assert (west.name, west.households, east.households) == ("扩大后", 60, 40)
    assert_partition(r)
    # shrink: the 10 m it gives up goes to the sibling that borders it; the other general grid stays
    r = reshape(grids, MICRO_11, local_box(0, 0, 40, 100), used(grids))
    assert [local_area_m2(by_code(r, c).geometry) for c in r.added] == pytest.approx([4000, 6000], abs=0.5)
    assert {g.code for g in r.grids} >= {MICRO_21, MICRO_22}
    assert_partition(r)
    # a copy moved by micrometres (a GeoJSON or CRS round trip) is the same area
    assert same_area(local_box(0, 0, 50.000001, 100), local_box(0, 0, 50, 100))
    with pytest.raises(RedrawRefused, match="nothing changes"):
        reshape(grids, MICRO_11, local_box(0, 0, 50.000001, 100), used(grids))


def test_reshape_refuses_a_gap_or_an_overlap_with_the_findings() -> None:
    grids = clean_hierarchy_grids()
    # a notch on the outer edge borders no sibling: it would be a gap in 001
    notch = local_polygon([(0, 0), (50, 0), (50, 100), (0, 100), (0, 60), (10, 60), (10, 40), (0, 40)])
    with pytest.raises(RedrawRefused) as exc:
        reshape(grids, MICRO_11, notch, used(grids))
    assert {f["code"] for f in exc.value.detail["findings"]} == {"gap"}
    # reaching into the other general grid overlaps its micro-grid 002001
    with pytest.raises(RedrawRefused) as exc:
        reshape(grids, MICRO_12, local_box(50, 0, 110, 100), used(grids))
    found = exc.value.detail["findings"]
    assert "overlap" in {f["code"] for f in found}
    assert any(MICRO_21 in f["grids"] for f in found)
    # covering a sibling entirely is a merge; a general grid's outline follows its micro-grids
    with pytest.raises(RedrawRefused, match="merge instead"):
        reshape(grids, MICRO_11, local_box(0, 0, 100, 100), used(grids))
    with pytest.raises(RedrawRefused, match="micro-grids"):
        reshape(grids, GENERAL_1, local_box(0, 0, 90, 100), used(grids))


# --- the guard's memory ------------------------------------------------------------------------


def test_the_guard_remembers_findings_by_content_only() -> None:
    """The guard keeps the findings of the layers it validated (the draft after one operation is
    the draft before the next) by content: the same grids in another order share them, any change
    to a grid or to the tolerances does not, and an operation on a remembered layer is still
    guarded."""
    from shapely import affinity

    from geo.redraw import DEFAULT_OPTIONS, _content_key

    grids = clean_hierarchy_grids()
    key = _content_key(grids, DEFAULT_OPTIONS)
    assert _content_key(list(reversed(grids)), DEFAULT_OPTIONS) == key
    m = next(g for g in grids if g.code == MICRO_11)
    for changed in (
        replace(m, households=(m.households or 0) + 1),
        replace(m, name=m.name + "甲"),
        replace(m, parent_code=GENERAL_2),
        replace(m, geometry=affinity.translate(m.geometry, 1e-9)),
    ):
        assert _content_key([changed if g is m else g for g in grids], DEFAULT_OPTIONS) != key
    assert _content_key(grids, replace(DEFAULT_OPTIONS, sliver_min_area_m2=10.0)) != key

    r = move_boundary(grids, [MICRO_11, MICRO_12], local_line([(60, -10), (60, 110)]), used(grids))
    again = sorted(r.grids, key=lambda g: g.code)  # as read back from the store
    with pytest.raises(RedrawRefused) as exc:
        split(again, GENERAL_1 + "004", local_line([(61, -10), (61, 110)]), used(again) | used(grids))
    assert [f["code"] for f in exc.value.detail["findings"]] == ["sliver"]
