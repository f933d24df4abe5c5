"""geo.locator: exact point → micro-grid lookup (covers semantics, tie rule, holes, snap, outside).

Tiny named geometries in lon/lat near 104.08 E, 30.40 N. Cells are 0.001° (≈ 96 m × 111 m):

    row 1 (30.401–30.402)   NW | NE
    row 0 (30.400–30.401)   SW | SE        columns: 104.079–104.080 | 104.080–104.081

so the four share the vertex (104.080, 30.401). ``HOLED`` lies to the east with a hole, ``ELL`` is an
L-shaped (concave) grid north of it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box, shape

import geo.locator
from geo.crs import meters_per_degree
from geo.errors import InvalidCoordinates
from geo.hierarchy import Grid, Hierarchy, Level
from geo.locator import LocateResult, Locator, PointLocation

C = "510116004001"
G1, G2 = C + "001", C + "002"
SW, SE, NW, NE = G1 + "001", G1 + "002", G1 + "003", G1 + "004"
HOLED, ELL = G2 + "001", G2 + "002"

SQUARES = {
    SW: box(104.079, 30.400, 104.080, 30.401),
    SE: box(104.080, 30.400, 104.081, 30.401),
    NW: box(104.079, 30.401, 104.080, 30.402),
    NE: box(104.080, 30.401, 104.081, 30.402),
}
HOLE = box(104.0823, 30.4003, 104.0827, 30.4007)
SHAPES = {
    **SQUARES,
    HOLED: Polygon(box(104.082, 30.400, 104.083, 30.401).exterior.coords, [HOLE.exterior.coords]),
    ELL: Polygon(
        [
            (104.082, 30.401),
            (104.083, 30.401),
            (104.083, 30.402),
            (104.0825, 30.402),
            (104.0825, 30.4015),
            (104.082, 30.4015),
        ]
    ),
}
M_LON, M_LAT = meters_per_degree(30.4008)


def hierarchy() -> Hierarchy:
    grids = [
        Grid(C, "三根松社区", Level.COMMUNITY, box(104.0785, 30.3995, 104.0835, 30.4025)),
        Grid(G1, "一般网格一", Level.GENERAL, box(104.079, 30.400, 104.081, 30.402), parent_code=C),
        Grid(G2, "一般网格二", Level.GENERAL, box(104.082, 30.400, 104.083, 30.402), parent_code=C),
    ]
    for code, geom in SHAPES.items():
        grids.append(
            Grid(code, f"微网格{code[-3:]}", Level.MICRO, geom, parent_code=code[:15], community_code=C)
        )
    return Hierarchy(grids)


@pytest.fixture(scope="module")
def loc() -> Locator:
    return Locator.from_hierarchy(hierarchy())


def expected(lon: float, lat: float) -> str | None:
    """The reference answer: the smallest code among the grids that cover the point (shapely)."""
    covering = [c for c, g in SHAPES.items() if g.covers(shapely.Point(lon, lat))]
    return min(covering) if covering else None


def test_interior_point_and_chain(loc: Locator) -> None:
    p = loc.locate_one(104.0795, 30.4005)
    assert (p.micro_code, p.general_code, p.community_code) == (SW, G1, C)
    assert (p.micro_name, p.general_name, p.community_name) == ("微网格001", "一般网格一", "三根松社区")
    assert not p.on_boundary and not p.snapped and not p.outside and p.distance_m == 0.0
    assert json.loads(json.dumps(p.to_dict()))["micro_code"] == SW


def test_shared_edge_goes_to_smallest_code(loc: Locator) -> None:
    p = loc.locate_one(104.080, 30.4005)  # on the SW|SE edge
    assert (p.micro_code, p.on_boundary) == (SW, True)
    p = loc.locate_one(104.0805, 30.401)  # on the SE|NE edge
    assert (p.micro_code, p.on_boundary) == (SE, True)


def test_shared_vertex_of_four(loc: Locator) -> None:
    p = loc.locate_one(104.080, 30.401)
    assert (p.micro_code, p.on_boundary) == (SW, True)
    assert sum(g.covers(shapely.Point(104.080, 30.401)) for g in SQUARES.values()) == 4


def test_outer_boundary_is_on_boundary_of_its_grid(loc: Locator) -> None:
    p = loc.locate_one(104.079, 30.4015)  # west edge of NW, no neighbour
    assert (p.micro_code, p.on_boundary, p.snapped) == (NW, True, False)


def test_hole_is_not_in_the_polygon(loc: Locator) -> None:
    p = loc.locate_one(104.0825, 30.4005)  # centre of the hole, ≈ 19 m from its edge
    assert p.micro_code == HOLED and p.snapped and p.distance_m == pytest.approx(0.0002 * M_LON, rel=1e-3)
    r = loc.locate([104.0821, 104.0825], [30.4001, 30.4005])
    assert r.code.tolist() == [HOLED, HOLED]
    assert r.snapped.tolist() == [False, True]


def test_concave_l_shape(loc: Locator) -> None:
    assert loc.locate_one(104.0822, 30.4012).micro_code == ELL  # the foot of the L
    assert loc.locate_one(104.0828, 30.4018).micro_code == ELL  # the upright
    notch = loc.locate_one(104.0822, 30.4019)  # in the notch: 44 m above the foot, 29 m from the upright
    assert notch.snapped and notch.micro_code == ELL
    assert notch.distance_m == pytest.approx(0.0003 * M_LON, rel=1e-3)


def test_snap_within_30_m(loc: Locator) -> None:
    lon = 104.079 - 20.0 / M_LON  # 20 m west of SW
    p = loc.locate_one(lon, 30.4005)
    assert (p.micro_code, p.snapped, p.outside) == (SW, True, False)
    assert p.distance_m == pytest.approx(20.0, abs=0.05)


def test_point_100_m_out_is_outside_but_in_community(loc: Locator) -> None:
    lon = 104.079 - 45.0 / M_LON  # 45 m west: still inside the community polygon
    p = loc.locate_one(lon, 30.4005)
    assert p.outside and p.micro_code is None and not p.snapped
    assert p.distance_m == pytest.approx(45.0, abs=0.05)
    assert (p.community_code, p.community_name) == (C, "三根松社区")
    far = loc.locate_one(104.079 - 100.0 / M_LON, 30.4005)
    assert far.outside and far.community_code is None
    assert far.distance_m == pytest.approx(100.0, abs=0.1)


def test_result_arrays_and_helpers(loc: Locator) -> None:
    r = loc.locate(np.array([104.0795, 104.0805, 104.079 - 100 / M_LON]), np.array([30.4005] * 3))
    assert isinstance(r, LocateResult) and len(r) == 3
    assert r.index.dtype == np.int32
    assert [loc.codes[i] if i >= 0 else None for i in r.index] == r.code.tolist() == [SW, SE, None]
    assert r.general_code.tolist() == [G1, G1, None]
    assert r.community_code.tolist() == [C, C, None]
    assert r.chain_codes(1) == (SE, G1, C)
    assert r.outside.tolist() == [False, False, True]
    assert r.distance_m[0] == 0.0 and r.distance_m[2] == pytest.approx(100, abs=0.1)


def test_tie_rule_is_deterministic_whatever_the_input_order() -> None:
    codes = list(SHAPES)
    fwd = Locator.from_polygons(codes, [SHAPES[c] for c in codes])
    rev = Locator.from_polygons(codes[::-1], [SHAPES[c] for c in codes[::-1]])
    for lon, lat in [(104.080, 30.401), (104.080, 30.4005), (104.0805, 30.401), (104.0795, 30.401)]:
        a, b = fwd.locate_one(lon, lat), rev.locate_one(lon, lat)
        assert a.micro_code == b.micro_code == expected(lon, lat)


def test_overlapping_grids_use_the_tie_rule() -> None:
    big, small = box(104.079, 30.400, 104.081, 30.402), box(104.0795, 30.4005, 104.0805, 30.4015)
    loc = Locator.from_polygons(["B", "A"], [big, small])
    r = loc.locate([104.0800, 104.0790 + 1e-5], [30.4010, 30.4010])
    assert r.code.tolist() == ["A", "B"]  # inside both → the smaller code; inside only B → B
    assert not r.on_boundary.any()
    loc2 = Locator.from_polygons(["A", "B"], [big, small])
    assert loc2.locate_one(104.0800, 30.4010).micro_code == "A"


@pytest.mark.parametrize("bad", [(math.nan, 30.4), (104.08, math.inf), (181.0, 30.4), (104.08, -91.0)])
def test_bad_coordinates_raise(loc: Locator, bad: tuple[float, float]) -> None:
    with pytest.raises(InvalidCoordinates):
        loc.locate_one(*bad)
    with pytest.raises(InvalidCoordinates):
        loc.locate(np.array([104.08, bad[0]]), np.array([30.40, bad[1]]))


def test_empty_input(loc: Locator) -> None:
    r = loc.locate(np.array([], dtype=float), np.array([], dtype=float))
    assert len(r) == 0 and r.code.tolist() == []


def check_against_shapely(loc: Locator, lon: np.ndarray, lat: np.ndarray) -> None:
    r = loc.locate(lon, lat)
    for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
        want = expected(x, y)
        pt = shapely.Point(x, y)
        if want is not None:
            assert r.code[i] == want, (x, y)
            assert not r.snapped[i] and r.distance_m[i] == 0.0
            assert r.on_boundary[i] == (not SHAPES[want].contains(pt)), (x, y)
        else:
            assert r.code[i] is None or r.snapped[i]
        one = loc.locate_one(float(x), float(y))
        assert one.micro_code == r.code[i] and one.on_boundary == r.on_boundary[i]
        assert one.snapped == r.snapped[i] and one.distance_m == pytest.approx(r.distance_m[i], abs=1e-6)


coord_lon = st.floats(104.0785, 104.0835, allow_nan=False)
coord_lat = st.floats(30.3995, 30.4025, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(coord_lon, coord_lat), min_size=1, max_size=40))
def test_random_points_agree_with_shapely(loc: Locator, pts: list[tuple[float, float]]) -> None:
    a = np.array(pts)
    check_against_shapely(loc, a[:, 0], a[:, 1])


def boundary_points(fracs: list[float]) -> np.ndarray:
    """Points ON the grids' boundaries (interpolated along each ring) and at every vertex."""
    out = []
    for g in SHAPES.values():
        for ring in [g.exterior, *g.interiors]:
            out.extend(ring.interpolate(f, normalized=True).coords[0] for f in fracs)
            out.extend(ring.coords)
    return np.array(out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_points_on_edges_and_vertices_agree_with_shapely(loc: Locator, fracs: list[float]) -> None:
    a = boundary_points(fracs)
    check_against_shapely(loc, a[:, 0], a[:, 1])


def test_vertices_are_on_boundary(loc: Locator) -> None:
    a = boundary_points([])
    r = loc.locate(a[:, 0], a[:, 1])
    assert (r.index >= 0).all() and r.on_boundary.all()


def test_irregular_layer_many_points_agree_with_shapely() -> None:
    """A 300-cell Voronoi partition (irregular shapes) against a brute-force covers, 20,000 points."""
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(
        np.column_stack([rng.uniform(104.07, 104.09, 300), rng.uniform(30.39, 30.41, 300)])
    )
    frame = box(104.07, 30.39, 104.09, 30.41)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame)), frame)
    cells = cells[::2]  # every other cell: gaps, so outside points and snaps occur too
    codes = [f"{i:04d}" for i in range(len(cells))]
    loc = Locator.from_polygons(codes, list(cells))
    lon, lat = rng.uniform(104.069, 104.091, 20_000), rng.uniform(30.389, 30.411, 20_000)
    r = loc.locate(lon, lat)
    tree = shapely.STRtree(cells)
    pi, gi = tree.query(shapely.points(lon, lat), predicate="intersects")
    want = np.full(len(lon), -1)
    best = np.full(len(lon), 10**9)
    np.minimum.at(best, pi, gi)  # codes are in index order
    want[best < 10**9] = best[best < 10**9]
    covered = want >= 0
    assert covered.sum() > 5_000 and (~covered).sum() > 5_000
    assert np.array_equal(r.index[covered], want[covered])
    assert not r.snapped[covered].any()
    # Outside points: distance and snap against shapely in the same metric frame.
    m_lon, m_lat = meters_per_degree(30.40)
    metric = shapely.transform(cells, lambda xy: (xy - [104.08, 30.40]) * [m_lon, m_lat])
    mp = shapely.transform(
        shapely.points(lon[~covered], lat[~covered]), lambda xy: (xy - [104.08, 30.40]) * [m_lon, m_lat]
    )
    d = shapely.distance(shapely.union_all(metric), mp)
    assert np.allclose(r.distance_m[~covered], d, rtol=2e-3, atol=0.01)
    away = np.abs(d - 30.0) > 0.2
    assert np.array_equal(r.snapped[~covered][away], (d <= 30.0)[away])


