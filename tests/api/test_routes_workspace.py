"""The workspace over HTTP on SpatiaLite and PostGIS: 督办 as an action with its notice, the
buttons each role may press, merge/void of auto-assigned reports, 我的待办, the pages."""

from __future__ import annotations

import pytest
from shapely import Point

from tests.api.test_routes_workers import server  # noqa: F401 (fixture: weiwang serve --workers 2)
from tests.api_fixtures import Api, Clock

MICRO = "510116004001003012"  # a micro-grid of 三根松 (sample data)
COMMUNITY = "510116004001"


def inside_point(api: Api, code: str) -> tuple[float, float]:
    g = api.client.app.state.service.layers.current().hierarchy.get(code)
    p = g.geometry.representative_point()
    assert g.geometry.contains(Point(p.x, p.y))
    return p.x, p.y


def report(api: Api, user: str = "dispatcher", **kw) -> dict:
    lon, lat = inside_point(api, MICRO)
    body = {"lon": lon, "lat": lat, "category": "安全隐患", "description": "楼道堆放杂物"} | kw
    r = api.post("/api/v1/incidents", user, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def act(api: Api, inc_id: str, user: str, **body):
    return api.post(f"/api/v1/incidents/{inc_id}/actions", user, json=body)


def test_each_role_is_offered_only_the_buttons_it_may_press(api: Api) -> None:
    inc = report(api)
    worker = inc["assignee"]["person_id"]
    url = f"/api/v1/incidents/{inc['id']}"
    mine = {u: api.get(url, u).json()["my_actions"] for u in ("dispatcher", worker, "viewer", "planner")}
    assert mine[worker] == ["start"]
    assert mine["viewer"] == [] and mine["planner"] == []
    assert set(mine["dispatcher"]) == {"assign", "defer", "reclassify", "merge", "void", "supervise"}
    assert "start" in api.get(url, "dispatcher").json()["allowed_actions"]  # the state allows it
    act(api, inc["id"], worker, action="start")
    assert api.get(url, worker).json()["my_actions"] == ["feedback"]


def test_supervise_an_overdue_incident_notifies_the_escalation_target(api: Api, clock: Clock) -> None:
    inc = report(api)
    worker = inc["assignee"]["person_id"]
    clock.advance(hours=25)  # 安全隐患: 24 h
    sv = api.get(f"/api/v1/supervision?community={COMMUNITY}").json()["items"]
    target = next(s for s in sv if s["incident_id"] == inc["id"])["escalate_to"]
    assert target["person_id"] and target["person_id"] != worker

    r = act(api, inc["id"], "dispatcher", action="supervise", note="请今日办结")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "已交办" and r.json()["assignee"]["person_id"] == worker
    notes = api.get("/api/v1/notices", target["person_id"]).json()
    assert notes["unread"] == 1
    (n,) = notes["items"]
    assert n["incident_id"] == inc["id"] and n["kind"] == "supervise" and "请今日办结" in n["message"]
    assert api.get("/api/v1/notices", worker).json() == {"items": [], "unread": 0}

    # 督办 in the history, with whom it was sent to
    evs = api.get(f"/api/v1/incidents/{inc['id']}/events").json()["items"]
    assert evs[-1]["action"] == "supervise" and evs[-1]["payload"]["target_id"] == target["person_id"]

    # marking read is per recipient: someone else cannot mark it
    assert api.post("/api/v1/notices/read", worker, json={"ids": [n["id"]]}).json()["marked"] == 0
    r = api.post("/api/v1/notices/read", target["person_id"], json={"ids": [n["id"]]}).json()
    assert r == {"marked": 1, "unread": 0}

    # re-assign one level up: the target now handles it, the clock is kept
    r = act(api, inc["id"], "dispatcher", action="supervise", reassign=True)
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["person_id"] == target["person_id"]
    assert r.json()["deadline"] == inc["deadline"]
    assert "已改派" in api.get("/api/v1/notices", target["person_id"]).json()["items"][0]["message"]

    stats = api.get(f"/api/v1/stats?community={COMMUNITY}&group_by=micro").json()["items"]
    assert next(s for s in stats if s["key"] == MICRO)["supervised"] == 2


def test_supervise_refusals_are_4xx_in_chinese(api: Api) -> None:
    inc = report(api)
    worker = inc["assignee"]["person_id"]
    r = act(api, inc["id"], worker, action="supervise")
    assert r.status_code == 403 and "督办" in r.json()["error"]["message_zh"]
    r = act(api, inc["id"], "dispatcher", action="supervise", target_id="nobody")
    assert r.status_code == 422 and r.json()["error"]["field"] == "target_id"
    r = act(api, inc["id"], "viewer", action="supervise")
    assert r.status_code == 403
    r = api.post("/api/v1/notices/read", "dispatcher", json={"ids": ["x"]})
    assert r.status_code == 422
    assert api.post("/api/v1/notices/read", json={"ids": [2**63]}).status_code == 422
    assert api.get("/api/v1/feed/incidents?community=%00").status_code == 422
    assert api.get("/api/v1/incidents/a%00b/photos").status_code == 422  # URL control character


def test_auto_assigned_duplicates_can_be_merged_and_false_reports_voided(api: Api) -> None:
    first = report(api)
    dup = report(api, description="楼道堆放杂物（重复）")
    assert dup["state"] == "已交办"
    r = act(api, dup["id"], "dispatcher", action="merge", into=first["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "已合并" and r.json()["merged_into"] == first["id"]
    false = report(api, description="测试")
    r = act(api, false["id"], "dispatcher", action="void", reason="误报")
    assert r.json()["state"] == "无效"


def test_my_todo_lists_my_open_incidents_overdue_first(api: Api, clock: Clock) -> None:
    old = report(api, category="应急管理风险隐患")  # 4 h
    clock.advance(hours=5)
    new = report(api, category="群众诉求")
    worker = old["assignee"]["person_id"]
    items = api.get("/api/v1/my/todo", worker).json()["items"]
    ids = [i["id"] for i in items]
    assert ids.index(old["id"]) < ids.index(new["id"]) and items[0]["overdue"]
    assert api.get("/api/v1/my/todo", "dispatcher").json()["items"] == []


def test_pages_and_home_per_role(api: Api) -> None:
    c = api.client
    worker = report(api)["assignee"]["person_id"]
    for user, target in (
        ("dispatcher", f"/maps/incidents/{COMMUNITY}"),
        (worker, "/m/"),
        ("viewer", "/maps/"),
        ("planner", f"/maps/plan/{COMMUNITY}"),
        ("admin", f"/maps/incidents/{COMMUNITY}"),
    ):
        c.cookies.set("weiwang_token", api.token(user))
        r = c.get("/home", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(target), (user, r.headers)
    c.cookies.set("weiwang_token", api.token("dispatcher"))
    r = c.get(f"/maps/incidents/{COMMUNITY}")
    assert r.status_code == 200 and "事件办理" in r.text and "退出登录" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "点击地图任意位置上报" in r.text
    c.cookies.set("weiwang_token", api.token("viewer"))
    r = c.get(f"/maps/incidents/{COMMUNITY}")
    assert r.status_code == 200 and "点击地图任意位置上报" not in r.text
    c.cookies.set("weiwang_token", api.token(worker))
    r = c.get("/m/")
    assert r.status_code == 200 and "我的待办" in r.text and "点击地图" not in r.text
    assert '<option value="">请选择</option>' in r.text
    assert c.get("/maps/incidents/510116004002").status_code == 403  # not the worker's community
    assert c.get("/maps/stats/510116004002").status_code == 403
    c.cookies.set("weiwang_token", api.token("viewer"))
    r = c.get(f"/maps/stats/{COMMUNITY}?from=2026-10-01&to=2026-11-01")
    assert r.status_code == 200 and "考核看板" in r.text and 'value="2026-10-01"' in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    c.cookies.clear()
    assert c.get("/m/", follow_redirects=False).status_code == 303


def test_text_over_the_limit_is_refused_naming_the_limit(api: Api) -> None:
    lon, lat = inside_point(api, MICRO)
    body = {"lon": lon, "lat": lat, "category": "群众诉求", "description": "长" * 2001}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "description" and "最多 2000 个字符" in err["message_zh"]
    inc = report(api)
    worker = inc["assignee"]["person_id"]
    act(api, inc["id"], worker, action="start")
    r = act(api, inc["id"], worker, action="feedback", note="好" * 2001)
    assert r.status_code == 422 and "2000" in r.json()["error"]["message_zh"]


def _jpeg_with_exif(w: int = 64, h: int = 32) -> bytes:
    """A JPEG carrying orientation 6 (rotate 90°), a camera make and a GPS position."""
    import io

    from PIL import Image

    img = Image.new("RGB", (w, h), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (30.0, 24.0, 0.0), 3: "E", 4: (104.0, 5.0, 0.0)}
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(out, format="PNG")
    return out.getvalue()


def test_feedback_photos_are_sniffed_stripped_thumbnailed_and_scoped(api: Api) -> None:
    import io

    from PIL import Image

    inc = report(api)
    worker = inc["assignee"]["person_id"]
    act(api, inc["id"], worker, action="start")
    act(api, inc["id"], worker, action="feedback", note="已清理")
    url = f"/api/v1/incidents/{inc['id']}/photos"
    files = [
        ("files", ("现场.jpg", _jpeg_with_exif(), "image/jpeg")),
        ("files", ("named-wrong.jpg", _png(), "image/jpeg")),  # a PNG, whatever the name says
    ]
    r = api.post(url, worker, files=files)
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [i["media_type"] for i in items] == ["image/jpeg", "image/png"]
    assert {i["event_seq"] for i in items} == {r.json()["event_seq"]}
    events = api.get(f"/api/v1/incidents/{inc['id']}/events").json()["items"]
    assert next(e for e in events if e["seq"] == items[0]["event_seq"])["action"] == "feedback"

    stored = api.get(items[0]["url"], "dispatcher")
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    exif = Image.open(io.BytesIO(stored.content)).getexif()
    assert dict(exif) == {0x0112: 6}  # orientation kept, make and GPS gone
    thumb = Image.open(io.BytesIO(api.get(items[0]["thumb_url"], "viewer").content))
    assert thumb.format == "JPEG" and thumb.size == (32, 64)  # turned upright
    assert api.get(url, "viewer").json()["items"][0]["id"] == items[0]["id"]

    # another community's worker cannot see it; a viewer cannot add one
    other = api.client.app.state.service.posts()
    stranger = next(
        p.person_id for p in other if p.grid_code.startswith("510116004002") and p.role.value == "微网格员"
    )
    assert api.get(items[0]["url"], stranger).status_code == 404
    assert api.post(url, "viewer", files=[("files", ("a.png", _png(), "image/png"))]).status_code == 403


def test_photo_refusals_are_clear_4xx(api: Api) -> None:
    inc = report(api)
    url = f"/api/v1/incidents/{inc['id']}/photos"
    r = api.post(url, files=[("files", ("evil.jpg", b"<svg onload=alert(1)>", "image/jpeg"))])
    assert r.status_code == 415
    err = r.json()["error"]
    assert "JPEG" in err["message_zh"] and "judged by content" in err["message_en"]
    big = b"\xff\xd8\xff" + b"\0" * (5 * 2**20)
    r = api.post(url, files=[("files", ("big.jpg", big, "image/jpeg"))])
    assert r.status_code == 413 and "5 MB" in r.json()["error"]["message_zh"]
    four = [("files", (f"{i}.png", _png(), "image/png")) for i in range(4)]
    r = api.post(url, files=four)
    assert r.status_code == 422 and r.json()["error"]["field"] == "files"
    assert api.post(url, files=four[:3]).status_code == 201  # the dispatcher reported it
    r = api.post(url, files=four[:1])
    assert r.status_code == 422 and "最多 3 张" in r.json()["error"]["message_zh"]
    worker = inc["assignee"]["person_id"]
    r = api.post(url, worker, files=four[:1])  # took no step yet
    assert r.status_code == 403


@pytest.mark.postgis
@pytest.mark.parametrize("db_template", ["postgis"], indirect=True)
@pytest.mark.serial
def test_live_feed_agrees_across_two_workers_within_2_s(seeded_url: str, server) -> None:  # noqa: F811
    """``weiwang serve --workers 2``: both workers give the same ETag for the same incidents, and a
    new report changes it on both within 2 s (what the queue page's 1 s poll relies on)."""
    import http.client
    import json
    import time

    from tests.api.test_routes_workers import _call, _owner

    port, workers = server
    assert len(workers) == 2
    token = _call(
        port, "POST", "/api/v1/auth/login", {"username": "dispatcher", "password": "dispatch-demo"}
    )["access_token"]

    def feed(etag: str | None = None) -> tuple[int, str, dict | None, int | None]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {token}"} | ({"If-None-Match": etag} if etag else {})
            conn.request("GET", f"/api/v1/feed/incidents?community={COMMUNITY}", headers=headers)
            r = conn.getresponse()
            body = r.read()
            assert conn.sock is not None
            who = _owner(port, conn.sock.getsockname()[1], workers)
            return r.status, r.getheader("ETag") or "", json.loads(body) if body else None, who
        finally:
            conn.close()

    # concurrent connections, so both workers take some (sequential ones often all go to one)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda _: feed(), range(40)))
    assert {f[3] for f in first} == set(workers)  # both workers answered
    assert len({f[1] for f in first}) == 1  # … with the same tag
    etag = first[0][1]
    assert {feed(etag)[0] for _ in range(8)} == {304}

    from api.ops.sources import load_source

    p = load_source().hierarchy.get(MICRO).geometry.representative_point()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = {"lon": p.x, "lat": p.y, "category": "群众诉求", "description": "路灯不亮"}
    conn.request(
        "POST",
        "/api/v1/incidents",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    new_id = json.loads(conn.getresponse().read())["id"]
    conn.close()
    t0 = time.monotonic()
    seen: set[int | None] = set()
    while seen != set(workers):
        status, new_tag, data, who = feed(etag)
        assert status == 200 and new_tag != etag and data is not None
        assert new_id in [i["id"] for i in data["items"]]
        seen.add(who)
        assert time.monotonic() - t0 < 2.0


#: Every HTML page a logged-in user can open, with an account that may open it and the name and
#: role label the shared header (layers/header.py) must show. ``WORKER``: the person the sample
#: routes reports in MICRO to (their name comes from the roster).
WORKER = "worker"
PAGES = [
    ("/maps/", "viewer", "viewer", "查看者"),
    (f"/maps/dispatch/{COMMUNITY}", "dispatcher", "dispatcher", "调度员"),
    (f"/maps/coverage/{COMMUNITY}", "planner", "planner", "规划员"),
    (f"/maps/coverage/{COMMUNITY}?version=1", "admin", "admin", "管理员"),
    (f"/maps/assignment/{COMMUNITY}", "viewer", "viewer", "查看者"),
    (f"/maps/incidents/{COMMUNITY}", "dispatcher", "dispatcher", "调度员"),
    (f"/maps/stats/{COMMUNITY}", "admin", "admin", "管理员"),
    (f"/maps/plan/{COMMUNITY}", "planner", "planner", "规划员"),
    (f"/maps/plan/{COMMUNITY}/diff?from=1&to=1", "planner", "planner", "规划员"),
    ("/maps/city", "dispatcher", "dispatcher", "调度员"),
    ("/m/", WORKER, None, "网格员"),
    (f"/maps/dispatch/{COMMUNITY}", WORKER, None, "网格员"),
    (f"/maps/incidents/{COMMUNITY}", WORKER, None, "网格员"),
]


@pytest.mark.parametrize(("path", "user", "name", "role"), PAGES)
def test_every_page_shows_who_is_logged_in_and_a_working_logout(
    api: Api, path: str, user: str, name: str | None, role: str
) -> None:
    c = api.client
    if user == WORKER:
        service = c.app.state.service
        person = report(api)["assignee"]["person_id"]
        user = person
        name = next(p.name for p in service.posts() if p.person_id == person)
    c.cookies.set("weiwang_token", api.token(user))
    r = c.get(path, follow_redirects=False)
    assert r.status_code == 200, r.text[:300]
    html = r.text
    assert html.count('id="ww-userbar"') == 1  # one shared fragment, not a copy per page
    bar = html[html.index('<nav class="ww-userbar"') :]
    bar = bar[: bar.index("</nav>")]
    assert f'当前用户：<b id="ww-user">{name}' in bar and f">{role}</span>）" in bar
    assert 'href="/maps/logout"' in bar and "退出登录" in bar
    assert "<script" not in bar  # nothing inline: it works under the pages' CSP
    if role == "网格员" and path != "/m/":  # workers report where they stand (/m/), not on a map
        assert "点击地图任意位置上报" not in html and '"canReport":false' in html
    # the logout page forgets the token (logout.js, same origin) and the response drops the cookie
    out = c.get("/maps/logout")
    assert out.status_code == 200 and "/static/weiwang/logout.js" in out.text
    assert "default-src 'self'" in out.headers["content-security-policy"]
    assert any(
        h.startswith("weiwang_token=") and ("Max-Age=0" in h or "expires=" in h.lower())
        for h in out.headers.get_list("set-cookie")
    )
    c.cookies.clear()
    again = c.get(path, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/maps/login?next=")


def _feed(api: Api, user: str = "dispatcher", etag: str | None = None):
    headers = api.as_(user) | ({"If-None-Match": etag} if etag else {})
    return api.client.get(f"/api/v1/feed/incidents?community={COMMUNITY}", headers=headers)


def test_an_unchanged_feed_is_a_304_without_reading_incidents(api: Api) -> None:
    """The 304 is decided from the newest event id, the versions, the roster and the caller: no
    statement of that request reads the incidents table (the list is not built)."""
    import re

    from sqlalchemy import event

    report(api)
    first = _feed(api)
    assert first.status_code == 200 and first.json()["total"] >= 1
    etag = first.headers["etag"]
    statements: list[str] = []
    engine = api.client.app.state.service.engine

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        again = _feed(api, etag=etag)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert any("incident_events" in s for s in statements)  # the one cheap look-up …
    assert not [s for s in statements if re.search(r"\bincidents\b", s)]  # … and no list
    # a weak or listed tag holds too; another caller's tag does not (visibility, privacy)
    assert _feed(api, etag=f'"x", W/{etag}').status_code == 304
    assert _feed(api, "viewer", etag=etag).status_code == 200
    # any change (an action appends an event) gives the new list under a new tag
    inc = report(api, description="井盖缺失")
    changed = _feed(api, etag=etag)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert inc["id"] in [i["id"] for i in changed.json()["items"]]
    r = act(api, inc["id"], "dispatcher", action="void", reason="重复上报")
    assert r.status_code == 200, r.text
    after = _feed(api, etag=changed.headers["etag"])
    assert after.status_code == 200
    assert next(i for i in after.json()["items"] if i["id"] == inc["id"])["state"] == "无效"


def test_the_feed_tag_lapses_when_a_deadline_passes(api: Api, clock: Clock) -> None:
    """Nothing is written when an incident turns overdue: the tag holds only until the earliest
    running deadline, then the list is rebuilt with ``overdue`` true."""
    inc = report(api, category="应急管理风险隐患")  # 4 h (the date, also in the tag, stays the same)
    first = _feed(api)
    etag = first.headers["etag"]
    assert not next(i for i in first.json()["items"] if i["id"] == inc["id"])["overdue"]
    clock.advance(hours=3, minutes=59)
    assert _feed(api, etag=etag).status_code == 304
    clock.advance(minutes=2)
    late = _feed(api, etag=etag)
    assert late.status_code == 200 and late.headers["etag"] != etag
    assert next(i for i in late.json()["items"] if i["id"] == inc["id"])["overdue"]
    assert _feed(api, etag=late.headers["etag"]).status_code == 304


def test_a_refused_page_shows_whose_account_was_refused_and_a_logout(api: Api) -> None:
    """The HTML error page of a map path carries the same header: a grid worker refused another
    community's map sees who is logged in and can log out to switch accounts."""
    c = api.client
    worker = report(api)["assignee"]["person_id"]
    c.cookies.set("weiwang_token", api.token(worker))
    r = c.get("/maps/incidents/510116004002", headers={"Accept": "text/html"})
    assert r.status_code == 403 and "只能查看本社区的地图" in r.text
    assert r.text.count('id="ww-userbar"') == 1 and f"（{worker}）" in r.text
    assert ">网格员</span>" in r.text and 'href="/maps/logout"' in r.text
    r = c.get("/maps/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.text.count('id="ww-userbar"') == 1
    c.cookies.clear()
    r = c.get("/maps/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and 'id="ww-userbar"' not in r.text  # not logged in: no header
