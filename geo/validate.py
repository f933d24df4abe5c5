"""Validation of a grid hierarchy: 横向到边、纵向到底 checked, one finding per defect.

:func:`validate` takes a :class:`~geo.hierarchy.Hierarchy` (optionally governance elements and the
codes of staffed micro-grids) and returns a sorted list of :class:`Finding`; :func:`summarize` counts
them. Pure: no files, no database. Geometry is WGS84 lon/lat in and out; areas, lengths and overlays
are computed in EPSG:4544 (CGCS2000 3-degree GK CM 105E, via :mod:`geo.crs`), the metric CRS here.

Topology (overlap, gap, inside, contiguity) is overlaid in **lon/lat**, the CRS the layer is stored in,
and only the resulting pieces are projected to be measured. A straight lon/lat edge is not straight in
EPSG:4544 (it sags 1.1 cm over 1 km, 4.6 cm over 2 km near 104.08 E), so comparing edges after
projection turned the T-junctions a QGIS user draws (a vertex of one grid in the middle of its
neighbour's or parent's straight edge) into false gaps and overlaps of 2–41 m². The documented
tolerance: a piece is a finding only when its area is above the area tolerance **and** it is at least
``topology_tolerance_m`` (10 cm) wide somewhere (it survives an inward buffer of half that). Edges
closer than 10 cm are one edge — a layer drawn in metres and stored in lon/lat, where the same sag
appears the other way round, is clean too — while a real 1 m² sliver (1 m × 1 m, or 20 cm × 5 m) is
found.

Tolerance semantics (all strict "greater than"; defaults in :class:`ValidationOptions`):

- ``overlap``: two grids of the same level whose interiors share more than ``overlap_tolerance_m2``
  m². Shared edges and vertices are not overlaps (area 0).
- ``gap``: each connected piece of ``parent − union(children)`` larger than ``gap_tolerance_m2`` m²
  is one finding. A parent with no children at all is one gap of its whole area. Between
  communities (nothing above them), a hole in their union bordered by two or more communities is a
  gap; the open outside is not.
- ``not_inside_parent``: ``child − parent`` larger than ``inside_tolerance_m2`` m².
- ``not_contiguous``: a grid in more than one part (each part counted under the same tolerances):
  one part per grid, so a micro-grid in two pieces is a finding.
- ``sliver``: area below ``sliver_min_area_m2`` or mean width ``2·area/perimeter`` below
  ``sliver_min_width_m`` (for a long strip of width w, 2A/P ≈ w; for a square of side s it is s/2).
  A long narrow street-front micro-grid 15 m wide is not a sliver; a 1 m strip is.
- ``households_out_of_band``: outside the closed band ``[lo, hi]`` (30 and 100 households are fine).
  The band is per level and configurable per community: ``households_band`` for micro-grids,
  ``general_households_band`` for general grids (None: not checked), ``bands_by_community`` to
  override either for one community (``{code: {"micro": (lo, hi), "general": (lo, hi)}}``).
- ``not_compact``: a micro-grid whose Polsby–Popper compactness ``4πA/P²`` (1 for a disc, 0.785 for
  a square, 0.35 for a 1:6 strip) is below ``compactness_min`` (0.2): a warning, since a street-front
  strip is legitimately long; a ragged or snaking grid is a planning smell.
- ``party_uncovered`` / ``party_overlap`` (when party organisations are given): every micro-grid
  should lie in exactly one 党小组's area — a 党小组 covers the grids it names and the micro-grids
  of a general grid it names; none or two or more are findings (两网融合).
- elements: a polygon element is outside when more than ``element_tolerance_m2`` m² lies in no
  micro-grid, and straddles when more than that lies in each of two or more micro-grids. A point is
  outside when no micro-grid *covers* it (a point on a shared edge is inside, not straddling). A linear
  element is outside when more than ``element_tolerance_m`` metres lie outside every community.

One defect, one finding: a grid with empty, non-polygonal or invalid geometry is reported once;
checks against its parent's cover (gap) are skipped while a child has such a defect or the wrong
level, and children are not compared with an invalid parent. Overlaps and elements use the
``make_valid`` repair of an invalid grid. Two grids sharing a code are not reported as overlapping.

>>> from shapely.geometry import box
>>> from geo.hierarchy import Grid, Hierarchy, Level
>>> lonely = Grid("510116004001", "三根松社区", Level.COMMUNITY, box(104.08, 30.4, 104.081, 30.401))
>>> [(f.code, f.grids) for f in validate(Hierarchy([lonely]))]   # a community with no grids in it
[('gap', ('510116004001',))]
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo.crs import from_local_metric, to_local_metric
from geo.elements import Element
from geo.hierarchy import Grid, Hierarchy, Level

ERROR = "error"
WARNING = "warning"

#: Stable finding codes → (severity, zh title, en title). The web map and CLI use the titles as legend.
FINDING_CODES: dict[str, tuple[str, str, str]] = {
    "empty_geometry": (ERROR, "几何为空", "empty geometry"),
    "invalid_geometry": (ERROR, "几何无效", "invalid geometry"),
    "missing_code": (ERROR, "缺少编码", "missing code"),
    "duplicate_code": (ERROR, "编码重复", "duplicate code"),
    "code_format": (WARNING, "编码格式不符", "code format"),
    "missing_parent": (ERROR, "上级网格缺失", "missing parent"),
    "wrong_parent_level": (ERROR, "上级网格层级错误", "wrong parent level"),
    "community_mismatch": (WARNING, "所属社区不一致", "community mismatch"),
    "not_inside_parent": (ERROR, "超出上级网格", "not inside parent"),
    "not_contiguous": (ERROR, "网格不连续", "not contiguous"),
    "overlap": (ERROR, "网格重叠", "overlap"),
    "gap": (ERROR, "网格缝隙", "gap"),
    "sliver": (WARNING, "碎片网格", "sliver"),
    "element_outside": (ERROR, "要素不在网格内", "element outside"),
    "element_straddles": (WARNING, "要素跨网格", "element straddles grids"),
    "element_micro_mismatch": (WARNING, "要素所属微网格不符", "element micro-grid mismatch"),
    "duplicate_element_id": (WARNING, "要素编号重复", "duplicate element id"),
    "unstaffed": (WARNING, "未配微网格员", "no micro-grid worker"),
    "households_out_of_band": (WARNING, "户数超出范围", "households out of band"),
    "not_compact": (WARNING, "形状不紧凑", "not compact"),
    "party_uncovered": (WARNING, "无党小组覆盖", "no party group"),
    "party_overlap": (WARNING, "多个党小组覆盖", "several party groups"),
}
_SEVERITY_RANK = {ERROR: 0, WARNING: 1}
#: Code length by level (community 12 = county 6 + street 3 + community 3; +3 per level).
CODE_LENGTHS = {Level.COMMUNITY: 12, Level.GENERAL: 15, Level.MICRO: 18}
#: The level a grid's parent must have (a community has no parent).
PARENT_LEVEL = {Level.MICRO: Level.GENERAL, Level.GENERAL: Level.COMMUNITY}
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_LOCATION = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


@dataclass(frozen=True)
class Finding:
    """One defect: stable ``code``, the grids (and elements) involved, where it is, what it measures.

    ``grids`` holds grid codes; a grid without a code appears as ``#<index>`` (its position in the
    hierarchy). ``geometry`` is WGS84 (overlap or gap polygon, invalid-point location, the grid or the
    element). ``area_m2`` is the measured area for area findings, else None.
    """

    code: str
    severity: str
    grids: tuple[str, ...]
    geometry: BaseGeometry | None
    message_zh: str
    message_en: str
    area_m2: float | None = None
    elements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; geometry as a GeoJSON geometry object (lists, not tuples) or None."""
        geom = None
        if self.geometry is not None and not self.geometry.is_empty:
            geom = json.loads(shapely.to_geojson(self.geometry))
        return {
            "code": self.code,
            "severity": self.severity,
            "grids": list(self.grids),
            "elements": list(self.elements),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "area_m2": None if self.area_m2 is None else round(self.area_m2, 2),
            "geometry": geom,
        }

    def to_feature(self) -> dict[str, Any]:
        """A GeoJSON Feature (for the coverage web map): the geometry plus every other field."""
        props = self.to_dict()
        return {"type": "Feature", "geometry": props.pop("geometry"), "properties": props}


