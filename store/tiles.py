"""Mapbox Vector Tiles of the stored layers: the same tile from SpatiaLite and PostGIS.

On PostGIS the database cuts and encodes (``ST_AsMVTGeom`` + ``ST_AsMVT``, the GiST index picks the
rows); on SpatiaLite the rows come from the bounding-box columns (geometries read as WKB and
parsed in one :func:`shapely.from_wkb`), :func:`geo.tiles.tile_geometries` does what
``ST_AsMVTGeom`` does (clip to the buffered tile, snap to the 4096 grid) and :mod:`geo.mvt` encodes
(the ``mapbox-vector-tile`` package's bytes; the package itself for what geo.mvt leaves to it).
Decoded, both give the same features with the same attributes (a ``None`` attribute is left out,
as ``ST_AsMVT`` leaves out NULLs), in the same order, and geometries equal up to the integer
snapping. A tile without features is empty bytes on both.

Layers (the MVT layer is named like the tile layer):

* ``micro``, ``general``, ``community`` — the grids of one level of the given versions;
* ``elements`` — the governance elements of the given versions;
* incidents are chosen and shown (visibility, privacy) by the operations layer, which hands the
  points and their attributes to :func:`point_tile`; :func:`incident_rows` reads the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import mapbox_vector_tile
import orjson
import shapely
from sqlalchemy import Connection, LargeBinary, bindparam, func, select, text

from geo.hierarchy import GRID_PROPERTIES
from geo.mvt import encode_layer
from geo.tiles import BUFFER, EXTENT, TileCoord, lonlat_bounds, tile_geometries
from store.db import is_sqlite
from store.incidents import EVERYTHING, INCIDENT_COLUMNS, Visibility
from store.models import elements as elements_t
from store.models import grids as grids_t
from store.models import incidents as incidents_t

GRID_ATTRS = GRID_PROPERTIES
ELEMENT_ATTRS = ("element_id", "type", "name", "households", "community_code", "micro_code")

_ENCODE_OPTIONS = {
    "extents": EXTENT,
    "quantize_bounds": None,  # geo.tiles already put the geometries on the tile grid
    "y_coord_down": True,
    "check_winding_order": True,
}


def _encode(layer: str, features: Sequence[tuple[Any, Mapping[str, Any]]]) -> bytes:
    """The MVT layer of tile-coordinate geometries (empty bytes for none): :func:`geo.mvt.encode_layer`
    (numpy, the package's exact bytes, ≈ 6× less CPU) for polygons or points, the
    ``mapbox-vector-tile`` package for anything else (lines, mixed, empty or 3D geometries)."""
    if not features:
        return b""
    kept = [(g, {k: v for k, v in p.items() if v is not None}) for g, p in features]
    fast = encode_layer(layer, kept, EXTENT)
    if fast is not None:
        return fast
    return bytes(
        mapbox_vector_tile.encode(
            [{"name": layer, "features": [{"geometry": g, "properties": p} for g, p in kept]}],
            default_options=_ENCODE_OPTIONS,
        )
    )


def _wkb(table: Any) -> Any:
    """The geometry column as SpatiaLite's plain WKB blob: read raw (no geoalchemy element per row)
    and parsed by one :func:`shapely.from_wkb` over the whole column in :func:`_python_tile` —
    the same geometries as :func:`store.shapes.to_shapely` at about a third of the CPU."""
    return func.AsBinary(table.c.geom, type_=LargeBinary).label("geom")


def _python_tile(layer: str, rows: Sequence[Mapping[str, Any]], attrs: Sequence[str], t: TileCoord) -> bytes:
    geoms = tile_geometries(shapely.from_wkb([r["geom"] for r in rows]), t)
    return _encode(
        layer, [(g, {a: r[a] for a in attrs}) for g, r in zip(geoms, rows, strict=True) if g is not None]
    )


_PG_TILE = """
SELECT ST_AsMVT(q, :layer, {extent}, 'geom') FROM (
    SELECT {cols},
        ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope(:z, :x, :y), {extent}, {buffer}, true)
        AS geom
    FROM {table} AS t
    WHERE t.version_id IN :ids {extra}
      AND t.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
    ORDER BY {order}
) AS q WHERE q.geom IS NOT NULL
"""


def _pg_tile(
    conn: Connection,
    table: str,
    layer: str,
    attrs: Sequence[str],
    order: str,
    version_ids: Sequence[int],
    t: TileCoord,
    extra: str = "",
    **params: Any,
) -> bytes:
    w, s, e, n = lonlat_bounds(t)
    sql = text(
        _PG_TILE.format(
            extent=EXTENT,
            buffer=BUFFER,
            cols=", ".join(f"t.{a}" for a in attrs),
            table=table,
            extra=extra,
            order=f"t.{order}",
        )
    ).bindparams(bindparam("ids", expanding=True))
    found = conn.execute(
        sql,
        {
            "layer": layer,
            "z": t.z,
            "x": t.x,
            "y": t.y,
            "ids": list(version_ids),
            "w": w,
            "s": s,
            "e": e,
            "n": n,
        }
        | params,
    ).scalar()
    return bytes(found) if found else b""


def _bbox_where(table: Any, t: TileCoord) -> list[Any]:
    w, s, e, n = lonlat_bounds(t)
    c = table.c
    return [c.maxx >= w, c.minx <= e, c.maxy >= s, c.miny <= n]


def grid_tile(conn: Connection, version_ids: Sequence[int], level: str, t: TileCoord) -> bytes:
    """The grids of ``level`` of the versions ``version_ids`` in tile ``t`` (MVT layer ``level``)."""
    if not version_ids:
        return b""
    if not is_sqlite(conn):
        return _pg_tile(
            conn, "grids", level, GRID_ATTRS, "code", version_ids, t, "AND t.level = :level", level=level
        )
    q = (
        select(*(grids_t.c[a] for a in GRID_ATTRS), _wkb(grids_t))
        .where(
            grids_t.c.version_id.in_(list(version_ids)), grids_t.c.level == level, *_bbox_where(grids_t, t)
        )
        .order_by(grids_t.c.code)
    )
    return _python_tile(level, [r._mapping for r in conn.execute(q)], GRID_ATTRS, t)


def element_tile(conn: Connection, version_ids: Sequence[int], t: TileCoord) -> bytes:
    """The governance elements of the versions ``version_ids`` in tile ``t`` (MVT layer ``elements``)."""
    if not version_ids:
        return b""
    if not is_sqlite(conn):
        return _pg_tile(conn, "elements", "elements", ELEMENT_ATTRS, "element_id", version_ids, t)
    q = (
        select(*(elements_t.c[a] for a in ELEMENT_ATTRS), _wkb(elements_t))
        .where(elements_t.c.version_id.in_(list(version_ids)), *_bbox_where(elements_t, t))
        .order_by(elements_t.c.element_id)
    )
    return _python_tile("elements", [r._mapping for r in conn.execute(q)], ELEMENT_ATTRS, t)


def incident_rows(
    conn: Connection,
    t: TileCoord,
    visible: Visibility = EVERYTHING,
    *,
    community: str | None = None,
    limit: int = 20_000,
) -> list[dict[str, Any]]:
    """Incidents lying in the buffered tile that ``visible`` lets through (the API's one rule),
    of ``community`` if given, ordered by id, at most ``limit`` (the community is chosen in the
    query, so another community's incidents never use up the limit)."""
    w, s, e, n = lonlat_bounds(t)
    c = incidents_t.c
    where = [c.lon >= w, c.lon <= e, c.lat >= s, c.lat <= n]
    if community is not None:
        where.append(c.community_code == community)
    clause = visible.clause()
    if clause is not None:
        where.append(clause)
    q = select(*(c[name] for name in INCIDENT_COLUMNS)).where(*where).order_by(c.id).limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)]


