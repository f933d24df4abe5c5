"""Households after a split or a moved boundary: shared by geodesic area, rounded by largest
remainder so the total is kept exactly (geo.redraw._share_households, documented there)."""

from __future__ import annotations

from shapely.geometry import MultiLineString

from geo.crs import area_m2
from geo.redraw import move_boundary, split
from tests.fixtures_geo import (
    GENERAL_1,
    MICRO_11,
    MICRO_12,
    clean_hierarchy_grids,
    local_line,
    with_grid,
)


def grids(households: int | None = 46) -> list:
    return with_grid(clean_hierarchy_grids(), MICRO_11, households=households)


def parts(r, codes=None) -> list:
    by = {g.code: g for g in r.grids}
    return [by[c] for c in (codes or r.added)]


def test_split_60_40_gives_28_and_18() -> None:
    r = split(grids(46), MICRO_11, local_line([(30, -10), (30, 110)]), set())
    west, east = parts(r)
    assert round(area_m2(west.geometry) / area_m2(east.geometry), 3) == 1.5  # 3,000 m² and 2,000 m²
    assert (west.households, east.households) == (28, 18)  # 27.6 → 28, 18.4 → 18: 46 kept
    assert west.parent_code == east.parent_code == GENERAL_1


def test_three_way_split_rounds_by_largest_remainder() -> None:
    lines = MultiLineString(
        [list(local_line([(10, -10), (10, 110)]).coords), list(local_line([(25, -10), (25, 110)]).coords)]
    )
    r = split(grids(7), MICRO_11, lines, set())
    # widths 10, 15, 25 of 50 m: 1.4, 2.1, 3.5 → floors 1, 2, 3 and the one left to the largest fraction
    assert [g.households for g in parts(r)] == [1, 2, 4]


def test_split_of_unknown_households_stays_unknown() -> None:
    r = split(grids(None), MICRO_11, local_line([(30, -10), (30, 110)]), set())
    assert [g.households for g in parts(r)] == [None, None]


def test_moved_boundary_moves_households_with_the_area() -> None:
    # 46 and 50 households on 50 m each; the edge moves from x = 50 to x = 70: the west grid takes
    # 20 m of its neighbour (2/5 of its 50): 46 + 20 = 66, and 50 − 20 = 30
    base = grids(46)
    r = move_boundary(base, [MICRO_11, MICRO_12], local_line([(70, -10), (70, 110)]), set())
    west, east = parts(r)
    assert (west.households, east.households) == (66, 30)
    assert west.households + east.households == 96
