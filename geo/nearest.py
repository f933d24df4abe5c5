"""Which community is nearest a point that no grid covers (for the 研判 queue of a stray report).

Distances are planar metres in the local metric projection (:func:`geo.crs.to_local_metric`),
measured to each community's outline; a point inside a community is at distance 0. The outlines
are projected once per :class:`~geo.hierarchy.Hierarchy` (kept while it lives): projecting them on
every stray report cost ~0.5 ms of its ~0.6.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo.crs import to_local_metric
from geo.hierarchy import Grid, Hierarchy


def nearest_community(h: Hierarchy, lon: float, lat: float, within_m: float) -> Grid | None:
    """The community (总网格) nearest the WGS84 point, if at most ``within_m`` metres away; ties go
    to the lower code. None when every community is farther."""
    pt: BaseGeometry = to_local_metric(Point(lon, lat))
    best: tuple[float, str, Grid] | None = None
    for c, outline in _outlines(h):
        d = float(outline.distance(pt))
        if d <= within_m and (best is None or (d, c.code) < best[:2]):
            best = (d, c.code, c)
    return best[2] if best else None


@dataclass(frozen=True)
class _Outlines:
    """The communities of one hierarchy with their outlines in the local metric projection."""

    pairs: list[tuple[Grid, BaseGeometry]]
    vertices: int


_OUTLINES: weakref.WeakKeyDictionary[Hierarchy, _Outlines] = weakref.WeakKeyDictionary()


def _outlines(h: Hierarchy) -> list[tuple[Grid, BaseGeometry]]:
    """Each community of ``h`` with its outline in the local metric projection."""
    found = _OUTLINES.get(h)
    if found is None:
        pairs = [(c, to_local_metric(c.geometry)) for c in h.communities]
        found = _OUTLINES[h] = _Outlines(pairs, sum(int(shapely.get_num_coordinates(o)) for _, o in pairs))
    return found.pairs


#: Outlines of at most this many vertices in all are measured on the caller's thread (an event
#: loop): a point-to-outline distance costs ~2.5 ns per vertex, so ~0.1 ms at this size.
CHEAP_VERTICES = 40_000


def is_cheap(h: Hierarchy) -> bool:
    """True when :func:`nearest_community` on ``h`` costs microseconds: its outlines are projected
    already (kept from an earlier call) and have at most :data:`CHEAP_VERTICES` vertices in all."""
    found = _OUTLINES.get(h)
    return found is not None and found.vertices <= CHEAP_VERTICES
