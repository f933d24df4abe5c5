"""store.tiles: the same tile from SpatiaLite (mapbox-vector-tile) and PostGIS (ST_AsMVT), compared
in one test on two seeded databases: same features, same attributes, geometries equal up to the
integer snapping."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely

from geo.tiles import TileCoord, tile_for_lonlat
from store import db
from store.grids import load_elements, load_grids
from store.tiles import element_tile, grid_tile, point_tile
from store.versions import list_all_versions
from tests.conftest import DbTemplate
from tests.tile_compare import assert_same, decode

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def engines(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two databases seeded with the sample communities the same way, one per engine."""
    from store.db import upgrade
    from store.seed import ensure_seeded
    from tests.conftest import SAMPLE_DIR

    sl = DbTemplate("spatialite", Path(tmp_path_factory.mktemp("tiles-sl"))).fresh(seeded=True)
    name = f"weiwang_tiles_{uuid.uuid4().hex[:12]}"
    pg = pg_server.create_database(name)
    out = {"spatialite": db.make_engine(sl), "postgis": db.make_engine(pg)}
    upgrade(out["postgis"])
    assert ensure_seeded(out["postgis"], SAMPLE_DIR)
    yield out
    for e in out.values():
        e.dispose()
    pg_server.drop_database(name)


def _published(engine) -> tuple[int, ...]:
    with db.read(engine) as conn:
        return tuple(v.id for v in list_all_versions(conn) if v.state == "published")


def _tiles(engine, z: int) -> list[TileCoord]:
    with db.read(engine) as conn:
        grids = [g for vid in _published(engine) for g in load_grids(conn, vid)]
    x1, y1, x2, y2 = shapely.union_all([g.geometry for g in grids]).bounds
    a, b = tile_for_lonlat(x1, y2, z), tile_for_lonlat(x2, y1, z)
    return [TileCoord(z, x, y) for x in range(a.x, b.x + 1) for y in range(a.y, b.y + 1)]


@pytest.mark.parametrize(("level", "z"), [("community", 11), ("general", 14), ("micro", 15), ("micro", 17)])
def test_grid_tiles_are_the_same_on_both_databases(engines: dict, level: str, z: int) -> None:
    sl, pg = engines["spatialite"], engines["postgis"]
    assert _published(sl) == _published(pg)
    ids = _published(sl)
    count = 0
    for t in _tiles(sl, z)[:150]:
        with db.read(sl) as a, db.read(pg) as b:
            one, two = decode(grid_tile(a, ids, level, t)), decode(grid_tile(b, ids, level, t))
        assert set(one) == set(two)
        assert_same(one.get(level, []), two.get(level, []), "code")
        count += len(one.get(level, []))
    assert count > 0


def test_element_tiles_are_the_same_on_both_databases(engines: dict) -> None:
    sl, pg = engines["spatialite"], engines["postgis"]
    ids = _published(sl)
    with db.read(sl) as conn:
        assert any(load_elements(conn, i) for i in ids)
    count = 0
    for t in _tiles(sl, 16):
        with db.read(sl) as a, db.read(pg) as b:
            one, two = decode(element_tile(a, ids, t)), decode(element_tile(b, ids, t))
        assert_same(one.get("elements", []), two.get("elements", []), "element_id")
        count += len(one.get("elements", []))
    assert count > 0


def test_point_tiles_are_the_same_on_both_databases(engines: dict) -> None:
    t = tile_for_lonlat(104.081, 30.405, 14)
    points = [
        (104.081, 30.405, {"id": "A", "urgent": True, "n": 3, "w": 1.5, "address": "三根松路…"}),
        (104.0811, 30.4051, {"id": "B", "urgent": False, "n": None, "w": None, "address": None}),
        (0.0, 0.0, {"id": "far", "urgent": False, "n": 1, "w": 0.0, "address": "x"}),
    ]
    with db.read(engines["spatialite"]) as a, db.read(engines["postgis"]) as b:
        one, two = (
            decode(point_tile(a, "incidents", points, t)),
            decode(point_tile(b, "incidents", points, t)),
        )
        assert point_tile(a, "incidents", points[2:], t) == b"" == point_tile(b, "incidents", points[2:], t)
    assert [f[0] for f in one["incidents"]] == [f[0] for f in two["incidents"]]
    assert [f[0] for f in one["incidents"]] == [
        {"id": "A", "urgent": True, "n": 3, "w": 1.5, "address": "三根松路…"},
        {"id": "B", "urgent": False},
    ]
    assert_same(one["incidents"], two["incidents"], "id")


def _package_tile(layer: str, rows: list, attrs: tuple[str, ...], t: TileCoord) -> bytes:
    """The tile as built before geo.mvt and the WKB column read: each geometry through
    store.shapes, encoded by the mapbox-vector-tile package."""
    import mapbox_vector_tile

    from geo.tiles import EXTENT, tile_geometries
    from store import shapes

    geoms = tile_geometries([shapes.to_shapely(r.geom) for r in rows], t)
    feats = [
        {"geometry": g, "properties": {a: getattr(r, a) for a in attrs if getattr(r, a) is not None}}
        for g, r in zip(geoms, rows, strict=True)
        if g is not None
    ]
    if not feats:
        return b""
    options = {"extents": EXTENT, "quantize_bounds": None, "y_coord_down": True, "check_winding_order": True}
    return bytes(mapbox_vector_tile.encode([{"name": layer, "features": feats}], default_options=options))


@pytest.mark.parametrize(("level", "z"), [("general", 13), ("micro", 15)])
def test_spatialite_tiles_are_the_package_bytes_of_the_stored_rows(engines: dict, level: str, z: int) -> None:
    from sqlalchemy import select

    from store.models import elements as elements_t
    from store.models import grids as grids_t
    from store.tiles import ELEMENT_ATTRS, GRID_ATTRS

    sl = engines["spatialite"]
    ids = _published(sl)
    built = 0
    for t in _tiles(sl, z)[:40]:
        with db.read(sl) as conn:
            grids = conn.execute(
                select(grids_t)
                .where(grids_t.c.version_id.in_(ids), grids_t.c.level == level)
                .order_by(grids_t.c.code)
            ).all()
            elements = conn.execute(
                select(elements_t).where(elements_t.c.version_id.in_(ids)).order_by(elements_t.c.element_id)
            ).all()
            tile = grid_tile(conn, ids, level, t)
            assert tile == _package_tile(level, grids, GRID_ATTRS, t)
            assert element_tile(conn, ids, t) == _package_tile("elements", elements, ELEMENT_ATTRS, t)
        built += bool(tile)
    assert built > 0
