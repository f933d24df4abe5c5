"""Printable micro-grid distribution maps 微网格分布图 as PDF or PNG.

One core function, :func:`render_sheet`, behind the CLI (``weiwang print``) and HTTP
(``/maps/print/{community}.pdf|.png``). It takes data as arguments (a :class:`~geo.hierarchy.Hierarchy`,
elements, posts) and never reads the store.

A sheet shows: the title ``{name}微网格分布图``; micro-grids labelled inside their polygons (full code
and name when they fit, else a shrunk or 3-digit short code, else a callout — see
:mod:`layers.labels`); general grids in the colours of the web maps (:mod:`layers.palette`) with
heavier boundaries and their names; the community outline heaviest; roads, parks, water and
greenways from our own elements (no tiles); a legend;
a scale bar in metres and the scale 1:N (exact: the axes limits are set from N); a north arrow
pointing to true north (grid north of EPSG:4544 differs by the meridian convergence, about −0.47° at
104.08 E, 30.40 N; printed beside it); layer version and print date; the data note; and a roster
(微网格编码 → 名称, 微网格长, 微网格员; phones masked unless ``show_phones``) on the sheet, or on a page of
its own when it does not fit. Drawn in EPSG:4544 (CGCS2000 / 3-degree Gauss-Krüger CM 105E).
Paper sizes are exact ISO 216 (A4 210 × 297 mm, A3 297 × 420 mm). Text stays text in the PDF
(TrueType embedding, no path effects), so ``pdftotext`` finds every code and name.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import matplotlib
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.text import Text
from shapely.geometry import Point, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.crs import to_local_metric
from geo.elements import Element
from geo.errors import NotFound
from geo.hierarchy import Grid, Hierarchy, Level
from geo.party import PartyArea, party_types
from geo.roles import Post
from layers.fonts import PRINT_RC, cjk_font_path, install_truetype_subsetting, sheet_fonts
from layers.furniture import draw_north_arrow, draw_scale_bar, nice_denominator, nice_length
from layers.labels import PAD, LabelItem, Placement, layout_labels
from layers.palette import FILL_ALPHA, general_colors
from layers.partystyle import PARTY_LEGEND_TITLE, party_print_style
from layers.paths import line_segments, polygon_path
from layers.roster import RosterRow, draw_roster, fit_roster, roster_rows, short_name
from layers.styles import (
    COMMUNITY_EDGE,
    CONTEXT_AREAS,
    CONTEXT_LEGEND,
    CONTEXT_LINES,
    GENERAL_EDGE,
    INK,
    MICRO_EDGE,
    MM_PER_INCH,
    NEIGHBOUR_EDGE,
    NEIGHBOUR_FILL,
    ORIENTATIONS,
    OUTSIDE_FILL,
    InvalidPrintOption,
    paper_size_in,
)

MM_PER_PT = MM_PER_INCH / 72.0
MARGIN_MM = 10.0
TITLE_MM = 19.0
FOOTER_MM = 8.0
GAP_MM = 5.0
EXTENT_PAD = 0.04
SHORT_DIGITS = 3
FORMATS = ("pdf", "png")
ROSTER_MIN_PT = 4.5
PNG_ROSTER_MIN_PT = 3.5
ROSTER_PAGE_PT = 6.5  # least font of a roster page of its own


# --------------------------------------------------------------------------------------------------
# Data prepared for drawing (metres)
# --------------------------------------------------------------------------------------------------


def to_metric(geom: BaseGeometry) -> BaseGeometry:
    """WGS84 lon/lat → EPSG:4544 metres (x east, y north), via :func:`geo.crs.to_local_metric`."""
    return to_local_metric(geom)


def meridian_convergence(lon: float, lat: float) -> float:
    """Angle (degrees) from grid north of EPSG:4544 to true north, positive clockwise (true north
    east of grid north). West of the central meridian 105°E it is positive: +0.47° at Xinglong, the
    same angle pyproj's ``get_factors().meridian_convergence`` reports as −0.47° (grid from true).

    >>> round(meridian_convergence(104.08, 30.40), 2)
    0.47
    """
    a = to_local_metric(Point(lon, lat))
    b = to_local_metric(Point(lon, lat + 0.01))
    return math.degrees(math.atan2(b.x - a.x, b.y - a.y))


def _north_panel(ax: Axes, x1: float, y1: float, m_per_mm: float, convergence: float) -> BaseGeometry:
    """The north arrow and its convergence note on a white panel in the map's top-right corner
    (``x1``, ``y1``); answers the panel, which labels must avoid."""
    north_box = box(x1 - 30 * m_per_mm, y1 - 27 * m_per_mm, x1, y1)
    ax.add_patch(
        Rectangle(
            north_box.bounds[:2],
            30 * m_per_mm,
            27 * m_per_mm,
            facecolor="white",
            alpha=0.85,
            edgecolor="none",
            zorder=20,
        )
    )
    draw_north_arrow(ax, x1 - 12 * m_per_mm, y1 - 14 * m_per_mm, 14 * m_per_mm, convergence)
    ax.text(
        x1 - 15 * m_per_mm,
        y1 - 24.5 * m_per_mm,
        _north_note(convergence),
        fontsize=5.5,
        ha="center",
        va="center",
        color="#444444",
        zorder=21,
    )
    return north_box


def _north_note(convergence_deg: float) -> str:
    side = "东" if convergence_deg >= 0 else "西"
    return f"指真北（在坐标北以{side} {abs(convergence_deg):.2f}°）"


@dataclass
class CommunityData:
    """One community's grids, context and posts, projected to metres."""

    community: Grid
    generals: list[Grid]
    micros: dict[str, list[Grid]]
    geom: dict[str, BaseGeometry]
    context: list[tuple[str, BaseGeometry]]
    posts: list[Post]
    fills: dict[str, str]
    convergence_deg: float
    neighbours: list[tuple[Grid, BaseGeometry]] = field(default_factory=list)
    #: Party organisations (两网融合) with their areas in metres; empty when not asked for.
    party: list[tuple[PartyArea, BaseGeometry]] = field(default_factory=list)

    @property
    def all_micros(self) -> list[Grid]:
        return [m for g in self.generals for m in self.micros.get(g.code, ())]


