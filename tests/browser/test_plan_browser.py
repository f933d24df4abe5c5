"""The planner's page in headless Chromium: a new draft, one split drawn on the map, one merge, the
impact shown, a publish — and the old map still answers as-of queries. On its own database, so the
other browser tests keep the published sample."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.browser.conftest import CHROMIUM, Live, _free_port, login, off_loopback, screenshot, until

C = "510116004001"
G1 = C + "001"
M1, M2, M3 = G1 + "001", G1 + "002", G1 + "003"


@pytest.fixture
def plan_live(tmp_path) -> Iterator[Live]:
    import uvicorn

    from api.http.app import create_app
    from api.settings import Settings

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'plan.sqlite'}", secret_key="plan-test", version_poll_s=0.0
    )
    app = create_app(settings, prepare=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-plan-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{server.config.port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.service.engine.dispose()


def _click_latlng(page, lon: float, lat: float) -> None:
    x, y = page.evaluate(
        f"(function(){{var p = wwMap.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y];}})()"
    )
    box = page.locator("#map, .folium-map").first.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_split_merge_publish_on_the_planner_page(browser, plan_live: Live) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium missing")
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, plan_live.base, "planner", "planner-demo", f"/maps/plan/{C}")
        until(page, "window.wwLoaded === true")
        with page.expect_navigation():
            page.click("#ww-new")
        until(page, "window.wwLoaded === true && !!window.wwImpact")
        assert "第2版" in page.title()

        # split 001001 along a north–south line through its middle
        bounds = page.evaluate(f"wwGrids.byCode['{M1}'].getBounds().toBBoxString()")
        x0, y0, x1, y1 = (float(v) for v in bounds.split(","))
        mid = (x0 + x1) / 2
        page.evaluate(f"wwPlanSelect(['{M1}'])")
        page.click("#ww-split")
        started = time.monotonic()
        _click_latlng(page, mid, y1 + (y1 - y0) * 0.2)
        with page.expect_navigation():
            _click_latlng(page, mid, y0 - (y1 - y0) * 0.2)
        until(page, "window.wwLoaded === true && !!window.wwImpact")
        elapsed = time.monotonic() - started
        assert page.locator("#ww-ops li").count() == 1 and "分为 2 块" in page.inner_text("#ww-ops")
        assert page.evaluate(f"!!wwGrids.byCode['{G1}012'] && !!wwGrids.byCode['{G1}013']")
        impact = page.evaluate("wwImpact.counts")
        assert impact["households_removed"] == 46 and impact["posts"] >= 1
        assert "46 户" in page.inner_text("#ww-impact")

        # a merge of grids that share no edge is refused on the page; the two halves merge
        page.evaluate(f"wwPlanSelect(['{M2}', '{G1}004'])")
        page.click("#ww-merge")
        until(page, "document.getElementById('ww-msg').textContent.indexOf('不相邻') >= 0")
        page.evaluate(f"wwPlanSelect(['{G1}012', '{G1}013'])")
        with page.expect_navigation():
            page.click("#ww-merge")
        until(page, "window.wwLoaded === true && !!window.wwImpact")
        assert page.locator("#ww-ops li").count() == 2
        screenshot(page, "plan_after_split_and_merge")

        page.click("#ww-publish")
        until(page, "window.wwPublished === 2")
        r = page.request.get(f"{plan_live.base}/api/v1/communities/{C}/versions")
        states = {v["number"]: v["state"] for v in r.json()["items"]}
        assert states == {1: "retired", 2: "published"}
        assert errors == [], errors
        assert off_loopback(requests) == []
        assert elapsed < 10  # one split drawn and answered, page reloaded
    finally:
        context.close()
