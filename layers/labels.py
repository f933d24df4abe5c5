"""Label placement for printed maps: every label inside its polygon, none overlapping another.

Works in map units (metres of EPSG:4544) with a known scale (``m_per_pt``: metres of ground per
typographic point on paper), so it can be tested without drawing. For each polygon the variants of
its text are tried in order (e.g. full code + name, full code, short code + name, short code), each
from ``max_pt`` down to ``min_pt``; a variant fits at a candidate centre when its whole box lies
*strictly inside* the polygon (``contains_properly``: touching the edge does not count) and touches no
box placed before (nor an obstacle). Candidate centres are the pole of inaccessibility
(:func:`shapely.polylabel`) first, then interior points ranked by distance to the boundary. When
nothing fits, the last variant is set outside as a callout with a leader line from the pole, in a free
spot inside ``frame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import shapely
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from layers.fonts import FONT_FAMILIES

PT_PER_INCH = 72.0
#: Line pitch as a multiple of the font size (matplotlib's default ``linespacing``).
LINE_PITCH = 1.2
#: Padding around text (as a fraction of the font size) kept clear inside the polygon; the drawn
#: text background (``boxstyle`` pad) must not exceed it.
PAD = 0.25
SIZE_STEP = 0.5
#: Raster output hints glyphs; at some dpi (100) a line comes out ~2 % wider than its vector width.
WIDTH_SLACK = 1.03

Kind = Literal["inside", "callout", "none"]


@dataclass(frozen=True, slots=True)
class LabelItem:
    """A polygon (metres) to label, with text variants in order of preference (each a tuple of lines)."""

    key: str
    polygon: BaseGeometry
    variants: tuple[tuple[str, ...], ...]
    weight: str = "normal"
    #: Optional largest size per variant (e.g. keep a bare short code from shouting); None = max_pt.
    variant_max_pt: tuple[float | None, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a label went. ``anchor`` is a point inside the polygon (the pole, or the chosen candidate);
    ``center`` is the centre of the text box; ``box`` its (minx, miny, maxx, maxy) in metres, padding
    included. ``variant`` indexes ``LabelItem.variants``; ``kind`` is ``none`` when nothing could be set.
    """

    key: str
    lines: tuple[str, ...]
    size_pt: float
    anchor: tuple[float, float]
    center: tuple[float, float]
    box: tuple[float, float, float, float]
    kind: Kind
    variant: int
    weight: str = "normal"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@lru_cache(maxsize=4096)
def text_width_em(line: str, weight: str = "normal") -> float:
    """Advance width of one line of text in em (font size 1), measured with the print font."""
    if not line:
        return 0.0
    prop = FontProperties(family=FONT_FAMILIES, size=100, weight=weight)
    w, _h, _d = TextToPath().get_text_width_height_descent(line, prop, ismath=False)
    return w / 100.0


def box_size_pt(lines: Sequence[str], size_pt: float, weight: str = "normal") -> tuple[float, float]:
    """(width, height) in points of the padded box of a block of lines at ``size_pt``."""
    width = max(text_width_em(s, weight) for s in lines) * WIDTH_SLACK + 2 * PAD
    height = LINE_PITCH * len(lines) + 2 * PAD - (LINE_PITCH - 1.0)
    return width * size_pt, height * size_pt


def _sizes(max_pt: float, min_pt: float) -> list[float]:
    n = round((max_pt - min_pt) / SIZE_STEP)
    return [max_pt - i * SIZE_STEP for i in range(n + 1)]


def _candidates(poly: BaseGeometry, n_grid: int = 14, keep: int = 48) -> np.ndarray:
    """Centre candidates: the pole of inaccessibility, then interior grid points, most interior first."""
    return _candidates_many([poly], n_grid, keep)[0]


