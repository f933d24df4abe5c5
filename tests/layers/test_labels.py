"""Label candidates computed for many polygons at once are those of each polygon on its own."""

from __future__ import annotations

import numpy as np
from shapely.geometry import MultiPolygon, Point, Polygon, box

from layers.labels import _candidates, _candidates_many


def test_candidates_of_many_polygons_are_each_polygons_own() -> None:
    polys = [
        box(0, 0, 100, 40),
        Polygon([(0, 0), (60, 0), (60, 10), (10, 10), (10, 60), (0, 60)]),  # an L: pole off the centre
        MultiPolygon([box(200, 0, 210, 10), box(300, 0, 340, 30)]),  # the larger part holds the pole
        box(5, 5, 5.5, 5.5),  # too small for interior grid points to matter
    ]
    many = _candidates_many(polys)
    assert len(many) == len(polys)
    for poly, got in zip(polys, many, strict=True):
        alone = _candidates_many([poly])[0]
        assert np.array_equal(got, alone)
        assert np.array_equal(_candidates(poly), alone)
        assert all(poly.buffer(1e-9).contains(Point(x, y)) for x, y in got)
    assert 300 <= many[2][0, 0] <= 340  # the pole of a multipolygon lies in its largest part
    assert abs(Point(many[0][0]).distance(polys[0].boundary) - 20.0) < 0.5  # the pole: most interior
