"""The shapely seam: awkward geometries survive the database bit for bit; bad ones are refused."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.crs import area_m2
from geo.elements import Element
from geo.hierarchy import Grid, Level
from store import db, shapes
from store.grids import insert_elements, insert_grids, load_elements, load_grids
from store.importing import import_grids
from store.versions import get_version
from tests.fixtures_geo import local_box, local_line, local_point
from tests.store.store_fixtures import COMMUNITY, layer_v1

RING_WITH_HOLE = Polygon(
    local_box(0, 0, 100, 100).exterior.coords, [local_box(40, 40, 60, 60).exterior.coords]
)
TWO_PARTS = MultiPolygon([local_box(0, 0, 10, 10), local_box(20, 0, 30, 10)])
#: Coordinates with all 17 significant digits in use.
AWKWARD = Polygon([(104.08000000000001, 30.4), (104.0812345678901, 30.400000000000002), (104.08, 30.4012345)])


@pytest.mark.parametrize("geom", [RING_WITH_HOLE, TWO_PARTS, AWKWARD], ids=["hole", "multi", "digits"])
def test_grid_geometry_round_trips_exactly(engine, geom) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    extra = Grid("510116004001009", "测试", Level.GENERAL, geom, COMMUNITY, COMMUNITY, "一般网格")
    with db.write(engine) as conn:
        vid = get_version(conn, COMMUNITY, 1).id
        insert_grids(conn, vid, [extra])
    with db.read(engine) as conn:
        [got] = [g for g in load_grids(conn, vid) if g.code == extra.code]
    assert got.geometry.equals_exact(geom, tolerance=0)
    assert got.geometry.geom_type == geom.geom_type
    assert got.extra["area_m2"] == pytest.approx(area_m2(geom), rel=1e-12)


def test_elements_of_every_geometry_type_round_trip(engine) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    els = [
        Element("E1", "小区", "万松园", RING_WITH_HOLE, 120, COMMUNITY, COMMUNITY + "001001"),
        Element("E2", "主干道", "兴隆大道", local_line([(0, -5), (200, -5)]), 0, COMMUNITY, None),
        Element("E3", "商铺", "便利店", local_point(10, 10), 1, COMMUNITY, COMMUNITY + "001001"),
    ]
    with db.write(engine) as conn:
        vid = get_version(conn, COMMUNITY, 1).id
        insert_elements(conn, vid, els)
    with db.read(engine) as conn:
        got = load_elements(conn, vid)
    assert [(e.id, e.type, e.micro_code, e.households) for e in got] == [
        (e.id, e.type, e.micro_code, e.households) for e in els
    ]
    for a, b in zip(got, els, strict=True):
        assert a.geometry.equals_exact(b.geometry, tolerance=0)


@pytest.mark.parametrize(
    "bad", [Polygon(), Point(200, 30), LineString([(104, 95), (104, 96)])], ids=["empty", "lon>180", "lat>90"]
)
def test_unstorable_geometry_is_refused(bad) -> None:
    with pytest.raises(shapes.BadGeometry):
        shapes.to_db(bad)


def test_z_is_dropped_and_areas_are_geodesic() -> None:
    assert not shapes.to_shapely(shapes.to_db(Point(104.08, 30.4, 500))).has_z
    assert area_m2(local_line([(0, 0), (10, 0)])) == 0.0
    # a 100 m × 100 m square drawn in EPSG:4544 is ~10,000 m² on the ellipsoid (scale factor ≈ 1)
    assert area_m2(local_box(0, 0, 100, 100)) == pytest.approx(10_000, rel=2e-3)
