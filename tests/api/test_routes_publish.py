"""Publishing over HTTP: blocking findings are a 409 naming them unless ``override_reason`` is given,
which the versions API then shows (who, when, why); the answer lists the incidents re-routed; an
upload may drop the previous version's elements only with ``drop_elements``."""

from __future__ import annotations

from tests.api.ops.test_publishing import M1, C, overlapping_draft, points
from tests.api.test_routes_layers import upload, wayao_geojson
from tests.api_fixtures import Api

BASE = f"/api/v1/communities/{C}"


def test_blocking_findings_are_refused_then_published_with_a_recorded_reason(api: Api) -> None:
    service = api.client.app.state.service
    number = overlapping_draft(service)
    r = api.post(f"{BASE}/versions/{number}/publish", "planner")
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["field"] == "override_reason" and "overlap" in err["message_zh"] and M1 in err["message_zh"]
    assert any(f["code"] == "overlap" for f in err["detail"]["findings"])
    r = api.post(f"{BASE}/versions/{number}/publish?force=true", "planner")
    assert r.status_code == 409, r.text  # force alone is no override: a reason is needed
    r = api.post(f"{BASE}/versions/{number}/publish", "planner", json={"override_reason": "x" * 501})
    assert r.status_code == 422, r.text
    r = api.post(
        f"{BASE}/versions/{number}/publish", "planner", json={"override_reason": "测绘待复核", "x": 1}
    )
    assert r.status_code == 422, r.text  # unknown fields are refused
    r = api.post(f"{BASE}/versions/{number}/publish", "dispatcher", json={"override_reason": "测绘待复核"})
    assert r.status_code == 403, r.text

    r = api.post(f"{BASE}/versions/{number}/publish", "planner", json={"override_reason": "测绘待复核"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "published" and r.json()["override"]["reason"] == "测绘待复核"
    items = {v["number"]: v for v in api.get(f"{BASE}/versions", "viewer").json()["items"]}
    over = items[number]["override"]
    assert over["reason"] == "测绘待复核" and over["by"] == "planner" and over["at"]
    assert over["findings"] and items[number]["published_by"] == "planner" and items[1]["override"] is None


def test_publish_answers_the_incidents_it_rerouted(api: Api) -> None:
    lon, lat = points()["west"]
    body = {"lon": lon, "lat": lat, "category": "安全隐患", "description": "路灯不亮"}
    r = api.post("/api/v1/incidents", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    from tests.api.ops.test_publishing import split_wkt

    assert api.post(f"{BASE}/drafts/new", "planner", json={}).status_code == 200
    r = api.post(f"{BASE}/drafts/2/split", "planner", json={"grid": M1, "line": split_wkt()})
    assert r.status_code == 200, r.text
    impact = api.get(f"{BASE}/drafts/2/impact", "planner").json()
    r = api.post(f"{BASE}/versions/2/publish", "planner")
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["rerouted"]] == [x["id"] for x in impact["incidents"]] == [incident]
    assert r.json()["override"] is None
    events = api.get(f"/api/v1/incidents/{incident}/events", "dispatcher").json()
    items = events["items"] if isinstance(events, dict) else events
    assert items[-1]["action"] == "reroute" and items[-1]["payload"]["from_micro"] == M1
    r = api.post(
        f"/api/v1/incidents/{incident}/actions", "admin", json={"action": "reroute", "micro_code": M1}
    )
    assert r.status_code == 403, r.text  # only the system re-routes, at a publish
    assert "reroute" not in api.get(f"/api/v1/incidents/{incident}", "admin").json()["allowed_actions"]


def test_upload_may_drop_the_elements_only_when_asked(api: Api) -> None:
    kept = upload(api, wayao_geojson())
    assert kept.status_code == 200, kept.text
    assert kept.json()["elements"] > 0 and any("沿用" in w for w in kept.json()["warnings"])
    dropped = upload(api, wayao_geojson(), drop_elements="true")
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["elements"] == 0 and not any("沿用" in w for w in dropped.json()["warnings"])