def prepare(
    h: Hierarchy,
    community_code: str,
    elements: Sequence[Element] = (),
    posts: Sequence[Post] = (),
    party: Sequence[PartyArea] = (),
) -> CommunityData:
    """Select one community's grids, elements near it, its posts and (when given) its party
    organisations' areas; project to EPSG:4544.

    Raises :class:`~geo.errors.NotFound` when ``community_code`` is not a community of ``h``.
    """
    if community_code not in h or h.get(community_code).level is not Level.COMMUNITY:
        raise NotFound(f"社区不存在：{community_code}", f"no community {community_code}", field="community")
    sub = h.subset(community_code)
    community = sub.get(community_code)
    generals = sorted(
        (g for g in sub.children(community_code) if g.level is Level.GENERAL), key=lambda g: g.code
    )
    micros = {
        g.code: sorted((m for m in sub.children(g.code) if m.level is Level.MICRO), key=lambda m: m.code)
        for g in generals
    }
    geom = {g.code: to_metric(g.geometry) for g in sub if g.geometry is not None and not g.geometry.is_empty}
    comm_ll = community.geometry
    minx, miny, maxx, maxy = comm_ll.bounds
    dx, dy = (maxx - minx) * 0.25, (maxy - miny) * 0.25
    near = box(minx - dx, miny - dy, maxx + dx, maxy + dy)
    context = [
        (e.type, to_metric(e.geometry))
        for e in elements
        if e.type in CONTEXT_LINES or e.type in CONTEXT_AREAS
        if e.geometry is not None and not e.geometry.is_empty and e.geometry.intersects(near)
    ]
    codes = {g.code for g in sub}
    mine = [p for p in posts if p.grid_code in codes]
    fills = general_colors(h, community_code)
    neighbours = [
        (g, to_metric(g.geometry))
        for g in h.communities
        if g.code != community_code and g.geometry is not None and g.geometry.intersects(near)
    ]
    c = comm_ll.centroid
    party_m = [
        (a, to_metric(a.geometry))
        for a in party
        if a.geometry is not None and (a.community_code in (None, community_code))
    ]
    return CommunityData(
        community,
        generals,
        micros,
        geom,
        context,
        mine,
        fills,
        meridian_convergence(c.x, c.y),
        neighbours,
        party_m,
    )


# --------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------


@dataclass
class Page:
    """One composed page and what tests need to check it."""

    figure: Figure
    kind: str  # "overview" | "general" | "roster" | "city" (see :func:`compose_overview`)
    map_ax: Axes | None = None
    denominator: int = 0
    scale_bar_m: float = 0.0
    scale_bar: list[Rectangle] = field(default_factory=list)
    labels: list[Placement] = field(default_factory=list)
    label_polygons: dict[str, BaseGeometry] = field(default_factory=dict)
    label_artists: dict[str, Text] = field(default_factory=dict)
    roster_on_page: bool = False
    title: str = ""
    #: What an overview sheet drew: ``communities``, ``general``, ``micro`` and label counts.
    counts: dict[str, int] = field(default_factory=dict)


def _orientation(orientation: str, geom: BaseGeometry) -> str:
    if orientation not in ORIENTATIONS:
        paper_size_in("A4", orientation)  # raises the error with the right message
    if orientation != "auto":
        return orientation
    minx, miny, maxx, maxy = geom.bounds
    return "landscape" if (maxx - minx) > (maxy - miny) else "portrait"


def _new_figure(paper: str, orientation: str) -> tuple[Figure, float, float]:
    w_in, h_in = paper_size_in(paper, orientation)
    return Figure(figsize=(w_in, h_in)), w_in * MM_PER_INCH, h_in * MM_PER_INCH


def _axes_mm(fig: Figure, W: float, H: float, x: float, y: float, w: float, h: float) -> Axes:
    return fig.add_axes((x / W, y / H, w / W, h / H))


def _panel_axes(fig: Figure, W: float, H: float, x: float, y: float, w: float, h: float) -> Axes:
    ax = _axes_mm(fig, W, H, x, y, w, h)
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_axis_off()
    return ax


def _title_and_footer(
    fig: Figure, W: float, H: float, title: str, subtitle: str, footer_left: str, footer_right: str
) -> None:
    fig.text(
        0.5,
        1 - (MARGIN_MM + 6.5) / H,
        title,
        ha="center",
        va="center",
        fontsize=20,
        fontweight="bold",
        color=INK,
    )
    fig.text(0.5, 1 - (MARGIN_MM + 14.0) / H, subtitle, ha="center", va="center", fontsize=9, color="#444444")
    y = (MARGIN_MM + 2.0) / H
    fig.text(MARGIN_MM / W, y, footer_left, ha="left", va="center", fontsize=7, color="#333333")
    fig.text(
        1 - MARGIN_MM / W,
        y,
        footer_right,
        ha="right",
        va="center",
        fontsize=7.5,
        color="#a00000",
        fontweight="bold",
    )


def _polys(ax: Axes, geoms: Sequence[BaseGeometry], **kw: object) -> None:
    paths = [polygon_path(g) for g in geoms if not g.is_empty]
    if paths:
        ax.add_collection(PathCollection(paths, **kw), autolim=False)


def _lines(ax: Axes, geoms: Sequence[BaseGeometry], **kw: object) -> None:
    segs = line_segments(geoms)
    if segs:
        ax.add_collection(LineCollection(segs, **kw), autolim=False)


#: Largest size of abbreviated labels: short codes stay quieter than full labels.
SHORT_MAX_PT = 6.5


def _micro_item(m: Grid, geom: BaseGeometry) -> LabelItem:
    """Label variants of a micro-grid, best first: code + name, code, short code + name, short code."""
    name = short_name(m.name)
    suffix = m.code[-SHORT_DIGITS:]
    variants: list[tuple[str, ...]] = []
    caps: list[float | None] = []
    if name:
        variants.append((m.code, name))
        caps.append(None)
    variants.append((m.code,))
    caps.append(None)
    if name:
        variants.append((suffix, name))
        caps.append(SHORT_MAX_PT)
    variants.append((suffix,))
    caps.append(SHORT_MAX_PT)
    return LabelItem(m.code, geom, tuple(variants), variant_max_pt=tuple(caps))


def _draw_label(ax: Axes, p: Placement, color: str = INK, alpha: float = 0.7) -> Text:
    if p.kind == "callout":
        b = box(*p.box)
        end = nearest_points(b, Point(p.anchor))[0]
        ax.add_line(
            Line2D([p.anchor[0], end.x], [p.anchor[1], end.y], color="#333333", linewidth=0.5, zorder=9)
        )
        ax.plot([p.anchor[0]], [p.anchor[1]], marker="o", markersize=1.6, color="#333333", zorder=9)
    return ax.figure.text(
        p.center[0],
        p.center[1],
        p.text,
        ha="center",
        va="center",
        multialignment="center",
        fontsize=p.size_pt,
        fontweight=p.weight,
        linespacing=1.2,
        color=color,
        zorder=10,
        transform=ax.transData,
        bbox={
            "boxstyle": f"square,pad={PAD * 0.6:.2f}",
            "facecolor": "white",
            "alpha": alpha,
            "edgecolor": "#333333" if p.kind == "callout" else "none",
            "linewidth": 0.4,
        },
    )


