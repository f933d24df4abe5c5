"""The planner's page in headless Chromium (issue 12 "done when"): an open incident in 三根松's
micro-grid 001001; a new draft; 001001 split along a line drawn with leaflet-geoman; the page shows
how many households, elements, posts and open incidents move, the balance table and the party
coverage; a shared boundary dragged with geoman (move-boundary); a refused and a done merge; a
publish from the page — and the old map still answers as-of queries (OGC ``datetime=`` and
``weiwang locate --at``); the before/after diff map shows the changed grids.

On its own database, so the other browser tests keep the published sample. The time from each
operation's click to the page redrawn is ``window.wwOpTimes`` (printed, not asserted: shared CPU).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shapely.geometry import shape

from tests.browser.conftest import CHROMIUM, REPO, Live, login, off_loopback, screenshot, serving_app, until

C = "510116004001"
G1 = C + "001"
M1, M2, M3 = G1 + "001", G1 + "002", G1 + "003"
SAMPLE = REPO / "data" / "boundaries" / "grids.geojson"
SPLIT_PNG = REPO / "artifacts" / "planner-split.png"


def _micro(code: str):
    fc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    (f,) = [f for f in fc["features"] if f["properties"]["code"] == code]
    return shape(f["geometry"])


@pytest.fixture
def plan_live(tmp_path: Path) -> Iterator[Live]:
    from api.http.app import create_app
    from api.settings import Settings

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'plan.sqlite'}", secret_key="plan-test", version_poll_s=0.0
    )
    with serving_app(create_app(settings, prepare=True), "uvicorn-plan-test") as served:
        yield served


def _xy(page, lon: float, lat: float) -> tuple[float, float]:
    x, y = page.evaluate(
        f"(function(){{var p = wwMap.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y];}})()"
    )
    box = page.locator("#map, .folium-map").first.bounding_box()
    return box["x"] + x, box["y"] + y


def _click_latlng(page, lon: float, lat: float) -> None:
    page.mouse.click(*_xy(page, lon, lat))


def _micro_codes(page) -> set[str]:
    return set(page.evaluate("Object.keys(wwGrids.byCode).filter(function(c){return c.length === 18;})"))


def _ops_done(page, n: int) -> float:
    """Wait for operation ``n`` redrawn and its impact shown; ms from the click to the redraw."""
    until(page, f"window.wwOpTimes.length === {n} && window.wwImpactTimes.length === {n}")
    return float(page.evaluate("wwLastOpMs"))


def test_split_move_merge_publish_on_the_planner_page(browser, plan_live: Live, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium missing")
    base = plan_live.base
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # an open incident in 001001, reported by the dispatcher
        m1 = _micro(M1)
        inside = m1.representative_point()
        tok = page.request.post(
            f"{base}/api/v1/auth/login", data={"username": "dispatcher", "password": "dispatch-demo"}
        ).json()["access_token"]
        r = page.request.post(
            f"{base}/api/v1/incidents",
            headers={"Authorization": f"Bearer {tok}"},
            data={
                "lon": inside.x,
                "lat": inside.y,
                "crs": "wgs84",
                "category": "群众诉求",
                "description": "路灯不亮",
            },
        )
        assert r.status == 200 or r.status == 201, r.text()
        incident = r.json()
        assert incident["grid"]["micro_code"] == M1

        login(page, base, "planner", "planner-demo", f"/maps/plan/{C}")
        until(page, "window.wwLoaded === true")
        with page.expect_navigation():
            page.click("#ww-new")
        until(page, "window.wwLoaded === true && !!window.wwImpact")
        assert "第2版" in page.title()
        assert page.inner_text("#ww-drafts a") == "第2版 草稿"  # the drafts, each opened by its link
        assert page.get_attribute("#ww-drafts a", "href") == "?version=2"
        assert page.evaluate("typeof L.PM") == "object"  # leaflet-geoman, served by us
        assert _micro_codes(page).__len__() == 83
        assert "83 / 83 个微网格在 30–100 户之间" in page.inner_text("#ww-balance-summary")

        # split 001001: pick it on the map, draw the line with geoman, click its last point to finish
        _click_latlng(page, inside.x, inside.y)
        assert page.inner_text("#ww-selected") == M1
        x0, y0, x1, y1 = m1.bounds
        mid = (x0 + x1) / 2
        page.click("#ww-split")
        _click_latlng(page, mid, y1 + (y1 - y0) * 0.2)
        _click_latlng(page, mid, y0 - (y1 - y0) * 0.2)
        _click_latlng(page, mid, y0 - (y1 - y0) * 0.2)
        split_ms = _ops_done(page, 1)
        assert "分为 2 块" in page.inner_text("#ww-ops")
        codes = _micro_codes(page)
        assert M1 not in codes and {G1 + "012", G1 + "013"} <= codes and len(codes) == 84
        im = page.evaluate("wwImpact.counts")
        assert im["households_removed"] == 46 and im["households_added"] == 46
        assert im["incidents"] == 1 and im["elements"] == 1 and im["posts"] == 3
        assert page.evaluate("wwImpact.incidents[0].id") == incident["id"]
        text = page.inner_text("#ww-impact")
        assert "（46 户）" in text and "要素 1 个、岗位 3 个、未办结事件 1 件" in text
        state = page.evaluate("wwState")
        halves = {r["code"]: r["households"] for r in state["balance"]["rows"] if r["code"] in codes - set()}
        assert halves[G1 + "012"] + halves[G1 + "013"] == 46 and state["balance"]["counts"]["below"] == 2
        assert page.locator("#ww-balance-rows tr").count() == 84
        assert len(state["party"]["groups"]) == 6 and state["party"]["uncovered"] == []
        assert "6 个党小组覆盖 84 / 84 个微网格" in page.inner_text("#ww-party-summary")
        assert page.evaluate(f"wwGrids.byCode['{G1}012'].options.color") == "#7b1fa2"  # outlined as new
        page.mouse.move(5, 880)
        SPLIT_PNG.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SPLIT_PNG))

        # a merge of grids that share no edge is refused on the page
        page.evaluate(f"wwPlanSelect(['{M2}', '{G1}004'])")
        page.click("#ww-merge")
        until(page, "document.getElementById('ww-msg').textContent.indexOf('不相邻') >= 0")

        # drag the boundary 001002 | 001003 shares: geoman's middle marker, 15 px aside
        page.evaluate(f"wwPlanSelect(['{M2}', '{M3}'])")
        page.click("#ww-boundary")
        until(page, "!!window.wwBoundary && document.querySelectorAll('.marker-icon-middle').length > 0")
        handle = page.locator(".marker-icon-middle").first.bounding_box()
        hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        page.mouse.move(hx, hy)
        page.mouse.down()
        page.mouse.move(hx + 8, hy + 4, steps=4)
        page.mouse.move(hx + 15, hy + 8, steps=4)
        page.mouse.up()
        assert len(page.evaluate("wwBoundary.getLatLngs()")) >= 3
        page.click("#ww-boundary-apply")
        move_ms = _ops_done(page, 2)
        after_move = _micro_codes(page)
        moved = sorted(after_move - codes)
        assert M2 not in after_move and M3 not in after_move and len(moved) == 2 and len(after_move) == 84
        assert after_move - set(moved) == codes - {M2, M3}  # both neighbours change, nothing else
        rows = {r["code"]: r["households"] for r in page.evaluate("wwState.balance.rows")}
        assert rows[moved[0]] + rows[moved[1]] == 68 + 60  # households kept, shared by area

        # merge 001008 + 001009 (69 + 31 households)
        page.evaluate(f"wwPlanSelect(['{G1}008', '{G1}009'])")
        page.click("#ww-merge")
        merge_ms = _ops_done(page, 3)
        after_merge = _micro_codes(page)
        (merged,) = after_merge - after_move
        assert len(after_merge) == 83 and {G1 + "008", G1 + "009"}.isdisjoint(after_merge)
        assert {r["code"]: r["households"] for r in page.evaluate("wwState.balance.rows")}[merged] == 100
        assert page.locator("#ww-ops li").count() == 3

        # undo the merge on the page, then merge again (a code is never reused: a new one)
        page.click("#ww-undo")
        _ops_done(page, 4)
        assert _micro_codes(page) == after_move and "（已撤销）" in page.inner_text("#ww-ops")
        page.evaluate(f"wwPlanSelect(['{G1}008', '{G1}009'])")
        page.click("#ww-merge")
        _ops_done(page, 5)
        (merged,) = _micro_codes(page) - after_move
        assert merged not in after_merge and len(_micro_codes(page)) == 83
        screenshot(page, "plan_after_split_move_merge")

        # publish from the page (no blocking findings left)
        assert page.evaluate("wwState.errors") == 0 and page.locator("#ww-override").is_hidden()
        old_instant = datetime.now(UTC).isoformat()
        time.sleep(0.05)
        page.click("#ww-publish")
        until(page, "window.wwPublished === 2")
        assert "已发布第 2 版" in page.inner_text("#ww-msg") and "重新路由未办结事件 1 件" in page.inner_text(
            "#ww-msg"
        )
        assert page.evaluate("wwRerouted[0].id") == incident["id"]
        r = page.request.get(f"{base}/api/v1/communities/{C}/versions")
        assert {v["number"]: v["state"] for v in r.json()["items"]} == {1: "retired", 2: "published"}

        # the old map still answers as of the old instant: OGC datetime= and weiwang locate --at
        items = f"{base}/ogc/collections/{C}-micro/items?limit=1000"
        auth = {"Authorization": f"Bearer {tok}"}
        then = page.request.get(f"{items}&datetime={old_instant.replace('+00:00', 'Z')}", headers=auth)
        assert then.status == 200, then.text()
        then_codes = {f["properties"]["code"] for f in then.json()["features"]}
        now_codes = {
            f["properties"]["code"] for f in page.request.get(items, headers=auth).json()["features"]
        }
        assert M1 in then_codes and G1 + "012" not in then_codes and len(then_codes) == 83
        assert M1 not in now_codes and {G1 + "012", merged} <= now_codes
        from click.testing import CliRunner

        from api.cli import main

        url = plan_live.app.state.service.settings.database_url
        args = ["locate", "--lon", str(inside.x), "--lat", str(inside.y), "--url", url]
        old = json.loads(CliRunner().invoke(main, [*args, "--at", old_instant]).output)
        new = json.loads(CliRunner().invoke(main, args).output)
        assert old["micro_code"] == M1 and old["version"]["number"] == 1
        assert new["micro_code"] in (G1 + "012", G1 + "013") and new["version"]["number"] == 2

        # the before/after diff map: version 1 → 2, changed grids highlighted
        phases = page.evaluate("wwOpPhases")
        impact_ms = page.evaluate("wwImpactTimes")
        assert page.get_attribute("#ww-msg a", "href") == f"/maps/plan/{C}/diff?to=2&from=1"
        with page.expect_navigation():
            page.click("#ww-msg a")  # 查看版本对比
        until(page, "window.wwLoaded === true")
        changes = page.evaluate(
            "Array.prototype.map.call(document.querySelectorAll('#ww-changes tr[data-grid]'),"
            " function(tr){return [tr.getAttribute('data-grid'), tr.getAttribute('data-change')];})"
        )
        kinds = {code: kind for code, kind in changes}
        assert {c for c, k in kinds.items() if k == "removed"} == {M1, M2, M3, G1 + "008", G1 + "009"}
        assert {c for c, k in kinds.items() if k == "added"} == {G1 + "012", G1 + "013", *moved, merged}
        assert "第1版（已停用） → 第2版（现行）" in page.title()
        assert page.locator("path.ww-diff-removed").count() == 5
        assert page.locator("path.ww-diff-added").count() == 5
        assert "新增" in page.inner_text("#ww-legend-diff") and "删除" in page.inner_text("#ww-legend-diff")
        screenshot(page, "plan_diff_map")

        print("\n", phases, "impact shown (ms):", [round(t) for t in impact_ms])
        assert errors == [], errors
        assert off_loopback(requests) == []
        print(f"\nplanner op → redrawn (ms): split {split_ms:.0f}, move {move_ms:.0f}, merge {merge_ms:.0f}")
    finally:
        context.close()


def test_login_lands_on_a_next_target_with_its_whole_query(browser, live: Live) -> None:
    """The ``login`` helper quotes ``next``: a target whose query has ``&`` (the plan diff page)
    is reached with ``to=1`` kept, not cut at the ``&``."""
    context = browser.new_context()
    try:
        page = context.new_page()
        target = f"/maps/plan/{C}/diff?from=1&to=1"
        login(page, live.base, "planner", "planner-demo", target)
        assert page.url == f"{live.base}{target}"
    finally:
        context.close()
