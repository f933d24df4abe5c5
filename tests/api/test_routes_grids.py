"""``GET /api/v1/communities/{code}/party``: the party organisations (两网融合) as GeoJSON, drawn on
the grids of the version asked for (both databases)."""

from __future__ import annotations

from collections import Counter

import pytest
from shapely.geometry import shape

from tests.api_fixtures import Api

SGS, WY = "510116004001", "510116004002"
#: The article's counts (shared/DOMAIN.md), as the sample stores them.
EXPECTED = {
    SGS: {"网格党支部": 2, "网格党小组": 6, "企业党组织": 10},
    WY: {"网格党支部": 3, "专属网格党支部": 4, "微网格党小组": 8},
}


@pytest.mark.parametrize("community", [SGS, WY])
def test_party_layer_has_each_organisation_with_its_area(api: Api, community: str) -> None:
    r = api.get(f"/api/v1/communities/{community}/party", "viewer")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["version"]["number"] == 1 and body["version"]["community_code"] == community
    feats = body["features"]
    assert Counter(f["properties"]["type"] for f in feats) == EXPECTED[community]
    grids = api.get(f"/api/v1/communities/{community}/grids", "viewer").json()["features"]
    area = {f["properties"]["code"]: shape(f["geometry"]) for f in grids}
    for f in feats:
        p = f["properties"]
        assert p["grid_codes"], p["code"]
        geom = shape(f["geometry"])
        # the organisation's area is exactly the union of the grids it names
        union = area[p["grid_codes"][0]]
        for c in p["grid_codes"][1:]:
            union = union.union(area[c])
        assert geom.symmetric_difference(union).area < 1e-12, p["code"]
    kinds = {f["properties"]["type"]: f["properties"]["kind"] for f in feats}
    assert kinds.get("企业党组织", "enterprise") == "enterprise"
    assert all(v in ("branch", "group", "enterprise") for v in kinds.values())


def test_party_layer_as_of_an_instant_and_by_version(api: Api) -> None:
    base = f"/api/v1/communities/{WY}/party"
    now = api.get(f"{base}?at=2026-06-01T08:00:00", "viewer").json()
    assert now["version"]["number"] == 1 and now["at"].startswith("2026-06-01T08:00:00")
    assert len(now["features"]) == 15
    assert len(api.get(f"{base}?version=1", "viewer").json()["features"]) == 15
    before = api.get(f"{base}?at=2020-01-01", "viewer")
    assert before.status_code == 404 and before.json()["error"]["field"] == "at"
    bad = api.get(f"{base}?at=yesterday", "viewer")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "at"
    both = api.get(f"{base}?at=2026-06-01&version=1", "viewer")
    assert both.status_code == 422
    assert api.get(f"{base}?version=99", "viewer").status_code == 404
    assert api.get("/api/v1/communities/510116999999/party", "viewer").status_code == 404
    assert api.client.get(base).status_code == 401
