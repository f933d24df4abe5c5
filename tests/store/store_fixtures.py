"""Tiny layers and helpers for the storage suite (grids built in code; see tests/fixtures_geo.py).

``layer_v1()`` is the clean fixture of ``tests.fixtures_geo`` (community 510116004001, 2 general
grids, 4 micro-grids of 50 m × 100 m). ``layer_v2()`` is the same community redrawn: the edge
between micro-grids …001001 and …001002 moves from x = 50 m to x = 70 m, so the point at
``POINT_MOVED`` (x = 60 m) lies in …001002 under version 1 and in …001001 under version 2.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from geo.hierarchy import Grid
from store import db, models
from tests.fixtures_geo import (
    COMMUNITY,
    MICRO_11,
    MICRO_12,
    clean_hierarchy_grids,
    local_box,
    local_point,
    with_grid,
)

POINT_MOVED = local_point(60, 50)
#: The vertex at (100 m, 100 m) shared by …001002 and …002001 (both versions): exactly on both
#: boundaries (a projected point mid-edge is not exactly on the lon/lat segment).
POINT_ON_EDGE = local_point(100, 100)
POINT_OUTSIDE = local_point(-30, 50)


def layer_v1() -> list[Grid]:
    return clean_hierarchy_grids()


def layer_v2() -> list[Grid]:
    grids = with_grid(clean_hierarchy_grids(), MICRO_11, geometry=local_box(0, 0, 70, 100), name="v2 西")
    return with_grid(grids, MICRO_12, geometry=local_box(70, 0, 100, 100), name="v2 东")


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every row of every weiwang table (geometry as WKB hex), to prove a rollback left no trace."""
    out: dict[str, Any] = {}
    with db.read(engine) as conn:
        for table in models.metadata.sorted_tables:
            cols = [c for c in table.c if c.name != "geom"]
            q = select(*cols).order_by(*table.primary_key.columns)
            rows = [tuple(r) for r in conn.execute(q)]
            if "geom" in table.c:
                geo = conn.execute(
                    select(table.c.geom.ST_AsBinary()).order_by(*table.primary_key.columns)
                ).scalars()
                rows = [
                    (*r, bytes(g).hex() if g is not None else None) for r, g in zip(rows, geo, strict=True)
                ]
            out[table.name] = rows
    return out


__all__ = ["COMMUNITY", "POINT_MOVED", "POINT_ON_EDGE", "POINT_OUTSIDE", "layer_v1", "layer_v2", "snapshot"]
