"""Access rules per role: grid workers see only their grids (others answer 404), viewers see
masked phones and cannot act, tokens are checked, logins are throttled."""

from __future__ import annotations

from tests.api.test_routes_incidents import MICRO, inside_point, micro_worker, report
from tests.api_fixtures import Api

OTHER = "510116004002001001"  # a micro-grid of 瓦窑村


def test_worker_of_grid_a_cannot_see_or_change_grid_b(api: Api) -> None:
    a = report(api, *inside_point(api, MICRO)).json()
    b = report(api, *inside_point(api, OTHER)).json()
    worker_a = micro_worker(api, MICRO)
    listed = {i["id"] for i in api.get("/api/v1/incidents", worker_a).json()["items"]}
    assert a["id"] in listed and b["id"] not in listed
    assert api.get(f"/api/v1/incidents/{a['id']}", worker_a).status_code == 200
    assert api.get(f"/api/v1/incidents/{b['id']}", worker_a).status_code == 404
    assert api.get(f"/api/v1/incidents/{b['id']}/events", worker_a).status_code == 404
    r = api.post(f"/api/v1/incidents/{b['id']}/actions", worker_a, json={"action": "start"})
    assert r.status_code == 404
    # and B is unchanged
    assert api.get(f"/api/v1/incidents/{b['id']}").json()["state"] == "已交办"


def test_general_grid_worker_sees_the_micro_grids_below(api: Api) -> None:
    a = report(api, *inside_point(api, MICRO)).json()
    posts = api.client.app.state.service.posts()
    general = MICRO[:15]
    gw = min(p.person_id for p in posts if p.grid_code == general and p.role.value == "一般网格员")
    assert api.get(f"/api/v1/incidents/{a['id']}", gw).status_code == 200


def test_viewer_sees_masked_phones_and_cannot_act(api: Api) -> None:
    inc = report(api, *inside_point(api, MICRO), reporter={"name": "王女士", "phone": "13912345678"}).json()
    full = api.get(f"/api/v1/incidents/{inc['id']}").json()
    masked = api.get(f"/api/v1/incidents/{inc['id']}", "viewer").json()
    assert full["resident"]["phone"] == "13912345678"
    assert masked["resident"]["phone"] == "139****5678"
    assert "****" in masked["assignee"]["phone"] and "****" not in full["assignee"]["phone"]
    r = api.post(f"/api/v1/incidents/{inc['id']}/actions", "viewer", json={"action": "accept"})
    assert r.status_code == 403
    assert report(api, *inside_point(api, MICRO), user="viewer").status_code == 403


def test_missing_forged_and_expired_tokens_are_401(api: Api) -> None:
    c = api.client
    assert c.get("/api/v1/incidents").status_code == 401
    assert c.get("/api/v1/incidents", headers={"Authorization": "Bearer abc.def"}).status_code == 401
    from api.ops.tokens import issue_token

    old = issue_token("test-secret", 1, "admin", 60, now=0)
    r = c.get("/api/v1/incidents", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and r.json()["error"]["message_en"] == "token expired"
    forged = issue_token("another-secret", 1, "admin", 3600)
    assert c.get("/api/v1/incidents", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_login_is_throttled_after_repeated_failures(api: Api) -> None:
    c = api.client
    for _ in range(5):
        r = c.post("/api/v1/auth/login", json={"username": "dispatcher", "password": "wrong"})
        assert r.status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "dispatcher", "password": "dispatch-demo"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "throttled"


def test_passwords_are_stored_hashed(api: Api) -> None:
    from store import db
    from store.users import get_user

    with db.read(api.client.app.state.service.engine) as conn:
        row = get_user(conn, "dispatcher")
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    assert "dispatch-demo" not in row["password_hash"]


def test_docs_are_served_offline(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "http://" not in page.text
    assert api.client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/incidents" in spec["paths"] and "/api/v1/locate" in spec["paths"]


def test_cookie_is_accepted_for_reads_only(api: Api) -> None:
    c = api.client
    c.cookies.set("weiwang_token", api.token("dispatcher"))
    try:
        assert c.get("/api/v1/incidents").status_code == 200
        body = {"lon": 104.08, "lat": 30.41, "category": "群众诉求", "description": "x"}
        assert c.post("/api/v1/incidents", json=body).status_code == 401
    finally:
        c.cookies.clear()