@dataclass(frozen=True)
class ValidationOptions:
    """Tolerances and bands; see the module docstring for the exact semantics."""

    overlap_tolerance_m2: float = 0.5
    gap_tolerance_m2: float = 0.5
    inside_tolerance_m2: float = 0.5
    topology_tolerance_m: float = 0.1
    sliver_min_area_m2: float = 50.0
    sliver_min_width_m: float = 5.0
    households_band: tuple[int, int] = (30, 100)
    general_households_band: tuple[int, int] | None = None
    bands_by_community: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
    compactness_min: float = 0.2
    element_tolerance_m2: float = 1.0
    element_tolerance_m: float = 1.0
    check_code_format: bool = True


def _reproject(geoms: Any, inverse: bool = False) -> Any:
    """WGS84 → EPSG:4544 metres (or back), vectorised over an array of geometries (None stays None)."""
    return from_local_metric(geoms) if inverse else to_local_metric(geoms)


# --- helpers -----------------------------------------------------------------------------------


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (make_valid may return a collection with lines)."""
    if shapely.get_type_id(geom) in _POLYGONAL:
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in _POLYGONAL]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _name(g: Grid) -> str:
    """How a message names a grid's kind: its kind (社区/村/一般网格/专属网格/微网格) or level."""
    return g.kind or g.level.zh


def _en(level: Level) -> str:
    return {"community": "community", "general": "general grid", "micro": "micro-grid"}[level.value]


