"""Redraw operations on a draft grid layer: split, merge, move a shared boundary, reparent, add, remove,
rename, reshape (a new outline for one micro-grid). Pure: grids (WGS84 lon/lat) in, grids out; no database.

Every operation returns the whole draft after it as a :class:`Redraw`, or raises
:class:`RedrawRefused` naming exactly what it would break. The guard is the validation itself: the
draft is validated before and after (topology, no elements), and any error — or sliver — that the
operation would add refuses it, with those findings in ``detail``. So a draft that was a partition
stays one, and a draft with an old defect can still be worked on without that defect blocking.

Codes (:mod:`geo.codes`): a micro-grid whose geometry changes is a new area and gets a new code,
numbered west → east, north → south after every code ever used under its parent (``used``); a grid
whose geometry does not change keeps its code. General grids are the committees' areas: they keep
their codes when a micro-grid moves between them (reparent), and a reparented micro-grid gets a new
code under its new parent (its code must start with the parent's).

Households: a new grid takes the households of the old grids it covers in proportion to the area it
takes from each (largest remainder, so totals are kept exactly); a recount from elements overrides
this once the draft is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as _shapely_split

from geo.codes import new_codes, reading_order
from geo.crs import area_m2, to_local_metric
from geo.elements import Element
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Grid, Hierarchy, Level
from geo.validate import ERROR, Finding, ValidationOptions, validate

#: The tolerances operations check with unless told otherwise.
DEFAULT_OPTIONS = ValidationOptions()
#: Findings an operation may never add (besides errors): a sliver is a real defect a redraw makes.
_REFUSED_WARNINGS = frozenset({"sliver"})


class RedrawRefused(WeiwangError):
    """An operation that would break the draft (a gap, overlap, piece, sliver, a lost parent …)."""

    code = "redraw_refused"


@dataclass(frozen=True)
class Redraw:
    """The draft after one operation, and what it did: codes retired and created (in code order)."""

    operation: str
    grids: tuple[Grid, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    summary_zh: str
    summary_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "removed": list(self.removed),
            "added": list(self.added),
            "summary_zh": self.summary_zh,
            "summary_en": self.summary_en,
        }


# --- helpers -----------------------------------------------------------------------------------


def _by_code(grids: Sequence[Grid], code: str, field: str = "grid") -> Grid:
    for g in grids:
        if g.code == code:
            return g
    raise NotFound(f"草稿中没有网格 {code}", f"no grid {code} in the draft", field=field)


def _micro(grids: Sequence[Grid], code: str, field: str = "grid") -> Grid:
    g = _by_code(grids, code, field)
    if g.level is not Level.MICRO:
        raise RedrawRefused(
            f"{code} 是{g.level.zh}，此操作只适用于微网格",
            f"{code} is a {g.level.value} grid; this operation works on micro-grids",
            field=field,
        )
    return g


def _metric_len(geom: BaseGeometry) -> float:
    return 0.0 if geom.is_empty else float(shapely.length(to_local_metric(geom)))


def shared_edge_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """Length in metres of the boundary two polygons share (0 when they only touch at points)."""
    common = shapely.intersection(a.boundary, b.boundary)
    return _metric_len(common)


def _parts(geom: BaseGeometry) -> list[BaseGeometry]:
    return [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]


def _polygon_pieces(poly: BaseGeometry, line: BaseGeometry) -> list[BaseGeometry]:
    """``poly`` cut by ``line`` (lon/lat); one piece when the line does not cross it."""
    out: list[BaseGeometry] = []
    lines = line if isinstance(line, LineString | MultiLineString) else None
    if lines is None:
        raise RedrawRefused(
            "分割线必须是线（LINESTRING）", "the cutting line must be a LINESTRING", field="line"
        )
    for part in _parts(poly):
        out.extend(_parts(_shapely_split(part, lines)))
    return out


def _share_households(olds: Sequence[Grid], news: Sequence[BaseGeometry]) -> list[int | None]:
    """Households of new areas from the old grids they overlap, totals kept exactly.

    Each old grid's households go to the new areas in proportion to the geodesic area (m²,
    :func:`geo.crs.area_m2`) each takes of it; the shares are rounded by largest remainder (each
    gets its floor, then the areas with the largest fractions get one more each, ties to the
    earlier area in reading order), so they add up to the old total. A split of a 46-household
    grid into halves of 60 % and 40 % of its area gives 28 and 18 (27.6 → 28, 18.4 → 18). Unknown
    households (None) in any old grid leave the new ones unknown.
    """
    if not olds or any(g.households is None for g in olds):
        return [None] * len(news)
    total = sum(int(g.households or 0) for g in olds)
    raw = [0.0] * len(news)
    for g in olds:
        ga = area_m2(g.geometry)
        if ga <= 0:
            continue
        for k, n in enumerate(news):
            raw[k] += int(g.households or 0) * area_m2(shapely.intersection(g.geometry, n)) / ga
    floors = [math.floor(x) for x in raw]
    rest = total - sum(floors)
    for k in sorted(range(len(news)), key=lambda k: -(raw[k] - floors[k]))[: max(rest, 0)]:
        floors[k] += 1
    return list(floors)


#: The guard's findings of the last few layers it validated, by content (:func:`_content_key`): the
#: draft after one operation is the draft before the next, so the next operation's "before" is not
#: validated again. Validation does not depend on the order of coded grids.
_GUARDED: OrderedDict[tuple[str, str], list[Finding]] = OrderedDict()
_GUARDED_KEEP = 4
_guarded_lock = threading.Lock()


def _content_key(grids: Sequence[Grid], options: ValidationOptions) -> tuple[str, str]:
    """A digest of everything :func:`geo.validate.validate` reads from ``grids`` (in code order)."""
    ordered = sorted(grids, key=lambda g: (g.code or "", g.level.depth))
    h = hashlib.sha256(str(len(ordered)).encode())
    for g in ordered:
        h.update(
            json.dumps(
                [g.code, g.name, g.level.value, g.parent_code, g.community_code, g.kind, g.households],
                ensure_ascii=False,
            ).encode()
        )
    for blob in shapely.to_wkb(np.array([g.geometry for g in ordered], dtype=object)):
        h.update(len(blob or b"").to_bytes(8, "little"))
        h.update(blob or b"")
    return repr(options), h.hexdigest()


def _guard(operation: str, before: Sequence[Grid], after: Sequence[Grid], options: ValidationOptions) -> None:
    """Refuse when ``after`` has a finding (error or sliver) that ``before`` did not have."""

    def bad(grids: Sequence[Grid]) -> list[Finding]:
        # a grid without a code is named by its position: only coded layers are looked up
        key = _content_key(grids, options) if all(g.code for g in grids) else None
        with _guarded_lock:
            hit = _GUARDED.get(key) if key is not None else None
        if hit is not None:
            return hit
        found = validate(Hierarchy(grids), options=options)
        out = [f for f in found if f.severity == ERROR or f.code in _REFUSED_WARNINGS]
        if key is None:
            return out
        with _guarded_lock:
            _GUARDED[key] = out
            while len(_GUARDED) > _GUARDED_KEEP:
                _GUARDED.popitem(last=False)
        return out

    old = {(f.code, f.grids) for f in bad(before)}
    new = [f for f in bad(after) if (f.code, f.grids) not in old]
    if new:
        raise RedrawRefused(
            f"操作 {operation} 会破坏草稿：" + "；".join(f.message_zh for f in new),
            f"{operation} would break the draft: " + "; ".join(f.message_en for f in new),
            field="geometry",
            detail={"findings": [{k: v for k, v in f.to_dict().items() if k != "geometry"} for f in new]},
        )


def _replace(
    operation: str,
    grids: Sequence[Grid],
    old: Sequence[Grid],
    new: Sequence[Grid],
    used: Collection[str],
    options: ValidationOptions,
    zh: str,
    en: str,
    keep: Sequence[Grid] = (),
) -> Redraw:
    """Replace ``old`` grids by ``new`` ones (codes not yet set are numbered here), with ``keep``
    replacing same-coded grids in place; guard and report."""
    fresh: dict[str, list[int]] = {}
    for k, g in enumerate(new):
        if not g.code:
            fresh.setdefault(g.parent_code or "", []).append(k)
    named = list(new)
    taken = set(used) | {g.code for g in grids}
    for parent, idx in fresh.items():
        for k, c in zip(idx, new_codes(parent, [new[k].geometry for k in idx], taken), strict=True):
            named[k] = replace(new[k], code=c)
    old_codes = {g.code for g in old}
    kept = {g.code: g for g in keep}
    out: list[Grid] = []
    placed = False
    for g in grids:
        if g.code in old_codes:
            if not placed:
                out.extend(named)
                placed = True
            continue
        out.append(kept.get(g.code, g))
    if not placed:
        out.extend(named)
    out = _ordered(out)
    _guard(operation, grids, out, options)
    removed = tuple(sorted(old_codes - {g.code for g in named}))
    added = tuple(sorted({g.code for g in named} - old_codes))
    return Redraw(operation, tuple(out), removed, added, zh, en)


def _ordered(grids: Sequence[Grid]) -> list[Grid]:
    """Top down, then by code: a stable draft order."""
    return sorted(grids, key=lambda g: (g.level.depth, g.code))


def _line_in(line: BaseGeometry) -> BaseGeometry:
    if line is None or line.is_empty or line.geom_type not in ("LineString", "MultiLineString"):
        raise RedrawRefused(
            "需要一条线（LINESTRING，经纬度）", "a LINESTRING (lon/lat) is needed", field="line"
        )
    return line


# --- operations --------------------------------------------------------------------------------


def split(
    grids: Sequence[Grid],
    code: str,
    line: BaseGeometry,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Split micro-grid ``code`` along ``line`` (lon/lat, crossing it side to side) into new grids."""
    g = _micro(grids, code)
    pieces = _polygon_pieces(g.geometry, _line_in(line))
    pieces = [pieces[i] for i in reading_order(pieces)]
    if len(pieces) < 2:
        raise RedrawRefused(
            f"分割线没有穿过微网格 {code}（须从一侧边界画到另一侧边界）",
            f"the line does not cut micro-grid {code} (draw it from one edge across to another)",
            field="line",
        )
    hh = _share_households([g], pieces)
    new = [
        replace(g, code="", name=f"{g.name}-{k + 1}", geometry=p, households=h)
        for k, (p, h) in enumerate(zip(pieces, hh, strict=True))
    ]
    areas = [f"{area_m2(p):.0f}" for p in pieces]
    out = _replace(
        "split",
        grids,
        [g],
        new,
        used,
        options,
        f"微网格 {code} 分为 {len(pieces)} 块（{'、'.join(areas)} 平方米）",
        f"micro-grid {code} split into {len(pieces)} ({', '.join(areas)} m²)",
    )
    return out


