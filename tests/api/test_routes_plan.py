"""The planner's page over HTTP: its state after an operation (balance table, party coverage,
findings), the shared boundary of two neighbours, publishing from the page (an override needs a
reason), and the before/after diff map (planners only, escaped, offline)."""

from __future__ import annotations

from layers.offline import external_urls
from tests.api.ops.test_publishing import overlapping_draft
from tests.api.test_routes_drafts import BASE, G1, M1, M2, M3, C, split_wkt
from tests.api_fixtures import Api

HOSTILE = "<img src=x onerror=alert(1)>"


def test_state_after_a_split_and_the_shared_boundary(api: Api) -> None:
    assert api.post(f"{BASE}/drafts/new", "planner").status_code == 200
    r = api.get(f"{BASE}/drafts/2/plan?impact=true", "planner")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["impact"]["counts"]["households_removed"] == 0 and s["errors"] == 0
    assert s["balance"]["band"] == [30, 100] and s["balance"]["micro_grids"] == 83
    assert s["balance"]["counts"] == {"below": 0, "above": 0, "ok": 83, "unknown": 0}
    assert len(s["party"]["groups"]) == 6 and s["party"]["uncovered"] == [] and s["party"]["overlap"] == []
    assert sum(len(g["micro"]) for g in s["party"]["groups"]) == 83
    assert sum(1 for f in s["grids"]["features"] if f["properties"]["level"] == "micro") == 83

    r = api.post(f"{BASE}/drafts/2/split", "planner", json={"grid": M1, "line": split_wkt()})
    assert r.status_code == 200, r.text
    s = api.get(f"{BASE}/drafts/2/plan", "planner").json()
    rows = {row["code"]: row for row in s["balance"]["rows"]}
    assert M1 not in rows and rows[G1 + "012"]["households"] + rows[G1 + "013"]["households"] == 46
    assert s["balance"]["counts"]["below"] == 2 and s["balance"]["rows"][0]["status"] == "below"
    assert "分为 2 块" in s["operations"][0]["summary_zh"]

    r = api.get(f"{BASE}/drafts/2/shared-boundary?grids={M2},{M3}", "planner")
    assert r.status_code == 200, r.text
    line = r.json()["line"]
    assert line["type"] == "LineString" and len(line["coordinates"]) >= 2 and r.json()["length_m"] > 10
    r = api.get(f"{BASE}/drafts/2/shared-boundary?grids={M2},{G1}004", "planner")
    assert r.status_code == 422 and "不相邻" in r.json()["error"]["message_zh"]
    assert api.get(f"{BASE}/drafts/2/plan", "viewer").status_code == 403


def test_publish_from_the_page_and_the_diff_map(api: Api) -> None:
    assert api.post(f"{BASE}/drafts/new", "planner").status_code == 200
    assert (
        api.post(f"{BASE}/drafts/2/split", "planner", json={"grid": M1, "line": split_wkt()}).status_code
        == 200
    )
    r = api.post(f"{BASE}/drafts/2/rename", "planner", json={"grid": M2, "name": HOSTILE})
    assert r.status_code == 200, r.text
    r = api.post(f"{BASE}/drafts/2/publish", "planner", json={"override": True, "reason": "  "})
    assert r.status_code == 422 and r.json()["error"]["field"] == "override_reason"

    r = api.get(f"/maps/plan/{C}/diff?from=1&to=2", "planner")
    assert r.status_code == 200, r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert [u for u in external_urls(r.text) if "leafletjs.com" not in u] == []
    assert HOSTILE not in r.text and "&lt;img src=x" in r.text  # the renamed grid, escaped
    assert "第1版（现行） → 第2版（草稿）" in r.text and "新增 2 个、删除 1 个" in r.text
    assert f'data-grid="{M1}" data-change="removed"' in r.text
    assert 'id="ww-userbar"' in r.text and "退出登录" in r.text
    assert f'data-grid="{G1}012" data-change="added"' in r.text
    assert (
        api.client.get(
            f"/maps/plan/{C}/diff", headers={**api.as_("viewer"), "Accept": "text/html"}
        ).status_code
        == 403
    )
    r = api.client.get(f"/maps/plan/{C}/diff?from=1&to=2", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/maps/login")

    r = api.post(f"{BASE}/drafts/2/publish", "planner", json={})
    assert r.status_code == 200, r.text
    assert r.json()["version"]["number"] == 2 and r.json()["version"]["state"] == "published"
    r = api.post(f"{BASE}/drafts/2/publish", "planner", json={})
    assert r.status_code in (409, 422)


def test_blocking_findings_need_an_override_with_a_reason(api: Api) -> None:
    from api.ops import drafts

    service = api.client.app.state.service
    number = overlapping_draft(service)  # M1 also covers M2: an overlap, a blocking finding
    s = api.get(f"{BASE}/drafts/{number}/plan", "planner").json()
    assert s["errors"] >= 1 and any(f["code"] == "overlap" for f in s["findings"])
    r = api.post(f"{BASE}/drafts/{number}/publish", "planner", json={})
    assert r.status_code == 409 and r.json()["error"]["field"] == "override_reason"
    page = api.get(f"/maps/plan/{C}?version={number}", "planner").text
    assert 'id="ww-override"' in page and "强制发布" in page
    r = api.post(
        f"{BASE}/drafts/{number}/publish", "planner", json={"override": True, "reason": "街道办确认，待勘界"}
    )
    assert r.status_code == 200, r.text
    over = r.json()["version"]["override"]
    assert over["reason"] == "街道办确认，待勘界" and over["by"] == "planner"
    assert [v["state"] for v in drafts.list_drafts(service, C)] == []
