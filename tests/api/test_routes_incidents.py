"""The incident loop over HTTP, end to end on SpatiaLite and PostGIS: a phone's GCJ-02 point to
已结案, routing with vacant posts, 督办 with a controllable clock, indicators by hand count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from shapely import Point
from sqlalchemy import delete

from geo.crs import from_wgs84
from geo.nearest import is_cheap
from tests.api_fixtures import Api, Clock

MICRO = "510116004001003012"  # a micro-grid of 三根松 (sample data)


def inside_point(api: Api, code: str) -> tuple[float, float]:
    """A point well inside a micro-grid of the published sample layer."""
    ctx = api.client.app.state.service
    g = ctx.layers.current().hierarchy.get(code)
    p = g.geometry.representative_point()
    assert g.geometry.contains(Point(p.x, p.y))
    return p.x, p.y


def report(api: Api, lon: float, lat: float, crs: str = "wgs84", user: str = "dispatcher", **kw):
    body = {"lon": lon, "lat": lat, "crs": crs, "category": "安全隐患", "description": "楼道堆放杂物"} | kw
    return api.post("/api/v1/incidents", user, json=body)


def micro_worker(api: Api, code: str) -> str:
    posts = api.client.app.state.service.posts()
    return min(p.person_id for p in posts if p.grid_code == code and p.role.value == "微网格员")


def test_gcj02_point_to_closed_with_every_step_recorded(api: Api, clock: Clock) -> None:
    lon, lat = inside_point(api, MICRO)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    r = report(api, glon, glat, "gcj02")
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["grid"]["micro_code"] == MICRO
    assert inc["state"] == "已交办"
    assert inc["assignee"]["role"] == "微网格员"
    worker = inc["assignee"]["person_id"]
    assert worker == micro_worker(api, MICRO)
    assert inc["raw"] == {"lon": glon, "lat": glat, "crs": "gcj02"}
    assert abs(inc["lon"] - lon) < 1e-7 and abs(inc["lat"] - lat) < 1e-7
    url = f"/api/v1/incidents/{inc['id']}/actions"

    clock.advance(hours=1)
    assert api.post(url, worker, json={"action": "start"}).json()["state"] == "处置中"
    r = api.post(url, worker, json={"action": "feedback", "note": "已清理"})
    assert r.json()["state"] == "已反馈"
    # the handler may not verify their own work; the dispatcher fails the check: 返工
    assert api.post(url, worker, json={"action": "verify_pass"}).status_code == 403
    r = api.post(url, "dispatcher", json={"action": "verify_fail", "reason": "仍有杂物"})
    assert r.json()["state"] == "处置中" and r.json()["rework_count"] == 1
    clock.advance(hours=1)
    api.post(url, worker, json={"action": "feedback", "note": "全部清理完毕"})
    r = api.post(url, "dispatcher", json={"action": "verify_pass"})
    assert r.status_code == 200 and r.json()["state"] == "已结案"

    events = api.get(f"/api/v1/incidents/{inc['id']}/events").json()["items"]
    assert [e["action"] for e in events] == [
        "report",
        "accept",
        "assign",
        "start",
        "feedback",
        "verify_fail",
        "feedback",
        "verify_pass",
    ]
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert events[3]["actor_id"] == worker and events[5]["actor_id"] == "user:dispatcher"


def test_illegal_transition_is_409_naming_allowed_actions(api: Api) -> None:
    inc = report(api, *inside_point(api, MICRO)).json()
    r = api.post(f"/api/v1/incidents/{inc['id']}/actions", json={"action": "verify_pass"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "illegal_transition"
    assert "start" in err["detail"]["allowed_actions"]
    assert "已交办" in err["message_zh"]


def test_bd09_point_lands_in_the_same_grid(api: Api) -> None:
    lon, lat = inside_point(api, MICRO)
    blon, blat = from_wgs84(lon, lat, "bd09")
    inc = report(api, blon, blat, "bd09").json()
    assert inc["grid"]["micro_code"] == MICRO
    # the raw point read as WGS84 would be ~950 m away, in another grid
    wrong = api.get("/api/v1/locate", params={"lon": blon, "lat": blat}).json()
    assert wrong["micro_code"] != MICRO


def test_vacant_micro_worker_falls_back_to_micro_head(api: Api) -> None:
    from store import db
    from store.models import role_assignments

    ctx = api.client.app.state.service
    with db.write(ctx.engine) as conn:
        conn.execute(
            delete(role_assignments).where(
                role_assignments.c.grid_code == MICRO, role_assignments.c.role == "微网格员"
            )
        )
    ctx.invalidate()
    inc = report(api, *inside_point(api, MICRO)).json()
    assert inc["assignee"]["role"] == "微网格长"
    assert inc["assigned_grid_code"] == MICRO


def test_point_outside_every_grid_goes_to_the_community_queue(api: Api) -> None:
    ctx = api.client.app.state.service
    community = ctx.layers.current().hierarchy.get("510116004001")
    minx, miny, _, _ = community.geometry.bounds
    inc = report(api, minx - 0.003, miny + 0.004).json()  # ~300 m west of the community
    assert inc["state"] == "已上报"
    assert inc["grid"]["micro_code"] is None
    assert inc["community_code"] == "510116004001"
    assert inc["assignee"] is None
    # the outlines are projected now: the next stray report is answered on the event loop, alike
    assert is_cheap(ctx.layers.current().hierarchy)
    again = report(api, minx - 0.003, miny + 0.005).json()
    assert (again["state"], again["grid"]["micro_code"], again["community_code"]) == (
        "已上报",
        None,
        "510116004001",
    )
    assert again["assignee"] is None and again["id"] != inc["id"]
    far = report(api, minx - 0.2, miny)
    assert far.status_code == 422


def test_overdue_incident_is_supervised_and_escalated(api: Api, clock: Clock) -> None:
    inc = report(api, *inside_point(api, MICRO)).json()  # 安全隐患: 24 h
    assert api.get("/api/v1/supervision").json()["items"] == []
    clock.advance(hours=25)
    items = api.get("/api/v1/supervision").json()["items"]
    assert [it["incident_id"] for it in items] == [inc["id"]]
    assert items[0]["escalate_to"]["role"] == "微网格长"
    assert items[0]["incident"]["overdue"] is True
    clock.advance(hours=24)
    items = api.get("/api/v1/supervision").json()["items"]
    assert items[0]["escalate_to"]["role"] == "一般网格员"


def test_indicators_match_a_hand_count(api: Api, clock: Clock) -> None:
    # Three incidents of 三根松 reported now (deadlines +24 h): A closed on time, B closed late,
    # C left open (overdue at the end). Hand count over the period: 应结案 3, 缓办 0,
    # 结案 2 → 结案率 2/3; 按期结案 1 → 按期结案率 1/3; open 1, overdue 1.
    pts = [inside_point(api, c) for c in (MICRO, "510116004001001001", "510116004001002003")]
    ids = [report(api, *p).json() for p in pts]
    day = clock.now.date()

    def close(inc: dict) -> None:
        worker = inc["assignee"]["person_id"]
        url = f"/api/v1/incidents/{inc['id']}/actions"
        for user, body in (
            (worker, {"action": "start"}),
            (worker, {"action": "feedback", "note": "ok"}),
            ("dispatcher", {"action": "verify_pass"}),
        ):
            assert api.post(url, user, json=body).status_code == 200

    clock.advance(hours=2)
    close(ids[0])
    clock.advance(hours=30)
    close(ids[1])
    clock.advance(hours=10)
    r = api.get(
        "/api/v1/stats",
        params={
            "community": "510116004001",
            "from": day.isoformat(),
            "to": (day + timedelta(days=3)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["items"]
    assert (row["due"], row["closed"], row["closed_on_time"], row["open"], row["overdue"]) == (3, 2, 1, 1, 1)
    assert row["close_rate"] == pytest.approx(2 / 3)
    assert row["on_time_rate"] == pytest.approx(1 / 3)


def test_assign_and_merge_check_their_references(api: Api) -> None:
    a = report(api, *inside_point(api, MICRO)).json()
    community = api.client.app.state.service.layers.current().hierarchy.get("510116004001")
    minx, miny, _, _ = community.geometry.bounds
    b = report(api, minx - 0.003, miny + 0.004).json()  # outside every grid: 已上报, in the queue
    url = f"/api/v1/incidents/{b['id']}/actions"
    r = api.post(url, json={"action": "merge", "into": "SJ-missing"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "into"
    assert api.post(url, json={"action": "accept"}).json()["state"] == "已受理"
    r = api.post(url, json={"action": "assign", "assignee_id": "NOBODY"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "assignee_id"
    r = api.post(url, json={"action": "merge", "into": a["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "已合并" and r.json()["merged_into"] == a["id"]


def test_report_while_another_writer_holds_the_database_is_stored_once_it_is_free(api: Api) -> None:
    """On SpatiaLite the report cannot be written on the event loop while another write is open
    (here a planner-like transaction held by a thread), so it waits in the thread pool; on PostGIS
    it does not wait at all. Either way: 201, stored once, after or beside the other write."""
    import threading

    from store import db

    ctx = api.client.app.state.service
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write(ctx.engine):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert holding.wait(10)
        threading.Timer(0.3, release.set).start()
        r = report(api, *inside_point(api, MICRO))
    finally:
        release.set()
        t.join(10)
    assert r.status_code == 201, r.text
    got = api.get(f"/api/v1/incidents/{r.json()['id']}").json()
    assert got["grid"]["micro_code"] == MICRO and got["state"] == "已交办"