def merge(
    grids: Sequence[Grid],
    codes: Sequence[str],
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
    name: str | None = None,
) -> Redraw:
    """Merge two (or more) adjacent micro-grids of one general grid into one new micro-grid."""
    if len(codes) < 2 or len(set(codes)) != len(codes):
        raise RedrawRefused(
            "合并需要两个不同的微网格", "merging needs two different micro-grids", field="grids"
        )
    gs = [_micro(grids, c, "grids") for c in codes]
    parents = {g.parent_code for g in gs}
    if len(parents) > 1:
        raise RedrawRefused(
            f"{'、'.join(codes)} 属于不同的一般网格（{'、'.join(sorted(str(p) for p in parents))}），"
            "请先调整上级",
            f"{', '.join(codes)} belong to different general grids; reparent first",
            field="grids",
        )
    joined = {0}
    changed = True
    while changed:  # each grid must be reachable from the first through shared edges
        changed = False
        for k, g in enumerate(gs):
            if k not in joined and any(
                shared_edge_m(g.geometry, gs[j].geometry) > options.topology_tolerance_m for j in joined
            ):
                joined.add(k)
                changed = True
    if len(joined) != len(gs):
        apart = [gs[k].code for k in range(len(gs)) if k not in joined]
        raise RedrawRefused(
            f"微网格 {'、'.join(apart)} 与 {gs[0].code} 不相邻（没有共用边界），不能合并",
            f"micro-grids {', '.join(apart)} are not adjacent to {gs[0].code} (no shared edge); cannot merge",
            field="grids",
            detail={"not_adjacent": apart},
        )
    geom = shapely.union_all([g.geometry for g in gs])
    hh = [sum(int(g.households or 0) for g in gs)] if all(g.households is not None for g in gs) else [None]
    new = replace(gs[0], code="", name=name or gs[0].name, geometry=geom, households=hh[0])
    return _replace(
        "merge",
        grids,
        gs,
        [new],
        used,
        options,
        f"微网格 {'、'.join(codes)} 合并为一个（{area_m2(geom):.0f} 平方米）",
        f"micro-grids {', '.join(codes)} merged into one ({area_m2(geom):.0f} m²)",
    )


