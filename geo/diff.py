"""The difference between two grid layers of one community, grid by grid (pure, WGS84 in).

A grid is matched by code. ``added`` / ``removed``: the code is only in the new / old layer;
``changed``: in both, with a different area (more than ``tolerance_m2`` of boundary moved: the
geodesic area of the symmetric difference) or a different parent, name or households. Each row
says the area before and after, the change in m², and the area that changed hands
(``moved_m2``), so a planner sees how far a boundary moved. Geometry of the moved area is WGS84.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import area_m2
from geo.hierarchy import Grid

#: Boundary movement below this many m² is not a change (see geo.validate's area tolerance).
DEFAULT_TOLERANCE_M2 = 0.5
_FIELDS = ("parent_code", "name", "households")


@dataclass(frozen=True)
class GridChange:
    """One grid's change between two layers."""

    code: str
    change: str  # added | removed | changed
    level: str
    name: str
    area_before_m2: float | None
    area_after_m2: float | None
    moved_m2: float
    fields: tuple[str, ...] = ()
    moved: BaseGeometry | None = field(default=None, compare=False)

    @property
    def area_change_m2(self) -> float:
        return (self.area_after_m2 or 0.0) - (self.area_before_m2 or 0.0)

    def to_dict(self, geometry: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "change": self.change,
            "level": self.level,
            "name": self.name,
            "area_before_m2": None if self.area_before_m2 is None else round(self.area_before_m2, 1),
            "area_after_m2": None if self.area_after_m2 is None else round(self.area_after_m2, 1),
            "area_change_m2": round(self.area_change_m2, 1),
            "moved_m2": round(self.moved_m2, 1),
            "fields": list(self.fields),
        }
        if geometry:
            body["moved"] = shapely.geometry.mapping(self.moved) if self.moved is not None else None
        return body


def diff_layers(
    before: Sequence[Grid], after: Sequence[Grid], tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> list[GridChange]:
    """Grid changes from ``before`` to ``after``, by level (community, general, micro) then code."""
    old = {g.code: g for g in before}
    new = {g.code: g for g in after}
    out: list[GridChange] = []
    for code in sorted(set(old) | set(new)):
        a, b = old.get(code), new.get(code)
        if a is None and b is not None:
            ar = area_m2(b.geometry)
            out.append(GridChange(code, "added", b.level.value, b.name, None, ar, ar, (), b.geometry))
        elif b is None and a is not None:
            ar = area_m2(a.geometry)
            out.append(GridChange(code, "removed", a.level.value, a.name, ar, None, ar, (), a.geometry))
        elif a is not None and b is not None:
            same_shape = a.geometry is b.geometry or shapely.equals_exact(a.geometry, b.geometry, 0.0)
            moved_geom = None if same_shape else shapely.symmetric_difference(a.geometry, b.geometry)
            moved = 0.0 if moved_geom is None else area_m2(moved_geom)
            fields = tuple(f for f in _FIELDS if getattr(a, f) != getattr(b, f))
            if moved > tolerance_m2:
                fields = ("geometry", *fields)
            if fields:
                out.append(
                    GridChange(
                        code,
                        "changed",
                        b.level.value,
                        b.name,
                        area_m2(a.geometry),
                        area_m2(b.geometry),
                        moved if moved > tolerance_m2 else 0.0,
                        fields,
                        moved_geom if moved > tolerance_m2 else None,
                    )
                )
    depth = {"community": 0, "general": 1, "micro": 2}
    return sorted(out, key=lambda c: (depth.get(c.level, 9), c.code))


def summarize_diff(changes: Sequence[GridChange]) -> dict[str, int]:
    """Counts of added, removed and changed grids."""
    return {k: sum(1 for c in changes if c.change == k) for k in ("added", "removed", "changed")}
