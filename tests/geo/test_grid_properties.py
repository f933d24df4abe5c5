"""``Grid.properties()`` is the inverse of ``Grid.from_properties`` on the sample grids, named as
``GRID_PROPERTIES`` (the GeoJSON API, OGC, tiles and the undo log all write these)."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import shape

from geo.hierarchy import GRID_PROPERTIES, Grid
from tests.geo.test_validate import DATA


@pytest.mark.skipif(not (DATA / "grids.geojson").exists(), reason="sample data not generated yet")
def test_properties_round_trip_the_sample_grids() -> None:
    features = json.loads((DATA / "grids.geojson").read_text(encoding="utf-8"))["features"]
    assert len(features) > 50
    for f in features:
        g = Grid.from_properties(f["properties"], shape(f["geometry"]))
        props = g.properties()
        assert tuple(props) == GRID_PROPERTIES
        assert Grid.from_properties(props, g.geometry) == g
        assert {k: v for k, v in f["properties"].items() if k in GRID_PROPERTIES and v not in (None, "")} == {
            k: v for k, v in props.items() if v is not None
        }