def _candidates_many(polys: Sequence[BaseGeometry], n_grid: int = 14, keep: int = 48) -> list[np.ndarray]:
    """:func:`_candidates` of many polygons with one call of each shapely function for them all:
    poles (:func:`shapely.maximum_inscribed_circle`, as :func:`shapely.ops.polylabel`), the interior
    grid points and their distances to the boundary."""
    if not polys:
        return []
    arr = np.asarray(polys, dtype=object)
    shapely.prepare(arr)
    b = shapely.bounds(arr)
    tol = np.maximum(np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 200.0, 0.1)
    mains = np.array(
        [p if p.geom_type == "Polygon" else max(shapely.get_parts(p), key=lambda g: g.area) for p in arr],
        dtype=object,
    )
    poles = shapely.get_coordinates(shapely.get_point(shapely.maximum_inscribed_circle(mains, tol), 0))
    xs = np.linspace(b[:, 0], b[:, 2], n_grid + 2, axis=1)[:, 1:-1]
    ys = np.linspace(b[:, 1], b[:, 3], n_grid + 2, axis=1)[:, 1:-1]
    gx = np.broadcast_to(xs[:, None, :], (len(arr), n_grid, n_grid)).reshape(len(arr), -1)
    gy = np.broadcast_to(ys[:, :, None], (len(arr), n_grid, n_grid)).reshape(len(arr), -1)
    owner = np.repeat(np.arange(len(arr)), n_grid * n_grid)
    inside = shapely.contains_xy(arr[owner], gx.ravel(), gy.ravel())
    idx = np.flatnonzero(inside)
    dist = np.empty(len(inside))
    dist[idx] = shapely.distance(
        shapely.boundary(arr)[owner[idx]], shapely.points(gx.ravel()[idx], gy.ravel()[idx])
    )
    out = []
    for i in range(len(arr)):
        mine = idx[owner[idx] == i]
        mine = mine[np.argsort(-dist[mine], kind="stable")[:keep]]
        pts = np.column_stack([gx.ravel()[mine], gy.ravel()[mine]])
        out.append(np.vstack([poles[i : i + 1], pts]))
    return out


def _boxes(centres: np.ndarray, w: float, h: float) -> np.ndarray:
    return shapely.box(
        centres[:, 0] - w / 2, centres[:, 1] - h / 2, centres[:, 0] + w / 2, centres[:, 1] + h / 2
    )


def _free(boxes: np.ndarray, taken: shapely.STRtree | None, taken_geoms: list[BaseGeometry]) -> np.ndarray:
    ok = np.ones(len(boxes), dtype=bool)
    if taken is None or not taken_geoms:
        return ok
    hits = taken.query(boxes, predicate="intersects")
    ok[np.unique(hits[0])] = False
    return ok