def move_boundary(
    grids: Sequence[Grid],
    codes: Sequence[str],
    line: BaseGeometry,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Move the boundary two neighbouring micro-grids share onto ``line``: their union is cut by the
    line and each piece goes to the grid it overlapped most. Both change; nothing else does."""
    if len(codes) != 2 or codes[0] == codes[1]:
        raise RedrawRefused(
            "移动边界需要两个相邻的微网格", "moving a boundary needs two neighbours", field="grids"
        )
    a, b = (_micro(grids, c, "grids") for c in codes)
    if a.parent_code != b.parent_code:
        raise RedrawRefused(
            f"{a.code} 与 {b.code} 属于不同的一般网格，移动边界会改变一般网格，请用调整上级",
            f"{a.code} and {b.code} belong to different general grids; reparent instead",
            field="grids",
        )
    if shared_edge_m(a.geometry, b.geometry) <= options.topology_tolerance_m:
        raise RedrawRefused(
            f"微网格 {a.code} 与 {b.code} 不相邻（没有共用边界）",
            f"micro-grids {a.code} and {b.code} share no boundary",
            field="grids",
        )
    pieces = _polygon_pieces(shapely.union_all([a.geometry, b.geometry]), _line_in(line))
    side_a = [
        shapely.intersection(p, a.geometry).area >= shapely.intersection(p, b.geometry).area for p in pieces
    ]
    to_a = [p for p, on_a in zip(pieces, side_a, strict=True) if on_a]
    to_b = [p for p, on_a in zip(pieces, side_a, strict=True) if not on_a]
    if len(pieces) < 2 or not to_a or not to_b:
        raise RedrawRefused(
            f"新边界线没有把 {a.code} 与 {b.code} 的合并范围分成两侧",
            f"the new boundary does not divide {a.code} and {b.code} into two sides",
            field="line",
        )
    ga, gb = shapely.union_all(to_a), shapely.union_all(to_b)
    moved = area_m2(shapely.symmetric_difference(ga, a.geometry))
    if moved <= options.gap_tolerance_m2:
        raise RedrawRefused(
            f"新边界与 {a.code}、{b.code} 的现有边界相同，没有变化",
            f"the new boundary is where {a.code} and {b.code} already meet; nothing changes",
            field="line",
        )
    hh = _share_households([a, b], [ga, gb])
    new = [
        replace(a, code="", geometry=ga, households=hh[0]),
        replace(b, code="", geometry=gb, households=hh[1]),
    ]
    return _replace(
        "move_boundary",
        grids,
        [a, b],
        new,
        used,
        options,
        f"微网格 {a.code} 与 {b.code} 的共用边界已移动（{moved:.0f} 平方米易手）",
        f"the boundary of {a.code} and {b.code} moved ({moved:.0f} m² changed hands)",
    )


def reparent(
    grids: Sequence[Grid],
    code: str,
    to: str,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Move micro-grid ``code`` (its area unchanged) to the neighbouring general grid ``to``: the two
    general grids are reshaped, the micro-grid gets a new code under ``to``."""
    m = _micro(grids, code)
    target = _by_code(grids, to, "to")
    if target.level is not Level.GENERAL:
        raise RedrawRefused(f"{to} 不是一般网格", f"{to} is not a general grid", field="to")
    if m.parent_code == to:
        raise RedrawRefused(f"{code} 已属于 {to}", f"{code} already belongs to {to}", field="to")
    if target.community_code and m.community_code and target.community_code != m.community_code:
        raise RedrawRefused(f"{to} 属于其他社区", f"{to} is in another community", field="to")
    old = _by_code(grids, m.parent_code or "", "grid")
    if shared_edge_m(m.geometry, target.geometry) <= options.topology_tolerance_m:
        raise RedrawRefused(
            f"微网格 {code} 与一般网格 {to} 不相邻，调整后 {to} 将不连续",
            f"micro-grid {code} does not border general grid {to}; {to} would be in pieces",
            field="to",
        )
    siblings = [g for g in grids if g.parent_code == old.code and g.code != code]
    if not siblings:
        raise RedrawRefused(
            f"{code} 是一般网格 {old.code} 唯一的微网格，移走后 {old.code} 将为空",
            f"{code} is the only micro-grid of {old.code}; it would be left empty",
            field="grid",
        )

    def hh(g: Grid, delta: int) -> int | None:
        return None if g.households is None or m.households is None else g.households + delta

    keep = [
        replace(
            old,
            geometry=shapely.difference(old.geometry, m.geometry),
            households=hh(old, -(m.households or 0)),
        ),
        replace(
            target,
            geometry=shapely.union_all([target.geometry, m.geometry]),
            households=hh(target, m.households or 0),
        ),
    ]
    moved = replace(m, code="", parent_code=to)
    return _replace(
        "reparent",
        grids,
        [m],
        [moved],
        used,
        options,
        f"微网格 {code} 由 {old.code} 调整到 {to}",
        f"micro-grid {code} moved from {old.code} to {to}",
        keep=keep,
    )


def add(
    grids: Sequence[Grid],
    parent: str,
    geometry: BaseGeometry,
    name: str,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Add a micro-grid in general grid ``parent``: it takes its area from the micro-grids it covers
    (they shrink and get new codes) and fills any gap there."""
    p = _by_code(grids, parent, "parent")
    if p.level is not Level.GENERAL:
        raise RedrawRefused(f"{parent} 不是一般网格", f"{parent} is not a general grid", field="parent")
    if geometry is None or geometry.is_empty or geometry.geom_type != "Polygon" or not geometry.is_valid:
        raise RedrawRefused(
            "新微网格须为一个有效的面（POLYGON）",
            "the new micro-grid must be one valid POLYGON",
            field="geometry",
        )
    if not name.strip():
        raise RedrawRefused("新微网格需要名称", "the new micro-grid needs a name", field="name")
    hit = [
        g
        for g in grids
        if g.parent_code == parent and g.level is Level.MICRO and shapely.intersects(g.geometry, geometry)
    ]
    hit = [g for g in hit if shapely.intersection(g.geometry, geometry).area > 0]
    swallowed = [g.code for g in hit if shapely.difference(g.geometry, geometry).is_empty]
    if swallowed:
        raise RedrawRefused(
            f"新微网格完全覆盖了 {'、'.join(swallowed)}，请改用合并或删除",
            f"the new micro-grid covers {', '.join(swallowed)} entirely; merge or remove instead",
            field="geometry",
        )
    shrunk = [replace(g, code="", geometry=shapely.difference(g.geometry, geometry)) for g in hit]
    hh = _share_households(hit, [s.geometry for s in shrunk] + [geometry])
    shrunk = [replace(s, households=h) for s, h in zip(shrunk, hh, strict=False)]
    fresh = Grid(
        code="",
        name=name.strip(),
        level=Level.MICRO,
        geometry=geometry,
        parent_code=parent,
        community_code=p.community_code,
        kind="微网格",
        households=hh[-1],
    )
    return _replace(
        "add",
        grids,
        hit,
        [*shrunk, fresh],
        used,
        options,
        f"在 {parent} 中新增微网格「{name.strip()}」（{area_m2(geometry):.0f} 平方米）",
        f"new micro-grid '{name.strip()}' in {parent} ({area_m2(geometry):.0f} m²)",
    )


def remove(
    grids: Sequence[Grid],
    code: str,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Remove micro-grid ``code``: its area goes to the sibling sharing its longest edge."""
    m = _micro(grids, code)
    siblings = [g for g in grids if g.parent_code == m.parent_code and g.code != code]
    edges = sorted(
        ((shared_edge_m(m.geometry, g.geometry), g.code, g) for g in siblings), key=lambda t: (-t[0], t[1])
    )
    if not edges or edges[0][0] <= options.topology_tolerance_m:
        raise RedrawRefused(
            f"微网格 {code} 在一般网格 {m.parent_code} 中没有相邻的微网格可以接收其范围",
            f"micro-grid {code} has no neighbour in {m.parent_code} to take its area",
            field="grid",
        )
    length, _, into = edges[0]
    geom = shapely.union_all([into.geometry, m.geometry])
    hh = None if into.households is None or m.households is None else into.households + m.households
    new = replace(into, code="", geometry=geom, households=hh)
    return _replace(
        "remove",
        grids,
        [m, into],
        [new],
        used,
        options,
        f"微网格 {code} 已删除，其范围并入共用边界最长（{length:.0f} 米）的 {into.code}",
        f"micro-grid {code} removed; its area joined {into.code}, "
        f"which shared the longest edge ({length:.0f} m)",
    )


def same_area(a: BaseGeometry, b: BaseGeometry, options: ValidationOptions = DEFAULT_OPTIONS) -> bool:
    """True when two outlines (lon/lat) cover the same area within the gap tolerance: a copy with
    its vertices reordered, densified or moved by micrometres (a GeoJSON or CRS round trip)."""
    return area_m2(shapely.symmetric_difference(a, b)) <= options.gap_tolerance_m2


def reshape(
    grids: Sequence[Grid],
    code: str,
    geometry: BaseGeometry,
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
    name: str | None = None,
) -> Redraw:
    """Give micro-grid ``code`` a new outline (an OGC API replace), moving the boundaries it shares
    with its sibling micro-grids: the area it gains is taken from the siblings it now covers, each
    piece it gives up goes to the sibling sharing the longest edge with that piece. Every grid that
    changes gets a new code. A gain from outside its general grid (an overlap, or beyond the general
    grid) or a piece given up that no sibling borders (a gap) is refused with those findings.

    The new outline is first snapped (within the topology tolerance) onto the vertices of the grid
    and its siblings, so the edges it keeps stay exactly shared."""
    m = _micro(grids, code)
    if geometry is None or geometry.is_empty or geometry.geom_type != "Polygon" or not geometry.is_valid:
        raise RedrawRefused(
            "新范围须为一个有效的面（POLYGON）", "the new outline must be one valid POLYGON", field="geometry"
        )
    siblings = [
        g for g in grids if g.level is Level.MICRO and g.parent_code == m.parent_code and g.code != code
    ]
    tol = options.topology_tolerance_m / 111_000.0  # metres → degrees (a bound: 1° ≥ 96 km here)
    near = [m.geometry, *(s.geometry for s in siblings if s.geometry.distance(geometry) <= tol)]
    new = shapely.snap(geometry, shapely.multipoints(shapely.get_coordinates(near)), tol)
    if new.geom_type != "Polygon" or not new.is_valid:
        new = geometry
    if same_area(new, m.geometry, options):
        raise RedrawRefused(
            f"新范围与微网格 {code} 的现有范围相同，没有变化",
            f"the new outline covers the same area as micro-grid {code}; nothing changes",
            field="geometry",
        )
    gained = shapely.difference(new, m.geometry)
    lost = shapely.difference(m.geometry, new)
    taken = [s for s in siblings if shapely.intersection(s.geometry, gained).area > 0]
    swallowed = [
        s.code for s in taken if area_m2(shapely.difference(s.geometry, new)) <= options.gap_tolerance_m2
    ]
    if swallowed:
        raise RedrawRefused(
            f"新范围完全覆盖了 {'、'.join(swallowed)}，请改用合并",
            f"the new outline covers {', '.join(swallowed)} entirely; merge instead",
            field="geometry",
        )
    given: dict[str, list[BaseGeometry]] = {}
    for piece in _parts(lost):
        if area_m2(piece) <= options.gap_tolerance_m2:
            continue
        edges = [(shared_edge_m(piece, s.geometry), s.code) for s in siblings]
        edges = [e for e in edges if e[0] > options.topology_tolerance_m]
        if edges:  # else the piece stays a gap and the guard names it
            given.setdefault(min(edges, key=lambda e: (-e[0], e[1]))[1], []).append(piece)
    taken_codes = {s.code for s in taken}
    changed = [s for s in siblings if s.code in taken_codes or s.code in given]
    geoms = [
        shapely.union_all([shapely.difference(s.geometry, new), *given.get(s.code, [])]) for s in changed
    ]
    hh = _share_households([m, *changed], [new, *geoms])
    label = (name or "").strip() or m.name
    out = [replace(m, code="", name=label, geometry=new, households=hh[0])]
    out += [
        replace(s, code="", geometry=g, households=h) for s, g, h in zip(changed, geoms, hh[1:], strict=True)
    ]
    moved = area_m2(shapely.symmetric_difference(new, m.geometry))
    others = "、".join(s.code for s in changed) or "无"
    return _replace(
        "reshape",
        grids,
        [m, *changed],
        out,
        used,
        options,
        f"微网格 {code} 的范围已修改（{moved:.0f} 平方米易手，相邻微网格 {others} 随之调整）",
        f"micro-grid {code} reshaped ({moved:.0f} m² changed hands; neighbours adjusted: "
        f"{', '.join(s.code for s in changed) or 'none'})",
    )


def rename(grids: Sequence[Grid], code: str, name: str) -> Redraw:
    """Give grid ``code`` a new name; its code and area stay."""
    _by_code(grids, code)
    if not name.strip():
        raise RedrawRefused("名称不能为空", "the name must not be empty", field="name")
    out = tuple(replace(x, name=name.strip()) if x.code == code else x for x in grids)
    return Redraw(
        "rename",
        out,
        (),
        (),
        f"网格 {code} 更名为「{name.strip()}」",
        f"grid {code} renamed to '{name.strip()}'",
    )


def assign_elements(grids: Sequence[Grid], elements: Sequence[Element]) -> dict[str, str | None]:
    """The micro-grid each element falls in after a redraw, by element id: a point in the micro-grid
    covering it (lowest code on a shared edge), a polygon in the one holding most of it (the rule
    of :mod:`geo.validate`); linear elements run across grids and get None, as do elements outside
    every micro-grid."""
    micro = [
        g for g in grids if g.level is Level.MICRO and g.geometry is not None and not g.geometry.is_empty
    ]
    if not micro:
        return {e.id: None for e in elements}
    geoms = [g.geometry for g in micro]
    tree = shapely.STRtree(geoms)
    out: dict[str, str | None] = {}
    for e in elements:
        geom = e.geometry
        if e.linear or geom is None or geom.is_empty:
            out[e.id] = None
            continue
        if geom.geom_type in ("Point", "MultiPoint"):
            hits = sorted(micro[int(i)].code for i in tree.query(geom, predicate="covered_by"))
            out[e.id] = hits[0] if hits else None
            continue
        cand = [int(i) for i in tree.query(geom, predicate="intersects")]
        shares = [(shapely.intersection(geoms[i], geom).area, micro[i].code) for i in cand]
        shares = [s for s in shares if s[0] > 0]
        out[e.id] = min(shares, key=lambda s: (-s[0], s[1]))[1] if shares else None
    return out


def fix(
    grids: Sequence[Grid],
    used: Collection[str],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Redraw:
    """Assign each gap inside a general grid, and each sliver micro-grid, to the micro-grid sharing its
    longest edge (those grids change and get new codes). Refused when there is nothing to fix."""
    found = validate(Hierarchy(grids), options=options)
    by_code = {g.code: g for g in grids}
    grow: dict[str, list[BaseGeometry]] = {}
    gone: list[Grid] = []
    notes: list[str] = []

    def best(piece: BaseGeometry, candidates: Sequence[Grid]) -> Grid | None:
        edges = [(shared_edge_m(piece, g.geometry), g.code, g) for g in candidates]
        edges = [e for e in edges if e[0] > options.topology_tolerance_m]
        return min(edges, key=lambda e: (-e[0], e[1]))[2] if edges else None

    slivers = [by_code[f.grids[0]] for f in found if f.code == "sliver" and f.grids[0] in by_code]
    slivers = [g for g in slivers if g.level is Level.MICRO]
    sliver_codes = {g.code for g in slivers}
    for f in found:
        if f.code != "gap" or len(f.grids) != 1 or f.geometry is None:
            continue
        parent = by_code.get(f.grids[0])
        if parent is None or parent.level is not Level.GENERAL:
            continue
        kids = [g for g in grids if g.parent_code == parent.code and g.code not in sliver_codes]
        for piece in shapely.get_parts(f.geometry):
            into = best(piece, kids)
            if into is not None:
                grow.setdefault(into.code, []).append(piece)
                notes.append(f"缝隙 {area_m2(piece):.1f} 平方米 → {into.code}")
    for s in slivers:
        kids = [g for g in grids if g.parent_code == s.parent_code and g.code not in sliver_codes]
        into = best(s.geometry, kids)
        if into is not None:
            grow.setdefault(into.code, []).append(s.geometry)
            gone.append(s)
            notes.append(f"碎片 {s.code} → {into.code}")
    if not grow:
        raise RedrawRefused(
            "没有可自动修复的缝隙或碎片网格",
            "no gap or sliver that can be fixed automatically",
            field="grids",
        )
    olds = [by_code[c] for c in sorted(grow)]
    new = []
    for g in olds:
        geom = shapely.union_all([g.geometry, *grow[g.code]])
        taken = [x for x in gone if any(x.geometry is p for p in grow[g.code])]
        hh = None if g.households is None else g.households + sum(x.households or 0 for x in taken)
        new.append(replace(g, code="", geometry=geom, households=hh))
    return _replace(
        "fix",
        grids,
        [*olds, *gone],
        new,
        used,
        options,
        "自动修复：" + "；".join(notes),
        f"fixed {len(notes)} gap(s)/sliver(s), each given to the grid sharing its longest edge",
    )
