"""The lean ``POST /api/v1/incidents`` (``routes_incidents.LEAN_ROUTE``) answers as the FastAPI
route does: a report it takes and the same report handed to the FastAPI route (sent as
``application/merged-patch+json``, which FastAPI reads as JSON and the lean route passes on) get the
same answer, and refusals keep their bodies."""

from __future__ import annotations

import json

from tests.api.test_routes_incidents import MICRO, inside_point
from tests.api_fixtures import Api

GOOD = {"category": "群众诉求", "description": "路灯不亮", "crs": "wgs84", "address": "桂香里 3 栋"}
#: Fields that differ between two reports of the same point (identity and instants).
VARYING = ("id", "reported_at", "assigned_at", "deadline", "updated_at")


def _same_but_identity(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k not in VARYING} == {
        k: v for k, v in b.items() if k not in VARYING
    }
    assert a["id"] != b["id"]


def test_lean_and_full_route_answer_alike(api: Api) -> None:
    lon, lat = inside_point(api, MICRO)
    body = {"lon": lon, "lat": lat, **GOOD, "reporter": {"name": "张三", "phone": "13800000000"}}
    lean = api.post("/api/v1/incidents", json=body)
    raw = json.dumps(body, ensure_ascii=False).encode()
    plus_json = {**api.as_("dispatcher"), "Content-Type": "application/merged-patch+json"}
    full = api.client.post("/api/v1/incidents", content=raw, headers=plus_json)
    assert lean.status_code == full.status_code == 201, (lean.text, full.text)
    assert lean.headers["location"] == f"/api/v1/incidents/{lean.json()['id']}"
    assert full.headers["location"] == f"/api/v1/incidents/{full.json()['id']}"
    assert lean.headers["content-type"] == full.headers["content-type"] == "application/json"
    _same_but_identity(lean.json(), full.json())
    assert lean.json()["grid"]["micro_code"] == MICRO
    assert lean.json()["assignee"] is not None  # routed and assigned, like the full route
    stored = api.get(f"/api/v1/incidents/{lean.json()['id']}").json()  # the row as committed
    assert {k: stored[k] for k in lean.json()} == lean.json()


def test_lean_route_refusals_keep_their_bodies(api: Api) -> None:
    lon, lat = inside_point(api, MICRO)
    good = {"lon": lon, "lat": lat, **GOOD}
    # no token: refused before anything is stored, as the FastAPI dependency refuses it
    r = api.client.post("/api/v1/incidents", json=good)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    # a viewer may not report
    r = api.post("/api/v1/incidents", user="viewer", json=good)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # not JSON at all, and JSON the model refuses: the FastAPI route's 422s
    r = api.client.post(
        "/api/v1/incidents",
        content=b"{not json",
        headers={**api.as_("dispatcher"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = api.post("/api/v1/incidents", json={**good, "urgent": "yes"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "urgent"
    # a point outside every community: the domain error, from the lean route itself
    r = api.post("/api/v1/incidents", json={**good, "lon": 100.0, "lat": 20.0})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_coordinates"


def test_reports_taken_before_the_middleware_are_refused_as_the_app_refuses_them(api: Api) -> None:
    """A plain report is answered before the middleware (``routes_incidents.answer_first``); what
    it does not take is replayed to the app, whose limits and routes refuse it with their bodies."""
    lon, lat = inside_point(api, MICRO)
    good = {"lon": lon, "lat": lat, **GOOD}
    dispatcher = {**api.as_("dispatcher"), "Content-Type": "application/json"}
    # too deep for the JSON depth limit, though small: BodyLimits' 422
    deep = {**good, "reporter": {"name": "x"}, "address": "a"}
    raw = json.dumps(deep).encode()[:-1] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    r = api.client.post("/api/v1/incidents", content=raw, headers=dispatcher)
    assert r.status_code == 422 and r.json()["error"]["message_en"] == "JSON nested too deeply"
    # over the body size limit, declared: BodyLimits' 413
    big = json.dumps({**good, "description": "长" * 400_000}, ensure_ascii=False).encode()
    r = api.client.post("/api/v1/incidents", content=big, headers=dispatcher)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # a point far from every community: the domain refusal, nothing stored
    before = api.get("/api/v1/incidents").json()["items"]
    r = api.post("/api/v1/incidents", json={**good, "lon": lon + 1.0, "lat": lat + 1.0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "lon", r.text
    assert "社区" in r.json()["error"]["message_zh"]
    assert api.get("/api/v1/incidents").json()["items"] == before
    # with a query string or a cookie-less odd token the app answers; the same report, stored once
    r = api.client.post("/api/v1/incidents?x=1", content=json.dumps(good).encode(), headers=dispatcher)
    assert r.status_code == 201
    r2 = api.client.post("/api/v1/incidents", content=json.dumps(good).encode(), headers=dispatcher)
    assert r2.status_code == 201
    _same_but_identity(r.json(), r2.json())
    after = api.get("/api/v1/incidents").json()["items"]
    assert len(after) == len(before) + 2