def _finding(
    code: str,
    grids: Sequence[str],
    geometry: BaseGeometry | None,
    zh: str,
    en: str,
    area_m2: float | None = None,
    elements: Sequence[str] = (),
) -> Finding:
    if geometry is not None:
        geometry = shapely.normalize(geometry)
    return Finding(
        code,
        FINDING_CODES[code][0],
        tuple(grids),
        geometry,
        zh,
        en,
        None if area_m2 is None else float(area_m2),
        tuple(elements),
    )


def _pieces(geom: BaseGeometry | None, tolerance: float, width_m: float) -> list[tuple[BaseGeometry, float]]:
    """The polygon parts of a WGS84 overlay result that count: (WGS84 part, area m²), largest first.

    A part counts when its EPSG:4544 area is above ``tolerance`` and it is at least ``width_m`` wide
    somewhere (an inward buffer of ``width_m / 2`` leaves something): a lens between two versions of one
    edge — a lon/lat edge against its projected twin — is never a finding, however long.
    """
    if geom is None or geom.is_empty:
        return []
    parts = np.array([p for p in shapely.get_parts(_polygonal(geom)) if not p.is_empty], dtype=object)
    if not len(parts):
        return []
    metric = _reproject(parts)
    areas = shapely.area(metric)
    big = areas > tolerance
    if width_m > 0 and big.any():
        wide = ~shapely.is_empty(shapely.buffer(metric[big], -width_m / 2))
        big[np.flatnonzero(big)[~wide]] = False
    out = [(parts[k], float(areas[k])) for k in np.flatnonzero(big)]
    return sorted(out, key=lambda x: -x[1])


def _union(pieces: list[tuple[BaseGeometry, float]]) -> tuple[BaseGeometry | None, float]:
    """The pieces as one WGS84 geometry and their total area."""
    if not pieces:
        return None, 0.0
    return shapely.union_all([p for p, _ in pieces]), sum(a for _, a in pieces)


class _Grids:
    """Per-grid state shared by the checks: labels, validity, repaired WGS84 and metric geometry."""

    def __init__(self, h: Hierarchy) -> None:
        self.grids = h.grids
        n = len(self.grids)
        self.label = [g.code.strip() or f"#{i}" for i, g in enumerate(self.grids)]
        self.has_code = [bool(g.code.strip()) for g in self.grids]
        self.first: dict[str, int] = {}
        for i, g in enumerate(self.grids):
            if self.has_code[i]:
                self.first.setdefault(g.code, i)
        raw = np.array([g.geometry for g in self.grids], dtype=object) if n else np.empty(0, object)
        missing = shapely.is_missing(raw) if n else np.zeros(0, bool)
        self.empty = missing | shapely.is_empty(raw) if n else np.zeros(0, bool)
        types = shapely.get_type_id(raw)
        self.nonpolygonal = ~self.empty & ~np.isin(types, _POLYGONAL)
        valid = shapely.is_valid(raw)
        self.invalid = ~self.empty & ~self.nonpolygonal & ~valid.astype(bool)
        fixed = raw.copy()
        for j in np.flatnonzero(self.invalid):
            fixed[j] = _polygonal(shapely.make_valid(raw[j]))
        for j in np.flatnonzero(self.empty | self.nonpolygonal):
            fixed[j] = None
        self.wgs = fixed
        self.metric = _reproject(fixed) if n else fixed
        self.usable = np.array([m is not None and not m.is_empty for m in self.metric], dtype=bool)
        self.defective = self.empty | self.nonpolygonal | self.invalid
        self.area = np.where(self.usable, shapely.area(self.metric), 0.0) if n else np.zeros(0)

    def parent_index(self, i: int) -> int | None:
        pc = self.grids[i].parent_code
        return self.first.get(pc) if pc else None

    def at_level(self, level: Level) -> np.ndarray:
        return np.array(
            [i for i, g in enumerate(self.grids) if g.level is level and self.usable[i]], dtype=np.intp
        )


# --- checks ------------------------------------------------------------------------------------


def _check_geometry(s: _Grids, out: list[Finding]) -> None:
    for i, g in enumerate(s.grids):
        lab, kind = s.label[i], _name(g)
        if s.empty[i]:
            out.append(
                _finding(
                    "empty_geometry",
                    [lab],
                    None,
                    f"{kind} {lab} 几何为空",
                    f"{_en(g.level)} {lab} has empty geometry",
                )
            )
        elif s.nonpolygonal[i]:
            t = g.geometry.geom_type
            out.append(
                _finding(
                    "invalid_geometry",
                    [lab],
                    g.geometry,
                    f"{kind} {lab} 不是面状几何（{t}）",
                    f"{_en(g.level)} {lab} is not polygonal ({t})",
                )
            )
        elif s.invalid[i]:
            reason = shapely.is_valid_reason(g.geometry)
            loc: BaseGeometry | None = None
            m = _LOCATION.search(reason)
            if m:
                x, y = float(m.group(1)), float(m.group(2))
                loc = Point(x, y) if math.isfinite(x) and math.isfinite(y) else None
            out.append(
                _finding(
                    "invalid_geometry",
                    [lab],
                    loc if loc is not None else g.geometry,
                    f"{kind} {lab} 几何无效：{reason}",
                    f"{_en(g.level)} {lab} is invalid: {reason}",
                )
            )


