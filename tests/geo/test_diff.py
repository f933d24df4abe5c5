"""geo.diff: grid by grid, added / removed / changed with the area change and the area that moved."""

from __future__ import annotations

import pytest

from geo.diff import diff_layers, summarize_diff
from geo.redraw import move_boundary, rename
from tests.fixtures_geo import GENERAL_1, MICRO_11, MICRO_12, clean_hierarchy_grids, local_line


def test_identical_layers_have_no_changes() -> None:
    assert diff_layers(clean_hierarchy_grids(), clean_hierarchy_grids()) == []


def test_moved_boundary_is_two_removed_and_two_added_with_areas() -> None:
    grids = clean_hierarchy_grids()
    r = move_boundary(
        grids, [MICRO_11, MICRO_12], local_line([(60, -10), (60, 110)]), {g.code for g in grids}
    )
    changes = diff_layers(grids, list(r.grids))
    assert summarize_diff(changes) == {"added": 2, "removed": 2, "changed": 0}
    by = {c.code: c for c in changes}
    assert by[MICRO_11].change == "removed" and by[MICRO_11].area_after_m2 is None
    new = by[GENERAL_1 + "003"]
    assert new.change == "added" and new.area_change_m2 == pytest.approx(6000, rel=2e-3)
    d = new.to_dict(geometry=True)
    assert d["moved"]["type"] == "Polygon" and d["area_before_m2"] is None


def test_rename_is_a_change_of_name_only() -> None:
    grids = clean_hierarchy_grids()
    (c,) = diff_layers(grids, list(rename(grids, MICRO_11, "新名").grids))
    assert (c.code, c.change, c.fields, c.moved_m2, c.area_change_m2) == (
        MICRO_11,
        "changed",
        ("name",),
        0.0,
        0.0,
    )
