"""The incident loop by clicking, in headless Chromium against the real app (SpatiaLite): the
dispatcher's queue page and the grid worker's phone page (390×844).

Screenshot of the worker's phone view: ``artifacts/phone-view.png`` (also
``artifacts/screenshots/mobile-todo.png``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from api.ops.sources import load_source
from layers.webmap import label_fit
from layers.workspace import ACTION_LABELS
from tests.browser.conftest import REPO, SANGENSONG, Live, login, off_loopback, screenshot, serving_app, until

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
#: The worker's phone view as the loop test sees it (git-ignored, like every artifact).
PHONE_VIEW = REPO / "artifacts" / "phone-view.png"
MICRO = "510116004001003007"


@pytest.fixture(scope="module")
def sample():
    return load_source()


def _photo() -> bytes:
    """A small JPEG as a phone makes it (with EXIF orientation)."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 1
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 120, 200)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _context(browser, live, username: str, password: str, next_path: str, *, phone: bool = False, geo=None):
    """A logged-in page (its own context) recording requests and errors, like the ``page`` fixture."""
    opts: dict = {"viewport": PHONE if phone else {"width": 1400, "height": 900}, "locale": "zh-CN"}
    if phone:
        opts |= {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    if geo is not None:
        opts |= {
            "geolocation": {"longitude": geo[0], "latitude": geo[1], "accuracy": 8},
            "permissions": ["geolocation"],
        }
    ctx = browser.new_context(**opts)
    pg = ctx.new_page()
    pg.requests, pg.errors = [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    login(pg, live.base, username, password, next_path)
    return ctx, pg


@pytest.fixture
def live_db(seeded_url: str) -> Iterator[Live]:
    """The real app on a fresh seeded database of each engine (SpatiaLite and PostGIS), served by
    uvicorn on 127.0.0.1 for one test."""
    from api.http.app import create_app
    from api.settings import Settings

    app = create_app(
        Settings(database_url=seeded_url, secret_key="browser-db", version_poll_s=0.0), prepare=True
    )
    with serving_app(app, "uvicorn-workspace", start_timeout=30) as served:
        yield served


@pytest.fixture
def contexts(browser, live) -> Iterator[list]:
    made: list = []

    def make(*args, **kw):
        ctx, pg = _context(browser, live, *args, **kw)
        made.append((ctx, pg))
        return pg

    try:
        yield make
        for _ctx, pg in made:
            assert pg.errors == [], f"JavaScript errors: {pg.errors}"
            assert off_loopback(pg.requests) == [], "requests left 127.0.0.1"
    finally:
        for ctx, _pg in made:
            ctx.close()


def _queue(pg, live) -> None:
    pg.goto(f"{live.base}/maps/incidents/{SANGENSONG}")
    until(pg, "window.wwLoaded === true")


def _screen_point(pg, lon: float, lat: float) -> tuple[float, float]:
    return tuple(
        pg.evaluate(
            """([lat, lon]) => { wwMap.setView([lat, lon], 18, {animate: false});
                 const p = wwMap.latLngToContainerPoint([lat, lon]);
                 const r = wwMap.getContainer().getBoundingClientRect();
                 return [r.left + p.x, r.top + p.y]; }""",
            [lat, lon],
        )
    )


def _press(pg, action: str, text: str | None = None, field: str = "note") -> None:
    """Press an action button in the open detail; fill and submit its form if it has one."""
    pg.click(f"#ww-actions button[data-action={action}]")
    if text is not None:
        pg.fill(f"#ww-actform [name={field}]", text)
        pg.click("#ww-actform-submit")


def _state_is(pg, state: str) -> None:
    until(pg, f"(document.getElementById('ww-detail-state') || {{}}).textContent === {json.dumps(state)}")


def _api(pg, live, method: str, path: str, body: dict | None = None) -> dict:
    token = pg.evaluate("localStorage.getItem('weiwang_token')")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if method == "GET":
        r = pg.request.get(f"{live.base}/api/v1{path}", headers=headers)
    else:
        r = pg.request.post(f"{live.base}/api/v1{path}", data=json.dumps(body or {}), headers=headers)
    assert r.ok, r.text()
    return r.json()


def test_the_loop_by_clicking_dispatcher_and_worker_on_a_phone(browser, live_db, sample) -> None:
    """On SpatiaLite and PostGIS alike (a fresh seeded database each)."""
    live = live_db
    made: list = []

    def contexts(*args, **kw):
        ctx, pg = _context(browser, live, *args, **kw)
        made.append((ctx, pg))
        return pg

    try:
        _loop(contexts, live, sample)
        for _ctx, pg in made:
            assert pg.errors == [], f"JavaScript errors: {pg.errors}"
            assert off_loopback(pg.requests) == [], "requests left 127.0.0.1"
    finally:
        for ctx, _pg in made:
            ctx.close()


def _loop(contexts, live, sample) -> None:
    micro = sample.hierarchy.get(MICRO)
    (lon, lat), _w, _h = label_fit(micro.geometry)

    # the dispatcher reports from the queue page's map
    disp = contexts("dispatcher", "dispatch-demo", f"/maps/incidents/{SANGENSONG}")
    until(disp, "window.wwLoaded === true")
    assert "当前用户：dispatcher" in disp.inner_text("#ww-userbar") and "退出登录" in disp.inner_text(
        "#ww-userbar"
    )
    x, y = _screen_point(disp, lon, lat)
    disp.mouse.click(x, y)
    disp.wait_for_selector("#ww-form")
    assert disp.eval_on_selector("#ww-form-category", "s => s.value") == ""  # 请选择, no silent default
    disp.fill("#ww-form-description", "楼道堆放杂物，堵塞消防通道")
    disp.click("#ww-form-submit")
    assert disp.evaluate("document.getElementById('ww-form-category').validity.valueMissing")
    assert disp.evaluate("window.wwLastCreated") is None  # not sent without a category
    disp.select_option("#ww-form-category", "安全隐患")
    disp.fill("#ww-form-address", "兴隆花园 5 栋 2 单元")
    disp.fill("#ww-form-resident-phone", "13900001111")
    disp.click("#ww-form-submit")
    until(disp, "!!window.wwLastCreated")
    inc = disp.evaluate("window.wwLastCreated")
    iid, worker = inc["id"], inc["assignee"]["person_id"]
    assert inc["grid"]["micro_code"] == MICRO and inc["state"] == "已交办"
    assert inc["address"] == "兴隆花园 5 栋 2 单元" and inc["resident"]["phone"] == "13900001111"
    until(disp, f"!!document.querySelector('#ww-queue tr[data-id=\"{iid}\"].ww-selected')")  # row ↔ map
    row = disp.inner_text(f'#ww-queue tr[data-id="{iid}"]')
    assert "安全隐患" in row and micro.name in row and "已交办" in row and "剩" in row
    assert "ww-due-ok" in disp.get_attribute(f'#ww-queue tr[data-id="{iid}"] td.ww-due', "class")

    # the worker, on a phone, sees it in 我的待办
    phone = contexts(worker, "worker-demo", "/m/", phone=True)
    until(phone, "window.wwLoaded === true")
    until(phone, f"!!document.querySelector('#ww-m-list li[data-id=\"{iid}\"]')")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "点击地图" not in phone.inner_text("body")
    screenshot(phone, "mobile-todo")
    PHONE_VIEW.parent.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(PHONE_VIEW))  # the worker's phone view (390×844), for the notes
    phone.click(f'#ww-m-list li[data-id="{iid}"]')
    _state_is(phone, "已交办")
    assert phone.evaluate("[...document.querySelectorAll('#ww-actions button')].map(b => b.textContent)") == [
        "开始处置"
    ]
    _press(phone, "start")
    _state_is(phone, "处置中")
    assert phone.evaluate("[...document.querySelectorAll('#ww-actions button')].map(b => b.textContent)") == [
        "反馈"
    ]
    _press(phone, "feedback")
    phone.fill("#ww-m-note", "已清理杂物")
    phone.set_input_files(
        "#ww-m-feedback-photos", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    phone.click("#ww-actform-submit")
    _state_is(phone, "已反馈")
    until(phone, "[...document.querySelectorAll('#ww-history img.ww-thumb')].some(i => i.naturalWidth > 0)")
    screenshot(phone, "mobile-detail")
    assert "照片 1 张已上传" in phone.inner_text("#ww-detail-msg")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # the dispatcher fails the check (返工)
    disp.evaluate(f"wwSelect({json.dumps(iid)})")
    _state_is(disp, "已反馈")
    _press(disp, "verify_fail", "楼道仍有杂物", field="reason")
    _state_is(disp, "处置中")

    # the worker gives feedback again
    phone.evaluate(f"wwOpen({json.dumps(iid)})")
    _state_is(phone, "处置中")
    _press(phone, "feedback")
    phone.fill("#ww-m-note", "已全部清理，并张贴提示")
    phone.click("#ww-actform-submit")
    _state_is(phone, "已反馈")

    # the dispatcher passes the check: 已结案 with the full history
    disp.evaluate(f"wwSelect({json.dumps(iid)})")
    _state_is(disp, "已反馈")
    _press(disp, "verify_pass")
    _state_is(disp, "已结案")
    history = disp.evaluate("[...document.querySelectorAll('#ww-history li')].map(li => li.dataset.action)")
    assert history == [
        "report",
        "accept",
        "assign",
        "start",
        "feedback",
        "verify_fail",
        "feedback",
        "verify_pass",
    ]
    assert "核查不通过" in disp.inner_text("#ww-history") and "楼道仍有杂物" in disp.inner_text("#ww-history")
    assert disp.locator("#ww-actions button").count() == 0
    until(
        disp,
        "[...document.querySelectorAll('#ww-history li[data-action=feedback] img.ww-thumb')]"
        ".some(i => i.naturalWidth > 0)",
    )
    screenshot(disp, "queue-closed")

    # the leaders' dashboard: 返工 1 on the micro-grid, the same figures as GET /stats
    disp.goto(f"{live.base}/maps/stats/{SANGENSONG}")
    until(disp, "window.wwLoaded === true")
    stats = _api(disp, live, "GET", f"/stats?community={SANGENSONG}&group_by=micro")["items"]
    assert next(s for s in stats if s["key"] == MICRO)["rework"] == 1
    assert disp.inner_text(f'#ww-s-micro tr[data-key="{MICRO}"] td.ww-s-rework') == "1"
    assert disp.evaluate("wwStatsRows.micro") == stats
    disp.select_option("#ww-s-theme", "rework")
    assert (
        disp.evaluate(f"wwGrids.byCode['{MICRO}'].feature.properties.wwValue") == 1
    )  # the choropleth draws the same figure
    assert disp.locator(".ww-s-week").count() >= 4
    screenshot(disp, "stats-dashboard")


def test_worker_reports_from_the_phones_position(contexts, live, sample) -> None:
    micro = sample.hierarchy.get("510116004001002003")
    (lon, lat), _w, _h = label_fit(micro.geometry)
    worker = min(
        p.person_id for p in sample.posts if p.grid_code == micro.code and p.role.value == "微网格员"
    )
    phone = contexts(worker, "worker-demo", "/m/", phone=True, geo=(lon, lat))
    until(phone, "window.wwLoaded === true")
    phone.click(".ww-m-tabs button[data-tab=ww-m-report]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.select_option("#ww-m-category", "群众诉求")
    phone.fill("#ww-m-description", "路灯不亮")
    phone.click("#ww-m-submit")
    assert "定位" in phone.inner_text("#ww-m-status")  # no position yet: asks to locate first
    phone.click("#ww-m-locate")
    until(phone, "document.getElementById('ww-m-pos').textContent.startsWith('已定位')")
    phone.set_input_files(
        "#ww-m-report-photos", files=[{"name": "路灯.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    phone.click("#ww-m-submit")
    until(phone, "!!window.wwLastCreated")
    until(phone, "document.getElementById('ww-msg').textContent.includes('照片 1 张')")
    created = phone.evaluate("window.wwLastCreated")
    assert created["grid"]["micro_code"] == micro.code and created["raw"]["crs"] == "wgs84"
    assert abs(created["lon"] - lon) < 1e-6 and abs(created["lat"] - lat) < 1e-6
    photos = _api(phone, live, "GET", f"/incidents/{created['id']}/photos")["items"]
    assert [p["event_seq"] for p in photos] == [1]  # with the 上报 event
    until(phone, f"!!document.querySelector('#ww-m-list li[data-id=\"{created['id']}\"]')")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_refused_action_shows_the_apis_chinese_message(contexts, live, sample) -> None:
    disp = contexts("dispatcher", "dispatch-demo", f"/maps/incidents/{SANGENSONG}")
    until(disp, "window.wwLoaded === true")
    (lon, lat), _w, _h = label_fit(sample.hierarchy.get(MICRO).geometry)
    inc = _api(
        disp,
        live,
        "POST",
        "/incidents",
        {"lon": lon, "lat": lat, "category": "群众诉求", "description": "噪音扰民"},
    )
    disp.evaluate(f"wwSelect({json.dumps(inc['id'])})")
    _state_is(disp, "已交办")
    # meanwhile someone else voids it; the page still offers 缓办
    _api(disp, live, "POST", f"/incidents/{inc['id']}/actions", {"action": "void", "reason": "重复上报"})
    _press(disp, "defer", "等待物业配合", field="reason")
    until(disp, "document.getElementById('ww-detail-msg').textContent.includes('不能执行')")
    assert "当前状态为「无效」" in disp.inner_text("#ww-detail-msg")


def test_each_role_sees_only_its_buttons_and_a_viewer_no_report_form(contexts, live, sample) -> None:
    disp = contexts("dispatcher", "dispatch-demo", f"/maps/incidents/{SANGENSONG}")
    until(disp, "window.wwLoaded === true")
    (lon, lat), _w, _h = label_fit(sample.hierarchy.get(MICRO).geometry)
    body = {"lon": lon, "lat": lat, "category": "矛盾纠纷", "description": "邻里纠纷"}
    body["reporter"] = {"name": "王阿姨", "phone": "13812345678"}
    inc = _api(disp, live, "POST", "/incidents", body)
    disp.evaluate(f"wwSelect({json.dumps(inc['id'])})")
    _state_is(disp, "已交办")
    labels = disp.evaluate("[...document.querySelectorAll('#ww-actions button')].map(b => b.textContent)")
    assert set(labels) == {"交办", "缓办", "改类", "合并", "作废", "督办"}
    assert "13812345678" in disp.inner_text("#ww-detail")  # the dispatcher sees the resident's phone

    viewer = contexts("viewer", "viewer-demo", f"/maps/incidents/{SANGENSONG}")
    until(viewer, "window.wwLoaded === true")
    assert "点击地图任意位置上报" not in viewer.inner_text("#ww-panel")
    viewer.evaluate(f"wwSelect({json.dumps(inc['id'])})")
    _state_is(viewer, "已交办")
    assert viewer.locator("#ww-actions button").count() == 0
    assert "13812345678" not in viewer.inner_text("#ww-detail")  # masked for viewers
    x, y = _screen_point(viewer, lon, lat)
    viewer.mouse.click(x, y)
    viewer.wait_for_timeout(300)
    assert viewer.locator("#ww-form").count() == 0

    # every other role: exactly the buttons of the actions the API says it may take now, labelled
    for user, password, expected in (
        ("admin", "admin-demo", {"交办", "缓办", "改类", "合并", "作废", "督办"}),
        ("planner", "planner-demo", set()),
    ):
        pg = contexts(user, password, f"/maps/incidents/{SANGENSONG}")
        until(pg, "window.wwLoaded === true")
        pg.evaluate(f"wwSelect({json.dumps(inc['id'])})")
        _state_is(pg, "已交办")
        shown = pg.evaluate("[...document.querySelectorAll('#ww-actions button')].map(b => b.textContent)")
        allowed = _api(pg, live, "GET", f"/incidents/{inc['id']}")["my_actions"]
        assert shown == [ACTION_LABELS[a] for a in allowed] and set(shown) == expected, user


@pytest.mark.serial
def test_a_second_browser_sees_a_new_report_within_2_s(contexts, live, sample) -> None:
    first = contexts("dispatcher", "dispatch-demo", f"/maps/incidents/{SANGENSONG}")
    second = contexts("admin", "admin-demo", f"/maps/incidents/{SANGENSONG}")
    until(first, "window.wwLoaded === true")
    until(second, "window.wwLoaded === true")
    (lon, lat), _w, _h = label_fit(sample.hierarchy.get(MICRO).geometry)
    t0 = time.monotonic()
    inc = _api(
        first,
        live,
        "POST",
        "/incidents",
        {"lon": lon, "lat": lat, "category": "综合维稳", "description": "聚集"},
    )
    until(second, f"!!document.querySelector('#ww-queue tr[data-id=\"{inc['id']}\"]')", timeout_s=5)
    assert time.monotonic() - t0 < 2.0


def test_supervise_on_an_overdue_incident_reaches_the_targets_notices(contexts, live, sample) -> None:
    disp = contexts("dispatcher", "dispatch-demo", f"/maps/incidents/{SANGENSONG}")
    until(disp, "window.wwLoaded === true")
    (lon, lat), _w, _h = label_fit(sample.hierarchy.get(MICRO).geometry)
    body = {"lon": lon, "lat": lat, "category": "安全隐患", "description": "电动车楼道充电"}
    inc = _api(disp, live, "POST", "/incidents", body)
    service = live.app.state.service
    service.clock = lambda: datetime.now(UTC) + timedelta(hours=25)  # 安全隐患: 24 h, so now overdue
    try:
        target = next(
            s["escalate_to"]
            for s in _api(disp, live, "GET", f"/supervision?community={SANGENSONG}")["items"]
            if s["incident_id"] == inc["id"]
        )
        until(disp, f"!!document.querySelector('#ww-queue tr[data-id=\"{inc['id']}\"] td.ww-due-over')")
        disp.evaluate(f"wwSelect({json.dumps(inc['id'])})")
        _state_is(disp, "已交办")
        _press(disp, "supervise", "请立即处理")
        until(disp, "document.getElementById('ww-detail-msg').textContent.includes('已督办')")
        assert "督办" in disp.inner_text("#ww-history")
    finally:
        service.clock = lambda: datetime.now(UTC)

    phone = contexts(target["person_id"], "worker-demo", "/m/", phone=True)
    until(phone, "window.wwLoaded === true")
    until(phone, "document.getElementById('ww-notice-badge').textContent !== '0'")
    phone.click("#ww-notices-link")
    until(phone, "document.getElementById('ww-notices').textContent.includes('请立即处理')")
    assert inc["id"] in phone.inner_text("#ww-notices")


def test_docs_render_the_openapi_31_operations(contexts, live) -> None:
    pg = contexts("viewer", "viewer-demo", "/maps/")
    pg.goto(f"{live.base}/docs")
    pg.wait_for_selector(".opblock", timeout=20000)
    assert pg.evaluate("fetch('/openapi.json').then(r => r.json()).then(j => j.openapi)").startswith("3.1")
    text = pg.inner_text("body")
    assert "Unable to render" not in text
    assert pg.locator(".opblock").count() >= 20
    assert "/api/v1/incidents/{incident_id}/actions" in text and "/api/v1/notices" in text


@pytest.mark.parametrize(
    "path",
    [
        "/maps/",
        f"/maps/dispatch/{SANGENSONG}",
        f"/maps/coverage/{SANGENSONG}",
        f"/maps/assignment/{SANGENSONG}",
        f"/maps/incidents/{SANGENSONG}",
        f"/maps/stats/{SANGENSONG}",
        f"/maps/plan/{SANGENSONG}",
        f"/maps/plan/{SANGENSONG}/diff?from=1&to=1",
        "/maps/city",
        "/m/",
    ],
)
def test_every_page_shows_the_user_and_logs_out(contexts, live, path: str) -> None:
    """The shared header on every page: 当前用户 with the role, and 退出登录 that really logs out
    (the token leaves localStorage and the cookie, so the page asks for the login again)."""
    pg = contexts("admin", "admin-demo", "/maps/")
    pg.goto(f"{live.base}{path}")
    assert pg.url.endswith(path)
    bar = pg.inner_text("#ww-userbar")
    assert "当前用户：admin" in bar and "管理员" in bar and "退出登录" in bar
    assert pg.locator("#ww-userbar").is_visible()
    box = pg.locator("#ww-logout").bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    pg.click("#ww-logout")
    pg.wait_for_url(lambda u: urlsplit(u).path == "/maps/login")
    assert pg.evaluate("localStorage.getItem('weiwang_token')") is None
    assert "weiwang_token=" not in pg.evaluate("document.cookie")
    pg.goto(f"{live.base}{path}")
    assert "/maps/login" in pg.url  # logged out for real: the page is no longer served