def _check_codes(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    counts = Counter(g.code for i, g in enumerate(s.grids) if s.has_code[i])
    for code, k in counts.items():
        if k > 1:
            idx = [i for i, g in enumerate(s.grids) if g.code == code]
            geoms = [s.wgs[i] for i in idx if s.usable[i]]
            geom = shapely.union_all(geoms) if geoms else None
            out.append(
                _finding(
                    "duplicate_code",
                    [code],
                    geom,
                    f"编码 {code} 出现 {k} 次",
                    f"code {code} appears {k} times",
                )
            )
    for i, g in enumerate(s.grids):
        lab, kind, level = s.label[i], _name(g), g.level
        if not s.has_code[i]:
            out.append(
                _finding(
                    "missing_code",
                    [lab],
                    s.wgs[i],
                    f"{kind}（第 {i} 个，{g.name}）缺少编码",
                    f"{_en(level)} #{i} ({g.name}) has no code",
                )
            )
            continue
        p = s.parent_index(i)
        parent = s.grids[p] if p is not None else None
        if opts.check_code_format:
            want = CODE_LENGTHS[level]
            bad_len = not (g.code.isdigit() and len(g.code) == want)
            bad_prefix = (
                parent is not None
                and parent.level is PARENT_LEVEL.get(level)
                and not g.code.startswith(parent.code)
            )
            if bad_len or bad_prefix:
                zh = f"{kind} {lab} 编码应为 {want} 位数字"
                en = f"{_en(level)} {lab}: code should be {want} digits"
                if bad_prefix and parent is not None:
                    zh += f"，并以上级编码 {parent.code} 开头"
                    en += f" starting with the parent code {parent.code}"
                out.append(_finding("code_format", [lab], s.wgs[i], zh, en))
        want_parent = PARENT_LEVEL.get(level)
        if want_parent is None:
            if g.parent_code:
                out.append(
                    _finding(
                        "wrong_parent_level",
                        [lab, g.parent_code],
                        s.wgs[i],
                        f"{kind} {lab} 为总网格，不应有上级（{g.parent_code}）",
                        f"community {lab} must have no parent (has {g.parent_code})",
                    )
                )
        elif parent is None:
            pc = g.parent_code or ""
            if pc:
                zh = f"{kind} {lab} 的上级网格 {pc} 不存在"
                en = f"{_en(level)} {lab}: parent {pc} does not exist"
            else:
                zh, en = f"{kind} {lab} 未填写上级网格", f"{_en(level)} {lab} has no parent"
            out.append(_finding("missing_parent", [lab, pc] if pc else [lab], s.wgs[i], zh, en))
        elif parent.level is not want_parent:
            out.append(
                _finding(
                    "wrong_parent_level",
                    [lab, parent.code],
                    s.wgs[i],
                    f"{kind} {lab} 的上级 {parent.code} 是{parent.level.zh}，应为{want_parent.zh}",
                    f"{_en(level)} {lab}: parent {parent.code} is a {_en(parent.level)}, "
                    f"expected a {_en(want_parent)}",
                )
            )
        # community_code must agree with the top of the chain
        top_i, seen = i, {i}
        while (q := s.parent_index(top_i)) is not None and q not in seen:
            seen.add(q)
            top_i = q
        top = s.grids[top_i]
        cc = g.community_code
        if cc and top.level is Level.COMMUNITY and cc != top.code:
            out.append(
                _finding(
                    "community_mismatch",
                    [lab, top.code],
                    s.wgs[i],
                    f"{kind} {lab} 标注社区 {cc}，但上级链指向 {top.code}",
                    f"{_en(level)} {lab} says community {cc} but its chain leads to {top.code}",
                )
            )


def _check_inside(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    pairs = []
    for i, g in enumerate(s.grids):
        p = s.parent_index(i)
        if (
            p is None
            or not s.usable[i]
            or not s.usable[p]
            or s.defective[p]
            or s.grids[p].level is not PARENT_LEVEL.get(g.level)
        ):
            continue
        pairs.append((i, p))
    if not pairs:
        return
    width = opts.topology_tolerance_m
    ci, pi = np.array(pairs).T
    # A child its parent covers has nothing outside it: one prepared covers test per pair (fast,
    # the parent is prepared once) leaves the overlay for the few children that stick out.
    parents = s.wgs[np.unique(pi)]
    shapely.prepare(parents)
    out_of = ~shapely.covers(s.wgs[pi], s.wgs[ci])
    ci, pi = ci[out_of], pi[out_of]
    diff = shapely.difference(s.wgs[ci], s.wgs[pi])
    for k in range(len(ci)):
        geom, a = _union(_pieces(diff[k], opts.inside_tolerance_m2, width))
        if a <= opts.inside_tolerance_m2:
            continue
        i, p = int(ci[k]), int(pi[k])
        g = s.grids[i]
        out.append(
            _finding(
                "not_inside_parent",
                [s.label[i], s.label[p]],
                geom,
                f"{_name(g)} {s.label[i]} 超出上级 {_name(s.grids[p])} {s.label[p]} {a:.1f} 平方米",
                f"{_en(g.level)} {s.label[i]} extends {a:.1f} m² outside its parent {s.label[p]}",
                a,
            )
        )


def _check_contiguity(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    """One part per grid: parts counted under the overlay tolerances (a crumb is not a part)."""
    for k in np.flatnonzero(s.usable & ~s.defective):  # a repaired grid has its invalid_geometry
        i = int(k)
        if shapely.get_num_geometries(s.wgs[i]) < 2:
            continue
        parts = _pieces(s.wgs[i], opts.inside_tolerance_m2, opts.topology_tolerance_m)
        if len(parts) < 2:
            continue
        g, lab = s.grids[i], s.label[i]
        sizes = "、".join(f"{a:.1f}" for _, a in parts)
        out.append(
            _finding(
                "not_contiguous",
                [lab],
                s.wgs[i],
                f"{_name(g)} {lab} 由 {len(parts)} 块互不相连的部分组成（{sizes} 平方米），应为一块",
                f"{_en(g.level)} {lab} is {len(parts)} separate parts ({sizes} m²), expected one",
                sum(a for _, a in parts[1:]),
            )
        )


def _check_overlaps(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    """Grids of one level must not overlap (siblings, cousins and across communities alike)."""
    for level in Level:
        idx = s.at_level(level)
        if len(idx) < 2:
            continue
        geoms = s.wgs[idx]
        tree = shapely.STRtree(geoms)
        a, b = tree.query(geoms, predicate="intersects")
        keep = a < b
        a, b = idx[a[keep]], idx[b[keep]]
        codes = np.array(s.label, dtype=object)
        keep = codes[a] != codes[b]
        a, b = a[keep], b[keep]
        swap = codes[a] > codes[b]  # overlay in code order: the same result whatever the input order
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        if not len(a):
            continue
        # interiors meet ⇒ a 2-D overlap: cheap relate test before the overlay (in lon/lat)
        inner = shapely.relate_pattern(s.wgs[a], s.wgs[b], "T********")
        a, b = a[inner], b[inner]
        inter = shapely.intersection(s.wgs[a], s.wgs[b])
        for k in range(len(a)):
            geom, ar = _union(_pieces(inter[k], opts.overlap_tolerance_m2, opts.topology_tolerance_m))
            if ar <= opts.overlap_tolerance_m2:
                continue
            i, j = int(a[k]), int(b[k])
            name = _name(s.grids[i])
            out.append(
                _finding(
                    "overlap",
                    [s.label[i], s.label[j]],
                    geom,
                    f"{name} {s.label[i]} 与 {s.label[j]} 重叠 {ar:.1f} 平方米",
                    f"{_en(level)} {s.label[i]} overlaps {s.label[j]} by {ar:.1f} m²",
                    ar,
                )
            )


def _check_gaps(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    """Each parent must be covered by its children: parent − union(children), piece by piece."""
    children: dict[int, list[int]] = defaultdict(list)
    for i in range(len(s.grids)):
        p = s.parent_index(i)
        if p is not None:
            children[p].append(i)
    for p, g in enumerate(s.grids):
        if g.level is Level.MICRO or not s.usable[p] or s.defective[p] or s.first.get(g.code) != p:
            continue
        kids = sorted(children.get(p, []), key=lambda i: s.label[i])
        child_level = Level.MICRO if g.level is Level.GENERAL else Level.GENERAL
        if any(s.defective[i] or s.grids[i].level is not child_level for i in kids):
            continue  # the child's own finding explains the hole
        cover = _cover(s.wgs[kids]) if kids else None
        hole = shapely.difference(s.wgs[p], cover) if cover is not None else s.wgs[p]
        for piece, a in _pieces(hole, opts.gap_tolerance_m2, opts.topology_tolerance_m):
            what = f"{_name(g)} {s.label[p]}"
            if kids:
                zh = f"{what} 内有 {a:.1f} 平方米未被下级网格覆盖（缝隙）"
                en = f"{_en(g.level)} {s.label[p]} has a gap of {a:.1f} m² not covered by its children"
            else:
                zh = f"{what} 没有下级网格（{a:.1f} 平方米未覆盖）"
                en = f"{_en(g.level)} {s.label[p]} has no children ({a:.1f} m² uncovered)"
            out.append(_finding("gap", [s.label[p]], piece, zh, en, a))
    _check_gaps_between_communities(s, opts, out)


def _cover(geoms: NDArray[np.object_]) -> BaseGeometry:
    """The union of ``geoms``: the linear-time coverage union when they form a valid coverage (no
    overlaps: the usual case of children), else the general overlay (same area either way)."""
    if len(geoms) > 1 and bool(shapely.coverage_is_valid(geoms)):
        return shapely.coverage_union_all(geoms)
    return shapely.union_all(geoms)


def _check_gaps_between_communities(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    """Holes in the union of communities bordered by two or more of them (a hole inside a single
    community is its own shape, e.g. an enclave of another street, and is not reported)."""
    comm = s.at_level(Level.COMMUNITY)
    comm = comm[~s.defective[comm]]
    if len(comm) < 2:
        return
    union = shapely.union_all(s.wgs[comm])
    tree = shapely.STRtree(s.wgs[comm])
    for part in shapely.get_parts(_polygonal(union)):
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            for piece, a in _pieces(hole, opts.gap_tolerance_m2, opts.topology_tolerance_m):
                around = sorted(s.label[int(i)] for i in comm[tree.query(piece, predicate="intersects")])
                if len(around) < 2:
                    continue
                names = "、".join(around)
                out.append(
                    _finding(
                        "gap",
                        around,
                        piece,
                        f"社区/村 {names} 之间有 {a:.1f} 平方米不属于任何总网格（缝隙）",
                        f"a gap of {a:.1f} m² between communities {', '.join(around)} belongs to none",
                        a,
                    )
                )


def _check_slivers(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    ok = s.usable & ~s.defective
    if not ok.any():
        return
    idx = np.flatnonzero(ok)
    area = s.area[idx]
    perim = shapely.length(s.metric[idx])
    width = np.where(perim > 0, 2 * area / np.where(perim > 0, perim, 1), 0.0)
    bad = (area < opts.sliver_min_area_m2) | (width < opts.sliver_min_width_m)
    for k in np.flatnonzero(bad):
        i = int(idx[k])
        g, a, w = s.grids[i], float(area[k]), float(width[k])
        out.append(
            _finding(
                "sliver",
                [s.label[i]],
                s.wgs[i],
                f"{_name(g)} {s.label[i]} 疑似碎片：面积 {a:.1f} 平方米，平均宽度 {w:.1f} 米",
                f"{_en(g.level)} {s.label[i]} looks like a sliver: {a:.1f} m², mean width {w:.1f} m",
                a,
            )
        )


def _check_elements(
    s: _Grids, elements: Sequence[Element], opts: ValidationOptions, out: list[Finding]
) -> dict[int, int]:
    """Element findings; returns households per micro-grid index (each element counted once)."""
    households: dict[int, int] = defaultdict(int)
    if not elements:
        return households
    for eid, k in sorted(Counter(e.id for e in elements).items()):
        if k > 1:
            out.append(
                _finding(
                    "duplicate_element_id",
                    [],
                    None,
                    f"要素编号 {eid} 出现 {k} 次",
                    f"element id {eid} appears {k} times",
                    elements=[eid],
                )
            )
    micro = s.at_level(Level.MICRO)
    mtree = shapely.STRtree(s.metric[micro])
    comm = s.at_level(Level.COMMUNITY)
    communities = shapely.union_all(s.metric[comm]) if len(comm) else shapely.Polygon()
    raw = np.array([e.geometry for e in elements], dtype=object)
    empty = shapely.is_missing(raw) | shapely.is_empty(raw)
    fixed = raw.copy()
    for k, e in enumerate(elements):
        if empty[k]:
            out.append(
                _finding(
                    "empty_geometry",
                    [],
                    None,
                    f"要素 {e.id}（{e.name}）几何为空",
                    f"element {e.id} ({e.name}) has empty geometry",
                    elements=[e.id],
                )
            )
            fixed[k] = None
        elif not shapely.is_valid(e.geometry):
            reason = shapely.is_valid_reason(e.geometry)
            out.append(
                _finding(
                    "invalid_geometry",
                    [],
                    e.geometry,
                    f"要素 {e.id}（{e.name}）几何无效：{reason}",
                    f"element {e.id} ({e.name}) is invalid: {reason}",
                    elements=[e.id],
                )
            )
            fixed[k] = shapely.make_valid(e.geometry)
    metric = _reproject(fixed)
    for k, e in enumerate(elements):
        m = metric[k]
        if m is None or m.is_empty:
            continue
        label = f"{e.type} {e.id}（{e.name}）" if e.name else f"{e.type} {e.id}"
        if e.linear:
            _element_linear(e, label, m, communities, opts, out)
            continue
        holders = _element_holders(s, micro, mtree, m, opts)
        if m.geom_type in ("Point", "MultiPoint"):
            outside_amount = 0.0 if holders else 1.0
        else:
            cover = shapely.union_all(s.metric[[i for i, _ in holders]]) if holders else None
            rest = shapely.difference(m, cover) if cover is not None else m
            outside_amount = float(shapely.area(rest))
            if outside_amount <= opts.element_tolerance_m2:
                outside_amount = 0.0
        if outside_amount:
            area = outside_amount if m.geom_type not in ("Point", "MultiPoint") else None
            zh, en = f"要素 {label} 不在任何微网格内", f"element {e.id} lies outside every micro-grid"
            if area:
                zh, en = zh + f"（{area:.1f} 平方米在外）", en + f" ({area:.1f} m² outside)"
            out.append(
                _finding(
                    "element_outside",
                    [s.label[i] for i, _ in holders],
                    e.geometry,
                    zh,
                    en,
                    area,
                    elements=[e.id],
                )
            )
        if len(holders) > 1 and m.geom_type not in ("Point", "MultiPoint"):
            codes = [s.label[i] for i, _ in holders]
            parts = "、".join(f"{s.label[i]} {a:.1f} 平方米" for i, a in holders)
            out.append(
                _finding(
                    "element_straddles",
                    codes,
                    e.geometry,
                    f"要素 {label} 跨越 {len(holders)} 个微网格：{parts}",
                    f"element {e.id} straddles {len(holders)} micro-grids: {', '.join(codes)}",
                    sum(a for _, a in holders[1:]),
                    elements=[e.id],
                )
            )
        if holders:
            best = holders[0][0]
            households[best] += max(int(e.households or 0), 0)
            held = {s.label[i] for i, _ in holders}
            if e.micro_code and len(holders) == 1 and e.micro_code not in held:
                out.append(
                    _finding(
                        "element_micro_mismatch",
                        [e.micro_code, s.label[best]],
                        e.geometry,
                        f"要素 {label} 标注属于微网格 {e.micro_code}，实际位于 {s.label[best]}",
                        f"element {e.id} says micro-grid {e.micro_code} but lies in {s.label[best]}",
                        elements=[e.id],
                    )
                )
    return households


def _element_holders(
    s: _Grids, micro: np.ndarray, tree: shapely.STRtree, m: BaseGeometry, opts: ValidationOptions
) -> list[tuple[int, float]]:
    """Micro-grids holding an element: (grid index, area inside), largest share first, then by code.
    Points: every micro-grid covering the point (area 0)."""
    if m.geom_type in ("Point", "MultiPoint"):
        hits = micro[tree.query(m, predicate="covered_by")]
        return sorted(((int(i), 0.0) for i in hits), key=lambda t: s.label[t[0]])
    hits = micro[tree.query(m, predicate="intersects")]
    areas = shapely.area(shapely.intersection(s.metric[hits], m)) if len(hits) else []
    inside = [(int(i), float(a)) for i, a in zip(hits, areas, strict=True) if a > opts.element_tolerance_m2]
    return sorted(inside, key=lambda t: (-t[1], s.label[t[0]]))


def _element_linear(
    e: Element,
    label: str,
    m: BaseGeometry,
    communities: BaseGeometry,
    opts: ValidationOptions,
    out: list[Finding],
) -> None:
    rest = shapely.difference(m, communities)
    length = float(shapely.length(rest)) if m.geom_type in ("LineString", "MultiLineString") else 0.0
    area = float(shapely.area(rest))
    if length > opts.element_tolerance_m or area > opts.element_tolerance_m2:
        amount_zh = f"{length:.1f} 米" if length else f"{area:.1f} 平方米"
        amount_en = f"{length:.1f} m" if length else f"{area:.1f} m²"
        out.append(
            _finding(
                "element_outside",
                [],
                e.geometry,
                f"线状要素 {label} 有 {amount_zh} 超出社区范围",
                f"linear element {e.id} runs {amount_en} outside the communities",
                area or None,
                elements=[e.id],
            )
        )


def _band(opts: ValidationOptions, g: Grid) -> tuple[int, int] | None:
    """The households band of a grid: its community's override, else the option of its level."""
    default = opts.households_band if g.level is Level.MICRO else opts.general_households_band
    over = opts.bands_by_community.get(g.community_code or "", {})
    found = over.get(g.level.value)
    return tuple(found) if found is not None else default  # type: ignore[return-value]


def _check_staff_and_households(
    s: _Grids,
    staffed: Collection[str] | None,
    households: dict[int, int],
    have_elements: bool,
    opts: ValidationOptions,
    out: list[Finding],
) -> None:
    staffed_set = set(staffed) if staffed is not None else None
    for i, g in enumerate(s.grids):
        if g.level is Level.COMMUNITY or not s.has_code[i]:
            continue
        lab = s.label[i]
        if g.level is Level.MICRO and staffed_set is not None and g.code not in staffed_set:
            out.append(
                _finding(
                    "unstaffed",
                    [lab],
                    s.wgs[i],
                    f"微网格 {lab}（{g.name}）未配备微网格员",
                    f"micro-grid {lab} ({g.name}) has no micro-grid worker",
                )
            )
        band = _band(opts, g)
        if band is None:
            continue
        lo, hi = band
        hh, source_zh, source_en = g.households, "", ""
        if hh is None and have_elements and g.level is Level.MICRO:
            hh, source_zh, source_en = households.get(i, 0), "（按要素合计）", " (sum of elements)"
        if hh is not None and not lo <= hh <= hi:
            out.append(
                _finding(
                    "households_out_of_band",
                    [lab],
                    s.wgs[i],
                    f"{_name(g)} {lab}（{g.name}）户数 {hh}{source_zh}，超出 {lo}–{hi} 户的范围",
                    f"{_en(g.level)} {lab} has {hh} households{source_en}, outside {lo}–{hi}",
                )
            )


def _check_compactness(s: _Grids, opts: ValidationOptions, out: list[Finding]) -> None:
    """Polsby–Popper 4πA/P² of each micro-grid against ``compactness_min`` (metric)."""
    slivers = {f.grids[0] for f in out if f.code == "sliver"}  # one defect, one finding
    idx = np.array(
        [
            i
            for i in s.at_level(Level.MICRO)
            if not s.defective[i] and s.has_code[i] and s.label[i] not in slivers
        ],
        dtype=np.intp,
    )
    if not len(idx) or opts.compactness_min <= 0:
        return
    perim = shapely.length(s.metric[idx])
    pp = np.where(perim > 0, 4 * math.pi * s.area[idx] / np.where(perim > 0, perim, 1) ** 2, 0.0)
    for k in np.flatnonzero(pp < opts.compactness_min):
        i = int(idx[k])
        g, v = s.grids[i], float(pp[k])
        out.append(
            _finding(
                "not_compact",
                [s.label[i]],
                s.wgs[i],
                f"微网格 {s.label[i]}（{g.name}）形状不紧凑：Polsby–Popper 指数 {v:.2f}，"
                f"低于 {opts.compactness_min:.2f}",
                f"micro-grid {s.label[i]} is not compact: Polsby–Popper {v:.2f} < {opts.compactness_min:.2f}",
            )
        )


def _check_party(s: _Grids, orgs: Sequence[Mapping[str, Any]], out: list[Finding]) -> None:
    """Every micro-grid in exactly one 党小组's area (by the grids each 党小组 names)."""
    groups = [o for o in orgs if "党小组" in str(o.get("type") or "")]
    covers: dict[str, list[str]] = defaultdict(list)
    for o in groups:
        for c in o.get("grid_codes") or []:
            covers[str(c)].append(str(o.get("code")))
    for i, g in enumerate(s.grids):
        if g.level is not Level.MICRO or not s.has_code[i]:
            continue
        lab = s.label[i]
        mine = sorted(set(covers.get(g.code, [])) | set(covers.get(g.parent_code or "", [])))
        if not mine:
            out.append(
                _finding(
                    "party_uncovered",
                    [lab],
                    s.wgs[i],
                    f"微网格 {lab}（{g.name}）不在任何党小组的范围内",
                    f"micro-grid {lab} ({g.name}) lies in no party group's area",
                )
            )
        elif len(mine) > 1:
            out.append(
                _finding(
                    "party_overlap",
                    [lab],
                    s.wgs[i],
                    f"微网格 {lab}（{g.name}）同时属于 {len(mine)} 个党小组：{'、'.join(mine)}",
                    f"micro-grid {lab} lies in {len(mine)} party groups: {', '.join(mine)}",
                )
            )


# --- public API --------------------------------------------------------------------------------


def _sort_key(f: Finding) -> tuple:
    return (_SEVERITY_RANK.get(f.severity, 9), f.code, f.grids, f.elements, f.message_en)


def validate(
    h: Hierarchy,
    *,
    elements: Sequence[Element] = (),
    staffed_micro: Collection[str] | None = None,
    options: ValidationOptions = ValidationOptions(),
    party_orgs: Sequence[Mapping[str, Any]] | None = None,
) -> list[Finding]:
    """Check a hierarchy (and optionally elements and staffing); findings sorted errors first, then by
    code, grids, elements.

    ``staffed_micro``: codes of micro-grids that have a 微网格员; None skips the staffing check.
    ``party_orgs``: party organisations (``code``, ``type``, ``grid_codes``); None skips the
    party-coverage check.
    Households: a micro-grid's ``households`` if set; else, when elements are given, the sum of the
    households of the elements it holds (each element counted once, in the micro-grid holding most of
    it; a point on a shared edge counts for the lowest code).
    """
    s = _Grids(h)
    out: list[Finding] = []
    _check_geometry(s, out)
    _check_codes(s, options, out)
    _check_inside(s, options, out)
    _check_contiguity(s, options, out)
    _check_overlaps(s, options, out)
    _check_gaps(s, options, out)
    _check_slivers(s, options, out)
    households = _check_elements(s, elements, options, out)
    _check_staff_and_households(s, staffed_micro, households, bool(elements), options, out)
    _check_compactness(s, options, out)
    if party_orgs is not None:
        _check_party(s, party_orgs, out)
    return sorted(out, key=_sort_key)


def summarize(findings: Sequence[Finding]) -> dict[str, Any]:
    """Counts per code and severity. ``clean`` is True only with no findings at all; ``ok`` is True
    when there is no error (warnings allowed)."""
    by_code = Counter(f.code for f in findings)
    by_sev = Counter(f.severity for f in findings)
    return {
        "total": len(findings),
        "errors": by_sev.get(ERROR, 0),
        "warnings": by_sev.get(WARNING, 0),
        "by_code": dict(sorted(by_code.items())),
        "clean": not findings,
        "ok": by_sev.get(ERROR, 0) == 0,
    }