GRIDS = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "grids.geojson"


@pytest.mark.skipif(not GRIDS.exists(), reason="sample data not generated")
def test_sample_data_agrees_with_shapely_covers() -> None:
    fc = json.loads(GRIDS.read_text(encoding="utf-8"))
    micro = [f for f in fc["features"] if f["properties"]["level"] == "micro"]
    codes = [str(f["properties"]["code"]) for f in micro]
    geoms = np.array([shape(f["geometry"]) for f in micro], dtype=object)
    loc = Locator.from_polygons(codes, list(geoms))
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(xmin, xmax, 100_000), rng.uniform(ymin, ymax, 100_000)
    r = loc.locate(lon, lat)
    pi, gi = shapely.STRtree(geoms).query(shapely.points(lon, lat), predicate="intersects")
    order = np.array(sorted(range(len(codes)), key=lambda i: codes[i]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes))
    best = np.full(len(lon), 10**9)
    np.minimum.at(best, pi, rank[gi])
    covered = best < 10**9
    assert np.array_equal(r.index[covered], order[best[covered]])
    assert (r.index[~covered] == -1).sum() + r.snapped[~covered].sum() == (~covered).sum()


def test_point_location_is_a_small_dataclass(loc: Locator) -> None:
    p = loc.locate_one(104.0805, 30.4015)
    assert isinstance(p, PointLocation) and p.micro_code == NE
    assert set(p.to_dict()) == {
        "micro_code",
        "micro_name",
        "general_code",
        "general_name",
        "community_code",
        "community_name",
        "on_boundary",
        "snapped",
        "distance_m",
        "outside",
    }


