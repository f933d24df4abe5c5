"""``GET /tiles/{layer}/{z}/{x}/{y}.mvt`` on both databases: tiles decode to the features of the
GeoJSON endpoints cut to the tile; incidents follow the API's visibility and privacy; ETag and 304;
a publish changes the ETag; bad addresses are a 4xx in Chinese and English."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from geo.tiles import TileCoord, tile_for_lonlat
from tests.api.test_routes_layers import WY, upload, wayao_geojson
from tests.api_fixtures import Api
from tests.tile_compare import assert_same, decode, reference

SGS = "510116004001"


def _features(api: Api, level: str) -> list[dict]:
    out: list[dict] = []
    for code in (SGS, WY):
        out += api.get(f"/api/v1/communities/{code}/grids?level={level}").json()["features"]
    return out


def _tiles_over(features: list[dict], z: int) -> list[TileCoord]:
    """Every tile at zoom ``z`` touching the features' bounding box (corners and middles)."""
    x1, y1, x2, y2 = shapely.union_all([shape(f["geometry"]) for f in features]).bounds
    a, b = tile_for_lonlat(x1, y2, z), tile_for_lonlat(x2, y1, z)
    return [TileCoord(z, x, y) for x in range(a.x, b.x + 1) for y in range(a.y, b.y + 1)]


@pytest.mark.parametrize(("level", "z"), [("community", 12), ("general", 13), ("micro", 14), ("micro", 16)])
def test_grid_tiles_are_the_geojson_cut_to_the_tile(api: Api, level: str, z: int) -> None:
    features = _features(api, level)
    tiles = _tiles_over(features, z)
    assert 1 <= len(tiles) <= 200
    seen = set()
    for t in tiles:
        r = api.get(f"/tiles/{level}/{t.path}.mvt")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        got = decode(r.content).get(level, [])
        assert_same(got, reference(features, t), "code")
        seen |= {a["code"] for a, _ in got}
    assert seen == {f["properties"]["code"] for f in features}  # every grid drawn somewhere


def test_element_tiles_are_the_ogc_elements_cut_to_the_tile(api: Api) -> None:
    features = api.get(f"/ogc/collections/{SGS}-elements/items?limit=10000").json()["features"]
    assert features
    for f in features:
        p = f["properties"]
        f["properties"] = {"element_id": p["id"]} | {k: v for k, v in p.items() if k != "id"}
    for t in _tiles_over(features, 15):
        got = decode(api.get(f"/tiles/elements/{t.path}.mvt").content).get("elements", [])
        want = [w for w in reference(features, t) if w[0]["community_code"] == SGS]
        assert_same([g for g in got if g[0]["community_code"] == SGS], want, "element_id")