def _legend_symbols(data: CommunityData) -> list[tuple[str, dict[str, object], str]]:
    symbols: list[tuple[str, dict[str, object], str]] = [
        ("line", COMMUNITY_EDGE, f"{data.community.kind or '社区'}边界"),
        ("line", GENERAL_EDGE, "专属网格边界" if _general_kind(data) == "专属网格" else "一般网格边界"),
        ("line", MICRO_EDGE, "微网格边界"),
    ]
    if data.neighbours:
        symbols.append(("line", NEIGHBOUR_EDGE, "相邻社区/村边界"))
    present = {t for t, _ in data.context}
    for key, text in CONTEXT_LEGEND:
        if key in CONTEXT_LINES and key in present:
            symbols.append(("line", CONTEXT_LINES[key], text))
        elif key in CONTEXT_AREAS and (key in present or (key == "小区" and present & {"院落", "企业"})):
            symbols.append(("area", CONTEXT_AREAS[key], text))
    for type_, kind, n in party_types([a for a, _ in data.party]):
        symbols.append(("line", party_print_style(kind), f"{type_}（{n}个）"))
    return symbols


def _draw_party(ax: Axes, data: CommunityData) -> None:
    """Party organisations' areas as outlines, one collection per kind (widest on top)."""
    by_kind: dict[str, list[BaseGeometry]] = {}
    for a, geom in data.party:
        by_kind.setdefault(a.kind, []).append(geom)
    for kind, geoms in by_kind.items():
        st = party_print_style(kind)
        _lines(
            ax,
            geoms,
            colors=st["color"],
            linewidths=st["linewidth"],
            linestyles=[st["linestyle"]],
            zorder=st["zorder"],
        )


LEGEND_NOTE = (
    "标注：微网格编码 + 名称；",
    f"地块较小时缩小字号或只标编码末{SHORT_DIGITS}位，",
    "仍放不下时引线标注；完整编码见名册。",
)


def _legend(
    ax: Axes, data: CommunityData, x: float, top: float, width: float, height: float, focus: Grid | None
) -> float:
    """Legend in panel mm coordinates (two columns when wide, else stacked); returns the y below it."""
    ax.text(x, top - 2.2, "图　例", fontsize=10, fontweight="bold", va="center", ha="left", color=INK)
    symbols = _legend_symbols(data)
    n_gen = len(data.generals)
    two_cols = width >= 110.0
    n_rows = max(n_gen, len(symbols)) if two_cols else n_gen + len(symbols)
    row = min(4.6, max(2.8, (height - 9.0 - 3 * 2.6 - 2.0) / max(n_rows, 1)))
    font = min(6.5, row / MM_PER_PT * 0.62)
    y = top - 7.0
    for g in data.generals:
        n = len(data.micros.get(g.code, ()))
        is_focus = focus is not None and g.code == focus.code
        fill = data.fills[g.code] if (focus is None or is_focus) else OUTSIDE_FILL
        ax.add_patch(
            Rectangle(
                (x, y - row * 0.35),
                6.0,
                row * 0.7,
                facecolor=fill,
                alpha=FILL_ALPHA if fill != OUTSIDE_FILL else 1.0,
                edgecolor=GENERAL_EDGE["color"],
                linewidth=0.8,
            )
        )
        weight = "bold" if is_focus else "normal"
        ax.text(
            x + 7.5,
            y,
            f"{g.name}（{n}个微网格）",
            fontsize=font,
            va="center",
            ha="left",
            color=INK,
            fontweight=weight,
        )
        y -= row
    bottom = y
    xs = x + width / 2 if two_cols else x
    y = top - 7.0 if two_cols else y
    for kind, style, text in symbols:
        if kind == "line":
            ax.add_line(
                Line2D(
                    [xs, xs + 6.0],
                    [y, y],
                    color=style["color"],
                    linewidth=float(style.get("linewidth", 1.0)),  # type: ignore[arg-type]
                    linestyle=style.get("linestyle", "-"),
                    solid_capstyle="butt",
                )
            )
        else:
            ax.add_patch(
                Rectangle(
                    (xs, y - row * 0.35),
                    6.0,
                    row * 0.7,
                    facecolor=style["facecolor"],
                    edgecolor=style["edgecolor"],
                    linewidth=0.5,
                )
            )
        ax.text(xs + 7.5, y, text, fontsize=font, va="center", ha="left", color=INK)
        y -= row
    bottom = min(bottom, y)
    notes = LEGEND_NOTE + (
        (f"{PARTY_LEGEND_TITLE}：红色虚线为各党组织覆盖的网格范围。",) if data.party else ()
    )
    for i, line in enumerate(notes):
        ax.text(x, bottom - 0.5 - i * 2.6, line, fontsize=5.8, va="top", ha="left", color="#444444")
    return bottom - 0.5 - len(notes) * 2.6 - 1.0


def _general_short(name: str, community_name: str) -> str:
    """A general grid's name without its community's name or stem (三根松第1网格 → 第1网格)."""
    stem = community_name.removesuffix("社区").removesuffix("村")
    for prefix in (community_name, stem):
        if prefix and name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def _general_kind(data: CommunityData) -> str:
    kinds = {g.kind for g in data.generals} - {None}
    return "专属网格" if kinds == {"专属网格"} else "一般网格"