def layout_labels(
    items: Sequence[LabelItem],
    *,
    m_per_pt: float,
    frame: tuple[float, float, float, float] | None = None,
    obstacles: Sequence[BaseGeometry] = (),
    max_pt: float = 7.0,
    min_pt: float = 4.5,
    callout: bool = True,
    callout_pt: float | None = None,
) -> list[Placement]:
    """Place one label per item; see the module docstring. Returns placements in the order of ``items``.

    Guarantees (tested): ``anchor`` lies inside the item's polygon; an ``inside`` box lies strictly
    inside it; no two boxes (and no box and obstacle) intersect; callout boxes lie inside ``frame``.
    Items with an empty polygon or no variants get ``kind="none"``.
    """
    placed: list[BaseGeometry] = list(obstacles)
    tree = shapely.STRtree(placed) if placed else None
    results: dict[int, Placement] = {}
    pending: list[tuple[int, LabelItem, tuple[float, float]]] = []
    sizes = _sizes(max_pt, min_pt)

    def add(geom: BaseGeometry) -> None:
        nonlocal tree
        placed.append(geom)
        tree = shapely.STRtree(placed)

    live = [i for i, item in enumerate(items) if not item.polygon.is_empty and item.variants]
    cands_of = dict(zip(live, _candidates_many([items[i].polygon for i in live]), strict=True))
    for idx, item in enumerate(items):
        poly = item.polygon
        if idx not in cands_of:
            results[idx] = Placement(item.key, (), 0.0, (0.0, 0.0), (0.0, 0.0), (0, 0, 0, 0), "none", -1)
            continue
        shapely.prepare(poly)
        cands = cands_of[idx]
        anchor = (float(cands[0, 0]), float(cands[0, 1]))
        minx, miny, maxx, maxy = poly.bounds
        found = None
        for vi, lines in enumerate(item.variants):
            cap = item.variant_max_pt[vi] if vi < len(item.variant_max_pt) else None
            # every size of this variant at once; a box as wide or tall as the polygon cannot fit
            tries = []
            for size in sizes:
                if cap is not None and size > cap:
                    continue
                wpt, hpt = box_size_pt(lines, size, item.weight)
                w, h = wpt * m_per_pt, hpt * m_per_pt
                if w < maxx - minx and h < maxy - miny:
                    tries.append((size, w, h))
            if not tries:
                continue
            n = len(cands)
            ws = np.repeat([w for _, w, _ in tries], n)
            hs = np.repeat([h for _, _, h in tries], n)
            cx, cy = np.tile(cands[:, 0], len(tries)), np.tile(cands[:, 1], len(tries))
            boxes = shapely.box(cx - ws / 2, cy - hs / 2, cx + ws / 2, cy + hs / 2)
            ok = shapely.contains_properly(poly, boxes)
            if ok.any():
                ok[ok] = _free(boxes[ok], tree, placed)
            if ok.any():
                first = int(np.argmax(ok))  # the largest size that fits, then the first candidate
                found = (vi, lines, tries[first // n][0], first % n, boxes[first])
                break
        if found is None:
            pending.append((idx, item, anchor))
            continue
        vi, lines, size, k, b = found
        centre = (float(cands[k, 0]), float(cands[k, 1]))
        results[idx] = Placement(
            item.key, lines, size, centre, centre, tuple(b.bounds), "inside", vi, item.weight
        )
        add(b)

    # Callouts after every inside label, so they only take space nobody inside needs.
    for idx, item, anchor in pending:
        vi = len(item.variants) - 1
        lines = item.variants[vi]
        size = callout_pt if callout_pt is not None else min_pt
        wpt, hpt = box_size_pt(lines, size, item.weight)
        w, h = wpt * m_per_pt, hpt * m_per_pt
        place = _callout_spot(item.polygon, anchor, w, h, frame, tree, placed) if callout else None
        if place is None:
            results[idx] = Placement(
                item.key, lines, size, anchor, anchor, (0, 0, 0, 0), "none", vi, item.weight
            )
            continue
        b = shapely.box(place[0] - w / 2, place[1] - h / 2, place[0] + w / 2, place[1] + h / 2)
        results[idx] = Placement(
            item.key, lines, size, anchor, place, tuple(b.bounds), "callout", vi, item.weight
        )
        add(b)
    return [results[i] for i in range(len(items))]


def _callout_spot(
    poly: BaseGeometry,
    anchor: tuple[float, float],
    w: float,
    h: float,
    frame: tuple[float, float, float, float] | None,
    tree: shapely.STRtree | None,
    placed: list[BaseGeometry],
) -> tuple[float, float] | None:
    """A free box centre near the polygon: rings of 16 directions, shortest leader first."""
    ax, ay = anchor
    reach = max(Point(anchor).hausdorff_distance(poly.boundary), max(w, h))
    angles = np.deg2rad(np.arange(0, 360, 22.5) + 45.0)
    for step in range(1, 13):
        r = reach * (0.6 + 0.35 * step)
        cx = ax + r * np.cos(angles)
        cy = ay + r * np.sin(angles)
        cands = np.column_stack([cx, cy])
        boxes = _boxes(cands, w, h)
        ok = _free(boxes, tree, placed)
        if frame is not None:
            fx0, fy0, fx1, fy1 = frame
            ok &= (cx - w / 2 > fx0) & (cx + w / 2 < fx1) & (cy - h / 2 > fy0) & (cy + h / 2 < fy1)
        if ok.any():
            k = int(np.argmax(ok))
            return float(cx[k]), float(cy[k])
    return None
