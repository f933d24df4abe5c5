"""Colours, shapes and labels of the web maps (zh-CN), shared by the three pages and their JS.

Kept as plain data so the page embeds it once (``style`` in the page's JSON) and ``dispatch.js``
never hard-codes a colour. General grids take their colours, fill opacity and boundary from
:mod:`layers.palette`, shared with the printed sheet. State and category names are the values stored
by ``dispatch`` (``dispatch.states.State``, ``dispatch.categories.Category``); ``layers`` may not
import ``dispatch`` (import-linter), so ``tests/test_webmap.py`` checks these tables cover both enums.
"""

from __future__ import annotations

from typing import Any

from layers.palette import FILL_ALPHA, GENERAL_EDGE_COLOR

COMMUNITY_COLOR = "#222222"
MICRO_LINE = "#555555"

#: Incident state → marker colour. Open states warm, closed green, side states grey.
STATE_COLORS: dict[str, str] = {
    "已上报": "#e31a1c",
    "已受理": "#fd8d3c",
    "已交办": "#feb24c",
    "处置中": "#1f78b4",
    "已反馈": "#6a3d9a",
    "已结案": "#33a02c",
    "缓办": "#b15928",
    "已合并": "#999999",
    "无效": "#cccccc",
}

#: Incident category → marker shape (CSS class ``ww-shape-<shape>`` in weiwang.css).
CATEGORY_SHAPES: dict[str, str] = {
    "综合维稳": "square",
    "矛盾纠纷": "circle",
    "安全隐患": "triangle",
    "应急管理风险隐患": "diamond",
    "群众诉求": "hexagon",
}

#: Validation finding code → colour on the coverage map (codes of ``geo.validate.FINDING_CODES``).
FINDING_COLORS: dict[str, str] = {
    "gap": "#e31a1c",
    "overlap": "#6a3d9a",
    "not_inside_parent": "#ff7f00",
    "wrong_parent_level": "#ff7f00",
    "missing_parent": "#ff7f00",
    "element_outside": "#b15928",
    "element_straddles": "#fb9a99",
    "element_micro_mismatch": "#fb9a99",
    "unstaffed": "#1f78b4",
    "households_out_of_band": "#33a02c",
    "sliver": "#fdbf6f",
    "invalid_geometry": "#000000",
    "empty_geometry": "#000000",
}
FINDING_DEFAULT_COLOR = "#444444"

#: Choropleth classes for open incidents per micro-grid: (lower bound inclusive, colour).
OPEN_BINS: tuple[tuple[int, str], ...] = (
    (0, "#f7f7f7"),
    (1, "#fee5d9"),
    (3, "#fcae91"),
    (6, "#fb6a4a"),
    (10, "#cb181d"),
)

#: 按期结案率 classes per general grid: (lower bound inclusive, colour); None (no cases) is grey.
ONTIME_BINS: tuple[tuple[float, str], ...] = (
    (0.0, "#d7191c"),
    (0.7, "#fdae61"),
    (0.9, "#a6d96a"),
    (0.95, "#1a9641"),
)
ONTIME_NONE_COLOR = "#bdbdbd"


def finding_color(code: str) -> str:
    return FINDING_COLORS.get(code, FINDING_DEFAULT_COLOR)


def open_color(count: int) -> str:
    """Colour of a micro-grid with ``count`` open incidents (the highest bin whose bound ≤ count)."""
    color = OPEN_BINS[0][1]
    for lo, c in OPEN_BINS:
        if count >= lo:
            color = c
    return color


def ontime_color(rate: float | None) -> str:
    """Colour of a general grid's 按期结案率 (0–1); None (nothing due) is grey."""
    if rate is None:
        return ONTIME_NONE_COLOR
    color = ONTIME_BINS[0][1]
    for lo, c in ONTIME_BINS:
        if rate >= lo:
            color = c
    return color


def js_style() -> dict[str, Any]:
    """The style tables the page's JS needs (embedded in the page JSON)."""
    return {
        "states": STATE_COLORS,
        "categories": CATEGORY_SHAPES,
        "community": COMMUNITY_COLOR,
        "microLine": MICRO_LINE,
        "generalLine": GENERAL_EDGE_COLOR,
        "generalFillOpacity": FILL_ALPHA,
    }
