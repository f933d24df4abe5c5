"""OGC API – Features under ``/ogc`` with real clients — GDAL's OAPIF driver (through pyogrio)
and OWSLib against ``weiwang serve`` on 127.0.0.1 — and each claimed conformance class (Core,
GeoJSON, OpenAPI 3.0, Part 2 CRS) over HTTP, with the incidents' access and masking rules."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from shapely.geometry import box, shape

from geo.crs import from_wgs84
from tests.api.test_routes_incidents import MICRO, inside_point, micro_worker, report
from tests.api_fixtures import Api
from tests.served import served

SANGENSONG = "510116004001"
OTHER = "510116004002001001"  # a micro-grid of 瓦窑村
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _get(port: int, path: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.fixture
def server(seeded_url: str) -> Iterator[int]:
    """``weiwang serve`` (one worker) on the fresh seeded database; yields the port."""
    with served(seeded_url, workers=1) as srv:
        yield srv.port


def _published(seeded_url: str):
    from store import db
    from store.grids import load_grids
    from store.versions import published_version

    engine = db.make_engine(seeded_url)
    try:
        with db.read(engine) as conn:
            v = published_version(conn, SANGENSONG)
            assert v is not None
            return load_grids(conn, v.id)
    finally:
        engine.dispose()


def test_gdal_and_owslib_read_the_grid_collections(seeded_url: str, server: int) -> None:
    import pyogrio
    from owslib.ogcapi.features import Features

    grids = _published(seeded_url)
    by_level = {lvl: {g.code: g.name for g in grids if g.level.value == lvl} for lvl in ("micro", "general")}
    url = f"OAPIF:http://127.0.0.1:{server}/ogc"

    micro = pyogrio.read_dataframe(url, layer=f"{SANGENSONG}-micro")
    assert len(micro) == 83 == len(by_level["micro"])
    assert dict(zip(micro["code"], micro["name"], strict=True)) == by_level["micro"]
    assert any("微网格" in n or "网格" in n for n in micro["name"])  # Chinese intact
    assert set(micro["parent_code"]) == set(by_level["general"])
    general = pyogrio.read_dataframe(url, layer=f"{SANGENSONG}-general")
    assert dict(zip(general["code"], general["name"], strict=True)) == by_level["general"]
    assert len(pyogrio.read_dataframe(url, layer=f"{SANGENSONG}-community")) == 1

    # bbox is honoured: a small box around one micro-grid returns it and its neighbours only
    target = next(g for g in grids if g.code == MICRO)
    x1, y1, x2, y2 = target.geometry.bounds
    inside = pyogrio.read_dataframe(url, layer=f"{SANGENSONG}-micro", bbox=(x1, y1, x2, y2))
    expected = {
        g.code for g in grids if g.level.value == "micro" and g.geometry.intersects(box(x1, y1, x2, y2))
    }
    assert MICRO in set(inside["code"]) and set(inside["code"]) == expected and len(expected) < 83

    for kind in ("elements", "party"):  # mixed geometry types and list-like properties read too
        via_gdal = pyogrio.read_dataframe(url, layer=f"{SANGENSONG}-{kind}")
        status, page = _get(server, f"/ogc/collections/{SANGENSONG}-{kind}/items?limit=1")
        assert status == 200 and len(via_gdal) == page["numberMatched"] > 0
        assert via_gdal["name"].str.len().min() > 0
    layers = {name for name, _ in pyogrio.list_layers(url)}
    assert {f"{SANGENSONG}-{k}" for k in ("micro", "general", "community", "elements", "party")} <= layers
    assert not any(name.endswith("-incidents") for name in layers)  # no token, no incidents

    api = Features(f"http://127.0.0.1:{server}/ogc")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert f"{SANGENSONG}-micro" in ids and f"{OTHER[:12]}-general" in ids
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    page = api.collection_items(f"{SANGENSONG}-micro", limit=5, offset=80)
    assert page["numberMatched"] == 83 and page["numberReturned"] == 3
    assert [f["id"] for f in page["features"]] == sorted(by_level["micro"])[80:]
    assert api.api()["openapi"].startswith("3.0.")
    one = api.collection_item(f"{SANGENSONG}-micro", MICRO)
    assert one["properties"]["name"] == by_level["micro"][MICRO]


def test_conformance_landing_and_openapi(api: Api) -> None:
    c = api.client
    classes = c.get("/ogc/conformance").json()["conformsTo"]
    assert set(classes) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    }
    links = {link["rel"]: link for link in c.get("/ogc").json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    # oas30: the service-desc link is an OpenAPI 3.0 document of the /ogc paths with Part 1's parameters
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    r = c.get(urlsplit(links["service-desc"]["href"]).path)
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    spec = r.json()
    assert spec["openapi"].startswith("3.0.") and all(p.startswith("/ogc") for p in spec["paths"])
    assert '{"type": "null"}' not in json.dumps(spec)  # no 3.1-only null types
    params = {
        p["name"]: p for p in spec["paths"]["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
    }
    assert {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime"} <= set(params)
    assert params["limit"]["schema"]["type"] == "integer" and params["limit"]["schema"]["maximum"] == 10_000
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(spec["components"]["schemas"])
    # core: collections with extents and links; unknown collection and parameter are 404 and 400
    col = c.get(f"/ogc/collections/{SANGENSONG}-micro").json()
    assert col["title"] == "三根松社区·微网格" and col["itemType"] == "feature"
    assert {link["rel"] for link in col["links"]} >= {"self", "items"}
    assert c.get("/ogc/collections/nope-micro").status_code == 404
    assert c.get(f"/ogc/collections/{SANGENSONG}-roads").status_code == 404
    r = c.get(f"/ogc/collections/{SANGENSONG}-micro/items?colour=red")
    assert r.status_code == 400 and r.json()["error"]["field"] == "colour"
    for bad in ("limit=0", "limit=abc", "offset=-1", "bbox=1,2,3", "datetime=yesterday", "crs=EPSG:3857"):
        r = c.get(f"/ogc/collections/{SANGENSONG}-micro/items?{bad}")
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["field"] == bad.split("=")[0]


def test_paging_follows_next_and_prev_links(api: Api) -> None:
    c = api.client
    url = f"/ogc/collections/{SANGENSONG}-micro/items?limit=10&level=micro"
    seen: list[str] = []
    pages = 0
    while url:
        r = c.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        body = r.json()
        assert body["numberMatched"] == 83 and body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        rels = {link["rel"]: link["href"] for link in body["links"]}
        assert ("prev" in rels) == (pages > 0)
        assert "level=micro" in rels["self"]  # other parameters survive in the links
        url = rels.get("next", "")
        pages += 1
    assert pages == 9 and len(seen) == len(set(seen)) == 83 and seen == sorted(seen)
    last = c.get(f"/ogc/collections/{SANGENSONG}-micro/items?limit=10&offset=80").json()
    prev = next(link["href"] for link in last["links"] if link["rel"] == "prev")
    assert "offset=70" in prev


def test_property_filters_datetime_and_version(api: Api) -> None:
    c = api.client
    items = f"/ogc/collections/{SANGENSONG}-micro/items"
    parent = MICRO[:15]
    kids = c.get(f"{items}?parent={parent}&limit=100").json()
    assert kids["numberMatched"] > 0
    assert {f["properties"]["parent_code"] for f in kids["features"]} == {parent}
    one = c.get(f"{items}?code={MICRO}").json()
    assert [f["id"] for f in one["features"]] == [MICRO]
    assert c.get(f"{items}?level=general").json()["numberMatched"] == 0
    # datetime: the version in force then (the sample is valid from 2026-01-01 Beijing time)
    before = c.get(f"{items}?datetime=2025-06-01T00:00:00Z").json()
    assert before["numberMatched"] == 0
    then = c.get(f"{items}?datetime=2026-06-01T00:00:00Z").json()
    assert then["numberMatched"] == 83 and then["version"]["number"] == 1
    assert c.get(f"{items}?datetime=2026-01-01/2026-02-01").status_code == 400
    assert c.get(f"{items}?version=1").json()["version"]["number"] == 1
    assert c.get(f"{items}?version=99").status_code == 404
    assert c.get(f"{items}?version=1&datetime=2026-06-01T00:00:00Z").status_code == 400
    party = c.get(f"/ogc/collections/{SANGENSONG}-party/items?limit=100").json()
    assert party["numberMatched"] > 0 and all(f["geometry"] for f in party["features"])
    elements = c.get(f"/ogc/collections/{SANGENSONG}-elements/items?limit=1").json()
    assert elements["numberMatched"] > 0 and elements["features"][0]["properties"]["type"]
    assert c.get(f"{items}/{MICRO}").json()["properties"]["code"] == MICRO
    assert c.get(f"{items}/510116004001999999").status_code == 404


def test_queryables_of_the_grid_collections(api: Api) -> None:
    """Part 3 queryables: the resource (JSON Schema), its link from the collection and, as a Link
    header, from the items; queryables-query-parameters: each one filters the items by equality."""
    c = api.client
    root = f"/ogc/collections/{SANGENSONG}-general"
    r = c.get(f"{root}/queryables?f=json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    schema = r.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"http://testserver{root}/queryables"  # without the query
    assert schema["type"] == "object" and set(schema["properties"]) == {"code", "level", "parent"}
    rel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
    assert any(link["rel"] == rel for link in c.get(root).json()["links"])
    items = c.get(f"{root}/items?limit=100")
    assert f"<http://testserver{root}/queryables>" in items.headers["link"] and rel in items.headers["link"]
    generals = items.json()["features"]
    assert len(generals) == 6
    for name, value in (("code", generals[2]["id"]), ("parent", SANGENSONG), ("level", "general")):
        got = c.get(f"{root}/items", params={name: value, "limit": 100}).json()["features"]
        key = {"code": "code", "parent": "parent_code", "level": "level"}[name]
        assert got and all(f["properties"][key] == value for f in got)
        assert len(got) == (1 if name == "code" else 6)
    assert c.get(f"{root}/items", params={"level": "micro"}).json()["numberMatched"] == 0
    assert c.get(f"/ogc/collections/{SANGENSONG}-elements/queryables").status_code == 404
    assert "link" not in c.get(f"/ogc/collections/{SANGENSONG}-elements/items?limit=1").headers


def test_crs_by_reference(api: Api) -> None:
    c = api.client
    url = f"/ogc/collections/{SANGENSONG}-micro/items/{MICRO}"
    base = c.get(url)
    assert base.headers["content-crs"] == f"<{CRS84}>"
    lon, lat = base.json()["geometry"]["coordinates"][0][0]
    for crs in (EPSG.format(4326), "EPSG:4490"):
        r = c.get(url, params={"crs": crs})
        assert r.headers["content-crs"].startswith("<http://www.opengis.net/def/crs/EPSG/0/")
        assert r.json()["geometry"]["coordinates"][0][0] == [lat, lon]  # authority order: lat, lon
    r = c.get(url, params={"crs": EPSG.format(4544)})
    assert r.headers["content-crs"] == f"<{EPSG.format(4544)}>"
    north, east = r.json()["geometry"]["coordinates"][0][0]
    x, y = from_wgs84(lon, lat, "EPSG:4544")
    assert abs(east - x) < 1e-3 and abs(north - y) < 1e-3

    # bbox-crs: the same box in CRS84, EPSG:4326 (lat/lon) and EPSG:4544 selects the same grids
    g = shape(base.json()["geometry"]).buffer(-0.0002)
    x1, y1, x2, y2 = g.bounds
    items = f"/ogc/collections/{SANGENSONG}-micro/items"
    in84 = {f["id"] for f in c.get(items, params={"bbox": f"{x1},{y1},{x2},{y2}"}).json()["features"]}
    in4326 = c.get(items, params={"bbox": f"{y1},{x1},{y2},{x2}", "bbox-crs": EPSG.format(4326)}).json()
    assert {f["id"] for f in in4326["features"]} == in84 and MICRO in in84
    (ex1, ey1), (ex2, ey2) = from_wgs84(x1, y1, "EPSG:4544"), from_wgs84(x2, y2, "EPSG:4544")
    in4544 = c.get(items, params={"bbox": f"{ey1},{ex1},{ey2},{ex2}", "bbox-crs": EPSG.format(4544)}).json()
    assert MICRO in {f["id"] for f in in4544["features"]}
    assert c.get(items, params={"bbox": f"{x1},{y1},{x2},{y2}", "bbox-crs": "EPSG:3857"}).status_code == 400
    for huge in ("0,0,1e300,1e300", "1e308,1e308,-1e308,-1e308"):  # a bad bbox is a 400, never a 500
        assert c.get(items, params={"bbox": huge, "bbox-crs": EPSG.format(4544)}).status_code == 400
    col = c.get(f"/ogc/collections/{SANGENSONG}-micro").json()
    assert col["storageCrs"] == CRS84 and EPSG.format(4544) in col["crs"]


def test_incidents_follow_the_api_access_and_masking_rules(api: Api) -> None:
    mine = report(api, *inside_point(api, MICRO), reporter={"name": "王女士", "phone": "13912345678"}).json()
    other = report(api, *inside_point(api, "510116004001001001")).json()
    worker = micro_worker(api, MICRO)
    url = f"/ogc/collections/{SANGENSONG}-incidents/items"
    assert api.client.get(url).status_code == 401
    assert api.client.get(url, headers={"Authorization": "Bearer forged.token"}).status_code == 401
    seen = {f["id"] for f in api.get(url, worker).json()["features"]}
    assert mine["id"] in seen and other["id"] not in seen
    assert api.get(f"{url}/{other['id']}", worker).status_code == 404
    assert api.get(f"{url}/{mine['id']}", worker).status_code == 200
    everything = api.get(url).json()
    assert {mine["id"], other["id"]} <= {f["id"] for f in everything["features"]}
    full = api.get(f"{url}/{mine['id']}").json()["properties"]
    masked = api.get(f"{url}/{mine['id']}", "viewer").json()["properties"]
    assert full["resident_phone"] == "13912345678" and masked["resident_phone"] == "139****5678"
    assert "****" in masked["assignee_phone"]
    in_collections = {c["id"] for c in api.get("/ogc/collections", worker).json()["collections"]}
    assert f"{SANGENSONG}-incidents" in in_collections
    assert f"{SANGENSONG}-incidents" not in {
        c["id"] for c in api.client.get("/ogc/collections").json()["collections"]
    }
    assert api.get(f"{url}?datetime=2020-01-01/2020-12-31").json()["numberMatched"] == 0
    assert api.get(f"{url}?parent={MICRO}").json()["numberMatched"] == 1
    # paged by the database: counts and pages under the same rule
    first = api.get(f"{url}?limit=1").json()
    assert first["numberMatched"] == everything["numberMatched"] >= 2 and first["numberReturned"] == 1
    nxt = urlsplit(next(x["href"] for x in first["links"] if x["rel"] == "next"))
    second = api.get(f"{nxt.path}?{nxt.query}")
    assert second.json()["numberReturned"] == 1
    assert second.json()["features"][0]["id"] != first["features"][0]["id"]
    assert api.get(f"{url}?limit=1", worker).json()["numberMatched"] == len(seen)
    assert api.get(f"{url}?offset=1000").json()["features"] == []


def test_ogc_public_off_needs_a_token(api: Api) -> None:
    api.client.app.state.service.settings.ogc_public = False
    assert api.client.get("/ogc/collections").status_code == 401
    assert api.get("/ogc/collections").status_code == 200


def test_part4_edits_drafts_only_with_etags_and_the_draft_checks(api: Api) -> None:
    from shapely.geometry import mapping

    from api.ops import drafts

    service = api.client.app.state.service
    number = drafts.new(service, SANGENSONG)["draft"]["number"]
    items = f"/ogc/collections/{SANGENSONG}-micro/items"
    draft_item = f"{items}/{MICRO}?version={number}"
    planner = api.as_("planner")

    # the published version is read-only, whoever asks
    r = api.client.patch(f"{items}/{MICRO}", json={"properties": {"name": "改名"}}, headers=planner)
    assert r.status_code == 405 and "现行版本只读" in r.json()["error"]["message_zh"]
    assert r.headers["allow"] == "GET"
    r = api.client.delete(f"{items}/{MICRO}?version=1", headers=planner | {"If-Match": "*"})
    assert r.status_code == 405
    # only planners and admins edit; a draft needs a token even to read
    assert api.client.get(draft_item).status_code == 401
    assert api.client.patch(draft_item, json={}, headers=api.as_("dispatcher")).status_code == 403

    # update with the ETag; a stale ETag is 412, none is 428
    first = api.client.get(draft_item, headers=planner)
    tag = first.headers["etag"]
    assert tag.startswith('"') and first.json()["version"]["state"] == "draft"
    patch = {"properties": {"name": "三根松测试网格"}}
    assert api.client.patch(draft_item, json=patch, headers=planner).status_code == 428
    r = api.client.patch(draft_item, json=patch, headers=planner | {"If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["name"] == "三根松测试网格" and r.json()["id"] == MICRO
    r = api.client.patch(
        draft_item, json={"properties": {"name": "又一个名字"}}, headers=planner | {"If-Match": tag}
    )
    assert r.status_code == 412 and r.json()["error"]["detail"]["etag"] != tag
    assert (
        api.client.get(f"{items}/{MICRO}").json()["properties"]["name"] != "三根松测试网格"
    )  # published untouched
    # a replace whose outline overlaps the neighbours (beyond its general grid) is refused with the
    # findings; one with a hole (a gap no sibling borders) too; the draft is unchanged by both
    fresh = api.client.get(draft_item, headers=planner)
    outline = shape(fresh.json()["geometry"])
    grown = fresh.json() | {"geometry": mapping(outline.buffer(0.001))}
    r = api.client.put(draft_item, json=grown, headers=planner | {"If-Match": fresh.headers["etag"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "redraw_refused", r.text
    assert {"overlap", "not_inside_parent"} & {f["code"] for f in r.json()["error"]["detail"]["findings"]}
    holed = outline.difference(outline.centroid.buffer(0.0002))
    assert holed.geom_type == "Polygon" and len(holed.interiors) == 1
    r = api.client.put(
        draft_item,
        json=fresh.json() | {"geometry": mapping(holed)},
        headers=planner | {"If-Match": fresh.headers["etag"]},
    )
    assert r.status_code == 422 and {f["code"] for f in r.json()["error"]["detail"]["findings"]} == {"gap"}
    assert api.client.get(draft_item, headers=planner).headers["etag"] == fresh.headers["etag"]

    # create: half of a micro-grid becomes a new micro-grid; a polygon across general grids is refused
    target = shape(fresh.json()["geometry"])
    x1, y1, x2, y2 = target.bounds
    half = target.intersection(box(x1, y1, (x1 + x2) / 2, y2))
    new = {
        "type": "Feature",
        "geometry": mapping(half),
        "properties": {"name": "新增微网格", "parent_code": MICRO[:15]},
    }
    r = api.client.post(f"{items}?version={number}", json=new, headers=planner)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["name"] == "新增微网格" and f"version={number}" in r.headers["location"]
    created = r.json()["id"]
    assert api.client.post(items, json=new, headers=planner).status_code == 405
    bogus = new | {"geometry": {"type": "Bogus"}}
    r = api.client.post(f"{items}?version={number}", json=bogus, headers=planner)
    assert r.status_code == 422 and r.json()["error"]["field"] == "geometry"
    # a small disc on the boundary between two general grids overlaps the neighbour's micro-grids
    h = service.layers.version(SANGENSONG, number).hierarchy
    general = h.get(MICRO[:15]).geometry
    neighbour = next(
        g for g in h.micro if g.parent_code != MICRO[:15] and g.geometry.intersection(general).length > 0
    )
    edge = neighbour.geometry.intersection(general)
    across = new | {"geometry": mapping(edge.interpolate(0.5, normalized=True).buffer(0.0003))}
    r = api.client.post(f"{items}?version={number}", json=across, headers=planner)
    assert r.status_code == 422 and r.json()["error"]["code"] == "redraw_refused", r.text
    assert r.json()["error"]["detail"]["findings"]

    # delete with the ETag: the draft loses one micro-grid, the published version none
    before = api.client.get(f"{items}?version={number}&limit=1", headers=planner).json()["numberMatched"]
    code = created
    victim = api.client.get(f"{items}/{code}?version={number}", headers=planner)
    r = api.client.delete(
        f"{items}/{code}?version={number}", headers=planner | {"If-Match": victim.headers["etag"]}
    )
    assert r.status_code == 204, r.text
    after = api.client.get(f"{items}?version={number}&limit=1", headers=planner).json()["numberMatched"]
    assert after == before - 1 and api.client.get(f"{items}?limit=1").json()["numberMatched"] == 83


def test_part4_replace_moves_a_shared_boundary_and_keeps_the_partition(api: Api) -> None:
    from shapely.geometry import mapping

    from api.ops import drafts

    service = api.client.app.state.service
    number = drafts.new(service, SANGENSONG)["draft"]["number"]
    items = f"/ogc/collections/{SANGENSONG}-micro/items"
    planner = api.as_("planner")
    h = service.layers.version(SANGENSONG, number).hierarchy
    me = h.get(MICRO)
    neighbour = max(
        (g for g in h.micro if g.parent_code == me.parent_code and g.code != MICRO),
        key=lambda g: g.geometry.intersection(me.geometry).length,
    )
    # the new outline gives up a 10 m strip along the boundary shared with the sibling: one PUT,
    # both grids change (new codes), the draft stays a partition with the same total area
    strip = me.geometry.intersection(neighbour.geometry.buffer(0.0001))
    smaller = me.geometry.difference(strip)
    assert smaller.geom_type == "Polygon"
    r = api.client.get(f"{items}/{MICRO}?version={number}", headers=planner)
    body = r.json() | {
        "geometry": mapping(smaller),
        "properties": r.json()["properties"] | {"name": "缩小的网格"},
    }
    put = api.client.put(
        f"{items}/{MICRO}?version={number}", json=body, headers=planner | {"If-Match": r.headers["etag"]}
    )
    assert put.status_code == 200, put.text
    [op] = put.json()["operations"]
    assert op["operation"] == "reshape" and set(op["removed"]) == {MICRO, neighbour.code}
    new_id = put.json()["id"]
    assert new_id != MICRO and new_id in op["added"] and put.json()["properties"]["name"] == "缩小的网格"
    assert put.headers["location"].endswith(f"/items/{new_id}?version={number}")
    assert shape(put.json()["geometry"]).symmetric_difference(smaller).area < 1e-12
    after = service.layers.version(SANGENSONG, number)
    assert len(after.hierarchy.micro) == 83
    grew = after.hierarchy.get(next(c for c in op["added"] if c != new_id))
    assert grew.geometry.area == pytest.approx(neighbour.geometry.area + strip.area, rel=1e-6)
    errors = [f for f in after.version.validation["findings"] if f["severity"] == "error"]
    assert errors == []
    # the old item is gone from the draft, the published version still has it
    assert api.client.get(f"{items}/{MICRO}?version={number}", headers=planner).status_code == 404
    assert api.client.get(f"{items}/{MICRO}").status_code == 200
    # an unchanged outline with a new name is a rename (the code stays); a changed outline together
    # with a new parent is refused (two requests)
    cur = api.client.get(f"{items}/{new_id}?version={number}", headers=planner)
    same = cur.json() | {"properties": cur.json()["properties"] | {"name": "再改名"}}
    r = api.client.put(
        f"{items}/{new_id}?version={number}", json=same, headers=planner | {"If-Match": cur.headers["etag"]}
    )
    assert (
        r.status_code == 200
        and r.json()["id"] == new_id
        and r.json()["operations"][0]["operation"] == "rename"
    )
    cur = api.client.get(f"{items}/{new_id}?version={number}", headers=planner)
    both = {"geometry": mapping(me.geometry), "properties": {"parent_code": MICRO[:12] + "001"}}
    r = api.client.patch(
        f"{items}/{new_id}?version={number}", json=both, headers=planner | {"If-Match": cur.headers["etag"]}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "parent_code"
    # a general grid's outline is not replaced directly
    gen = api.client.get(
        f"/ogc/collections/{SANGENSONG}-general/items/{me.parent_code}?version={number}", headers=planner
    )
    shrunk = {"geometry": mapping(shape(gen.json()["geometry"]).buffer(-0.0001))}
    r = api.client.patch(
        f"/ogc/collections/{SANGENSONG}-general/items/{me.parent_code}?version={number}",
        json=shrunk,
        headers=planner | {"If-Match": gen.headers["etag"]},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "redraw_refused"


def test_part4_conformance_classes(api: Api) -> None:
    """The Part 4 classes claimed, test by test of the draft's abstract test suite (20-002 Annex A)
    that applies: create-replace-delete, update, optimistic-locking-etags, features."""
    from shapely.geometry import mapping

    from api.ops import drafts

    c, planner = api.client, api.as_("planner")
    service = c.app.state.service
    number = drafts.new(service, SANGENSONG)["draft"]["number"]
    items = f"/ogc/collections/{SANGENSONG}-micro/items"
    one = f"{items}/{MICRO}?version={number}"
    geojson = {"Content-Type": "application/geo+json"}

    # create-replace-delete /options: the draft's endpoints list their writes, the published ones none
    r = c.options(f"{items}?version={number}")
    assert r.status_code == 200 and "POST" in r.headers["allow"]
    assert "application/geo+json" in r.headers["accept-post"]
    r = c.options(one)
    assert r.status_code == 200 and {"PUT", "PATCH", "DELETE"} <= set(r.headers["allow"].split(", "))
    assert "application/merge-patch+json" in r.headers["accept-patch"]  # update /options
    assert c.options(items).headers["allow"] == "GET, OPTIONS"
    assert c.options(f"{items}/{MICRO}?version=1").headers["allow"] == "GET, OPTIONS"
    assert c.options("/ogc/collections/nope-micro/items").status_code == 404
    # /create-content-type, /replace-content-type, /update-content-type: no Content-Type is a 400
    target = shape(c.get(one, headers=planner).json()["geometry"])
    x1, y1, x2, y2 = target.bounds
    half = target.intersection(box(x1, y1, (x1 + x2) / 2, y2))
    new = {
        "type": "Feature",
        "geometry": mapping(half),
        "properties": {"name": "甲", "parent_code": MICRO[:15]},
    }
    raw = json.dumps(new).encode()
    for method, url in (("POST", f"{items}?version={number}"), ("PUT", one), ("PATCH", one)):
        r = c.request(method, url, content=raw, headers=planner | {"If-Match": "*"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "Content-Type", (method, r.text)
    r = c.post(f"{items}?version={number}", content=raw, headers=planner | {"Content-Type": "text/plain"})
    assert r.status_code == 415
    # /replace-exceptions: a PUT to a feature that does not exist is a 404, with or without If-Match
    missing = f"{items}/510116004001999999?version={number}"
    for extra in ({}, {"If-Match": '"xyz"'}):
        assert c.put(missing, content=raw, headers=planner | geojson | extra).status_code == 404

    # optimistic-locking-etags /get-etag, /update: "0" is a 412 and changes nothing; the right tag
    # is a 200 with a new ETag; none is a 428
    first = c.get(one, headers=planner)
    tag = first.headers["etag"]
    patch = {"id": "something-else", "properties": {"name": "乙"}}  # update /update-rid: id ignored
    merge = planner | {"Content-Type": "application/merge-patch+json"}
    r = c.patch(one, content=json.dumps(patch).encode(), headers=merge | {"If-Match": '"0"'})
    assert r.status_code == 412 and c.get(one, headers=planner).headers["etag"] == tag
    r = c.patch(one, content=json.dumps(patch).encode(), headers=merge | {"If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag and r.json()["id"] == MICRO
    after = c.get(one, headers=planner)
    assert after.json()["properties"]["name"] == "乙" and after.headers["etag"] == r.headers["etag"]
    assert after.json()["geometry"] == first.json()["geometry"]  # update: the other parts unchanged
    assert c.patch(one, content=json.dumps(patch).encode(), headers=merge).status_code == 428

    # features /crs: the same half posted in EPSG:4544 (north, east) lands where the CRS84 one
    # would; an unsupported Content-Crs is a 4xx
    def to_4544(lon: float, lat: float) -> tuple[float, float]:
        x, y = from_wgs84(lon, lat, "EPSG:4544")
        return y, x

    from shapely import transform

    in4544 = transform(half, lambda xy: [to_4544(lon, lat) for lon, lat in xy])
    body = new | {"geometry": mapping(in4544)}
    crs = f"<{EPSG.format(4544)}>"
    r = c.post(f"{items}?version={number}", json=body, headers=planner | {"Content-Crs": crs})
    assert r.status_code == 201, r.text
    created = c.get(
        urlsplit(r.headers["location"]).path + "?" + urlsplit(r.headers["location"]).query, headers=planner
    )
    assert created.status_code == 200 and created.json()["properties"]["name"] == "甲"
    assert shape(created.json()["geometry"]).symmetric_difference(half).area < 1e-12
    r = c.post(f"{items}?version={number}", json=body, headers=planner | {"Content-Crs": "<EPSG:3857>"})
    assert 400 <= r.status_code < 500

    # create-replace-delete /delete and optimistic-locking-etags /delete: "0" is a 412 and the
    # feature stays; the right tag removes it (a GET is then a 404)
    victim = f"{items}/{created.json()['id']}?version={number}"
    vtag = c.get(victim, headers=planner).headers["etag"]
    assert c.delete(victim, headers=planner | {"If-Match": '"0"'}).status_code == 412
    assert c.get(victim, headers=planner).status_code == 200
    assert c.delete(victim, headers=planner | {"If-Match": vtag}).status_code == 204
    assert c.get(victim, headers=planner).status_code == 404


def test_part4_two_editors_with_one_etag_one_wins(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from api.ops import drafts

    number = drafts.new(api.client.app.state.service, SANGENSONG)["draft"]["number"]
    url = f"/ogc/collections/{SANGENSONG}-micro/items/{MICRO}?version={number}"
    planner = api.as_("planner")
    tag = api.client.get(url, headers=planner).headers["etag"]

    def rename(name: str) -> int:
        body = {"properties": {"name": name}}
        return api.client.patch(url, json=body, headers=planner | {"If-Match": tag}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(rename, ["甲", "乙", "丙", "丁"]))
    assert codes == [200, 412, 412, 412]
    assert api.client.get(url, headers=planner).json()["properties"]["name"] in {"甲", "乙", "丙", "丁"}