def test_docstring_examples() -> None:
    import doctest

    import geo.locator

    result = doctest.testmod(geo.locator)
    assert result.attempted >= 8 and result.failed == 0


def test_state_round_trip_answers_the_same(loc: Locator) -> None:
    """to_state/from_state (what a machine-wide shared locator is made of) gives the same answers:
    interior, shared edges and vertices, the hole, snapped and outside points, and communities."""
    arrays, meta = loc.to_state()
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    json.dumps(meta)  # JSON-ready
    back = Locator.from_state({k: np.array(v) for k, v in arrays.items()}, json.loads(json.dumps(meta)))
    rng = np.random.default_rng(7)
    xs = rng.uniform(104.078, 104.0845, 4000)
    ys = rng.uniform(30.3990, 30.4030, 4000)
    verts = np.concatenate([shapely.get_coordinates(g) for g in SHAPES.values()])
    xs, ys = (
        np.r_[xs, verts[:, 0], verts[:-1, 0] / 2 + verts[1:, 0] / 2],
        np.r_[ys, verts[:, 1], verts[:-1, 1] / 2 + verts[1:, 1] / 2],
    )
    a, b = loc.locate(xs, ys), back.locate(xs, ys)
    for name in ("index", "on_boundary", "snapped", "distance_m", "community_code", "general_code"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.on_boundary.any() and a.snapped.any() and (a.index < 0).any()
    for x, y in zip(xs[::50].tolist(), ys[::50].tolist(), strict=True):
        assert back.locate_one(x, y) == loc.locate_one(x, y)


def test_threaded_prepared_build_stores_the_same_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A city-scale build (the raster's centre fill in a second thread, and prepare=True building
    the outline alongside) stores exactly the arrays of a plain build prepared afterwards; here
    forced on an irregular layer with gaps, overlaps and a hole by lowering the size threshold."""
    rng = np.random.default_rng(5)
    seeds = shapely.multipoints(
        np.column_stack([rng.uniform(104.07, 104.09, 200), rng.uniform(30.39, 30.41, 200)])
    )
    frame = box(104.07, 30.39, 104.09, 30.41)
    voronoi = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame)), frame)
    cells = [*voronoi[::2], box(104.075, 30.395, 104.080, 30.400), SHAPES[HOLED]]  # gaps, overlaps, a hole
    codes = [f"{i:04d}" for i in range(len(cells))]
    plain = Locator.from_polygons(codes, cells)
    monkeypatch.setattr(geo.locator, "_THREAD_MIN_SEGMENTS", 0)
    both = Locator.from_polygons(codes, cells, prepare=True)
    assert "_outline_index" in both.__dict__ and both._outline_index is not None
    (a, ma), (b, mb) = plain.to_state(), both.to_state()
    assert json.dumps(ma, default=float) == json.dumps(mb, default=float)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name
    assert (plain._raster == -2).any() and (plain._raster >= 0).any()  # generic cells occur