_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_SQL_TYPE = {bool: "boolean", int: "bigint", float: "double precision", str: "text"}


def point_tile(
    conn: Connection, layer: str, points: Sequence[tuple[float, float, Mapping[str, Any]]], t: TileCoord
) -> bytes:
    """Points ``(lon, lat, attributes)`` (WGS84; attribute values str, int, float, bool or None) as
    MVT layer ``layer`` of tile ``t``, in the given order."""
    if not points:
        return b""
    if is_sqlite(conn):
        geoms = tile_geometries([shapely.Point(lon, lat) for lon, lat, _ in points], t)
        return _encode(layer, [(g, p) for g, (_, _, p) in zip(geoms, points, strict=True) if g is not None])
    types: dict[str, str] = {}
    for _, _, props in points:
        for k, v in props.items():
            if v is not None:
                types.setdefault(k, _SQL_TYPE[type(v)])
    names = list(types)
    bad = [k for k in names if not _NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"attribute names must be lower-case identifiers: {bad}")
    rows = [
        {"_lon": lon, "_lat": lat, "_ord": i, **{k: p.get(k) for k in names}}
        for i, (lon, lat, p) in enumerate(points)
    ]
    record = ", ".join(
        ["_lon double precision", "_lat double precision", "_ord bigint"]
        + [f'"{k}" {types[k]}' for k in names]
    )
    cols = ", ".join(f'r."{k}"' for k in names)
    sql = text(
        f"""
        SELECT ST_AsMVT(q, :layer, {EXTENT}, 'geom') FROM (
            SELECT {cols}{", " if cols else ""}ST_AsMVTGeom(
                ST_Transform(ST_SetSRID(ST_MakePoint(r._lon, r._lat), 4326), 3857),
                ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true) AS geom
            FROM json_to_recordset(CAST(:rows AS json)) AS r({record})
            ORDER BY r._ord
        ) AS q WHERE q.geom IS NOT NULL
        """  # noqa: S608 - column names are attribute keys chosen by our code, values are bound
    )
    found = conn.execute(
        sql, {"layer": layer, "z": t.z, "x": t.x, "y": t.y, "rows": orjson.dumps(rows).decode()}
    ).scalar()
    return bytes(found) if found else b""
