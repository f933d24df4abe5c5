"""Point → micro-grid lookup (微网格定位): exact like shapely ``covers``, fast through a lookup raster.

The locator works in WGS84 lon/lat only; callers convert GCJ-02/BD-09 first (:func:`geo.crs.to_wgs84`).

How it is fast without being approximate: a uniform raster over the layer's bounding box (cells of
about 0.5–10 m, at most ``max_cells`` of them) stores for every cell either the micro-grid that
contains the *whole* cell (answered by one numpy gather), "outside every grid", or "edge": the list
of grids whose boundary touches the cell (plus the grid containing the cell centre). Only points in
edge cells get an exact test (prepared ``shapely.intersects_xy``/``contains_xy`` against those few
candidates). A cell is trusted only when no polygon boundary touches it (boundary cells are marked
conservatively, with a margin), so correctness never depends on the raster resolution.

Distances are measured in a local metric frame (equirectangular at the layer's centre latitude with
WGS84 metres per degree; error below 0.1 % within ~30 km), which is enough for a 30 m snap tolerance.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar, overload

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from geo.crs import CHINA_BBOX, meters_per_degree, validate_lonlat
from geo.errors import InvalidHierarchy
from geo.hierarchy import Grid, Hierarchy, Level
from geo.tolerances import DEFAULT_SNAP_M

#: Raster cell values: >= 0 the grid (output index) that contains the whole cell.
_OUTSIDE = -1  # the whole cell lies outside every grid
_GENERIC = -2  # no precomputed candidates (overlaps or beyond the raster): STRtree + exact test
_EDGE0 = -3  # values <= -3 are edge cells: edge id e = -3 - value, candidates in a CSR table

T = TypeVar("T")
#: Layers with at least this many ring segments (a city of ~30,000 grids) build the raster's two
#: stages in two threads.
_THREAD_MIN_SEGMENTS = 200_000

_EPS = 1e-6  # safety margin in cell units when marking boundary cells (float error is ~1e-12)
# An orientation o = cross(a, b) in cell units is trusted when |o| > _TOL·(|a|+|b|) + _TOL2·|a|·|b|
# (1-norms): a thousand times the rounding error of coordinates up to ~10^5 cells; else shapely decides.
_TOL = 1e-9
_TOL2 = 1e-12


@dataclass
class LocateResult:
    """Answers for ``n`` points, as numpy arrays of length ``n`` (see :class:`Locator` for semantics).

    ``index`` (int32) indexes :attr:`Locator.codes` (the input order), -1 = outside; ``code`` is the
    micro code or None; ``on_boundary`` means covered but not strictly contained by that grid;
    ``snapped`` means outside every grid but within the snap tolerance of the grid returned;
    ``distance_m`` is 0 inside, the distance to the snapped grid, or to the nearest grid when outside.
    ``general_code``/``community_code`` are computed on first access (the community of an outside
    point needs a polygon test); the result keeps the input coordinate arrays for that, uncopied.
    """

    index: NDArray[np.int32]
    code: NDArray[np.object_]
    on_boundary: NDArray[np.bool_]
    snapped: NDArray[np.bool_]
    distance_m: NDArray[np.float64]
    _locator: Locator = field(repr=False, compare=False)
    _lon: NDArray[np.float64] = field(repr=False, compare=False)
    _lat: NDArray[np.float64] = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def outside(self) -> NDArray[np.bool_]:
        return self.index < 0

    @cached_property
    def general_code(self) -> NDArray[np.object_]:
        """Parent general-grid code of each located micro-grid (None when outside or unknown)."""
        return np.take(self._locator._general_codes, self.index)

    @cached_property
    def community_code(self) -> NDArray[np.object_]:
        """Community code: that of the located micro-grid, else of the community polygon covering the
        point (smallest code on a tie), else None. Computed on first access."""
        out = np.take(self._locator._community_codes, self.index)
        miss = np.flatnonzero(self.index < 0)
        if len(miss):
            out[miss] = self._locator._communities_at(self._lon[miss], self._lat[miss])
        return out

    def chain_codes(self, i: int) -> tuple[str | None, str | None, str | None]:
        """``(micro, general, community)`` codes of point ``i``."""
        return self.code[i], self.general_code[i], self.community_code[i]


@dataclass(frozen=True, slots=True)
class PointLocation:
    """The answer for one point. ``outside`` is True when no micro-grid covers it (nor snapped)."""

    micro_code: str | None
    micro_name: str | None
    general_code: str | None
    general_name: str | None
    community_code: str | None
    community_name: str | None
    on_boundary: bool
    snapped: bool
    distance_m: float
    outside: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (distance rounded to the centimetre)."""
        return {
            "micro_code": self.micro_code,
            "micro_name": self.micro_name,
            "general_code": self.general_code,
            "general_name": self.general_name,
            "community_code": self.community_code,
            "community_name": self.community_name,
            "on_boundary": self.on_boundary,
            "snapped": self.snapped,
            "distance_m": round(self.distance_m, 2),
            "outside": self.outside,
        }


