"""Open311 GeoReport v2 under ``/open311/v2``: a client's flow (services → POST → GET by id) in
JSON and in XML, the state mapping, errors in GeoReport's shape, and a grid worker's key seeing
only their grids' requests — here and through OGC API – Features alike."""

from __future__ import annotations

from defusedxml.ElementTree import fromstring

from tests.api.test_routes_incidents import MICRO, inside_point, micro_worker, report
from tests.api_fixtures import Api

BASE = "/open311/v2"
OTHER = "510116004001001001"  # another micro-grid of 三根松


def _post(api: Api, fmt: str, user: str = "dispatcher", code: str = MICRO, **extra: str):
    lon, lat = inside_point(api, code)
    form = {
        "api_key": api.token(user),
        "service_code": "safety",
        "lat": repr(lat),
        "long": repr(lon),
        "description": "楼道堆放杂物，堵塞消防通道",
        "address_string": "三根松路 8 号",
        "last_name": "王",
        "first_name": "女士",
        "phone": "13912345678",
    } | extra
    return api.client.post(f"{BASE}/requests.{fmt}", data=form)


def test_services_list_the_five_categories_in_json_and_xml(api: Api) -> None:
    as_json = api.client.get(f"{BASE}/services.json")
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    codes = {s["service_code"]: s["service_name"] for s in as_json.json()}
    assert codes == {
        "stability": "综合维稳",
        "dispute": "矛盾纠纷",
        "safety": "安全隐患",
        "emergency": "应急管理风险隐患",
        "request": "群众诉求",
    }
    root = fromstring(api.client.get(f"{BASE}/services.xml").content)
    assert root.tag == "services"
    assert {s.findtext("service_code"): s.findtext("service_name") for s in root} == codes
    assert api.client.get(f"{BASE}/services.csv").status_code == 404


def test_json_flow_post_then_get_by_id_routes_like_any_report(api: Api) -> None:
    r = _post(api, "json")
    assert r.status_code == 201, r.text
    [created] = r.json()
    rid = created["service_request_id"]
    assert "已交办" in created["service_notice"]
    [got] = api.client.get(f"{BASE}/requests/{rid}.json", params={"api_key": api.token("dispatcher")}).json()
    assert got["status"] == "open" and got["service_code"] == "safety" and got["service_name"] == "安全隐患"
    assert got["status_notes"].startswith("已交办") and "微网格员" in got["status_notes"]
    assert "（北京时间）" in got["status_notes"]
    assert got["address"] == "三根松路 8 号" and got["expected_datetime"]
    # the same incident in the native API: located, routed to the micro-grid's worker, resident kept
    native = api.get(f"/api/v1/incidents/{rid}").json()
    assert native["grid"]["micro_code"] == MICRO
    assert native["assignee"]["person_id"] == micro_worker(api, MICRO)
    assert native["resident"] == {"name": "王女士", "phone": "13912345678"}
    assert abs(native["lon"] - got["long"]) < 1e-9 and abs(native["lat"] - got["lat"]) < 1e-9
    listed = api.client.get(f"{BASE}/requests.json", headers=api.as_("dispatcher")).json()
    assert rid in {x["service_request_id"] for x in listed}


def test_xml_flow_and_state_mapping(api: Api) -> None:
    r = _post(api, "xml", service_code="dispute")
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/xml")
    root = fromstring(r.content)
    assert root.tag == "service_requests"
    rid = root.find("request").findtext("service_request_id")
    key = api.token("dispatcher")
    got = fromstring(api.client.get(f"{BASE}/requests/{rid}.xml", params={"api_key": key}).content)
    req = got.find("request")
    assert req.findtext("service_code") == "dispute" and req.findtext("status") == "open"
    assert req.findtext("zipcode") == ""  # nil fields are empty elements
    r = api.post(f"/api/v1/incidents/{rid}/actions", json={"action": "void", "reason": "误报"})
    assert r.status_code == 200, r.text
    req = fromstring(api.client.get(f"{BASE}/requests/{rid}.xml", params={"api_key": key}).content)[0]
    assert req.findtext("status") == "closed" and req.findtext("status_notes") == "无效；误报"
    closed = api.client.get(f"{BASE}/requests.json", params={"api_key": key, "status": "closed"}).json()
    assert [x["service_request_id"] for x in closed] == [rid]
    open_ = api.client.get(f"{BASE}/requests.json", params={"api_key": key, "status": "open"}).json()
    assert rid not in {x["service_request_id"] for x in open_}


def test_errors_are_georeport_lists_naming_the_field(api: Api) -> None:
    r = api.client.get(f"{BASE}/requests.json")
    assert r.status_code == 401 and r.json()[0]["code"] == 401 and r.json()[0]["message_zh"]
    r = api.client.get(f"{BASE}/requests.xml")
    assert r.status_code == 401 and fromstring(r.content).find("error").findtext("code") == "401"
    r = _post(api, "json", service_code="noise")
    assert r.status_code == 400 and r.json()[0]["field"] == "service_code"
    r = _post(api, "json", lat="abc")
    assert r.status_code == 400 and r.json()[0]["field"] == "lat"
    r = _post(api, "json", lat="0", long="0")  # far from every community
    assert r.status_code == 400
    assert _post(api, "json", user="viewer").status_code == 403
    key = api.token("dispatcher")
    r = api.client.get(f"{BASE}/requests.json", params={"api_key": key, "status": "pending"})
    assert r.status_code == 400 and r.json()[0]["field"] == "status"
    assert api.client.get(f"{BASE}/requests/SJ-nope.json", params={"api_key": key}).status_code == 404


def test_a_workers_key_sees_only_their_grids_through_open311_and_ogc(api: Api) -> None:
    mine = _post(api, "json").json()[0]["service_request_id"]
    other = _post(api, "json", code=OTHER).json()[0]["service_request_id"]
    native_other = report(api, *inside_point(api, OTHER)).json()["id"]
    worker = micro_worker(api, MICRO)
    key = api.token(worker)
    seen = {x["service_request_id"] for x in api.client.get(f"{BASE}/requests.json?api_key={key}").json()}
    assert mine in seen and other not in seen and native_other not in seen
    assert api.client.get(f"{BASE}/requests/{other}.json", params={"api_key": key}).status_code == 404
    ogc = api.get("/ogc/collections/510116004001-incidents/items?limit=100", worker).json()
    assert {f["id"] for f in ogc["features"]} == seen
    everyone = {
        x["service_request_id"]
        for x in api.client.get(f"{BASE}/requests.json?api_key={api.token('admin')}").json()
    }
    assert {mine, other, native_other} <= everyone