def _report(api: Api, lon: float, lat: float, address: str, name: str = "张三丰") -> str:
    body = {
        "lon": lon,
        "lat": lat,
        "category": "安全隐患",
        "description": "井盖缺失",
        "address": address,
        "reporter": {"name": name, "phone": "13812345678"},
    }
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_incident_tiles_follow_visibility_and_privacy(api: Api) -> None:
    micro = _features(api, "micro")
    sgs = [f for f in micro if f["properties"]["community_code"] == SGS][:6]
    ids = []
    for i, f in enumerate(sgs):
        p = shape(f["geometry"]).representative_point()
        ids.append(_report(api, p.x, p.y, f"兴隆街道三根松路{i + 12}号3栋"))
    z = 13
    tiles = _tiles_over(sgs, z)
    for user in ("dispatcher", "viewer", "planner"):
        shown = {}
        for t in tiles:
            r = api.get(f"/tiles/incidents/{t.path}.mvt", user)
            assert r.status_code == 200
            for a, g in decode(r.content).get("incidents", []):
                assert g.geom_type == "Point"
                if -64 <= g.x <= 4160 and 0 <= g.x < 4096 and 0 <= g.y < 4096:
                    shown[a["id"]] = a
        assert set(ids) <= set(shown)
        for i in ids:
            api_view = api.get(f"/api/v1/incidents/{i}", user).json()
            assert shown[i].get("address") == (api_view["address"] or None), user
            assert shown[i]["state"] == api_view["state"] and shown[i]["category"] == "安全隐患"
            assert not {"resident_name", "resident_phone"} & set(shown[i])
    # the viewer's address is masked exactly as the API masks it (up to the first number)
    viewer = api.get(f"/api/v1/incidents/{ids[0]}", "viewer").json()["address"]
    assert viewer == "兴隆街道三根松路…"
    # a grid worker sees in tiles exactly the incidents the API lists for them
    worker = api.get(f"/api/v1/incidents/{ids[0]}").json()["assignee"]["person_id"]
    listed = {x["id"] for x in api.get("/api/v1/incidents?limit=500", worker).json()["items"]}
    in_tiles = set()
    for t in tiles:
        in_tiles |= {
            a["id"]
            for a, _ in decode(api.get(f"/tiles/incidents/{t.path}.mvt", worker).content).get("incidents", [])
        }
    assert ids[0] in in_tiles
    assert in_tiles & set(ids) == listed & set(ids)
    assert len(in_tiles & set(ids)) < len(ids)  # not everything: the rule did cut


