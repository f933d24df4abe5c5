"""Colours, line weights and paper sizes of the printed micro-grid sheets.

General grids are filled from the palette shared with the web maps (:mod:`layers.palette`, which also
decides each grid's colour). Boundaries get heavier with level: micro < general < community.
"""

from __future__ import annotations

from geo.errors import WeiwangError
from layers.palette import GENERAL_EDGE_COLOR

MM_PER_INCH = 25.4

#: ISO 216 sizes in millimetres, (short side, long side).
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
ORIENTATIONS = ("portrait", "landscape", "auto")

INK = "#222222"
MICRO_EDGE = {"color": "#555555", "linewidth": 0.45}
GENERAL_EDGE = {"color": GENERAL_EDGE_COLOR, "linewidth": 1.4}
COMMUNITY_EDGE = {"color": "#000000", "linewidth": 2.6}
NEIGHBOUR_EDGE = {"color": "#8a8a8a", "linewidth": 1.2, "linestyle": (0, (6, 3))}
NEIGHBOUR_FILL = "#f2f2f2"
OUTSIDE_FILL = "#f4f4f4"  # other grids around a general-grid sheet

#: Context layers from our own elements (no tile server). Keys are element types.
CONTEXT_LINES: dict[str, dict[str, object]] = {
    "主干道": {"color": "#a8a8a8", "linewidth": 3.2, "solid_capstyle": "round", "zorder": 3},
    "次干道": {"color": "#c2c2c2", "linewidth": 1.6, "solid_capstyle": "round", "zorder": 3},
    "绿道": {"color": "#3d9a50", "linewidth": 1.0, "linestyle": (0, (3, 2)), "zorder": 3.1},
    "水系": {"color": "#4a90d9", "linewidth": 3.6, "solid_capstyle": "round", "zorder": 3.2},
}
CONTEXT_AREAS: dict[str, dict[str, object]] = {
    "公园": {"facecolor": "#b9dfa5", "edgecolor": "#6aab55", "linewidth": 0.4, "zorder": 2.2},
    "水系": {"facecolor": "#a9cdf0", "edgecolor": "#4a90d9", "linewidth": 0.4, "zorder": 2.3},
    "小区": {"facecolor": "#ffffff", "edgecolor": "#b0b0b0", "linewidth": 0.3, "zorder": 2.1, "alpha": 0.35},
    "院落": {"facecolor": "#ffffff", "edgecolor": "#b0b0b0", "linewidth": 0.3, "zorder": 2.1, "alpha": 0.35},
    "企业": {"facecolor": "#ffffff", "edgecolor": "#9a9a9a", "linewidth": 0.3, "zorder": 2.1, "alpha": 0.35},
    "学校": {"facecolor": "#fff4c2", "edgecolor": "#b39b3c", "linewidth": 0.3, "zorder": 2.1},
    "市场": {"facecolor": "#ffe0c8", "edgecolor": "#b37a3c", "linewidth": 0.3, "zorder": 2.1},
}
CONTEXT_LEGEND = (
    ("主干道", "主干道"),
    ("次干道", "次干道"),
    ("绿道", "绿道"),
    ("水系", "水系"),
    ("公园", "公园"),
    ("小区", "小区 / 院落 / 单位"),
)


class InvalidPrintOption(WeiwangError):
    """A paper size, orientation or format the printer does not know."""

    code = "invalid_input"


def paper_size_in(paper: str, orientation: str) -> tuple[float, float]:
    """(width, height) in inches of an ISO paper in ``portrait`` or ``landscape``.

    >>> tuple(round(v * MM_PER_INCH, 6) for v in paper_size_in("A4", "portrait"))
    (210.0, 297.0)
    >>> tuple(round(v * MM_PER_INCH, 6) for v in paper_size_in("a3", "landscape"))
    (420.0, 297.0)
    """
    key = paper.upper()
    if key not in PAPER_MM:
        raise InvalidPrintOption(
            f"不支持的纸张：{paper}（可选 A4、A3）", f"unsupported paper {paper!r} (A4 or A3)", field="paper"
        )
    if orientation not in ("portrait", "landscape"):
        raise InvalidPrintOption(
            f"不支持的方向：{orientation}（可选 portrait、landscape、auto）",
            f"unsupported orientation {orientation!r} (portrait, landscape or auto)",
            field="orientation",
        )
    short, long_ = PAPER_MM[key]
    w, h = (short, long_) if orientation == "portrait" else (long_, short)
    return w / MM_PER_INCH, h / MM_PER_INCH
