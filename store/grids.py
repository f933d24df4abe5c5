"""Grids and governance elements of one layer version: write once, read as geo objects, locate.

Rows are written once, with the version (see :mod:`store.versions`), and never changed. Reading
gives :class:`geo.hierarchy.Grid` / :class:`geo.elements.Element` with shapely geometry through
:mod:`store.shapes`. Point lookups in SQL use **covers** semantics (MapIt): a point on a grid's
boundary is in that grid, so a point on an edge shared by two grids is in both; :func:`grids_at`
returns both, ordered by code, and :func:`grid_at` takes the lowest code (the tie rule of
``geo.validate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select

from geo.crs import areas_m2
from geo.elements import Element
from geo.hierarchy import Grid, Hierarchy, Level
from store import shapes
from store.inforce import in_force_clause
from store.models import elements as elements_t
from store.models import grids as grids_t
from store.models import layer_versions

#: Rows per INSERT batch (and per progress tick).
BATCH = 500

_GRID_COLS = [c for c in grids_t.c if c.name not in ("id", "version_id")]
_ELEMENT_COLS = [c for c in elements_t.c if c.name not in ("id", "version_id")]


def _batches(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    size = BATCH
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def insert_grids(
    conn: Connection,
    version_id: int,
    grids: Iterable[Grid],
    *,
    community_code: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write grids into a version; ``community_code`` fills grids that carry none.

    ``progress(n)`` is called after each batch with the number of rows written in it (an exception
    it raises aborts the caller's transaction like any other). Returns the number written.
    """
    grids = list(grids)
    geoms, bounds = shapes.to_db_many([g.geometry for g in grids])
    areas = areas_m2([g.geometry for g in grids]).tolist()
    rows = [
        {
            "version_id": version_id,
            "code": g.code,
            "level": g.level.value if isinstance(g.level, Level) else Level(g.level).value,
            "kind": g.kind,
            "name": g.name,
            "parent_code": g.parent_code,
            "community_code": g.community_code or community_code,
            "households": g.households,
            "area_m2": area,
            "minx": b[0],
            "miny": b[1],
            "maxx": b[2],
            "maxy": b[3],
            "geom": geom,
        }
        for g, geom, b, area in zip(grids, geoms, bounds.tolist(), areas, strict=True)
    ]
    return _insert_rows(conn, grids_t, rows, progress)


def insert_elements(
    conn: Connection,
    version_id: int,
    elements: Iterable[Element],
    *,
    community_code: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write governance elements into a version (``micro_code`` as given: the grid it falls in)."""
    rows = [
        {
            "version_id": version_id,
            "element_id": e.id,
            "type": e.type,
            "name": e.name,
            "households": e.households or 0,
            "community_code": e.community_code or community_code,
            "micro_code": e.micro_code,
            **shapes.bbox(e.geometry),
            "geom": shapes.to_db(e.geometry),
        }
        for e in elements
    ]
    return _insert_rows(conn, elements_t, rows, progress)


def _insert_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], progress: Callable[[int], None] | None
) -> int:
    for batch in _batches(rows):
        conn.execute(insert(table), list(batch))
        if progress is not None:
            progress(len(batch))
    return len(rows)


def _grid(m: Any) -> Grid:
    return Grid(
        code=m["code"],
        name=m["name"],
        level=Level(m["level"]),
        geometry=shapes.to_shapely(m["geom"]),
        parent_code=m["parent_code"],
        community_code=m["community_code"],
        kind=m["kind"],
        households=m["households"],
        extra={"area_m2": m["area_m2"]},
    )


def load_grids(conn: Connection, version_id: int) -> list[Grid]:
    """The grids of a version, ordered by code; ``extra["area_m2"]`` holds the stored geodesic area."""
    rows = conn.execute(
        select(*_GRID_COLS).where(grids_t.c.version_id == version_id).order_by(grids_t.c.code)
    )
    return [_grid(r._mapping) for r in rows]


def load_hierarchy(conn: Connection, version_id: int) -> Hierarchy:
    return Hierarchy(load_grids(conn, version_id))


def load_elements(conn: Connection, version_id: int) -> list[Element]:
    """The elements of a version, ordered by element id."""
    rows = conn.execute(
        select(*_ELEMENT_COLS).where(elements_t.c.version_id == version_id).order_by(elements_t.c.element_id)
    )
    return [
        Element(
            id=m["element_id"],
            type=m["type"],
            name=m["name"],
            geometry=shapes.to_shapely(m["geom"]),
            households=m["households"],
            community_code=m["community_code"],
            micro_code=m["micro_code"],
        )
        for m in (r._mapping for r in rows)
    ]


def published_layers(conn: Connection) -> list[tuple[str, int, int, Hierarchy]]:
    """``(community_code, version_id, version_number, hierarchy)`` of every published version.
    Call inside one read transaction for a consistent set."""
    from store.versions import published_versions

    return [(v.community_code, v.id, v.number, load_hierarchy(conn, v.id)) for v in published_versions(conn)]


def count_grids(conn: Connection, version_id: int) -> dict[str, int]:
    """Number of grids per level in a version."""
    rows = conn.execute(
        select(grids_t.c.level, func.count())
        .where(grids_t.c.version_id == version_id)
        .group_by(grids_t.c.level)
    )
    return {r[0]: int(r[1]) for r in rows}


@dataclass(frozen=True, slots=True)
class GridHit:
    """A stored grid that covers a point, with the version it belongs to."""

    code: str
    name: str
    level: str
    parent_code: str | None
    community_code: str | None
    version_id: int
    version_number: int


def grids_at(
    conn: Connection,
    lon: float,
    lat: float,
    at: datetime | date | None = None,
    *,
    level: Level | str = Level.MICRO,
    community_code: str | None = None,
) -> list[GridHit]:
    """Grids of ``level`` covering the WGS84 point in the versions in force at ``at`` (None = now;
    a date = 00:00 China Standard Time), ordered by code. Boundary points are covered (MapIt).
    """
    point = func.ST_GeomFromText(shapes.point_wkt(lon, lat), shapes.SRID)
    q = (
        select(
            grids_t.c.code,
            grids_t.c.name,
            grids_t.c.level,
            grids_t.c.parent_code,
            grids_t.c.community_code,
            layer_versions.c.id,
            layer_versions.c.number,
        )
        .join(layer_versions, grids_t.c.version_id == layer_versions.c.id)
        .where(
            in_force_clause(at),
            grids_t.c.level == Level(level).value,
            grids_t.c.minx <= lon,
            grids_t.c.maxx >= lon,
            grids_t.c.miny <= lat,
            grids_t.c.maxy >= lat,
            func.ST_Covers(grids_t.c.geom, point),
        )
        .order_by(grids_t.c.code)
    )
    if community_code is not None:
        q = q.where(layer_versions.c.community_code == community_code)
    return [GridHit(*r) for r in conn.execute(q)]


def grid_at(
    conn: Connection,
    lon: float,
    lat: float,
    at: datetime | date | None = None,
    *,
    level: Level | str = Level.MICRO,
    community_code: str | None = None,
) -> GridHit | None:
    """The grid holding the point at ``at`` (lowest code on a shared edge), or None outside all."""
    hits = grids_at(conn, lon, lat, at, level=level, community_code=community_code)
    return hits[0] if hits else None
