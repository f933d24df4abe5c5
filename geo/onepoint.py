"""One point located in Python floats, where :meth:`Locator.locate_one` takes its array path.

``Locator.locate_one`` answers a point in a cell inside one grid, or in an edge cell, in a few
microseconds; a point in a cell outside every grid or in a generic cell (overlaps, the raster's
margin) goes through :meth:`Locator.locate` on one-element arrays, ~40 numpy calls and ~0.2 ms —
one point in eight of a community's bounding box, most of the CPU of ``GET /api/v1/locate``.
:func:`locate_one` answers those points with the same arithmetic on Python floats (the same
operations in the same order, so the same distances to the bit, and the same smallest-rank rule on
ties); edge cells, and points beyond the outline buckets, still take the locator's own path.

A shared locator's arrays are memory-mapped, and every scalar read of a ``numpy.memmap`` runs
Python code of numpy's: :class:`_Plain` holds plain ndarray views of the arrays read here (no
copy), and the answer for each grid a point fell inside, which depends on nothing else.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import CHINA_BBOX, validate_lonlat
from geo.locator import _GENERIC, _OUTSIDE, Locator, PointLocation


@dataclass
class _Plain:
    """Plain ndarray views (no copy) of a locator's arrays read per point, and the answers for
    points inside a grid's cells by output index (filled as asked; at most one per grid)."""

    raster: NDArray[Any]
    rank_to_out: NDArray[Any]
    outline: Any = None
    seg: NDArray[Any] | None = None
    ptr: NDArray[Any] | None = None
    built: NDArray[Any] | None = None
    seg_arrays: tuple[NDArray[Any], ...] = ()
    owners: tuple[NDArray[Any], ...] = ()
    inside: dict[int, PointLocation] = field(default_factory=dict)


_PLAIN: weakref.WeakKeyDictionary[Locator, _Plain] = weakref.WeakKeyDictionary()
_PLAIN_LOCK = threading.Lock()


def _plain(loc: Locator) -> _Plain:
    found = _PLAIN.get(loc)
    if found is None:
        found = _Plain(np.asarray(loc._raster), np.asarray(loc._rank_to_out))
        with _PLAIN_LOCK:
            found = _PLAIN.setdefault(loc, found)
    return found


def _outline(loc: Locator, plain: _Plain) -> Any:
    """The locator's outline index (built by ``prepare`` if not yet), with plain views of it."""
    od = loc.prepare()
    if plain.outline is not od:
        plain.seg, plain.ptr, plain.built = np.asarray(od._seg), np.asarray(od._ptr), np.asarray(od._built)
        plain.seg_arrays = tuple(np.asarray(a) for a in (od._ax, od._ay, od._dx, od._dy, od._il2))
        plain.owners = tuple(np.asarray(a) for a in (od._own_a, od._own_b, od._own_mid))
        plain.outline = od
    return od


def locate_one(loc: Locator, lon: float, lat: float) -> PointLocation:
    """``loc.locate_one(lon, lat)``, the same answer, without arrays for points outside every grid
    or in generic cells (see the module)."""
    x, y = float(lon), float(lat)
    b = CHINA_BBOX
    if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
        validate_lonlat(x, y)
    plain = _plain(loc)
    u = min(max((x - loc._x0) * loc._inv_dx, 0.0), loc._W - 1)
    v = min(max((y - loc._y0) * loc._inv_dy, 0.0), loc._H - 1)
    val = int(plain.raster[int(v) * loc._W + int(u)])
    if val >= 0:
        hit = plain.inside.get(val)
        if hit is None:
            hit = plain.inside[val] = loc._point(val, False, False, 0.0, x, y)
        return hit
    if val == _GENERIC:
        bx0, by0, bx1, by1 = loc._bounds
        if bx0 <= x <= bx1 and by0 <= y <= by1:
            cand = loc._tree.query(shapely.Point(x, y), predicate="intersects")
            if len(cand):
                rank = int(cand.min())
                geom = loc._geoms_of(np.array([rank], dtype=np.int64))[0]
                on_b = not shapely.contains_xy(geom, x, y)
                return loc._point(int(plain.rank_to_out[rank]), bool(on_b), False, 0.0, x, y)
        return _outside(loc, plain, x, y)
    if val == _OUTSIDE:
        return _outside(loc, plain, x, y)
    return loc.locate_one(x, y)


def _outside(loc: Locator, plain: _Plain, x: float, y: float) -> PointLocation:
    """A point covered by no grid: the distance to the nearest grid and the snap to it within the
    tolerance, as ``Locator._outside`` and ``_OutlineDistance.nearest`` compute them."""
    od = _outline(loc, plain)
    mx = (x - loc._lon_c) * loc._kx
    my = (y - loc._lat_c) * loc._ky
    j = math.floor((mx - od._x0) / od._s)
    i = math.floor((my - od._y0) / od._s)
    b = i * od._nx + j
    assert plain.ptr is not None and plain.seg is not None and plain.built is not None
    if not (0 <= j < od._nx and 0 <= i < od._ny and plain.built[b]):  # beyond the buckets: rare
        return loc.locate_one(x, y)
    ax, ay, ddx, ddy, il2 = plain.seg_arrays
    lo, hi = int(plain.ptr[b]), int(plain.ptr[b + 1])
    tol = loc.snap_tolerance_m
    best = math.inf
    found: list[tuple[float, float, int]] = []  # (squared distance, t, segment) of every segment
    for s in plain.seg[lo:hi].tolist():
        dx, dy = float(ddx[s]), float(ddy[s])
        px = mx - float(ax[s])
        py = my - float(ay[s])
        t = px * dx
        t += py * dy
        t *= float(il2[s])
        t = min(max(t, 0.0), 1.0)
        px -= t * dx
        py -= t * dy
        d2 = px * px + py * py
        found.append((d2, t, s))
        best = min(best, d2)
    rank = -1
    if best <= tol * tol:
        own_a, own_b, own_mid = plain.owners
        n = od._n
        r = n
        for d2, t, s in found:
            if d2 == best:  # every equally nearest segment names its owner; the smallest rank wins
                own = own_a[s] if t <= 0.0 else own_b[s] if t >= 1.0 else own_mid[s]
                r = min(r, int(own))
        rank = r if r < n else -1
    dist = math.sqrt(best)
    if rank >= 0:
        return loc._point(int(plain.rank_to_out[rank]), False, True, dist, x, y)
    return loc._point(-1, False, False, dist, x, y)