def _frame_layout(W: float, H: float, orientation: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Map rectangle and panel rectangle (x, y, w, h) in mm."""
    bottom = MARGIN_MM + FOOTER_MM
    top = H - MARGIN_MM - TITLE_MM
    if orientation == "landscape":
        panel_w = max(95.0, round(W * 0.31))
        map_rect = (MARGIN_MM, bottom, W - 2 * MARGIN_MM - panel_w - GAP_MM, top - bottom)
        panel_rect = (W - MARGIN_MM - panel_w, bottom, panel_w, top - bottom)
    else:
        panel_h = round(H * 0.30)
        map_rect = (MARGIN_MM, bottom + panel_h + GAP_MM, W - 2 * MARGIN_MM, top - bottom - panel_h - GAP_MM)
        panel_rect = (MARGIN_MM, bottom, W - 2 * MARGIN_MM, panel_h)
    return map_rect, panel_rect


def _map_page(
    data: CommunityData,
    *,
    focus: Grid | None,
    paper: str,
    orientation: str,
    rows: list[RosterRow] | None,
    roster_min_pt: float,
    footer_left: str,
    footer_right: str,
    roster_note: str,
) -> Page:
    target = data.geom[focus.code] if focus is not None else data.geom[data.community.code]
    orient = _orientation(orientation, target)
    fig, W, H = _new_figure(paper, orient)
    map_rect, panel_rect = _frame_layout(W, H, orient)
    mx, my, mw, mh = map_rect
    ax = _axes_mm(fig, W, H, mx, my, mw, mh)
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(1.0)
    minx, miny, maxx, maxy = target.bounds
    ew, eh = (maxx - minx) * (1 + 2 * EXTENT_PAD), (maxy - miny) * (1 + 2 * EXTENT_PAD)
    denom = nice_denominator(max(ew / (mw / 1000.0), eh / (mh / 1000.0), 1.0))
    half_w, half_h = mw / 1000.0 * denom / 2, mh / 1000.0 * denom / 2
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    m_per_pt = MM_PER_PT / 1000.0 * denom
    m_per_mm = denom / 1000.0

    # Layers, bottom up.
    _polys(ax, [g for _, g in data.neighbours], facecolors=NEIGHBOUR_FILL, edgecolors="none", zorder=0.5)
    gen = data.generals
    fills = [data.fills[g.code] if focus is None or g.code == focus.code else OUTSIDE_FILL for g in gen]
    alphas = [FILL_ALPHA if focus is None or g.code == focus.code else 1.0 for g in gen]
    _polys(
        ax,
        [data.geom[g.code] for g in gen],
        facecolors=[matplotlib.colors.to_rgba(f, a) for f, a in zip(fills, alphas, strict=True)],
        edgecolors="none",
        zorder=1,
    )
    for kind, style in CONTEXT_AREAS.items():
        geoms = [g for t, g in data.context if t == kind and g.geom_type in ("Polygon", "MultiPolygon")]
        st = dict(style)
        z = st.pop("zorder")
        _polys(
            ax,
            geoms,
            facecolors=st["facecolor"],
            edgecolors=st["edgecolor"],
            linewidths=st["linewidth"],
            alpha=st.get("alpha"),
            zorder=z,
        )
    for kind, style in CONTEXT_LINES.items():
        geoms = [g for t, g in data.context if t == kind and "Line" in g.geom_type]
        st = dict(style)
        _lines(
            ax,
            geoms,
            colors=st["color"],
            linewidths=st["linewidth"],
            linestyles=st.get("linestyle", "solid"),
            capstyle=st.get("solid_capstyle", "butt"),
            zorder=st["zorder"],
        )
    all_micro = data.all_micros
    in_focus = [m for m in all_micro if focus is None or m.parent_code == focus.code]
    others = [m for m in all_micro if focus is not None and m.parent_code != focus.code]
    _lines(ax, [data.geom[m.code] for m in others], colors="#9a9a9a", linewidths=0.3, zorder=4)
    _lines(
        ax,
        [data.geom[m.code] for m in in_focus],
        colors=MICRO_EDGE["color"],
        linewidths=MICRO_EDGE["linewidth"] * (1.5 if focus is not None else 1.0),
        zorder=4.1,
    )
    _lines(
        ax,
        [data.geom[g.code] for g in gen],
        colors=GENERAL_EDGE["color"],
        linewidths=GENERAL_EDGE["linewidth"],
        zorder=5,
    )
    if focus is not None:
        _lines(ax, [data.geom[focus.code]], colors=GENERAL_EDGE["color"], linewidths=2.2, zorder=5.1)
    _lines(
        ax,
        [g for _, g in data.neighbours],
        colors=NEIGHBOUR_EDGE["color"],
        linewidths=NEIGHBOUR_EDGE["linewidth"],
        linestyles=[NEIGHBOUR_EDGE["linestyle"]],
        zorder=5.5,
    )
    _lines(
        ax,
        [data.geom[data.community.code]],
        colors=COMMUNITY_EDGE["color"],
        linewidths=COMMUNITY_EDGE["linewidth"],
        zorder=6,
    )
    _draw_party(ax, data)

    # Furniture: scale bar lower left, north arrow upper right (their areas are kept free of labels).
    bar_len = nice_length(mw * m_per_mm * 0.22)
    bx0, by0 = x0 + 6 * m_per_mm, y0 + 6 * m_per_mm
    bar_h = 1.6 * m_per_mm
    bar_box = box(x0, y0, bx0 + bar_len + 10 * m_per_mm, by0 + 14 * m_per_mm)
    ax.add_patch(
        Rectangle(
            (bar_box.bounds[0], bar_box.bounds[1]),
            bar_box.bounds[2] - bar_box.bounds[0],
            bar_box.bounds[3] - bar_box.bounds[1],
            facecolor="white",
            alpha=0.85,
            edgecolor="none",
            zorder=20,
        )
    )
    bars = draw_scale_bar(ax, bx0, by0, bar_len, bar_h, fontsize=7)
    ax.text(
        bx0,
        by0 + 9.5 * m_per_mm,
        f"比例尺 1:{denom:,}".replace(",", ""),
        fontsize=8,
        ha="left",
        va="bottom",
        color=INK,
        zorder=21,
    )
    north_box = _north_panel(ax, x1, y1, m_per_mm, data.convergence_deg)

    # Labels: micro-grids first (they matter most), then general-grid names in the space left.
    frame = (x0 + 2 * m_per_mm, y0 + 2 * m_per_mm, x1 - 2 * m_per_mm, y1 - 2 * m_per_mm)
    view = box(*frame)
    items = [_micro_item(m, data.geom[m.code]) for m in in_focus]
    max_pt = 10.0 if focus is not None else 8.5
    placements = layout_labels(
        items,
        m_per_pt=m_per_pt,
        frame=frame,
        obstacles=[bar_box, north_box],
        max_pt=max_pt,
        min_pt=4.5,
        callout_pt=5.5,
    )
    taken = [box(*p.box) for p in placements if p.kind != "none"] + [bar_box, north_box]
    g_items = []
    for g in gen:
        if focus is not None and g.code == focus.code:
            continue
        short = _general_short(g.name, data.community.name)
        variants = ((g.name,), (short,)) if short != g.name else ((g.name,),)
        g_items.append(LabelItem(g.code, data.geom[g.code].intersection(view), variants, weight="bold"))
    g_place = layout_labels(
        g_items, m_per_pt=m_per_pt, obstacles=taken, max_pt=11.0, min_pt=6.0, callout=False
    )
    taken += [box(*p.box) for p in g_place if p.kind != "none"]
    n_items = [
        LabelItem(n.code, geom.intersection(view), ((n.name,),), weight="bold") for n, geom in data.neighbours
    ]
    n_place = layout_labels(
        n_items, m_per_pt=m_per_pt, obstacles=taken, max_pt=11.0, min_pt=7.0, callout=False
    )
    page = Page(fig, "general" if focus is not None else "overview", ax, denom, bar_len, bars)
    for p in placements:
        if p.kind != "none":
            page.label_artists[p.key] = _draw_label(ax, p)
        page.label_polygons[p.key] = data.geom[p.key]
    for p in g_place:
        if p.kind != "none":
            _draw_label(ax, p, color="#1a1a1a" if focus is None else "#555555", alpha=0.55)
    for p in n_place:
        if p.kind != "none":
            _draw_label(ax, p, color="#8a8a8a", alpha=0.0)
    page.labels = placements

    # Panel: legend then roster.
    px, py, pw, ph = panel_rect
    pax = _panel_axes(fig, W, H, px, py, pw, ph)
    if orient == "landscape":
        legend_bottom = _legend(pax, data, 0.0, ph, pw, ph * 0.45, focus)
        roster_box = (0.0, legend_bottom - 2.0, pw, legend_bottom - 2.0)
    else:
        leg_w = min(78.0, pw * 0.36)
        _legend(pax, data, 0.0, ph, leg_w, ph, focus)
        roster_box = (leg_w + GAP_MM, ph, pw - leg_w - GAP_MM, ph)
    rx, rtop, rw, rh = roster_box
    if rows:
        fit = fit_roster(rows, rw, rh - 6.0, max_pt=8.0, min_pt=roster_min_pt)
        if fit is not None:
            pax.text(
                rx,
                rtop - 2.0,
                "微网格名册",
                fontsize=10,
                fontweight="bold",
                va="center",
                ha="left",
                color=INK,
            )
            draw_roster(pax, rows, rx, rtop - 5.0, rw, fit)
            page.roster_on_page = True
    if not page.roster_on_page and roster_note:
        pax.text(rx, rtop - 2.0, roster_note, fontsize=8, va="center", ha="left", color=INK)

    subtitle_parts = [f"{data.community.name}（{data.community.code}）"]
    if focus is not None:
        subtitle_parts.append(f"{focus.kind or '一般网格'} {focus.code}")
        subtitle_parts.append(f"{len(in_focus)} 个微网格")
        title = f"{focus.name}微网格分布图"
    else:
        kind = _general_kind(data)
        subtitle_parts.append(f"{len(gen)} 个{kind} · {len(all_micro)} 个微网格")
        title = f"{data.community.name}微网格分布图"
    hh = focus.households if focus is not None else data.community.households
    if hh:
        subtitle_parts.append(f"{hh} 户")
    _title_and_footer(
        fig, W, H, title, "　".join(subtitle_parts), f"{footer_left}　比例尺 1:{denom}", footer_right
    )
    page.title = title
    return page


def _roster_page(
    data: CommunityData, rows: list[RosterRow], paper: str, title: str, footer_left: str, footer_right: str
) -> list[Page]:
    """Roster continuation pages (portrait), as many as the rows need."""
    W, H = (v * MM_PER_INCH for v in paper_size_in(paper, "portrait"))
    bottom = MARGIN_MM + FOOTER_MM
    top = H - MARGIN_MM - TITLE_MM
    avail = top - bottom - 6.0
    n_pages = 1
    while (
        fit_roster(rows[: math.ceil(len(rows) / n_pages)], W - 2 * MARGIN_MM, avail, min_pt=ROSTER_PAGE_PT)
        is None
    ):
        if n_pages >= len(rows):
            break
        n_pages += 1
    per_page = math.ceil(len(rows) / n_pages)
    fig_rows = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]
    for i in range(len(fig_rows) - 1):  # a group heading never ends a page
        while fig_rows[i] and fig_rows[i][-1].kind == "group":
            fig_rows[i + 1].insert(0, fig_rows[i].pop())
    pages = []
    for i, chunk in enumerate(fig_rows):
        fig, W, H = _new_figure(paper, "portrait")
        pax = _panel_axes(fig, W, H, MARGIN_MM, bottom, W - 2 * MARGIN_MM, top - bottom)
        fit = fit_roster(chunk, W - 2 * MARGIN_MM, avail, min_pt=3.0)
        if fit is not None:
            draw_roster(pax, chunk, 0.0, top - bottom - 2.0, W - 2 * MARGIN_MM, fit)
        suffix = f"（{i + 1}/{len(fig_rows)}）" if len(fig_rows) > 1 else ""
        _title_and_footer(
            fig,
            W,
            H,
            f"{title}{suffix}",
            f"{data.community.name}（{data.community.code}）",
            footer_left,
            footer_right,
        )
        pages.append(Page(fig, "roster", roster_on_page=True, title=f"{title}{suffix}"))
    return pages


def _micro_count(h: Hierarchy, community_code: str) -> int:
    if community_code not in h:
        return 0
    return sum(1 for g in h.children(community_code) for m in h.children(g.code) if m.level is Level.MICRO)


def compose_pages(
    h: Hierarchy,
    community_code: str,
    *,
    elements: Sequence[Element] = (),
    posts: Sequence[Post] = (),
    general_code: str | None = None,
    paper: str = "A3",
    orientation: str = "auto",
    fmt: str = "pdf",
    version_label: str = "",
    data_note: str = "",
    show_phones: bool = False,
    multipage: bool = False,
    printed_on: date | None = None,
    party: Sequence[PartyArea] = (),
) -> list[Page]:
    """The pages of a sheet as matplotlib figures (see :func:`render_sheet` for the arguments)."""
    cjk_font_path()
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidPrintOption(
            f"不支持的格式：{fmt}（可选 pdf、png）",
            f"unsupported format {fmt!r} (pdf or png)",
            field="format",
        )
    paper_size_in(paper, "portrait")
    if orientation not in ORIENTATIONS:
        paper_size_in(paper, orientation)
    if multipage and fmt != "pdf":
        raise InvalidPrintOption("多页输出仅支持 PDF", "multi-page output is PDF only", field="format")
    if general_code is None and not multipage and _micro_count(h, community_code) > OVERVIEW_MICRO_THRESHOLD:
        return [
            compose_overview(
                h,
                [community_code],
                paper=paper,
                orientation=orientation,
                version_label=version_label,
                data_note=data_note,
                printed_on=printed_on,
            )
        ]
    data = prepare(h, community_code, elements, posts, party)
    focus: Grid | None = None
    if general_code is not None:
        if general_code not in {g.code for g in data.generals}:
            raise NotFound(
                f"网格 {general_code} 不是 {data.community.name} 的一般网格",
                f"{general_code} is not a general grid of community {community_code}",
                field="grid",
            )
        focus = next(g for g in data.generals if g.code == general_code)
    day = (printed_on or date.today()).isoformat()
    version = f"图层版本：{version_label}　" if version_label else ""
    footer_left = f"{version}打印日期：{day}　坐标系：CGCS2000 / 3度带高斯-克吕格 CM105°E（EPSG:4544）"
    right = [data_note] if data_note else []
    right.append("联系电话已脱敏" if not show_phones else "含联系电话，注意保密")
    footer_right = "　".join(right)

    with matplotlib.rc_context(PRINT_RC):
        pages: list[Page] = []
        generals = [focus] if focus is not None else data.generals
        rows = roster_rows(generals, data.micros, data.posts, show_phones=show_phones, fills=data.fills)
        if not any(r.kind == "row" for r in rows):
            note = "暂无微网格"
        elif multipage:
            note = "名册见各一般网格分页"
        elif fmt == "pdf":
            note = "微网格名册见下页"
        else:
            note = "名册字数过多，请打印 PDF 版"
        first = _map_page(
            data,
            focus=focus,
            paper=paper,
            orientation=orientation,
            rows=rows,
            roster_min_pt=ROSTER_MIN_PT if fmt == "pdf" else PNG_ROSTER_MIN_PT,
            footer_left=footer_left,
            footer_right=footer_right,
            roster_note=note,
        )
        pages.append(first)
        if rows and not first.roster_on_page and fmt == "pdf" and not multipage:
            title = f"{focus.name if focus else data.community.name}微网格名册"
            pages.extend(_roster_page(data, rows, paper, title, footer_left, footer_right))
        if multipage and focus is None:
            for g in data.generals:
                g_rows = roster_rows([g], data.micros, data.posts, show_phones=show_phones, fills=data.fills)
                pages.append(
                    _map_page(
                        data,
                        focus=g,
                        paper=paper,
                        orientation=orientation,
                        rows=g_rows,
                        roster_min_pt=ROSTER_MIN_PT,
                        footer_left=footer_left,
                        footer_right=footer_right,
                        roster_note="名册字数过多，见总图",
                    )
                )
    return pages


def render_sheet(
    h: Hierarchy,
    community_code: str,
    *,
    elements: Sequence[Element] = (),
    posts: Sequence[Post] = (),
    general_code: str | None = None,
    paper: str = "A3",
    orientation: str = "auto",
    fmt: str = "pdf",
    dpi: int = 300,
    version_label: str = "",
    data_note: str = "",
    show_phones: bool = False,
    multipage: bool = False,
    printed_on: date | None = None,
    party: Sequence[PartyArea] = (),
    progress: Progress | None = None,
) -> bytes:
    """Render the 微网格分布图 of one community (or, with ``general_code``, one general grid).

    ``paper`` A4 | A3; ``orientation`` portrait | landscape | auto (landscape when the mapped area
    is wider than tall); ``fmt`` pdf | png (``dpi`` applies to PNG); ``multipage`` (PDF only): the
    community overview, then one page per general grid. ``party``: party organisations' areas
    (:func:`geo.party.party_areas`) drawn as red outlines with a legend row per type (两网融合);
    empty (the default) leaves them off. ``progress(done, total)`` is called as pages are written.
    A community of more than :data:`OVERVIEW_MICRO_THRESHOLD` micro-grids prints as an overview
    (:func:`compose_overview`) unless one general grid or ``multipage`` is asked for. ``data_note``
    is printed in the footer (pass ``示意数据（合成）`` for the synthetic sample). Phones are masked
    unless ``show_phones``.
    Raises :class:`~geo.errors.NotFound` for an unknown community or general grid,
    :class:`~layers.styles.InvalidPrintOption` for a bad paper/orientation/format,
    :class:`~layers.fonts.FontMissing` when the CJK font is not installed.
    """
    if not (20 <= dpi <= 1200):
        raise InvalidPrintOption(
            f"分辨率超出范围：{dpi}（20–1200）", f"dpi {dpi} out of range (20-1200)", field="dpi"
        )
    pages = compose_pages(
        h,
        community_code,
        elements=elements,
        posts=posts,
        general_code=general_code,
        paper=paper,
        orientation=orientation,
        fmt=fmt,
        version_label=version_label,
        data_note=data_note,
        show_phones=show_phones,
        multipage=multipage,
        printed_on=printed_on,
        party=party,
    )
    return save_pages(pages, fmt, dpi, progress)


# --------------------------------------------------------------------------------------------------
# Overview sheets: a whole city, or a community of thousands of micro-grids
# --------------------------------------------------------------------------------------------------

#: A community with more micro-grids than this prints as an overview (:func:`compose_overview`):
#: per-grid labels and a roster of thousands of grids cannot be read on one sheet.
OVERVIEW_MICRO_THRESHOLD = 2_000
#: Least label size on an overview (pt): a label that would need less is left out.
OVERVIEW_MIN_PT = 5.0
#: Micro-grid labels are tried only when at most this many micro-grids are large enough on paper.
OVERVIEW_MAX_MICRO_LABELS = 1_500

#: Progress callback: ``(pages done, pages in all)``.
Progress = Callable[[int, int], None]


def boundary_path(geoms: Sequence[BaseGeometry] | np.ndarray) -> Path | None:
    """The boundaries of many (multi)polygons as one compound matplotlib :class:`~matplotlib.path.Path`,
    built with shapely's array functions (no per-grid Python): one ``MOVETO`` per ring, ``LINETO``
    after. None when there is nothing to draw.

    >>> from shapely.geometry import box
    >>> p = boundary_path([box(0, 0, 1, 1), box(1, 0, 2, 1)])
    >>> len(p.vertices), int((p.codes == Path.MOVETO).sum())
    (10, 2)
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return None
    rings = shapely.get_parts(shapely.boundary(arr[~shapely.is_empty(arr)]))
    if rings.size == 0:
        return None
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), Path.LINETO, dtype=Path.code_type)
    codes[np.r_[0, np.flatnonzero(np.diff(idx)) + 1]] = Path.MOVETO
    return Path(coords, codes)


