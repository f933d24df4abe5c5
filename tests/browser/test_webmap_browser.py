"""The web maps in headless Chromium against the real app (uvicorn on 127.0.0.1, SpatiaLite).

Every test also proves (in the ``page`` fixture) that no request left 127.0.0.1, no dialog fired and
no JavaScript error happened. Screenshots: ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from api.ops.sources import load_source
from geo.crs import from_wgs84
from geo.hierarchy import Grid, Hierarchy
from geo.roles import Post, Role
from layers.webmap import dispatch_page, label_fit
from tests.api.test_routes_workers import server  # noqa: F401 (fixture: weiwang serve --workers 2)
from tests.browser.conftest import SANGENSONG, login, screenshot, until, wait_loaded

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert(1)</script>"
HOSTILE_IMG = '<img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def sample():
    return load_source()


def _worker_of(sample, micro_code: str) -> Post:
    """The 微网格员 routing picks: smallest person_id among the valid posts on the grid."""
    today = date.today()
    workers = sorted(
        (
            p
            for p in sample.posts
            if p.role is Role.MICRO_WORKER
            and p.grid_code == micro_code
            and (p.valid_from is None or p.valid_from <= today)
            and (p.valid_to is None or today < p.valid_to)
        ),
        key=lambda p: p.person_id,
    )
    return workers[0]


def _screen_point(page, lon: float, lat: float, zoom: int = 18) -> tuple[float, float]:
    """Centre the map on (lon, lat) and return its position in page pixels."""
    return tuple(
        page.evaluate(
            """([lat, lon, z]) => {
                 wwMap.setView([lat, lon], z, {animate: false});
                 const p = wwMap.latLngToContainerPoint([lat, lon]);
                 const r = wwMap.getContainer().getBoundingClientRect();
                 return [r.left + p.x, r.top + p.y];
               }""",
            [lat, lon, zoom],
        )
    )


def test_dispatch_page_draws_83_micro_grids_with_labels_and_legend(page, live) -> None:
    page.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
    wait_loaded(page)
    assert page.locator("path.leaflet-interactive.ww-micro").count() == 83
    assert page.locator("path.ww-general").count() == 6
    assert page.locator("path.ww-community").count() == 1
    assert page.locator(".ww-label-text").count() > 0
    assert page.title() == "三根松社区 · 事件调度"
    legend = page.inner_text("#ww-legend-grids")
    assert "三根松第1网格" in legend and "三根松第6网格" in legend
    assert page.evaluate("typeof window.wwGridsDrawnMs") == "number"
    # Zoomed in, labels switch to the full 18-digit code.
    page.evaluate("wwMap.setZoom(19, {animate: false})")
    texts = page.locator(".ww-label-text").all_inner_texts()
    assert any(len(t) == 18 and t.startswith(SANGENSONG) for t in texts)
    page.evaluate("wwMap.fitBounds(wwGrids.community.getBounds(), {animate: false})")
    screenshot(page, "dispatch")


def test_click_creates_incident_located_and_routed_to_the_micro_worker(page, live, sample) -> None:
    micro = sample.hierarchy.get("510116004001003007")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    expected = _worker_of(sample, micro.code)
    page.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
    wait_loaded(page)
    markers_before = page.locator(".ww-incident").count()
    # Hovering the grid shows its card with the 微网格员.
    x, y = _screen_point(page, lon, lat)
    page.mouse.move(x, y)
    tip = page.locator(".leaflet-tooltip.ww-tip")
    tip.wait_for()
    assert micro.code in tip.inner_text() and expected.name in tip.inner_text()
    page.mouse.click(x, y)
    page.wait_for_selector("#ww-form")
    page.select_option("#ww-form-category", "安全隐患")
    page.fill("#ww-form-description", "楼道堆放杂物，存在消防隐患")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/incidents") and r.request.method == "POST"
    ) as resp:
        page.click("#ww-form-submit")
    assert resp.value.status == 201
    created = resp.value.json()
    assert created["grid"]["micro_code"] == micro.code
    assert created["assignee"]["role"] == "微网格员"
    assert created["assignee"]["person_id"] == expected.person_id
    assert abs(created["lon"] - lon) < 3e-5 and abs(created["lat"] - lat) < 3e-5  # a pixel or two
    until(page, f"document.querySelectorAll('.ww-incident').length === {markers_before + 1}")
    msg = page.inner_text("#ww-msg")
    assert micro.name in msg and expected.name in msg
    popup = page.locator(".leaflet-popup-content", has_text="楼道堆放杂物")
    popup.wait_for()
    assert expected.name in popup.inner_text() and micro.code in popup.inner_text()
    # The marker sits where the user clicked (no page reload: the same window object).
    mx, my = page.evaluate(
        """(id) => { const m = wwIncidents[id].marker;
                     const p = wwMap.latLngToContainerPoint(m.getLatLng());
                     const r = wwMap.getContainer().getBoundingClientRect();
                     return [r.left + p.x, r.top + p.y]; }""",
        created["id"],
    )
    assert abs(mx - x) <= 2 and abs(my - y) <= 2
    screenshot(page, "dispatch-reported")


def test_filters_and_supervision_list(page, live, sample) -> None:
    page.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
    wait_loaded(page)
    micro = sample.hierarchy.get("510116004001001002")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    token = page.evaluate("localStorage.getItem('weiwang_token')")
    r = page.request.post(
        f"{live.base}/api/v1/incidents",
        data=json.dumps(
            {"lon": lon, "lat": lat, "crs": "wgs84", "category": "群众诉求", "description": "路灯不亮"}
        ),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status == 201
    page.reload()
    wait_loaded(page)
    total = int(page.inner_text("#ww-total"))
    assert total >= 1 and int(page.inner_text("#ww-count")) == total
    page.uncheck("input.ww-f-cat[value='群众诉求']")
    shown = int(page.inner_text("#ww-count"))
    assert shown < total
    assert page.locator(".ww-incident").count() == shown
    page.check("input.ww-f-cat[value='群众诉求']")
    assert int(page.inner_text("#ww-count")) == total
    # Nothing is overdue in a fresh database: the list says so (and loaded without error).
    until(page, "!document.querySelector('#ww-supervision').textContent.includes('加载中')")
    assert "暂无超期事件" in page.inner_text("#ww-supervision")


def test_hostile_text_from_the_api_shows_as_text(page, live, sample) -> None:
    micro = sample.hierarchy.get("510116004001002003")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    token = page.evaluate("localStorage.getItem('weiwang_token')")
    body = {
        "lon": lon,
        "lat": lat,
        "crs": "wgs84",
        "category": "矛盾纠纷",
        "description": HOSTILE + HOSTILE_IMG,
    }
    r = page.request.post(
        f"{live.base}/api/v1/incidents",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status == 201
    page.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
    wait_loaded(page)
    page.evaluate("(id) => wwFocusIncident(wwIncidents[id].inc)", r.json()["id"])
    popup = page.locator(".leaflet-popup-content")
    assert HOSTILE + HOSTILE_IMG in popup.inner_text()
    assert popup.locator("img, script").count() == 0
    assert page.dialogs == []


def _hostile_hierarchy(sample) -> tuple[Hierarchy, list[Post]]:
    sub = sample.hierarchy.subset(SANGENSONG)
    grids = [
        Grid(
            g.code,
            HOSTILE if g.code == "510116004001001001" else g.name,
            g.level,
            g.geometry,
            g.parent_code,
            g.community_code,
            g.kind,
            g.households,
        )
        for g in sub
    ]
    posts = [
        Post(p.person_id, HOSTILE_IMG, p.role, p.grid_code, p.phone)
        if p.grid_code == "510116004001001001"
        else p
        for p in sample.posts
    ]
    return Hierarchy(grids), posts


def test_hostile_grid_and_people_names_show_as_text(page, live, sample) -> None:
    h, posts = _hostile_hierarchy(sample)
    incident = {
        "id": "X1",
        "category": "综合维稳",
        "state": "已上报",
        "description": HOSTILE_IMG,
        "lon": 104.09,
        "lat": 30.41,
        "grid": {"micro_code": "510116004001001001", "micro_name": HOSTILE},
        "assignee": {"name": HOSTILE_IMG, "role": "微网格员"},
    }
    html = dispatch_page(h, SANGENSONG, posts=posts, mask_phones=True, incidents=[incident])
    page.route(
        f"{live.base}/hostile",
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )
    page.goto(f"{live.base}/hostile")
    wait_loaded(page)
    micro = sample.hierarchy.get("510116004001001001")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    x, y = _screen_point(page, lon, lat)
    page.mouse.move(x, y)
    tip = page.locator(".leaflet-tooltip.ww-tip")
    tip.wait_for()
    assert HOSTILE in tip.inner_text() and HOSTILE_IMG in tip.inner_text()
    assert tip.locator("img, script").count() == 0
    page.evaluate("wwFocusIncident(wwIncidents['X1'].inc)")
    popup = page.locator(".leaflet-popup-content")
    assert HOSTILE in popup.inner_text() and HOSTILE_IMG in popup.inner_text()
    assert page.locator(".leaflet-container img[src='x']").count() == 0
    assert page.dialogs == []


def test_coverage_page_published_is_clean(page, live) -> None:
    page.goto(f"{live.base}/maps/coverage/{SANGENSONG}?version=1")
    wait_loaded(page)
    assert "第1版" in page.title()
    assert page.locator("path.ww-micro").count() == 83
    assert page.locator(".ww-finding-shape").count() == 0
    assert "未发现问题" in page.inner_text("#ww-summary")


def test_coverage_page_draws_the_party_layer_and_toggles_it(page, live) -> None:
    """两网融合 on the coverage map: 18 party areas of 三根松 (2 支部, 6 党小组, 10 企业党组织),
    a legend with one toggle per type."""
    page.goto(f"{live.base}/maps/coverage/{SANGENSONG}")
    wait_loaded(page)
    assert page.locator("path.ww-party").count() == 18
    assert page.locator("path.ww-party-branch").count() == 2
    legend = page.inner_text("#ww-legend-party")
    assert "党组织（两网融合）" in legend and "网格党小组" in legend and "企业党组织" in legend
    page.locator('input.ww-f-party[value="企业党组织"]').uncheck()
    assert page.locator("path.ww-party").count() == 8
    page.locator('input.ww-f-party[value="企业党组织"]').check()
    assert page.locator("path.ww-party").count() == 18
    screenshot(page, "coverage-party")


def _planted_draft(sample) -> tuple[bytes, dict[str, str]]:
    """三根松's layer as GeoJSON with planted defects: a micro-grid removed (gap), its western
    neighbour bulging into another kept sibling (overlap), a micro-grid under a new code nobody is
    posted to (unstaffed) and one with 5 households (out of band). Returns (file, kind → code)."""
    from shapely.geometry import mapping

    sub = sample.hierarchy.subset(SANGENSONG)
    gone = sub.get("510116004001003007")
    over = sub.get("510116004001003008")
    victim = next(
        g
        for g in sorted(sub.micro, key=lambda g: g.code)
        if g.parent_code == over.parent_code
        and g.code not in (over.code, gone.code)
        and g.geometry.intersection(over.geometry).length > 1e-4
    )
    bulge = over.geometry.union(over.geometry.buffer(0.0002).intersection(victim.geometry))
    renamed_from, renamed_to = "510116004001002002", "510116004001002099"
    features = []
    for g in sub:
        if g.code == gone.code:
            continue
        code = renamed_to if g.code == renamed_from else g.code
        props = {
            "code": code,
            "name": g.name,
            "level": g.level.value,
            "parent_code": g.parent_code,
            "community_code": g.community_code,
            "kind": g.kind,
            "households": 5 if g.code == "510116004001001001" else g.households,
        }
        geom = bulge if g.code == over.code else g.geometry
        features.append({"type": "Feature", "properties": props, "geometry": mapping(geom)})
    fc = {"type": "FeatureCollection", "features": features}
    planted = {"gap": gone.parent_code, "overlap": victim.code, "unstaffed": renamed_to}
    return json.dumps(fc, ensure_ascii=False).encode(), planted


def test_coverage_map_of_an_uploaded_draft_shows_the_planted_gap_overlap_and_unstaffed_grid(
    page, live, sample
) -> None:
    data, planted = _planted_draft(sample)
    token = page.request.post(
        f"{live.base}/api/v1/auth/login", data={"username": "planner", "password": "planner-demo"}
    ).json()["access_token"]
    r = page.request.post(
        f"{live.base}/api/v1/communities/{SANGENSONG}/drafts",
        headers={"Authorization": f"Bearer {token}"},
        multipart={
            "file": {"name": "draft.geojson", "mimeType": "application/geo+json", "buffer": data},
            "commit": "true",
        },
    )
    assert r.status == 200, r.text()
    number = r.json()["version_number"]
    assert number >= 2
    page.goto(f"{live.base}/maps/coverage/{SANGENSONG}?version={number}")
    wait_loaded(page)
    assert f"第{number}版" in page.title() and "草稿" in page.title()
    for kind in ("gap", "overlap", "unstaffed", "households_out_of_band"):
        assert page.locator(f"path.ww-kind-{kind}").count() >= 1, kind
        assert page.locator(f"#ww-findings li[data-kind='{kind}']").count() >= 1, kind
    items = page.locator("#ww-findings li.ww-finding")
    listed = " ".join(items.all_inner_texts())
    assert planted["unstaffed"] in listed and planted["overlap"] in listed and planted["gap"] in listed
    zoom_before = page.evaluate("wwMap.getZoom()")
    page.click("#ww-findings li[data-kind='unstaffed']")
    until(page, f"wwMap.getZoom() > {zoom_before}")
    assert "ww-active" in page.get_attribute("#ww-findings li[data-kind='unstaffed']", "class")
    page.uncheck("input.ww-f-kind[value='gap']")
    assert page.locator("path.ww-kind-gap").count() == 0
    page.check("input.ww-f-kind[value='gap']")
    assert page.locator("path.ww-kind-gap").count() >= 1
    page.evaluate("wwMap.fitBounds(wwGrids.community.getBounds(), {animate: false})")
    screenshot(page, "coverage-draft")
    published = page.request.get(f"{live.base}/api/v1/communities/{SANGENSONG}/versions").json()["items"]
    assert [v["number"] for v in published if v["state"] == "published"] == [1]  # drafts change nothing


def test_assignment_page(page, live) -> None:
    page.goto(f"{live.base}/maps/assignment/{SANGENSONG}")
    wait_loaded(page)
    assert page.locator("path.ww-open").count() == 83
    assert page.locator("path.ww-ontime").count() == 6
    page.check("input[name='ww-theme'][value='ontime']")
    assert page.is_visible("#ww-legend-ontime") and not page.is_visible("#ww-legend-open")
    page.check("input[name='ww-theme'][value='open']")
    screenshot(page, "assignment")


def test_pages_need_login_and_viewer_sees_masked_phones(browser, live, sample) -> None:
    context = browser.new_context()
    pg = context.new_page()
    urls: list[str] = []
    pg.on("request", lambda r: urls.append(r.url))
    try:
        pg.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
        assert "/maps/login" in pg.url
        login(pg, live.base, "viewer", "viewer-demo", f"/maps/dispatch/{SANGENSONG}")
        assert pg.url.endswith(f"/maps/dispatch/{SANGENSONG}")
        wait_loaded(pg)
        data = pg.evaluate("ww.data().grids.features.filter(f => f.properties.level === 'micro')")
        phones = [w[1] for f in data for w in f["properties"]["workers"]]
        assert phones and all("****" in p for p in phones)
        from tests.browser.conftest import off_loopback

        assert off_loopback(urls) == []
    finally:
        context.close()


def test_js_gcj02_matches_geo_crs(page, live) -> None:
    page.goto(f"{live.base}/maps/assignment/{SANGENSONG}")
    wait_loaded(page)
    for lon, lat in [(104.08, 30.40), (104.118, 30.423), (116.39, 39.9)]:
        jl, jt = page.evaluate("([a, b]) => ww.gcj(a, b)", [lon, lat])
        pl, pt = from_wgs84(lon, lat, "gcj02")
        assert abs(jl - pl) < 1e-9 and abs(jt - pt) < 1e-9


def test_page_headers_forbid_outside_requests(page, live) -> None:
    r = page.request.get(f"{live.base}/maps/dispatch/{SANGENSONG}")
    assert r.status == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "https://" not in csp
    assert r.headers["cache-control"] == "no-store"
    assert page.request.get(f"{live.base}/maps/dispatch/999999999999").status == 404
    assert page.request.get(f"{live.base}/static/leaflet/images/layers.png").status == 200
    # static files: a content-hash ETag, revalidated (304 without a body), unknown paths 404
    js = page.request.get(f"{live.base}/static/leaflet/leaflet.js")
    assert js.status == 200 and js.headers["cache-control"] == "no-cache"
    assert js.headers["content-type"].startswith("text/javascript") and len(js.body()) > 100_000
    again = page.request.get(
        f"{live.base}/static/leaflet/leaflet.js", headers={"If-None-Match": js.headers["etag"]}
    )
    assert again.status == 304 and again.body() == b""
    assert page.request.get(f"{live.base}/static/weiwang/common.js").headers["etag"] != js.headers["etag"]
    assert page.request.get(f"{live.base}/static/weiwang/nope.js").status == 404
    assert page.request.get(f"{live.base}/static/weiwang/%2e%2e/webmap.py").status == 404


def test_root_leads_through_login_to_the_index_of_communities(browser, live) -> None:
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(f"{live.base}/")
        assert "/maps/login" in pg.url  # / → /home → login
        login(pg, live.base)  # the helper logs in through /maps/login?next=/maps/
        assert pg.url.endswith("/maps/")
        rows = pg.locator("main.ww-index tbody tr")
        assert rows.count() == 2
        text = pg.inner_text("main.ww-index")
        assert "三根松社区" in text and "83 个微网格" in text and "21 个微网格" in text
        pg.click(f"a[href='/maps/assignment/{SANGENSONG}']")
        wait_loaded(pg)
        assert pg.url.endswith(f"/maps/assignment/{SANGENSONG}")
        pg.go_back()
        r = pg.request.get(f"{live.base}/maps/print/{SANGENSONG}.pdf?paper=A3&all_pages=true")
        assert r.status == 200 and r.body()[:5] == b"%PDF-"
        screenshot(pg, "index")
    finally:
        context.close()


def test_map_errors_in_a_browser_are_a_chinese_page(page, live) -> None:
    page.goto(f"{live.base}/maps/dispatch/999999999999")
    assert page.locator("h1").inner_text() == "出错了"
    assert "999999999999" in page.inner_text("p.zh")
    assert page.locator("a[href='/maps/']").count() == 1
    api = page.request.get(f"{live.base}/maps/dispatch/999999999999", headers={"Accept": "application/json"})
    assert api.status == 404 and api.json()["error"]["code"] == "not_found"


@pytest.mark.serial
def test_a_second_dispatcher_map_shows_a_new_report_and_its_change_within_2_s(
    page, browser, live, sample
) -> None:
    """Two open dispatcher maps (two browser contexts): a report clicked on the first appears on
    the second within 2 s, and a change (作废) redraws its marker there, without a reload — the
    same ETag feed as the queue page (304 while nothing changed)."""
    import time

    from tests.browser.conftest import off_loopback

    micro = sample.hierarchy.get("510116004001004005")  # no other test reports here
    (lon, lat), _w, _h = label_fit(micro.geometry)
    other_ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    other = other_ctx.new_page()
    other.requests, other.errors, feed = [], [], []
    other.on("request", lambda r: other.requests.append(r.url))
    other.on("pageerror", lambda e: other.errors.append(str(e)))
    other.on("response", lambda r: feed.append(r.status) if "/feed/incidents" in r.url else None)
    try:
        login(other, live.base, "admin", "admin-demo", f"/maps/dispatch/{SANGENSONG}")
        wait_loaded(other)
        other.evaluate("window.wwStart = window.wwIncidents")  # the same window object at the end
        page.goto(f"{live.base}/maps/dispatch/{SANGENSONG}")
        wait_loaded(page)
        other.wait_for_timeout(1500)
        assert 304 in feed  # nothing changed: the poll costs a 304
        x, y = _screen_point(page, lon, lat)
        page.mouse.click(x, y)
        page.wait_for_selector("#ww-form")
        page.select_option("#ww-form-category", "群众诉求")
        page.fill("#ww-form-description", "小区门口路灯不亮")
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/incidents") and r.request.method == "POST"
        ) as resp:
            page.click("#ww-form-submit")
        t0 = time.monotonic()
        iid = resp.value.json()["id"]
        until(other, f"!!window.wwIncidents[{json.dumps(iid)}]", timeout_s=5)
        assert time.monotonic() - t0 < 2.0
        assert other.evaluate(f"wwIncidents[{json.dumps(iid)}].inc.state") == "已交办"
        assert other.evaluate(f"wwMap.hasLayer(wwIncidents[{json.dumps(iid)}].marker)")
        # a change: the first dispatcher voids it; the second map redraws the marker in place
        token = page.evaluate("localStorage.getItem('weiwang_token')")
        r = page.request.post(
            f"{live.base}/api/v1/incidents/{iid}/actions",
            data=json.dumps({"action": "void", "reason": "重复上报"}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert r.ok, r.text()
        t0 = time.monotonic()
        until(other, f"wwIncidents[{json.dumps(iid)}].inc.state === '无效'", timeout_s=5)
        assert time.monotonic() - t0 < 2.0
        assert other.evaluate("window.wwStart === window.wwIncidents")  # no reload
        assert other.errors == [] and off_loopback(other.requests) == []
    finally:
        other_ctx.close()


@pytest.mark.postgis
@pytest.mark.parametrize("db_template", ["postgis"], indirect=True)
@pytest.mark.serial
def test_dispatcher_maps_update_live_across_two_workers(browser, seeded_url: str, server, sample) -> None:  # noqa: F811
    """``weiwang serve --workers 2``: two open dispatcher maps (each context has its own
    connections, which the two processes share out) see a report made through the API within 2 s."""
    import time

    from tests.browser.conftest import off_loopback

    port, workers = server
    assert len(workers) == 2
    base = f"http://127.0.0.1:{port}"
    micro = sample.hierarchy.get("510116004001004006")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    made = []
    try:
        for user, password in (("dispatcher", "dispatch-demo"), ("admin", "admin-demo")):
            ctx = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
            pg = ctx.new_page()
            pg.requests, pg.errors = [], []
            pg.on("request", lambda r, pg=pg: pg.requests.append(r.url))
            pg.on("pageerror", lambda e, pg=pg: pg.errors.append(str(e)))
            made.append((ctx, pg))
            login(pg, base, user, password, f"/maps/dispatch/{SANGENSONG}")
            wait_loaded(pg)
        first, second = (pg for _ctx, pg in made)
        token = first.evaluate("localStorage.getItem('weiwang_token')")
        body = {"lon": lon, "lat": lat, "category": "安全隐患", "description": "消防通道堵塞"}
        r = first.request.post(
            f"{base}/api/v1/incidents",
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert r.status == 201, r.text()
        t0 = time.monotonic()
        iid = json.dumps(r.json()["id"])
        for pg in (second, first):
            until(pg, f"!!window.wwIncidents[{iid}]", timeout_s=5)
        assert time.monotonic() - t0 < 2.0
        for _ctx, pg in made:
            assert pg.errors == [] and off_loopback(pg.requests) == []
    finally:
        for ctx, _pg in made:
            ctx.close()
