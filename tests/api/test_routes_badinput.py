"""Bad input gets a 4xx naming the problem, never a 500, and nothing is stored."""

from __future__ import annotations

import pytest

from tests.api.test_routes_incidents import MICRO, inside_point
from tests.api_fixtures import Api

GOOD = {"category": "群众诉求", "description": "路灯不亮", "crs": "wgs84"}


def count(api: Api) -> int:
    return api.get("/api/v1/incidents").json()["total"]


@pytest.mark.parametrize(
    ("patch", "field", "status"),
    [
        ({"lon": None}, "lon", 422),
        ({"category": "其他"}, "category", 422),
        ({"description": "x" * 2001}, "description", 422),
        ({"description": ""}, "description", 422),
        ({"crs": "EPSG:999999"}, "crs", 422),
        ({"reported_at": "2099-01-01T00:00:00+08:00"}, "reported_at", 422),
        ({"colour": "red"}, "colour", 422),
        ({"lon": 1e300}, "lon", 422),
        ({"reporter": {"name": "张三", "phone": "<script>"}}, "reporter.phone", 422),
    ],
)
def test_bad_intake_fields_are_named(api: Api, patch: dict, field: str, status: int) -> None:
    lon, lat = inside_point(api, MICRO)
    before = count(api)
    body = {"lon": lon, "lat": lat, **GOOD, **patch}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message_zh"] and err["message_en"]
    assert field.split(".")[0] in (err.get("field") or "") + err["message_en"]
    assert count(api) == before


def test_swapped_lat_lon_says_so(api: Api) -> None:
    lon, lat = inside_point(api, MICRO)
    r = api.post("/api/v1/incidents", json={"lon": lat, "lat": lon, **GOOD})
    assert r.status_code == 422
    assert "颠倒" in r.json()["error"]["message_zh"]
    r = api.get("/api/v1/locate", params={"lon": lat, "lat": lon})
    assert r.status_code == 422 and "swapped" in r.json()["error"]["message_en"]


def test_nan_and_infinity_are_refused(api: Api) -> None:
    raw = '{"lon": NaN, "lat": 30.4, "category": "群众诉求", "description": "x"}'
    r = api.client.post(
        "/api/v1/incidents",
        content=raw,
        headers={**api.as_("dispatcher"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    r = api.get("/api/v1/locate", params={"lon": "inf", "lat": 30.4})
    assert r.status_code == 422


def test_deep_json_and_huge_bodies_are_refused(api: Api) -> None:
    deep = "[" * 5000 + "]" * 5000
    h = {**api.as_("dispatcher"), "Content-Type": "application/json"}
    r = api.client.post("/api/v1/incidents", content=deep, headers=h)
    assert r.status_code == 422 and "nested" in r.json()["error"]["message_en"]
    r = api.client.post("/api/v1/incidents", content=b'{"a":"' + b"x" * 2_000_000 + b'"}', headers=h)
    assert r.status_code == 413


def test_unknown_crs_and_bad_batch_on_locate(api: Api) -> None:
    r = api.get("/api/v1/locate", params={"lon": 104.08, "lat": 30.40, "crs": "mars"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_crs"
    r = api.post("/api/v1/locate", json={"points": []})
    assert r.status_code == 422
    r = api.post(
        "/api/v1/locate",
        json={"crs": "gcj02", "points": [{"lon": 104.08, "lat": 30.41}, {"lon": 500, "lat": 30}]},
    )
    assert r.status_code == 200
    first, second = r.json()["items"]
    assert first["error"] is None and second["error"]


def test_unknown_incident_and_action(api: Api) -> None:
    assert api.get("/api/v1/incidents/SJ000").status_code == 404
    lon, lat = inside_point(api, MICRO)
    inc = api.post("/api/v1/incidents", json={"lon": lon, "lat": lat, **GOOD}).json()
    r = api.post(f"/api/v1/incidents/{inc['id']}/actions", json={"action": "fly"})
    assert r.status_code == 422
    r = api.post(f"/api/v1/incidents/{inc['id']}/actions", json={"action": "assign", "bogus": 1})
    assert r.status_code in (409, 422)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/%00",
        "/api/v1/communities/%00/time-limits",
        "/open311/v2/requests/%00.json",
        "/api/v1/incidents?community=%00",
        "/api/v1/stats?community=%1f",
        "/api/v1/supervision?community=%7F",
    ],
)
def test_control_characters_in_urls_are_refused_naming_the_part(api: Api, url: str) -> None:
    r = api.get(url)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == ("query" if "?" in url else "path")
