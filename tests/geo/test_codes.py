"""geo.codes: DB11/T 2157 reading order (rows north → south, west → east) and codes never reused."""

from __future__ import annotations

import pytest

from geo.codes import CodesExhausted, max_seq, new_codes, reading_order
from tests.fixtures_geo import GENERAL_1, local_box


def test_reading_order_is_rows_north_to_south_each_west_to_east() -> None:
    sw, se, nw, ne = (
        local_box(0, 0, 50, 50),
        local_box(50, 0, 100, 50),
        local_box(0, 50, 50, 100),
        local_box(50, 50, 100, 100),
    )
    assert reading_order([sw, se, nw, ne]) == [2, 3, 0, 1]


def test_side_by_side_strips_of_unequal_height_are_one_row() -> None:
    # a tall west strip and a short east box beside it: one row, west first
    tall, short = local_box(0, 0, 20, 100), local_box(20, 60, 100, 100)
    assert reading_order([short, tall]) == [1, 0]


def test_new_codes_start_above_every_code_ever_used() -> None:
    used = {GENERAL_1 + "001", GENERAL_1 + "007", GENERAL_1, "510116004001002009"}
    assert max_seq(GENERAL_1, used) == 7
    east, west = local_box(50, 0, 100, 100), local_box(0, 0, 50, 100)
    assert new_codes(GENERAL_1, [east, west], used) == [GENERAL_1 + "009", GENERAL_1 + "008"]


def test_codes_exhausted() -> None:
    with pytest.raises(CodesExhausted) as exc:
        new_codes(GENERAL_1, [local_box(0, 0, 1, 1)], {GENERAL_1 + "999"})
    assert exc.value.field == "code" and "已用完" in exc.value.zh