class Locator:
    """Find the micro-grid (微网格) of WGS84 lon/lat points.

    Semantics, for a point p:

    - **inside**: the micro-grid whose polygon covers p (shapely ``covers``; holes are respected: a
      point in a hole is not in that polygon). Interior points have ``on_boundary=False``.
    - **tie rule**: when several grids cover p (a shared edge or vertex, or overlapping grids of a bad
      layer) the answer is the covering grid with the **smallest code** (codes compare as strings; equal
      codes by input order). p on any boundary of the grid returned has ``on_boundary=True``.
    - **snap**: p covered by no grid but within ``snap_tolerance_m`` metres of one is given the nearest
      grid (smallest code among equally near ones) with ``snapped=True`` and ``distance_m`` the distance.
    - **outside**: farther away, ``index`` is -1, ``code`` None, ``distance_m`` the distance to the
      nearest grid; the community whose polygon covers p is still reported when built from a hierarchy.

    Invalid polygons are repaired with ``shapely.make_valid`` (their polygonal part) when building.

    ``prepare=True`` also builds the index for points outside every grid (:meth:`prepare`) at once,
    its geometric half in a second thread while the raster is built; layers of city size (at least
    ``_THREAD_MIN_SEGMENTS`` ring segments) fill the raster's cell centres in a second thread too.
    The arrays are the same either way (numpy and shapely release the GIL: two cores, less wall time).

    >>> from shapely.geometry import box
    >>> loc = Locator.from_polygons(["B", "A"], [box(104.080, 30.40, 104.081, 30.401),
    ...                                          box(104.079, 30.40, 104.080, 30.401)])
    >>> loc.locate_one(104.0805, 30.4005).micro_code
    'B'
    >>> p = loc.locate_one(104.080, 30.4005)  # on the shared edge: A and B cover it, A < B
    >>> p.micro_code, p.on_boundary
    ('A', True)
    >>> p = loc.locate_one(104.0812, 30.4005)  # about 19 m east of B
    >>> p.micro_code, p.snapped, round(p.distance_m)
    ('B', True, 19)
    >>> r = loc.locate([104.0805, 104.0795, 104.09], [30.4005, 30.4005, 30.4005])
    >>> r.index.tolist(), r.code.tolist()
    ([0, 1, -1], ['B', 'A', None])
    """

    def __init__(
        self,
        codes: Sequence[str],
        polygons: Sequence[BaseGeometry],
        *,
        snap_tolerance_m: float = DEFAULT_SNAP_M,
        names: Sequence[str | None] | None = None,
        general: Sequence[tuple[str | None, str | None]] | None = None,
        community: Sequence[tuple[str | None, str | None]] | None = None,
        community_polygons: Sequence[tuple[str, str | None, BaseGeometry]] = (),
        max_cells: int | None = None,
        min_cell_m: float = 2.0,
        prepare: bool = False,
    ) -> None:
        codes = [str(c) for c in codes]
        n = len(codes)
        if n == 0 or n != len(polygons):
            raise InvalidHierarchy(
                f"定位需要至少一个微网格，且编码与多边形个数一致（{n} 与 {len(polygons)}）",
                f"the locator needs at least one micro-grid and as many codes as polygons "
                f"({n} vs {len(polygons)})",
                field="micro",
            )
        if not (snap_tolerance_m >= 0 and math.isfinite(snap_tolerance_m)):
            raise ValueError("snap_tolerance_m must be a finite number >= 0")
        self.codes: tuple[str, ...] = tuple(codes)
        self._n = n
        self.snap_tolerance_m = float(snap_tolerance_m)
        self._names = list(names) if names is not None else [None] * n
        gen = list(general) if general is not None else [(None, None)] * n
        com = list(community) if community is not None else [(None, None)] * n
        self._general = gen
        self._community = com
        # Object arrays with a trailing None so that index -1 gathers None.
        self._code_arr = np.array([*codes, None], dtype=object)
        self._general_codes = np.array([g[0] for g in gen] + [None], dtype=object)
        self._community_codes = np.array([c[0] for c in com] + [None], dtype=object)

        geoms = np.array(list(polygons), dtype=object)
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            fixed = shapely.make_valid(geoms[bad])
            geoms[bad] = [_polygonal(g) for g in fixed]
        # Internal order = tie-rule order: rank r is the r-th smallest (code, input position).
        order = np.array(sorted(range(n), key=lambda i: (codes[i], i)), dtype=np.int64)
        self._rank_to_out = order.astype(np.int32)
        self._geoms = geoms[order]  # by rank
        shapely.prepare(self._geoms)

        xmin, ymin, xmax, ymax = shapely.total_bounds(self._geoms)
        if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
            raise InvalidHierarchy("微网格几何为空", "micro-grid geometries are empty", field="geometry")
        self._bounds = (float(xmin), float(ymin), float(xmax), float(ymax))
        # Local metric frame for distances.
        self._lon_c = (xmin + xmax) / 2.0
        self._lat_c = (ymin + ymax) / 2.0
        self._kx, self._ky = meters_per_degree(self._lat_c)
        if max_cells is None:
            max_cells = default_max_cells(n)
        # prepare=True builds the outline index too, its geometric half (coverage check, union,
        # outline) in a second thread while this one builds the raster: shapely releases the GIL.
        outline = _in_thread(lambda: _outline_segments(self._metric_geoms)) if prepare else None
        self._build_raster(xmin, ymin, xmax, ymax, max_cells, min_cell_m)
        # The outline index answers only points outside every grid; built on first need (or by
        # prepare()), so a command that locates one point inside a grid does not pay for it.
        self._outline_index: _OutlineDistance | None = None
        self._outline_lock = threading.Lock()
        if outline is not None:
            self._outline_index = _OutlineDistance(self, outline())
        self._wkb: tuple[NDArray[np.uint8], NDArray[np.int64]] | None = None
        self._geom_cache: NDArray[np.object_] | None = None

        self._set_communities(community_polygons)

    def _set_communities(self, community_polygons: Sequence[tuple[str, str | None, BaseGeometry]]) -> None:
        cp = list(community_polygons)
        cp.sort(key=lambda t: t[0])
        self._cp_codes = np.array([c for c, _, _ in cp] + [None], dtype=object)
        self._cp_names = {c: nm for c, nm, _ in cp}
        self._cp_geoms = np.array([g for _, _, g in cp], dtype=object)
        if len(cp):
            shapely.prepare(self._cp_geoms)

    # Built on first need: a locator read back by :meth:`from_state` answers most points from its
    # arrays alone, and a fresh one does not pay for indexes only rare points use.
    @cached_property
    def _geoms(self) -> NDArray[np.object_]:
        """The micro-grid polygons by rank (prepared), read back from the state's WKB."""
        if self._wkb is None:  # a fresh locator sets _geoms in __init__
            raise RuntimeError("locator has neither polygons nor their WKB")
        buf, off = self._wkb
        geoms = shapely.from_wkb([bytes(buf[off[i] : off[i + 1]]) for i in range(len(off) - 1)])
        shapely.prepare(geoms)
        return np.asarray(geoms, dtype=object)

    def _geoms_of(self, ranks: NDArray[np.integer[Any]]) -> NDArray[np.object_]:
        """The polygons of ``ranks``: from :attr:`_geoms` when built, else each read from WKB on
        first need and kept (a shared locator holds no geometry it was never asked about)."""
        if "_geoms" in self.__dict__ or self._wkb is None:
            return self._geoms[ranks]
        if self._geom_cache is None:
            self._geom_cache = np.full(self._n, None, dtype=object)
        cache = self._geom_cache
        idx = np.asarray(ranks, dtype=np.int64)
        missing = [r for r in set(idx.tolist()) if cache[r] is None]
        if missing:
            buf, off = self._wkb
            made = shapely.from_wkb([bytes(buf[off[r] : off[r + 1]]) for r in missing])
            shapely.prepare(made[shapely.get_num_coordinates(made) > 64])  # big ones only
            cache[np.array(missing, dtype=np.int64)] = made
        return cache[idx]

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self._geoms)

    @cached_property
    def _metric_geoms(self) -> NDArray[np.object_]:
        return self._to_metric(self._geoms)

    @cached_property
    def _metric_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self._metric_geoms)

    # ------------------------------------------------------------------------------------------
    # Constructors
    # ------------------------------------------------------------------------------------------

    @classmethod
    def from_polygons(
        cls,
        codes: Sequence[str],
        polygons: Sequence[BaseGeometry],
        *,
        snap_tolerance_m: float = DEFAULT_SNAP_M,
        **kwargs: Any,
    ) -> Locator:
        """A locator over bare micro-grid polygons (no names, no parents)."""
        return cls(codes, polygons, snap_tolerance_m=snap_tolerance_m, **kwargs)

    @classmethod
    def from_hierarchy(
        cls, h: Hierarchy, *, snap_tolerance_m: float = DEFAULT_SNAP_M, **kwargs: Any
    ) -> Locator:
        """A locator over the micro-grids of ``h``; results also carry general grids and communities."""
        micro = h.micro
        if not micro:
            raise InvalidHierarchy("层级中没有微网格", "the hierarchy has no micro-grids", field="micro")
        general: list[tuple[str | None, str | None]] = []
        community: list[tuple[str | None, str | None]] = []
        # The ancestors of a grid are those of its parent: walked once per parent (a few hundred
        # general grids), not once per micro-grid; ``h.chain`` semantics kept (it starts from the
        # first grid of a code and stops at a cycle back to that code).
        above: dict[str, tuple[list[Grid], set[str]]] = {}
        for g in micro:
            first = h.get(g.code)
            pc = first.parent_code
            if not pc or pc not in h:
                up: list[Grid] = []
            else:
                if pc not in above:
                    walk = h.chain(pc)
                    above[pc] = (walk, {c.code for c in walk})
                up, codes_up = above[pc]
                if first.code in codes_up:  # a cycle back to this code: the walk stops before it
                    up = up[: [c.code for c in up].index(first.code)]
            gen = next((c for c in up if c.level is Level.GENERAL), None)
            com = next((c for c in up if c.level is Level.COMMUNITY), None)
            if com is None and g.community_code and g.community_code in h:
                com = h.get(g.community_code)
            general.append((gen.code, gen.name) if gen else (None, None))
            community.append((com.code, com.name) if com else (g.community_code, None))
        return cls(
            [g.code for g in micro],
            [g.geometry for g in micro],
            snap_tolerance_m=snap_tolerance_m,
            names=[g.name for g in micro],
            general=general,
            community=community,
            community_polygons=[(c.code, c.name, c.geometry) for c in h.communities],
            **kwargs,
        )

    # ------------------------------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------------------------------

    def _to_metric(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        lon_c, lat_c, kx, ky = self._lon_c, self._lat_c, self._kx, self._ky

        def fn(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.column_stack([(xy[:, 0] - lon_c) * kx, (xy[:, 1] - lat_c) * ky])

        return shapely.transform(geoms, fn)

    def _build_raster(
        self, xmin: float, ymin: float, xmax: float, ymax: float, max_cells: int, min_cell_m: float
    ) -> None:
        w_m = max((xmax - xmin) * self._kx, 1.0)
        h_m = max((ymax - ymin) * self._ky, 1.0)
        cell_m = max(min_cell_m, math.sqrt(w_m * h_m / max_cells))
        while (w_m / cell_m + 5) * (h_m / cell_m + 5) > max_cells:
            cell_m *= 1.05
        self.cell_m = cell_m
        dx, dy = cell_m / self._kx, cell_m / self._ky
        # Two cells of margin; the outermost ring is _GENERIC so clipped far points get exact answers.
        self._x0, self._y0 = xmin - 2 * dx, ymin - 2 * dy
        self._inv_dx, self._inv_dy = 1.0 / dx, 1.0 / dy
        W = math.ceil((xmax - xmin) / dx) + 5
        H = math.ceil((ymax - ymin) / dy) + 5
        self._W, self._H = W, H

        # Every ring edge of every polygon in cell coordinates, tagged with the polygon rank.
        parts, part_rank = shapely.get_parts(self._geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_rank = part_rank[ring_part]
        coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
        u = (coords[:, 0] - self._x0) * self._inv_dx
        v = (coords[:, 1] - self._y0) * self._inv_dy
        same = ring_idx[1:] == ring_idx[:-1]
        u0, v0, u1, v1 = u[:-1][same], v[:-1][same], u[1:][same], v[1:][same]
        erank = ring_rank[ring_idx[:-1][same]]

        G = self._n
        vmin, vmax = np.minimum(v0, v1), np.maximum(v0, v1)
        # Stage 1 (centre fill) needs only the segments: at city scale it runs in a second thread
        # while this one builds the boundary cells (numpy and shapely release the GIL).
        args = (u0, v0, u1, v1, vmin, vmax, erank, W, H, self._rank_to_out)
        if len(u0) >= _THREAD_MIN_SEGMENTS and (os.cpu_count() or 1) > 1:
            fill = _in_thread(lambda: _centre_fill(*args))
        else:
            done = _centre_fill(*args)
            fill = lambda: done  # noqa: E731
        # 2. Boundary cells: the supercover of every edge (all cells a segment touches, with margin),
        #    as unique (cell, segment) pairs sorted by cell then segment (segments are in rank order).
        NSEG = len(u0)
        ra = np.floor(vmin - _EPS).astype(np.int64)
        rb = np.floor(vmax + _EPS).astype(np.int64)
        kr = rb - ra + 1
        e = np.repeat(np.arange(NSEG), kr)
        rows = ra[e] + _ranges(kr)
        dv = v1[e] - v0[e]
        lo_v = np.maximum(rows - _EPS, vmin[e])
        hi_v = np.minimum(rows + 1 + _EPS, vmax[e])
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(dv != 0, (lo_v - v0[e]) / dv, 0.0)
            tb = np.where(dv != 0, (hi_v - v0[e]) / dv, 1.0)
        ta, tb = np.clip(ta, 0, 1), np.clip(tb, 0, 1)
        du = u1[e] - u0[e]
        ua, ub = u0[e] + ta * du, u0[e] + tb * du
        ca = np.floor(np.minimum(ua, ub) - _EPS).astype(np.int64)
        cb = np.floor(np.maximum(ua, ub) + _EPS).astype(np.int64)
        kc = cb - ca + 1
        if len(ca) and (ca.min() < 0 or cb.max() > W - 1):  # never with the 2-cell margin
            e2 = np.repeat(np.arange(len(ca)), kc)
            cols = np.clip(ca[e2] + _ranges(kc), 0, W - 1)
            mrows = np.clip(rows[e2], 0, H - 1)
            key = (mrows * W + cols) * NSEG + e[e2]
            del e2, cols, mrows
        else:  # the same keys: one repeat of a per-row base plus a running column offset
            starts = np.cumsum(kc) - kc
            row_key = (np.clip(rows, 0, H - 1) * W + ca - starts) * NSEG + e
            key = np.repeat(row_key, kc)
            key += np.arange(0, int(kc.sum()) * NSEG, NSEG, dtype=np.int64)
            del starts, row_key
        del e, rows, dv, lo_v, hi_v, ta, tb, du, ua, ub, ca, cb
        key.sort()
        key = key[np.r_[True, key[1:] != key[:-1]]]
        fl, sg = key // NSEG, key % NSEG
        del key
        new_cell = np.r_[True, fl[1:] != fl[:-1]]
        edge_flat = fl[new_cell]
        cell_of = np.cumsum(new_cell) - 1  # edge-cell id of each (cell, segment) entry
        # Candidates per edge cell: polygons with a segment in it, plus the polygon containing the
        # centre (it may contain the whole cell), sorted by rank.
        ck = fl * G + erank[sg]
        cnt, lab, raster = fill()
        er, ec = edge_flat // W, edge_flat % W
        ecnt, elab = cnt[er, ec], lab[er, ec]
        del er, ec, cnt, lab
        one = ecnt == 1
        extra = edge_flat[one] * G + (elab[one] - 1)
        allk = np.concatenate([ck[np.r_[True, ck[1:] != ck[:-1]]], extra])
        allk.sort()
        allk = allk[np.r_[True, allk[1:] != allk[:-1]]]
        cand_fl, cand_rk = allk // G, allk % G
        cand_ptr = np.r_[np.searchsorted(cand_fl, edge_flat), len(allk)].astype(np.int64)
        seg_ptr = np.r_[np.flatnonzero(new_cell), len(fl)].astype(np.int64)
        seg_local = (np.searchsorted(allk, ck) - cand_ptr[cell_of]).astype(np.int32)
        del ck, allk, cand_fl
        # Status of every candidate at the cell centre R: R is in polygon P iff P is the one polygon
        # whose centre fill covers R (count 1, label rank + 1). That is the even-odd count of P's
        # crossings of row r left of R, except where a crossing lies exactly on R: R is then on a
        # segment of the cell and the cell goes to the generic path (near_r), where no status is read.
        cand_cell = np.repeat(np.arange(len(edge_flat)), np.diff(cand_ptr))
        self._status = (ecnt[cand_cell] == 1) & (elab[cand_cell] - 1 == cand_rk)
        del cand_cell, elab
        # R must be clear of every segment of its cell (else the cell goes to the generic path).
        # Measured only where R is within 2e-6 of the segment's bounding box: farther segments are
        # farther than 1e-6 (rounding is ~1e-12 in cell units).
        rv, ru = fl // W + 0.5, fl % W + 0.5
        j = np.flatnonzero((vmin[sg] <= rv + 2e-6) & (vmax[sg] >= rv - 2e-6))
        sj, uj = sg[j], ru[j]
        j = j[(np.minimum(u0, u1)[sj] <= uj + 2e-6) & (np.maximum(u0, u1)[sj] >= uj - 2e-6)]
        sj = sg[j]
        # The distance to the line bounds that to the segment from below: only R within 2e-6 of
        # the line (a few) are measured to the segment.
        du, dv = (u1 - u0)[sj], (v1 - v0)[sj]
        o = du * (rv[j] - v0[sj]) - dv * (ru[j] - u0[sj])
        o *= o
        j = j[o <= 4e-12 * (du * du + dv * dv)]
        sj = sg[j]
        del du, dv, o
        dR = _seg_dist(ru[j], rv[j], u0[sj], v0[sj], u1[sj], v1[sj])
        near_r = np.zeros(len(edge_flat), dtype=bool)
        near_r[cell_of[j[dR < 1e-6]]] = True
        del rv, ru, j, sj, uj, dR, fl, cell_of
        self._seg_u0, self._seg_v0, self._seg_u1, self._seg_v1 = u0, v0, u1, v1
        self._edge_flat = _narrow(edge_flat, W * H)
        self._cand = cand_rk.astype(np.int32)
        self._cand_ptr = _narrow(cand_ptr, len(cand_rk))
        self._cell_seg = sg.astype(np.int32)
        self._seg_local = seg_local
        self._seg_ptr = _narrow(seg_ptr, len(sg))
        rflat = raster.reshape(-1)
        rflat[edge_flat] = (_EDGE0 - np.arange(len(edge_flat))).astype(np.int32)
        rflat[edge_flat[(ecnt > 1) | near_r]] = _GENERIC
        raster[0, :] = raster[-1, :] = _GENERIC
        raster[:, 0] = raster[:, -1] = _GENERIC
        self._raster = rflat
        self.n_edge_cells = len(edge_flat)

    # ------------------------------------------------------------------------------------------
    # Queries
    # ------------------------------------------------------------------------------------------

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> LocateResult:
        """Locate many points (1-D arrays or anything ``np.asarray`` takes; scalars count as one point)."""
        if (
            isinstance(lon, np.ndarray)
            and isinstance(lat, np.ndarray)
            and lon.dtype.kind in "fi"
            and lat.dtype.kind in "fi"
            and lon.shape == lat.shape
        ):
            x = lon.astype(np.float64, copy=False).reshape(-1)
            y = lat.astype(np.float64, copy=False).reshape(-1)
            if not _all_in_china(x, y):
                validate_lonlat(x, y)  # raises InvalidCoordinates for what the fast check doubts
        else:
            vx, vy = validate_lonlat(lon, lat)
            x = np.asarray(vx, dtype=np.float64).reshape(-1)
            y = np.asarray(vy, dtype=np.float64).reshape(-1)
        n = len(x)
        u = x - self._x0
        u *= self._inv_dx
        np.clip(u, 0, self._W - 1, out=u)
        v = y - self._y0
        v *= self._inv_dy
        np.clip(v, 0, self._H - 1, out=v)
        flat = v.astype(np.intp)
        flat *= self._W
        flat += u.astype(np.intp)
        idx = np.take(self._raster, flat)
        on_boundary = np.zeros(n, dtype=bool)
        snapped = np.zeros(n, dtype=bool)
        dist = np.zeros(n, dtype=np.float64)
        special = np.flatnonzero(idx < 0)
        if len(special):
            self._resolve(x, y, idx, special, on_boundary, snapped, dist)
        return LocateResult(
            index=idx,
            code=np.take(self._code_arr, idx),
            on_boundary=on_boundary,
            snapped=snapped,
            distance_m=dist,
            _locator=self,
            _lon=x,
            _lat=y,
        )

    def _resolve(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        idx: NDArray[np.int32],
        special: NDArray[np.intp],
        on_boundary: NDArray[np.bool_],
        snapped: NDArray[np.bool_],
        dist: NDArray[np.float64],
    ) -> None:
        """Fill in points whose cell is not inside one grid (writes the output arrays in place)."""
        val = idx[special]
        idx[special] = -1
        rank = np.full(len(special), -1, dtype=np.int64)
        slow = np.zeros(len(special), dtype=bool)  # answered by shapely: on_boundary must be tested
        # Edge cells: exact numpy crossing test against the cell's segments; the few points too close
        # to a segment for floating point to decide go to shapely with the cell's candidates.
        ep = np.flatnonzero(val <= _EDGE0)
        if len(ep):
            eid = (_EDGE0 - val[ep]).astype(np.int64)
            r_ep, deg = self._edge_numeric(x, y, special[ep], eid)
            rank[ep] = r_ep
            dp = np.flatnonzero(deg)
            if len(dp):
                eid = eid[dp]
                lo, hi = self._cand_ptr[eid], self._cand_ptr[eid + 1]
                k = hi - lo
                owner = np.repeat(np.arange(len(dp)), k)
                cand = self._cand[np.repeat(lo, k) + _ranges(k)]
                pts = special[ep[dp]][owner]
                hit = shapely.intersects_xy(self._geoms_of(cand), x[pts], y[pts])
                best = np.full(len(dp), np.iinfo(np.int64).max, dtype=np.int64)
                np.minimum.at(best, owner[hit], cand[hit])
                rank[ep[dp]] = np.where(best < self._n, best, -1)
                slow[ep[dp]] = True
        # Generic cells (overlaps, beyond the raster): STRtree candidates, same rule.
        gp = np.flatnonzero(val == _GENERIC)
        if len(gp):
            # beyond the layer's bounds no grid covers a point: no tree needed for those
            bx0, by0, bx1, by1 = self._bounds
            px, py = x[special[gp]], y[special[gp]]
            gp = gp[(px >= bx0) & (px <= bx1) & (py >= by0) & (py <= by1)]
        if len(gp):
            pts = special[gp]
            owner, cand = self._tree.query(shapely.points(x[pts], y[pts]), predicate="intersects")
            best = np.full(len(gp), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(best, owner, cand)
            rank[gp] = np.where(best < self._n, best, -1)
            slow[gp] = True
        sc = np.flatnonzero(slow & (rank >= 0))
        if len(sc):
            pts = special[sc]
            on_boundary[pts] = ~shapely.contains_xy(self._geoms_of(rank[sc]), x[pts], y[pts])
        covered = np.flatnonzero(rank >= 0)
        idx[special[covered]] = self._rank_to_out[rank[covered]]
        out = special[rank < 0]
        if len(out):
            self._outside(x, y, out, idx, snapped, dist)

    def _edge_numeric(
        self, x: NDArray[np.float64], y: NDArray[np.float64], pts: NDArray[np.intp], eid: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Smallest rank of the candidates strictly containing each point (-1: none), and a mask of
        the points the floating-point test cannot decide (near a segment or a degenerate crossing).

        p is in P iff R (the cell centre, status known) is in P XOR segment pR crosses P's boundary an
        odd number of times; pR lies inside the cell, so only the cell's segments can cross it.
        """
        m = len(pts)
        fl = self._edge_flat[eid]
        rv = (fl // self._W) + 0.5
        ru = (fl % self._W) + 0.5
        pu = (x[pts] - self._x0) * self._inv_dx
        pv = (y[pts] - self._y0) * self._inv_dy
        lo, hi = self._seg_ptr[eid], self._seg_ptr[eid + 1]
        k = hi - lo
        own = np.repeat(np.arange(m), k)
        ent = np.repeat(lo, k) + _ranges(k)
        sg = self._cell_seg[ent]
        ax, ay = self._seg_u0[sg], self._seg_v0[sg]
        abx, aby = self._seg_u1[sg] - ax, self._seg_v1[sg] - ay
        px, py, rx, ry = pu[own], pv[own], ru[own], rv[own]
        apx, apy = px - ax, py - ay
        arx, ary = rx - ax, ry - ay
        o1 = abx * apy - aby * apx  # side of p w.r.t. line AB
        o2 = abx * ary - aby * arx  # side of R
        prx, pry = rx - px, ry - py
        o3 = pry * apx - prx * apy  # side of A w.r.t. line pR: cross(R - p, A - p)
        bpx, bpy = apx - abx, apy - aby  # p - B
        o4 = pry * bpx - prx * bpy  # side of B
        lab = np.abs(abx) + np.abs(aby)
        lap = np.abs(apx) + np.abs(apy)
        lar = np.abs(arx) + np.abs(ary)
        lpr = np.abs(prx) + np.abs(pry)
        lbp = np.abs(bpx) + np.abs(bpy)
        opp = (o1 > 0) != (o2 > 0)
        crossing = opp & ((o3 > 0) != (o4 > 0))
        deg = (np.abs(o1) <= _TOL * (lab + lap) + _TOL2 * lab * lap) | (
            np.abs(o2) <= _TOL * (lab + lar) + _TOL2 * lab * lar
        )
        deg |= opp & (
            (np.abs(o3) <= _TOL * (lpr + lap) + _TOL2 * lpr * lap)
            | (np.abs(o4) <= _TOL * (lpr + lbp) + _TOL2 * lpr * lbp)
        )
        bad = np.zeros(m, dtype=bool)
        bad[own[deg]] = True
        # Parity of crossings per (point, candidate), then XOR with the status at R.
        clo, chi = self._cand_ptr[eid], self._cand_ptr[eid + 1]
        kc = chi - clo
        coff = np.cumsum(kc) - kc
        cent = np.repeat(clo, kc) + _ranges(kc)
        n_c = len(cent)
        par = np.bincount(coff[own] + self._seg_local[ent], weights=crossing, minlength=n_c)
        inside = self._status[cent] ^ (par.astype(np.int64) & 1).astype(bool)
        cown = np.repeat(np.arange(m), kc)
        best = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, cown[inside], self._cand[cent[inside]].astype(np.int64))
        return np.where(best < self._n, best, -1), bad

    def _edge_one(self, x: float, y: float, e: int) -> int | None:
        """:meth:`_edge_numeric` for one point in edge cell ``e`` (the same arithmetic, in Python
        floats): the smallest rank strictly containing it, -1 for none, None when undecided."""
        W = self._W
        fl = int(self._edge_flat[e])
        rv, ru = (fl // W) + 0.5, (fl % W) + 0.5
        pu = (x - self._x0) * self._inv_dx
        pv = (y - self._y0) * self._inv_dy
        lo, hi = int(self._seg_ptr[e]), int(self._seg_ptr[e + 1])
        sg = self._cell_seg[lo:hi]
        clo, chi = int(self._cand_ptr[e]), int(self._cand_ptr[e + 1])
        inside = [bool(v) for v in self._status[clo:chi].tolist()]
        tol, tol2 = _TOL, _TOL2
        for ax, ay, bx, by, k in zip(
            self._seg_u0[sg].tolist(),
            self._seg_v0[sg].tolist(),
            self._seg_u1[sg].tolist(),
            self._seg_v1[sg].tolist(),
            self._seg_local[lo:hi].tolist(),
            strict=True,
        ):
            abx, aby = bx - ax, by - ay
            apx, apy = pu - ax, pv - ay
            arx, ary = ru - ax, rv - ay
            o1 = abx * apy - aby * apx
            o2 = abx * ary - aby * arx
            lab = abs(abx) + abs(aby)
            lap = abs(apx) + abs(apy)
            lar = abs(arx) + abs(ary)
            if (
                abs(o1) <= tol * (lab + lap) + tol2 * lab * lap
                or abs(o2) <= tol * (lab + lar) + tol2 * lab * lar
            ):
                return None
            if (o1 > 0) != (o2 > 0):
                prx, pry = ru - pu, rv - pv
                o3 = pry * apx - prx * apy
                bpx, bpy = apx - abx, apy - aby
                o4 = pry * bpx - prx * bpy
                lpr = abs(prx) + abs(pry)
                lbp = abs(bpx) + abs(bpy)
                if (
                    abs(o3) <= tol * (lpr + lap) + tol2 * lpr * lap
                    or abs(o4) <= tol * (lpr + lbp) + tol2 * lpr * lbp
                ):
                    return None
                if (o3 > 0) != (o4 > 0):
                    inside[k] = not inside[k]
        found = [c for c, inn in zip(self._cand[clo:chi].tolist(), inside, strict=True) if inn]
        return min(found) if found else -1

    def _outside(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        pts: NDArray[np.intp],
        idx: NDArray[np.int32],
        snapped: NDArray[np.bool_],
        dist: NDArray[np.float64],
    ) -> None:
        """Distances for points covered by no grid, and the snap to the nearest grid within tolerance."""
        mx = (x[pts] - self._lon_c) * self._kx
        my = (y[pts] - self._lat_c) * self._ky
        d, rank = self.prepare().nearest(mx, my, self.snap_tolerance_m)
        dist[pts] = d
        ok = np.flatnonzero(rank >= 0)
        p = pts[ok]
        idx[p] = self._rank_to_out[rank[ok]]
        snapped[p] = True

    def locate_one(self, lon: float, lat: float) -> PointLocation:
        """Locate one point; same answer as :meth:`locate` (a few microseconds inside a grid)."""
        if type(lon) in (float, int) and type(lat) in (float, int):
            x, y = float(lon), float(lat)
            b = CHINA_BBOX
            if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
                validate_lonlat(x, y)
        else:
            x, y = validate_lonlat(lon, lat)
        u = min(max((x - self._x0) * self._inv_dx, 0.0), self._W - 1)
        v = min(max((y - self._y0) * self._inv_dy, 0.0), self._H - 1)
        val = int(self._raster[int(v) * self._W + int(u)])
        if val >= 0:
            return self._point(val, False, False, 0.0, x, y)
        if val <= _EDGE0:
            e = _EDGE0 - val
            if "_geoms" not in self.__dict__:  # a shared locator: the crossing test, no polygons
                decided = self._edge_one(x, y, e)
                if decided is not None and decided >= 0:
                    return self._point(int(self._rank_to_out[decided]), False, False, 0.0, x, y)
            else:
                decided = None
            cands = self._cand[self._cand_ptr[e] : self._cand_ptr[e + 1]]
            for r, g in zip(cands.tolist(), self._geoms_of(cands) if decided is None else [], strict=False):
                if shapely.intersects_xy(g, x, y):
                    on_b = not shapely.contains_xy(g, x, y)
                    return self._point(int(self._rank_to_out[r]), on_b, False, 0.0, x, y)
            res = self.locate(np.array([x]), np.array([y]))  # outside: the array path (rare)
        else:
            res = self.locate(np.array([x]), np.array([y]))
        i = int(res.index[0])
        return self._point(i, bool(res.on_boundary[0]), bool(res.snapped[0]), float(res.distance_m[0]), x, y)

    def _point(self, i: int, on_b: bool, snapped: bool, d: float, x: float, y: float) -> PointLocation:
        if i < 0:
            com = self._communities_at(np.array([x]), np.array([y]))[0]
            return PointLocation(
                None, None, None, None, com, self._cp_names.get(com) if com else None, False, False, d, True
            )
        gc, gn = self._general[i]
        cc, cn = self._community[i]
        return PointLocation(self.codes[i], self._names[i], gc, gn, cc, cn, on_b, snapped, d, False)

    def _communities_at(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.object_]:
        """Code of the community polygon covering each point (smallest code), else None."""
        out = np.full(len(x), None, dtype=object)
        todo = np.ones(len(x), dtype=bool)
        for j, g in enumerate(self._cp_geoms):  # a handful of communities: a loop is fine
            hit = todo & shapely.intersects_xy(g, x, y)
            out[hit] = self._cp_codes[j]
            todo &= ~hit
        return out

    @property
    def prepared(self) -> bool:
        """True once :meth:`prepare` has run: no build work is left for any point."""
        return self._outline_index is not None

    def prepare(self) -> _OutlineDistance:
        """Build the index for points outside every grid now (thread-safe; once). A server calls it
        at start-up so no request pays for it; otherwise the first such point does."""
        if self._outline_index is None:
            with self._outline_lock:
                if self._outline_index is None:
                    self._outline_index = _OutlineDistance(self)
        return self._outline_index

    # ------------------------------------------------------------------------------------------
    # State: plain arrays, so one build can be shared (a caller may store them memory-mapped)
    # ------------------------------------------------------------------------------------------

    def to_state(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Everything this locator answers from, prepared (:meth:`prepare`) first: numeric arrays
        (the raster, edge tables, the outline index, the polygons as WKB) and JSON-ready metadata
        (codes, names, parents, frame). :meth:`from_state` gives an equal locator back."""
        outline = self.prepare()
        if self._wkb is None:
            blobs = shapely.to_wkb(self._geoms)
            off = np.zeros(len(blobs) + 1, dtype=np.int64)
            np.cumsum([len(b) for b in blobs], out=off[1:])
            self._wkb = (np.frombuffer(b"".join(blobs), dtype=np.uint8), off)
        arrays: dict[str, NDArray[Any]] = {name: getattr(self, name) for name in _STATE_ARRAYS}
        arrays["_wkb_bytes"], arrays["_wkb_off"] = self._wkb
        arrays.update({"o" + name: getattr(outline, name) for name in _OUTLINE_ARRAYS})
        # Labels as string arrays (mapped like the rest, not parsed into objects per worker).
        arrays["s_codes"] = np.array(self.codes)
        arrays["s_names"] = _to_strings([self._names[i] for i in range(self._n)])
        for key, pairs in (("gen", self._general), ("com", self._community)):
            got = [tuple(pairs[i]) for i in range(self._n)]
            table = sorted(set(got), key=lambda t: (t[0] or "", t[1] or ""))
            where = {t: k for k, t in enumerate(table)}
            arrays[f"s_{key}_code"] = _to_strings([t[0] for t in table])
            arrays[f"s_{key}_name"] = _to_strings([t[1] for t in table])
            arrays[f"s_{key}_idx"] = np.array([where[t] for t in got], dtype=np.int32)
        meta: dict[str, Any] = {name: getattr(self, name) for name in _STATE_SCALARS}
        meta["community_polygons"] = [
            [c, self._cp_names.get(c), shapely.to_wkb(g, hex=True)]
            for c, g in zip(self._cp_codes[:-1].tolist(), self._cp_geoms, strict=True)
        ]
        meta["outline"] = {name: getattr(outline, name) for name in _OUTLINE_SCALARS}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> Locator:
        """The locator :meth:`to_state` described. The arrays are used as given (read-only,
        memory-mapped arrays are fine: nothing writes them); polygons are rebuilt from WKB only
        when a point needs an exact test."""
        loc = cls.__new__(cls)
        codes = [str(c) for c in arrays["s_codes"].tolist()]
        loc.codes = tuple(codes)
        loc._n = len(codes)
        general = _Pairs(arrays["s_gen_code"], arrays["s_gen_name"], arrays["s_gen_idx"])
        community = _Pairs(arrays["s_com_code"], arrays["s_com_name"], arrays["s_com_idx"])
        loc._names = _Strings(arrays["s_names"])  # type: ignore[assignment]  # list-like, read only
        loc._general = general  # type: ignore[assignment]
        loc._community = community  # type: ignore[assignment]
        loc._code_arr = np.array([*codes, None], dtype=object)
        loc._general_codes = general.code_array()
        loc._community_codes = community.code_array()
        for name in _STATE_SCALARS:
            setattr(loc, name, meta[name])
        for name in _STATE_ARRAYS:
            setattr(loc, name, arrays[name])
        loc._wkb = (arrays["_wkb_bytes"], arrays["_wkb_off"])
        loc._geom_cache = None
        loc._set_communities([(c, nm, shapely.from_wkb(wkb)) for c, nm, wkb in meta["community_polygons"]])
        outline = _OutlineDistance.__new__(_OutlineDistance)
        outline._loc = loc
        for name in _OUTLINE_ARRAYS:
            setattr(outline, name, arrays["o" + name])
        for name, value in meta["outline"].items():
            setattr(outline, name, value)
        loc._outline_index = outline
        loc._outline_lock = threading.Lock()
        return loc

    def __len__(self) -> int:
        return len(self.codes)

    def __repr__(self) -> str:
        return (
            f"Locator({len(self.codes)} micro-grids, raster {self._W}×{self._H} cells of "
            f"{self.cell_m:.2f} m, {self.n_edge_cells} edge cells)"
        )


class _OutlineDistance:
    """Exact distance (metric frame) from points outside every grid to the nearest grid.

    For such a point the nearest grid is at the distance of the outline (boundary of the union of all
    grids). A coarse bucket grid aligned with the raster stores, per bucket where an uncovered point
    can occur (buckets with an "outside" cell or crossed by the outline), only the outline segments
    that can be nearest to a point of the bucket, so a query is a few numpy point–segment distances.
    Points elsewhere (beyond the raster, generic cells) use shapely directly.
    """

    def __init__(
        self, loc: Locator, segments: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    ) -> None:
        self._loc = loc
        geoms = loc._metric_geoms
        a, b = _outline_segments(geoms) if segments is None else segments
        self._ax, self._ay, self._bx, self._by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
        self._dx, self._dy = self._bx - self._ax, self._by - self._ay
        l2 = self._dx**2 + self._dy**2
        self._il2 = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
        # Buckets of m × m raster cells, in metres from the raster origin.
        W, H = loc._W, loc._H
        m = max(4, math.ceil(8.0 / loc.cell_m), math.ceil(math.sqrt(W * H / 262144)))
        s = m * loc.cell_m
        nx, ny = -(-W // m), -(-H // m)
        self._x0 = (loc._x0 - loc._lon_c) * loc._kx
        self._y0 = (loc._y0 - loc._lat_c) * loc._ky
        self._s, self._nx, self._ny = s, nx, ny
        raster = loc._raster.reshape(H, W)
        rr, cc = np.nonzero(raster == _OUTSIDE)
        need = np.zeros(nx * ny, dtype=bool)
        need[(rr // m) * nx + cc // m] = True
        del rr, cc
        jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
        bx0 = self._x0 + jj.reshape(-1) * s
        by0 = self._y0 + ii.reshape(-1) * s
        segs = shapely.linestrings(np.stack([a, b], axis=1))
        tree = shapely.STRtree(segs)
        need[_crossed_buckets(segs, tree, self._x0, self._y0, s, nx, ny, bx0, by0)] = True
        nb = np.flatnonzero(need)
        cx, cy = bx0[nb] + s / 2, by0[nb] + s / 2
        (qi, _), dc = tree.query_nearest(shapely.points(cx, cy), return_distance=True)
        d_c = np.full(len(nb), np.inf)
        np.minimum.at(d_c, qi, dc)
        half = s * math.sqrt(0.5)
        U = d_c + half + 1e-6
        bi, si = tree.query(shapely.box(cx - half - U, cy - half - U, cx + half + U, cy + half + U))
        # Prune: ub = min over segments of the farthest bucket corner bounds the nearest distance of
        # every point of the bucket; a segment farther than ub + half from the centre cannot be nearest.
        ax, ay, bx, by = self._ax[si], self._ay[si], self._bx[si], self._by[si]
        dc = _seg_dist(cx[bi], cy[bi], ax, ay, bx, by)
        # The farthest corner of the bucket is at least as far from a segment as the centre, and
        # the nearest segment's farthest corner is within d_c + half: only segments within that
        # of the centre can give ub, so the corners are measured for those only.
        cand = np.flatnonzero(dc <= d_c[bi] + half + 1e-6)
        cb = bi[cand]
        far = np.zeros(len(cand))
        for ox, oy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
            px, py = cx[cb] + ox * s / 2, cy[cb] + oy * s / 2
            far = np.maximum(far, _seg_dist(px, py, ax[cand], ay[cand], bx[cand], by[cand]))
        ub = np.full(len(nb), np.inf)
        np.minimum.at(ub, cb, far)
        keep = dc <= ub[bi] + half + 1e-6
        bi, si = nb[bi[keep]], si[keep]
        o = np.lexsort((si, bi))
        bi, si = bi[o], si[o]
        self._seg = si.astype(np.int64)
        self._ptr = np.searchsorted(bi, np.arange(nx * ny + 1)).astype(np.int64)
        self._built = need
        # Owners for the snap: the smallest grid rank touching each outline segment (at its midpoint)
        # and each segment end, so a nearest point on the outline names its nearest grid.
        self._n = len(geoms)
        # The points asked about lie on grid boundaries, so "within 1e-6 m of grid g" is asked of
        # g's boundary segments: each query touches a few short segments, where asking the polygon
        # measured the whole ring per point (minutes for one 99,000-vertex micro-grid).
        # Only grids whose envelope comes within 1e-5 m of an outline segment can be within 1e-6 m of
        # a point on the outline (a few per cent of a city's grids): only their segments are indexed.
        env = shapely.bounds(geoms)
        d = 1e-5
        near_g = np.unique(
            tree.query(shapely.box(env[:, 0] - d, env[:, 1] - d, env[:, 2] + d, env[:, 3] + d))[0]
        )
        rings, ring_owner = shapely.get_parts(shapely.boundary(geoms[near_g]), return_index=True)
        ring_owner = near_g[ring_owner]
        bcoords, bpart = shapely.get_coordinates(rings, return_index=True)
        same_ring = bpart[1:] == bpart[:-1]
        seg_owner = ring_owner[bpart[:-1][same_ring]].astype(np.int64)
        seg_tree = shapely.STRtree(
            shapely.linestrings(np.stack([bcoords[:-1][same_ring], bcoords[1:][same_ring]], axis=1))
        )

        def owner(pts: NDArray[np.object_]) -> NDArray[np.int64]:
            """The smallest rank of the grids whose boundary passes within 1e-6 m of each point."""
            qi, si = seg_tree.query(pts, predicate="dwithin", distance=1e-6)
            own = np.full(len(pts), self._n, dtype=np.int64)
            np.minimum.at(own, qi, seg_owner[si])
            return own

        self._own_mid = owner(shapely.points((a + b) / 2))
        self._own_a = owner(shapely.points(a))
        self._own_b = owner(shapely.points(b))

    @cached_property
    def _far_tree(self) -> shapely.STRtree:
        """The outline segments as an STRtree (built on the first point beyond the buckets)."""
        a = np.column_stack([self._ax, self._ay])
        b = np.column_stack([self._bx, self._by])
        return shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))

    def nearest(
        self, mx: NDArray[np.float64], my: NDArray[np.float64], tol: float
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Distance to the nearest grid, and that grid's rank where the distance is <= ``tol``
        (smallest rank among equally near grids), else -1."""
        out = np.empty(len(mx))
        rank = np.full(len(mx), -1, dtype=np.int64)
        j = np.floor((mx - self._x0) / self._s)
        i = np.floor((my - self._y0) / self._s)
        inb = (j >= 0) & (j < self._nx) & (i >= 0) & (i < self._ny)
        b = np.where(inb, i * self._nx + j, 0).astype(np.int64)
        inb &= self._built[b]
        far = np.flatnonzero(~inb)
        if len(far):
            # Beyond the buckets: the nearest outline segments (all equally near ones), owners as
            # below — no polygon is needed, so a shared locator builds none for far points.
            fx, fy = mx[far], my[far]
            (qi, si), dd = self._far_tree.query_nearest(
                shapely.points(fx, fy), return_distance=True, all_matches=True
            )
            best = np.full(len(far), np.inf)
            np.minimum.at(best, qi, dd)
            out[far] = best
            tie = dd == best[qi]
            qi, si = qi[tie], si[tie]
            t = (fx[qi] - self._ax[si]) * self._dx[si] + (fy[qi] - self._ay[si]) * self._dy[si]
            t = np.clip(t * self._il2[si], 0.0, 1.0)
            ow = np.where(t <= 0.0, self._own_a[si], np.where(t >= 1.0, self._own_b[si], self._own_mid[si]))
            r = np.full(len(far), self._n, dtype=np.int64)
            np.minimum.at(r, qi, ow)
            rank[far] = np.where((best <= tol) & (r < self._n), r, -1)
        p = np.flatnonzero(inb)
        if len(p):
            lo, hi = self._ptr[b[p]], self._ptr[b[p] + 1]
            k = hi - lo  # >= 1 for every built bucket
            starts = np.cumsum(k) - k
            s = self._seg[np.repeat(lo - starts, k) + np.arange(int(k.sum()))]
            px, py = np.repeat(mx[p], k), np.repeat(my[p], k)
            px -= self._ax[s]
            py -= self._ay[s]
            dx, dy = self._dx[s], self._dy[s]
            t = px * dx
            t += py * dy
            t *= self._il2[s]
            np.clip(t, 0.0, 1.0, out=t)
            px -= t * dx
            py -= t * dy
            px *= px
            py *= py
            px += py  # squared distance to each candidate segment
            d2 = np.minimum.reduceat(px, starts)
            out[p] = np.sqrt(d2)
            near = np.flatnonzero(d2 <= tol * tol)
            if len(near):
                own = np.repeat(np.arange(len(p)), k)
                sel = np.flatnonzero(np.isin(own, near) & (px == d2[own]))  # equally nearest segments
                ss, tt = s[sel], t[sel]
                ow = np.where(
                    tt <= 0.0, self._own_a[ss], np.where(tt >= 1.0, self._own_b[ss], self._own_mid[ss])
                )
                r = np.full(len(p), self._n, dtype=np.int64)
                np.minimum.at(r, own[sel], ow)
                rank[p] = np.where(r < self._n, r, -1)
        return out, rank


def _centre_fill(
    u0: NDArray[np.float64],
    v0: NDArray[np.float64],
    u1: NDArray[np.float64],
    v1: NDArray[np.float64],
    vmin: NDArray[np.float64],
    vmax: NDArray[np.float64],
    erank: NDArray[np.int64],
    W: int,
    H: int,
    rank_to_out: NDArray[np.int32],
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Stage 1 of :meth:`Locator._build_raster`: for every cell centre, how many polygons contain it
    and the sum of their (rank + 1) (``cnt``, ``lab``, H × W), and the raster they give (the grid that
    alone contains the centre, outside, or generic)."""
    # 1. Centre fill (even-odd scanline per polygon): how many polygons contain each cell centre,
    #    and the sum of (rank + 1) of those, as row-wise running sums of +/- interval ends.
    r_lo = np.ceil(vmin - 0.5).astype(np.int64)
    r_hi = np.ceil(vmax - 0.5).astype(np.int64)  # exclusive
    k = r_hi - r_lo
    sel = np.flatnonzero(k > 0)
    e = np.repeat(sel, k[sel])
    rows = r_lo[e] + _ranges(k[sel])
    yc = rows + 0.5
    xc = u0[e] + (yc - v0[e]) * (u1[e] - u0[e]) / (v1[e] - v0[e])
    del yc, r_lo, r_hi, k, sel
    # Crossings sorted by (rank, row, x): a two-key lexsort on one int64 key, the same stable
    # order as three keys. Each (rank, row) has an even number of crossings, paired in x order.
    gkey = erank[e] * H + rows
    o = np.lexsort((xc, gkey))
    del gkey
    xc = xc[o]
    xs, xe = xc[0::2], xc[1::2]
    first = o[0::2]
    rows, prank = rows[first], erank[e[first]]
    del o, first
    c_lo = np.clip(np.ceil(xs - 0.5), 0, W).astype(np.int64)
    c_hi = np.clip(np.ceil(xe - 0.5), 0, W).astype(np.int64)
    keep = c_hi > c_lo
    rows, prank, c_lo, c_hi = rows[keep], prank[keep], c_lo[keep], c_hi[keep]
    base = rows * (W + 1)
    lo_at, hi_at = base + c_lo, base + c_hi
    # int32 in place (ufunc.at): the label sums wrap modulo 2^32, which is exact where it is
    # read (count 1: one rank + 1 < 2^31; count 0: 0).
    cnt: NDArray[np.int32] = np.zeros((H, W + 1), dtype=np.int32)
    lab: NDArray[np.int32] = np.zeros((H, W + 1), dtype=np.int32)
    one = np.ones(len(lo_at), dtype=np.int32)  # an array: ufunc.at is slow with a scalar
    w = (prank + 1).astype(np.int32)
    for out, add in ((cnt.reshape(-1), one), (lab.reshape(-1), w)):  # flat views
        np.add.at(out, lo_at, add)
        np.subtract.at(out, hi_at, add)
    del base, w, one, xs, xe, xc, e, lo_at, hi_at, rows, prank, c_lo, c_hi, keep
    np.cumsum(cnt, axis=1, dtype=np.int32, out=cnt)
    np.cumsum(lab, axis=1, dtype=np.int32, out=lab)  # only cells with count <= 1 read it
    cnt = cnt[:, :W]
    lab = lab[:, :W]

    # The grid whose polygon alone contains the centre (count 1, label rank + 1), outside (count
    # 0, label 0), or generic where polygons overlap (count > 1: the clipped label is overwritten).
    tbl = np.r_[_OUTSIDE, rank_to_out].astype(np.int32)
    raster = np.take(tbl, lab, mode="clip")
    raster[cnt > 1] = _GENERIC
    del tbl
    return cnt, lab, raster


def _outline_segments(geoms: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The segments ``(a, b)`` (n × 2 each) of the outline of the union of ``geoms``."""
    valid = bool(shapely.coverage_is_valid(geoms))
    union = shapely.coverage_union_all(geoms) if valid else shapely.union_all(geoms)
    outline = shapely.boundary(union)
    coords, part = shapely.get_coordinates(shapely.get_parts(outline), return_index=True)
    same = part[1:] == part[:-1]
    return coords[:-1][same], coords[1:][same]


def _in_thread(fn: Callable[[], T]) -> Callable[[], T]:
    """Start ``fn()`` in a thread; the function returned waits for it and gives its result (or
    raises its exception)."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append((True, fn()))
        except BaseException as exc:  # handed to the caller
            out.append((False, exc))

    t = threading.Thread(target=run, name="locator-outline", daemon=True)
    t.start()

    def result() -> T:
        t.join()
        ok, value = out[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    return result


def _crossed_buckets(
    segs: NDArray[np.object_],
    tree: shapely.STRtree,
    x0: float,
    y0: float,
    s: float,
    nx: int,
    ny: int,
    bx0: NDArray[np.float64],
    by0: NDArray[np.float64],
) -> NDArray[np.int64]:
    """The buckets (flat ids) whose closed box ``bx0, by0, +s`` intersects an outline segment: the
    boxes within one bucket of each segment's envelope (found by arithmetic, not by building a box for
    every bucket of the raster) tested exactly; the whole grid through ``tree`` when that is fewer."""
    env = shapely.bounds(segs)
    j0 = np.clip(np.floor((env[:, 0] - x0) / s) - 1, 0, nx - 1).astype(np.int64)
    j1 = np.clip(np.floor((env[:, 2] - x0) / s) + 1, 0, nx - 1).astype(np.int64)
    i0 = np.clip(np.floor((env[:, 1] - y0) / s) - 1, 0, ny - 1).astype(np.int64)
    i1 = np.clip(np.floor((env[:, 3] - y0) / s) + 1, 0, ny - 1).astype(np.int64)
    kj, ki = j1 - j0 + 1, i1 - i0 + 1
    k = kj * ki
    if int(k.sum()) >= nx * ny:
        hit, _ = tree.query(shapely.box(bx0, by0, bx0 + s, by0 + s), predicate="intersects")
        return np.unique(hit)
    seg = np.repeat(np.arange(len(segs)), k)
    off = _ranges(k)
    kjs = kj[seg]
    b = (i0[seg] + off // kjs) * nx + j0[seg] + off % kjs
    ok = shapely.intersects(shapely.box(bx0[b], by0[b], bx0[b] + s, by0[b] + s), segs[seg])
    return np.unique(b[ok])


@overload
def _seg_dist(
    px: ArrayLike,
    py: ArrayLike,
    ax: ArrayLike,
    ay: ArrayLike,
    bx: ArrayLike,
    by: ArrayLike,
    *,
    with_t: Literal[False] = False,
) -> NDArray[np.float64]: ...
@overload
def _seg_dist(
    px: ArrayLike,
    py: ArrayLike,
    ax: ArrayLike,
    ay: ArrayLike,
    bx: ArrayLike,
    by: ArrayLike,
    *,
    with_t: Literal[True],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def _seg_dist(
    px: Any, py: Any, ax: Any, ay: Any, bx: Any, by: Any, *, with_t: bool = False
) -> NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Euclidean distance from points to segments (elementwise numpy arrays); optionally also the
    clamped position ``t`` in [0, 1] of the nearest point along each segment."""
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(l2 > 0, ((px - ax) * dx + (py - ay) * dy) / l2, 0.0)
    np.clip(t, 0.0, 1.0, out=t)
    ex, ey = px - (ax + t * dx), py - (ay + t * dy)
    d = np.sqrt(ex * ex + ey * ey)
    return (d, t) if with_t else d


#: What :meth:`Locator.to_state` keeps: numeric arrays, scalars, and those of the outline index.
_STATE_ARRAYS = (
    "_rank_to_out",
    "_status",
    "_seg_u0",
    "_seg_v0",
    "_seg_u1",
    "_seg_v1",
    "_edge_flat",
    "_cand",
    "_cand_ptr",
    "_cell_seg",
    "_seg_local",
    "_seg_ptr",
    "_raster",
)
_STATE_SCALARS = (
    "snap_tolerance_m",
    "_bounds",
    "cell_m",
    "n_edge_cells",
    "_lon_c",
    "_lat_c",
    "_kx",
    "_ky",
    "_x0",
    "_y0",
    "_inv_dx",
    "_inv_dy",
    "_W",
    "_H",
)
_OUTLINE_ARRAYS = (
    "_ax",
    "_ay",
    "_bx",
    "_by",
    "_dx",
    "_dy",
    "_il2",
    "_seg",
    "_ptr",
    "_built",
    "_own_mid",
    "_own_a",
    "_own_b",
)
_OUTLINE_SCALARS = ("_x0", "_y0", "_s", "_nx", "_ny", "_n")


_NONE = "\x00"  # None in a string array (no label may hold a NUL: inputs refuse control characters)


def _to_strings(values: Sequence[str | None]) -> NDArray[np.str_]:
    return np.array([_NONE if v is None else str(v) for v in values] or [""], dtype=np.str_)[: len(values)]


def _from_string(v: str) -> str | None:
    return None if v == _NONE else v


class _Strings:
    """A list-like view of a string array read back by :meth:`Locator.from_state` (None kept)."""

    def __init__(self, arr: NDArray[np.str_]) -> None:
        self._arr = arr

    def __len__(self) -> int:
        return len(self._arr)

    def __getitem__(self, i: int) -> str | None:
        return _from_string(str(self._arr[i]))


class _Pairs:
    """``(code, name)`` of a parent for each micro-grid: a small table and an index per grid."""

    def __init__(self, codes: NDArray[np.str_], names: NDArray[np.str_], idx: NDArray[np.int32]) -> None:
        self._table = [
            (_from_string(c), _from_string(nm)) for c, nm in zip(codes.tolist(), names.tolist(), strict=True)
        ]
        self._idx = idx

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i: int) -> tuple[str | None, str | None]:
        return self._table[int(self._idx[i])]

    def code_array(self) -> NDArray[np.object_]:
        """Codes by grid as an object array with a trailing None (index -1 gathers None)."""
        table = np.array([c for c, _ in self._table] + [None], dtype=object)
        return table[np.append(np.asarray(self._idx, dtype=np.int64), -1)]  # type: ignore[no-any-return]


def default_max_cells(n: int) -> int:
    """Raster cells for ``n`` micro-grids: 2^25 (128 MB) at most, about 256 per grid beyond 2^22,
    so a city of 50,000 grids keeps its raster and edge tables near 100 MB (cells of ~9 m there;
    finer cells only move work from the exact test to the gather)."""
    return min(1 << 25, max(1 << 22, 256 * n))


def _narrow(a: NDArray[np.int64], top: int) -> NDArray[Any]:
    """``a`` as int32 when every value fits (``top`` bounds them), else unchanged."""
    return a.astype(np.int32) if top < 2**31 - 1 else a


def _ranges(k: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenated ``arange(k_i)`` for every i (the offsets inside each repeated group)."""
    total = int(k.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(k) - k
    return np.arange(total, dtype=np.int64) - np.repeat(starts, k)


def _all_in_china(x: NDArray[np.float64], y: NDArray[np.float64]) -> bool:
    """Fast check (4 reductions) that every point is finite and inside CHINA_BBOX: then
    :func:`geo.crs.validate_lonlat` would accept them all. NaN fails every comparison."""
    if len(x) == 0:
        return True
    b = CHINA_BBOX
    return bool(x.min() >= b[0] and x.max() <= b[2] and y.min() >= b[1] and y.max() <= b[3])


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a repaired geometry (drops lines and points make_valid may add)."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if len(parts) == 1:
        return parts[0]
    return shapely.multipolygons(shapely.get_parts(np.array(parts, dtype=object))) if parts else g
