"""Per-community summaries of a hierarchy (``weiwang grids``, ``GET /api/v1/communities``)."""

from __future__ import annotations

from typing import Any

from geo.crs import area_m2
from geo.hierarchy import Hierarchy, Level


def summarize_grids(h: Hierarchy) -> list[dict[str, Any]]:
    """Counts per level, geodesic area (km²) and households, one row per community."""
    rows = []
    for c in sorted(h.communities, key=lambda g: g.code):
        sub = h.subset(c.code)
        general = sub.level(Level.GENERAL)
        micro = sub.micro
        kinds = sorted({g.kind or "一般网格" for g in general})
        rows.append(
            {
                "community_code": c.code,
                "community_name": c.name,
                "general": len(general),
                "general_kind": "/".join(kinds) or "一般网格",
                "micro": len(micro),
                "area_km2": round(area_m2(c.geometry) / 1e6, 4),
                "households": int(sum(g.households or 0 for g in micro)),
            }
        )
    return rows
