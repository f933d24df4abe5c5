"""Tiny grid hierarchy and elements near 兴隆街道 (104.08 E, 30.40 N) for layer-file tests.

One community (三根松社区) split into two general grids, each split into two micro-grids; one micro-grid
is a MultiPolygon, one general grid has a hole-free notch, coordinates carry 10+ decimals so a
round trip that loses precision shows. Synthetic shapes, not real boundaries.
"""

from __future__ import annotations

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.elements import Element
from geo.hierarchy import Grid, Level

X0, Y0 = 104.0801234567891, 30.4001234567891
W, H = 0.0100000000003, 0.0080000000007
COMMUNITY = "510116004001"
GENERAL_A, GENERAL_B = COMMUNITY + "001", COMMUNITY + "002"


def _cell(ix: float, iy: float, w: float, h: float) -> Polygon:
    return box(X0 + ix * W, Y0 + iy * H, X0 + (ix + w) * W, Y0 + (iy + h) * H)


def hierarchy() -> list[Grid]:
    """7 grids: 1 community, 2 general (one 专属网格), 4 micro (one MultiPolygon)."""
    micro_b2 = MultiPolygon([_cell(0.5, 0.5, 0.5, 0.25), _cell(0.5, 0.75, 0.5, 0.25)])
    grids = [
        Grid(COMMUNITY, "三根松社区", Level.COMMUNITY, _cell(0, 0, 1, 1), None, None, "社区", 620),
        Grid(
            GENERAL_A,
            "三根松第一网格",
            Level.GENERAL,
            _cell(0, 0, 1, 0.5),
            COMMUNITY,
            COMMUNITY,
            "一般网格",
            300,
        ),
        Grid(
            GENERAL_B,
            "天府科技园专属网格",
            Level.GENERAL,
            _cell(0, 0.5, 1, 0.5),
            COMMUNITY,
            COMMUNITY,
            "专属网格",
            320,
        ),
        Grid(
            GENERAL_A + "001",
            "锦绣苑微网格",
            Level.MICRO,
            _cell(0, 0, 0.5, 0.5),
            GENERAL_A,
            COMMUNITY,
            "微网格",
            150,
        ),
        Grid(
            GENERAL_A + "002",
            "兴隆湖畔微网格",
            Level.MICRO,
            _cell(0.5, 0, 0.5, 0.5),
            GENERAL_A,
            COMMUNITY,
            "微网格",
            150,
        ),
        Grid(
            GENERAL_B + "001",
            "园区一期微网格",
            Level.MICRO,
            _cell(0, 0.5, 0.5, 0.5),
            GENERAL_B,
            COMMUNITY,
            "微网格",
            None,
        ),
        Grid(GENERAL_B + "002", "园区二期微网格", Level.MICRO, micro_b2, GENERAL_B, COMMUNITY, "微网格", 320),
    ]
    return grids


def elements() -> list[Element]:
    """Three elements of different geometry families (polygon, line, point)."""
    return [
        Element("E001", "小区", "锦绣苑", _cell(0.1, 0.1, 0.2, 0.2), 150, COMMUNITY, GENERAL_A + "001"),
        Element(
            "E002",
            "主干道",
            "兴隆大道",
            shapely.LineString([(X0, Y0 + 0.5 * H), (X0 + W, Y0 + 0.5 * H)]),
            0,
            COMMUNITY,
            None,
        ),
        Element(
            "E003", "商铺", "湖畔便利店", Point(X0 + 0.7 * W, Y0 + 0.2 * H), 0, COMMUNITY, GENERAL_A + "002"
        ),
    ]