def test_etag_304_and_publish_changes_the_tile(api: Api) -> None:
    wy = [f for f in _features(api, "micro") if f["properties"]["community_code"] == WY]
    c = shape(wy[0]["geometry"]).representative_point()
    t = tile_for_lonlat(c.x, c.y, 15)
    url = f"/tiles/micro/{t.path}.mvt"
    first = api.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = api.client.get(url, headers=api.as_("dispatcher") | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (
        api.client.get(url, headers=api.as_("viewer") | {"If-None-Match": f'W/{etag}, "x"'}).status_code
        == 304
    )
    # a new version of 瓦窑村 with a renamed micro-grid is published: new ETag, new content
    assert upload(api, wayao_geojson("新名字微网格"), commit="true").status_code == 200
    draft = api.get(f"/tiles/micro/{t.path}.mvt?community={WY}&version=2")
    assert draft.status_code == 200
    assert api.post(f"/api/v1/communities/{WY}/versions/2/publish", "planner").status_code == 200
    after = api.client.get(url, headers=api.as_("dispatcher") | {"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    names = {a["name"] for a, _ in decode(after.content)["micro"]}
    was = {a["name"] for a, _ in decode(first.content)["micro"]}
    assert "新名字微网格" in names or names != was
    assert decode(draft.content) and {a["name"] for a, _ in decode(draft.content)["micro"]} >= names & {
        "新名字微网格"
    }
    # the old version is still there by number
    old = api.get(f"/tiles/micro/{t.path}.mvt?community={WY}&version=1")
    assert {a["code"] for a, _ in decode(old.content)["micro"]} >= {
        a["code"] for a, _ in decode(first.content)["micro"] if a["community_code"] == WY
    }


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/tiles/micro/5/0/0.mvt", 400, "z"),
        ("/tiles/micro/23/0/0.mvt", 400, "z"),
        ("/tiles/micro/15/32768/0.mvt", 400, "x"),
        ("/tiles/general/15/0/99999999999.mvt", 400, "y"),
        ("/tiles/micro/1e3/0/0.mvt", 400, "z"),
        ("/tiles/micro/15/-1/0.mvt", 400, "x"),
        ("/tiles/incidents/3/0/0.mvt", 400, "z"),
        ("/tiles/roads/15/0/0.mvt", 404, "layer"),
        ("/tiles/micro/15/0/0.mvt?version=2", 400, "version"),
        ("/tiles/micro/15/0/0.mvt?community=999&version=2", 404, "community"),
    ],
)
def test_bad_tile_addresses_are_4xx_in_chinese_and_english(
    api: Api, url: str, status: int, field: str
) -> None:
    r = api.get(url)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["message_zh"] and err["message_en"]


def test_tiles_need_a_caller_token_or_cookie(api: Api) -> None:
    url = "/tiles/micro/15/25856/13477.mvt"
    assert api.client.get(url).status_code == 401
    assert api.client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    api.client.cookies.set("weiwang_token", api.token("viewer"))
    try:
        assert api.client.get(url).status_code == 200
    finally:
        api.client.cookies.clear()


def test_grid_card_names_the_people_with_phones_per_the_privacy_policy(api: Api) -> None:
    micro = [f for f in _features(api, "micro") if f["properties"]["community_code"] == SGS]
    code = micro[0]["properties"]["code"]
    full = api.get(f"/api/v1/grids/{code}").json()
    assert full["code"] == code and full["level"] == "micro" and full["version"]["number"] == 1
    assert full["people"], "the sample roster staffs 三根松's micro-grids"
    masked = api.get(f"/api/v1/grids/{code}", "viewer").json()
    assert [p["person_id"] for p in masked["people"]] == [p["person_id"] for p in full["people"]]
    for f, m in zip(full["people"], masked["people"], strict=True):
        if f["phone"]:
            assert m["phone"] != f["phone"] and "****" in m["phone"]
    r = api.get("/api/v1/grids/510116999999999999")
    assert r.status_code == 404 and r.json()["error"]["field"] == "code"
    assert api.client.get(f"/api/v1/grids/{code}").status_code == 401


def test_city_page_needs_a_login_and_embeds_no_grid(api: Api) -> None:
    r = api.client.get("/maps/city", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/maps/login")
    api.client.cookies.set("weiwang_token", api.token("dispatcher"))
    try:
        page = api.client.get("/maps/city")
    finally:
        api.client.cookies.clear()
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    text = page.text
    assert "Leaflet.VectorGrid.bundled.min.js" in text and "tiles.js" in text
    assert text.index("leaflet/leaflet.js") < text.index("Leaflet.VectorGrid")
    assert '"coordinates"' not in text  # no geometry embedded: the grids come from /tiles
    assert SGS in text and WY in text


def test_maps_switch_to_tiles_above_the_setting(api: Api) -> None:
    settings = api.client.app.state.service.settings
    api.client.cookies.set("weiwang_token", api.token("dispatcher"))
    try:
        embedded = api.client.get(f"/maps/dispatch/{SGS}").text
        settings.map_tiles_above = 50  # 三根松 has 83 micro-grids, 瓦窑村 21
        tiled = {k: api.client.get(f"/maps/{k}/{SGS}").text for k in ("dispatch", "coverage", "assignment")}
        small = api.client.get(f"/maps/dispatch/{WY}").text
    finally:
        api.client.cookies.clear()
    assert "Leaflet.VectorGrid" not in embedded and '"level":"micro"' in embedded
    for kind, text in tiled.items():
        assert "Leaflet.VectorGrid" in text and '"level":"micro"' not in text, kind
        assert f'"community":"{SGS}"' in text and '"micro":83' in text, kind
    assert "Leaflet.VectorGrid" not in small


def _incident_ids(r) -> dict[str, dict]:
    assert r.status_code == 200, r.text
    return {a["id"]: a for a, _ in decode(r.content).get("incidents", [])}


def test_one_incident_tile_two_callers_share_no_cache_entry_when_contents_differ(api: Api) -> None:
    """The same incidents tile for a dispatcher (everything) and a grid worker (their grids only,
    fields as the API shows them): different bytes, different ETags, and neither's ETag answers a
    304 to the other; grid tiles, the same for every caller, share one."""
    sgs = [f for f in _features(api, "micro") if f["properties"]["community_code"] == SGS]
    points = [shape(f["geometry"]).representative_point() for f in sgs[:8]]
    name = "欧阳小明"
    ids = [_report(api, p.x, p.y, f"兴隆街道三根松路{i + 12}号3栋", name) for i, p in enumerate(points)]
    worker = api.get(f"/api/v1/incidents/{ids[0]}").json()["assignee"]["person_id"]
    listed = {x["id"] for x in api.get("/api/v1/incidents?limit=500", worker).json()["items"]}
    t = tile_for_lonlat(points[0].x, points[0].y, 12)
    url = f"/tiles/incidents/{t.path}.mvt"
    everything = api.get(url)
    mine = api.get(url, worker)
    seen_all, seen_mine = _incident_ids(everything), _incident_ids(mine)
    in_tile = {i for i, p in zip(ids, points, strict=True) if tile_for_lonlat(p.x, p.y, 12) == t}
    assert ids[0] in in_tile and in_tile <= set(seen_all)  # the dispatcher's holds all
    assert set(seen_mine) == set(seen_all) & listed  # the worker's: what the API lists for them
    assert ids[0] in seen_mine and in_tile - set(seen_mine), "the rule cut nothing: pick other grids"
    for i, attrs in seen_mine.items():
        api_view = api.get(f"/api/v1/incidents/{i}", worker).json()
        assert attrs.get("address") == (api_view["address"] or None)
        assert not {"resident_name", "resident_phone", "resident"} & set(attrs)
    for body in (everything.content, mine.content):
        assert name.encode() not in body and b"13812345678" not in body
    # no shared entry: each caller's ETag revalidates only its own tile
    assert everything.headers["etag"] != mine.headers["etag"]
    for user, other, own in ((worker, everything, mine), ("dispatcher", mine, everything)):
        r = api.client.get(url, headers=api.as_(user) | {"If-None-Match": other.headers["etag"]})
        assert r.status_code == 200 and r.content == own.content, user
        r = api.client.get(url, headers=api.as_(user) | {"If-None-Match": own.headers["etag"]})
        assert r.status_code == 304, user
    for r in (everything, mine):
        assert r.headers["cache-control"].startswith("private")
        assert "Authorization" in r.headers["vary"] and "Cookie" in r.headers["vary"]
    # the viewer's tile masks the address as the API does, and never carries it in full
    viewed = _incident_ids(api.get(url, "viewer"))
    assert viewed[ids[0]]["address"] == api.get(f"/api/v1/incidents/{ids[0]}", "viewer").json()["address"]
    assert "兴隆街道三根松路12号".encode() not in api.get(url, "viewer").content
    # community= is chosen in the query: 瓦窑村's incidents tile over 三根松 holds none of these
    assert not set(ids) & set(_incident_ids(api.get(f"{url}?community={WY}")))
    # grid tiles do not depend on the caller: one ETag, the same bytes
    g = tile_for_lonlat(points[0].x, points[0].y, 15)
    a, b = api.get(f"/tiles/micro/{g.path}.mvt"), api.get(f"/tiles/micro/{g.path}.mvt", worker)
    assert a.status_code == b.status_code == 200 and a.content and a.content == b.content
    assert a.headers["etag"] == b.headers["etag"]


def test_grid_card_of_another_community_is_forbidden_to_a_grid_worker(api: Api) -> None:
    sgs = next(f for f in _features(api, "micro") if f["properties"]["community_code"] == SGS)
    wy = next(f for f in _features(api, "micro") if f["properties"]["community_code"] == WY)
    p = shape(sgs["geometry"]).representative_point()
    worker = api.get(f"/api/v1/incidents/{_report(api, p.x, p.y, '三根松路1号')}").json()["assignee"]
    own, other = sgs["properties"]["code"], wy["properties"]["code"]
    assert api.get(f"/api/v1/grids/{own}", worker["person_id"]).json()["people"]
    r = api.get(f"/api/v1/grids/{other}", worker["person_id"])
    assert r.status_code == 403 and r.json()["error"]["message_zh"]
    assert "people" not in r.text
    assert api.get(f"/api/v1/grids/{other}").status_code == 200  # the dispatcher sees every community