def _outline(ax: Axes, geoms: Sequence[BaseGeometry] | np.ndarray, color: str, width: float, z: float) -> int:
    path = boundary_path(geoms)
    if path is None:
        return 0
    ax.add_collection(
        PathCollection([path], facecolors="none", edgecolors=color, linewidths=width, zorder=z),
        autolim=False,
    )
    return 1


def _label_fits(geoms: np.ndarray, texts: Sequence[str], m_per_pt: float, pt: float) -> np.ndarray:
    """Which polygons' bounding boxes could hold their one-line text at ``pt`` (a quick, vectorised
    upper bound: layout_labels then checks the real fit)."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    b = shapely.bounds(geoms)
    need_w = np.array([len(t) for t in texts], dtype=float) * 0.62 * pt * m_per_pt
    need_h = 1.3 * pt * m_per_pt
    return ((b[:, 2] - b[:, 0]) > need_w) & ((b[:, 3] - b[:, 1]) > need_h)


def compose_overview(
    h: Hierarchy,
    community_codes: Sequence[str] | None = None,
    *,
    paper: str = "A3",
    orientation: str = "auto",
    version_label: str = "",
    data_note: str = "",
    printed_on: date | None = None,
    title: str | None = None,
) -> Page:
    """One overview sheet of many grids: the communities of ``community_codes`` (every community of
    ``h`` when None).

    General grids are filled areas in their community's colours (:mod:`layers.palette`) with their
    boundaries; micro-grids are boundary lines only, drawn as one compound path (vectorised, so
    50,000 grids draw in seconds); community outlines heaviest. Labels — community names, general
    grid names, micro-grid codes — are set only where they fit at :data:`OVERVIEW_MIN_PT` or more
    (:func:`layers.labels.layout_labels`, no callouts); smaller ones are left out. No roster: the
    legend gives the counts. Raises :class:`~geo.errors.NotFound` for an unknown community code.
    """
    cjk_font_path()
    wanted = None if community_codes is None else list(dict.fromkeys(community_codes))
    by_code = {c.code: c for c in h.communities}
    if wanted is not None:
        missing = [c for c in wanted if c not in by_code]
        if missing:
            raise NotFound(f"社区不存在：{missing[0]}", f"no community {missing[0]}", field="community")
    comms = sorted((by_code[c] for c in (wanted or by_code)), key=lambda g: g.code)
    if not comms:
        raise NotFound("没有可打印的社区", "no community to print", field="community")
    generals: list[Grid] = []
    fills: list[str] = []
    micro_geoms: list[BaseGeometry] = []
    micro_codes: list[str] = []
    for c in comms:
        colors = general_colors(h, c.code)
        for g in sorted(h.children(c.code), key=lambda g: g.code):
            if g.level is not Level.GENERAL or g.geometry is None:
                continue
            generals.append(g)
            fills.append(colors.get(g.code, "#dddddd"))
            for m in h.children(g.code):
                if m.level is Level.MICRO and m.geometry is not None:
                    micro_geoms.append(m.geometry)
                    micro_codes.append(m.code)
    comm_m = np.asarray(to_local_metric(np.array([c.geometry for c in comms], dtype=object)), dtype=object)
    gen_m = np.asarray(to_local_metric(np.array([g.geometry for g in generals], dtype=object)), dtype=object)
    micro_m = np.asarray(to_local_metric(np.array(micro_geoms, dtype=object)), dtype=object)

    minx, miny, maxx, maxy = shapely.total_bounds(comm_m)
    orient = _orientation(orientation, box(minx, miny, maxx, maxy))
    fig, W, H = _new_figure(paper, orient)
    map_rect, panel_rect = _frame_layout(W, H, orient)
    mx, my, mw, mh = map_rect
    ax = _axes_mm(fig, W, H, mx, my, mw, mh)
    ax.set_xticks([])
    ax.set_yticks([])
    ew, eh = (maxx - minx) * (1 + 2 * EXTENT_PAD), (maxy - miny) * (1 + 2 * EXTENT_PAD)
    denom = nice_denominator(max(ew / (mw / 1000.0), eh / (mh / 1000.0), 1.0))
    half_w, half_h = mw / 1000.0 * denom / 2, mh / 1000.0 * denom / 2
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    m_per_pt = MM_PER_PT / 1000.0 * denom
    m_per_mm = denom / 1000.0

    # General grids filled, micro-grid lines (thinner as they shrink on paper), edges, outlines.
    _polys(
        ax,
        list(gen_m),
        facecolors=[matplotlib.colors.to_rgba(f, FILL_ALPHA) for f in fills],
        edgecolors="none",
        zorder=1,
    )
    if len(micro_m):
        side_mm = float(np.sqrt(np.median(shapely.area(micro_m)))) / m_per_mm
        micro_lw = float(np.clip(0.06 * side_mm, 0.08, MICRO_EDGE["linewidth"]))
        _outline(ax, micro_m, "#6a6a6a" if side_mm < 4 else str(MICRO_EDGE["color"]), micro_lw, 4)
    _outline(ax, gen_m, str(GENERAL_EDGE["color"]), 0.9 if len(generals) > 50 else 1.2, 5)
    _outline(ax, comm_m, str(COMMUNITY_EDGE["color"]), 1.8 if len(comms) > 1 else 2.4, 6)

    # Furniture.
    bar_len = nice_length(mw * m_per_mm * 0.22)
    bx0, by0 = x0 + 6 * m_per_mm, y0 + 6 * m_per_mm
    bar_box = box(x0, y0, bx0 + bar_len + 10 * m_per_mm, by0 + 14 * m_per_mm)
    ax.add_patch(
        Rectangle(
            bar_box.bounds[:2],
            bar_box.bounds[2] - bar_box.bounds[0],
            bar_box.bounds[3] - bar_box.bounds[1],
            facecolor="white",
            alpha=0.85,
            edgecolor="none",
            zorder=20,
        )
    )
    bars = draw_scale_bar(ax, bx0, by0, bar_len, 1.6 * m_per_mm, fontsize=7)
    ax.text(
        bx0,
        by0 + 9.5 * m_per_mm,
        f"比例尺 1:{denom}",
        fontsize=8,
        ha="left",
        va="bottom",
        color=INK,
        zorder=21,
    )
    centre = shapely.centroid(shapely.union_all([c.geometry for c in comms]))
    north_box = _north_panel(ax, x1, y1, m_per_mm, meridian_convergence(centre.x, centre.y))

    # Labels where legible: communities, then general grids, then micro-grids in the space left.
    frame = (x0 + 2 * m_per_mm, y0 + 2 * m_per_mm, x1 - 2 * m_per_mm, y1 - 2 * m_per_mm)
    view = box(*frame)
    taken: list[BaseGeometry] = [bar_box, north_box]
    c_place = layout_labels(
        [
            LabelItem(c.code, g.intersection(view), ((c.name,),), weight="bold")
            for c, g in zip(comms, comm_m, strict=True)
        ],
        m_per_pt=m_per_pt,
        obstacles=taken,
        max_pt=16.0,
        min_pt=OVERVIEW_MIN_PT + 1,
        callout=False,
    )
    taken += [box(*p.box) for p in c_place if p.kind != "none"]
    g_names = [g.name for g in generals]
    g_fit = _label_fits(gen_m, g_names, m_per_pt, OVERVIEW_MIN_PT)
    g_items = [
        LabelItem(g.code, geom.intersection(view), ((g.name,), (_general_short(g.name, ""),)))
        for g, geom, ok in zip(generals, gen_m, g_fit, strict=True)
        if ok
    ]
    g_place = layout_labels(
        g_items, m_per_pt=m_per_pt, obstacles=taken, max_pt=9.0, min_pt=OVERVIEW_MIN_PT, callout=False
    )
    taken += [box(*p.box) for p in g_place if p.kind != "none"]
    suffixes = [c[-SHORT_DIGITS:] for c in micro_codes]
    m_fit = np.flatnonzero(_label_fits(micro_m, suffixes, m_per_pt, OVERVIEW_MIN_PT))
    m_place: list[Placement] = []
    if 0 < len(m_fit) <= OVERVIEW_MAX_MICRO_LABELS:
        m_items = [
            LabelItem(
                micro_codes[i],
                micro_m[i],
                ((micro_codes[i],), (suffixes[i],)),
                variant_max_pt=(None, SHORT_MAX_PT),
            )
            for i in m_fit
            if micro_m[i].intersects(view)
        ]
        m_place = layout_labels(
            m_items, m_per_pt=m_per_pt, obstacles=taken, max_pt=7.0, min_pt=OVERVIEW_MIN_PT, callout=False
        )
    page = Page(fig, "city", ax, denom, bar_len, bars)
    for p in c_place:
        if p.kind != "none":
            _draw_label(ax, p, alpha=0.6)
    for p in g_place:
        if p.kind != "none":
            _draw_label(ax, p, color="#1a1a1a", alpha=0.5)
    for p in m_place:
        if p.kind != "none":
            page.label_artists[p.key] = _draw_label(ax, p, alpha=0.6)
    page.labels = m_place

    # Panel: legend and counts.
    px, py, pw, ph = panel_rect
    pax = _panel_axes(fig, W, H, px, py, pw, ph)
    kinds = {g.kind for g in generals} - {None}
    g_kind = "专属网格" if kinds == {"专属网格"} else "一般网格"
    pax.text(0.0, ph - 2.2, "图　例", fontsize=10, fontweight="bold", va="center", ha="left", color=INK)
    y = ph - 8.0
    pax.add_patch(
        Rectangle(
            (0.0, y - 1.5),
            6.0,
            3.0,
            facecolor=matplotlib.colors.to_rgba(fills[0] if fills else "#dddddd", FILL_ALPHA),
            edgecolor=GENERAL_EDGE["color"],
            linewidth=0.8,
        )
    )
    rows = [
        (None, f"{g_kind}（{len(generals)} 个，按社区内颜色区分）"),
        (COMMUNITY_EDGE, f"社区/村边界（{len(comms)} 个）"),
        (GENERAL_EDGE, f"{g_kind}边界"),
        (MICRO_EDGE, f"微网格边界（{len(micro_codes)} 个）"),
    ]
    for style, text in rows:
        if style is not None:
            pax.add_line(
                Line2D([0.0, 6.0], [y, y], color=style["color"], linewidth=float(style["linewidth"]))
            )  # type: ignore[arg-type]
        pax.text(7.5, y, text, fontsize=7, va="center", ha="left", color=INK)
        y -= 4.6
    shown = sum(1 for p in m_place if p.kind != "none")
    notes = [
        f"标注：社区名称、{g_kind}名称、微网格编码，",
        f"在本比例尺下小于 {OVERVIEW_MIN_PT:g} 磅、放不下的标注略去",
        f"（已标注微网格 {shown} 个）；详图与名册请按社区打印。",
    ]
    for i, line in enumerate(notes):
        pax.text(0.0, y - i * 3.0, line, fontsize=6.2, va="top", ha="left", color="#444444")

    names = "、".join(c.name for c in comms[:3]) + (f" 等 {len(comms)} 个社区/村" if len(comms) > 3 else "")
    sheet_title = title or (f"{comms[0].name}网格总览图" if len(comms) == 1 else "网格总览图")
    subtitle = f"{names}　{len(generals)} 个{g_kind} · {len(micro_codes)} 个微网格"
    day = (printed_on or date.today()).isoformat()
    version = f"图层版本：{version_label}　" if version_label else ""
    footer_left = (
        f"{version}打印日期：{day}　坐标系：CGCS2000 / 3度带高斯-克吕格 CM105°E（EPSG:4544）"
        f"　比例尺 1:{denom}"
    )
    _title_and_footer(fig, W, H, sheet_title, subtitle, footer_left, data_note)
    page.title = sheet_title
    page.counts = {
        "communities": len(comms),
        "general": len(generals),
        "micro": len(micro_codes),
        "community_labels": sum(1 for p in c_place if p.kind != "none"),
        "general_labels": sum(1 for p in g_place if p.kind != "none"),
        "micro_labels": shown,
    }
    return page


def save_pages(
    pages: Sequence[Page], fmt: str = "pdf", dpi: int = 300, progress: Progress | None = None
) -> bytes:
    """Write composed pages as one PDF (or the first as PNG); ``progress(done, total)`` after each page."""
    buf = io.BytesIO()
    install_truetype_subsetting()
    total = len(pages)
    if progress is not None:
        progress(0, total)
    with matplotlib.rc_context(PRINT_RC), sheet_fonts(p.figure for p in pages):
        if fmt.lower() == "png":
            pages[0].figure.savefig(buf, format="png", dpi=dpi, facecolor="white")
            if progress is not None:
                progress(1, 1)
        else:
            meta = {
                "Title": pages[0].title or "微网格分布图",
                "Creator": "weiwang 微网实格",
                "Subject": "微网格分布图",
            }
            with PdfPages(buf, metadata=meta) as pdf:
                for i, p in enumerate(pages):
                    pdf.savefig(p.figure)
                    if progress is not None:
                        progress(i + 1, total)
    return buf.getvalue()


def render_overview(
    h: Hierarchy,
    community_codes: Sequence[str] | None = None,
    *,
    paper: str = "A3",
    orientation: str = "auto",
    fmt: str = "pdf",
    dpi: int = 300,
    version_label: str = "",
    data_note: str = "",
    printed_on: date | None = None,
    title: str | None = None,
    progress: Progress | None = None,
) -> bytes:
    """The overview sheet (:func:`compose_overview`) as PDF or PNG bytes."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidPrintOption(
            f"不支持的格式：{fmt}（可选 pdf、png）",
            f"unsupported format {fmt!r} (pdf or png)",
            field="format",
        )
    if not (20 <= dpi <= 1200):
        raise InvalidPrintOption(
            f"分辨率超出范围：{dpi}（20–1200）", f"dpi {dpi} out of range (20-1200)", field="dpi"
        )
    paper_size_in(paper, "portrait")
    if orientation not in ORIENTATIONS:
        paper_size_in(paper, orientation)
    with matplotlib.rc_context(PRINT_RC):
        page = compose_overview(
            h,
            community_codes,
            paper=paper,
            orientation=orientation,
            version_label=version_label,
            data_note=data_note,
            printed_on=printed_on,
            title=title,
        )
    return save_pages([page], fmt, dpi, progress)
