"""The privacy policy: one table (README) and one function, and each role's view of a resident's
report through the API (one incident, one list) follows it."""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import shape

from api.ops.privacy import POLICY, Show, apply, mask_address, mask_name, readme_table
from dispatch import AppRole
from tests.api_fixtures import Api

README = Path(__file__).resolve().parents[3] / "README.md"
SGS = "510116004001"
RESIDENT = {"name": "王小明", "phone": "13912345678"}
ADDRESS = "三根松路12号3栋2单元"


def test_the_readme_states_the_policy_the_code_applies() -> None:
    assert readme_table() in README.read_text(encoding="utf-8")
    assert set(POLICY) == set(AppRole)
    assert POLICY[AppRole.PLANNER]["resident_phone"] is not Show.FULL
    assert POLICY[AppRole.VIEWER]["resident_name"] is Show.HIDDEN


def test_maskers() -> None:
    assert mask_name("王小明") == "王**" and mask_name("") == ""
    assert mask_address(ADDRESS) == "三根松路…" and mask_address("三根松小区") == "三根松小区"


def test_apply_leaves_nothing_personal_for_viewers() -> None:
    view = {
        "resident": dict(RESIDENT),
        "address": ADDRESS,
        "photos": [{"id": 1}],
        "assignee": {"person_id": "P1", "name": "张三", "phone": "13800000001"},
    }
    out = apply(AppRole.VIEWER, view)
    assert out["resident"] == {"name": None, "phone": "139****5678"}
    assert out["photos"] == [{"id": 1}] and out["address"] == "三根松路…"
    assert apply(AppRole.PLANNER, {"photos": [{"id": 1}]})["photos"] == []
    assert out["assignee"]["phone"] == "138****0001"


def _resident_report(api: Api) -> str:
    feats = api.get(f"/api/v1/communities/{SGS}/grids?level=micro").json()["features"]
    pt = shape(feats[0]["geometry"]).representative_point()
    body = {
        "lon": pt.x,
        "lat": pt.y,
        "category": "群众诉求",
        "description": "路灯不亮",
        "address": ADDRESS,
        "reporter": RESIDENT,
    }
    r = api.post("/api/v1/incidents", "dispatcher", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def test_each_role_sees_what_the_policy_allows(api: Api) -> None:
    incident_id = _resident_report(api)
    seen = {}
    for who in ("admin", "dispatcher", "planner", "viewer"):
        one = api.get(f"/api/v1/incidents/{incident_id}", who)
        assert one.status_code == 200, (who, one.text)
        listed = [i for i in api.get("/api/v1/incidents", who).json()["items"] if i["id"] == incident_id]
        assert len(listed) == 1, who
        assert (listed[0]["resident"], listed[0]["address"]) == (
            one.json()["resident"],
            one.json()["address"],
        )
        seen[who] = one.json()
    worker = seen["dispatcher"]["assignee"]["person_id"]
    seen["worker"] = api.get(f"/api/v1/incidents/{incident_id}", worker).json()

    for who in ("admin", "dispatcher", "worker"):
        assert seen[who]["resident"] == RESIDENT, who
        assert seen[who]["address"] == ADDRESS, who
    assert seen["planner"]["resident"] == {"name": "王**", "phone": "139****5678"}
    assert seen["planner"]["address"] == ADDRESS
    assert seen["viewer"]["resident"] == {"name": None, "phone": "139****5678"}
    assert seen["viewer"]["address"] == "三根松路…"
    handler_phone = seen["dispatcher"]["assignee"]["phone"]
    assert handler_phone and "*" not in handler_phone
    assert seen["planner"]["assignee"]["phone"] == handler_phone
    assert (
        seen["viewer"]["assignee"]["phone"] != handler_phone and "****" in seen["viewer"]["assignee"]["phone"]
    )
    for who in ("planner", "viewer"):
        body = str(seen[who])
        assert RESIDENT["phone"] not in body and (who == "planner" or RESIDENT["name"] not in body)


def test_photos_follow_the_policy(api: Api) -> None:
    import io

    from PIL import Image

    incident_id = _resident_report(api)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
    url = f"/api/v1/incidents/{incident_id}/photos"
    r = api.post(url, "dispatcher", files=[("files", ("现场.png", buf.getvalue(), "image/png"))])
    assert r.status_code == 201, r.text
    photo_id = r.json()["items"][0]["id"]
    for who in ("admin", "dispatcher", "planner", "viewer"):
        sees = POLICY[AppRole.ADMIN if who == "admin" else api_role(who)]["photos"] is not Show.HIDDEN
        items = api.get(url, who).json()["items"]
        assert [p["id"] for p in items] == ([photo_id] if sees else []), who
        assert api.get(f"/api/v1/photos/{photo_id}", who).status_code == (200 if sees else 404), who
        assert api.get(f"/api/v1/photos/{photo_id}/thumb", who).status_code == (200 if sees else 404), who


def api_role(username: str) -> AppRole:
    return {"dispatcher": AppRole.DISPATCHER, "planner": AppRole.PLANNER, "viewer": AppRole.VIEWER}[username]
