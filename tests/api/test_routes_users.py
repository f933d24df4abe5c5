"""``/api/v1/users``: admins add, list, disable and re-enable accounts; nobody else may; a
disabled account is refused within the account cache TTL; no answer carries a password hash."""

from __future__ import annotations

from tests.api_fixtures import Api

NEW = {"username": "li.si", "password": "first-pass-1", "role": "dispatcher"}


def test_admin_adds_lists_and_disables(api: Api) -> None:
    r = api.post("/api/v1/users", "admin", json=NEW)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "调度员" and "password" not in r.text and "argon2" not in r.text
    listed = api.get("/api/v1/users", "admin").json()["items"]
    assert {u["username"] for u in listed} >= {"admin", "li.si", "viewer"}
    assert "argon2" not in api.get("/api/v1/users", "admin").text

    token = api.token("li.si", "first-pass-1")
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "li.si"
    r = api.client.patch("/api/v1/users/li.si", headers=api.as_("admin"), json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    # This process forgets the cached account at once (other workers within ACCOUNT_TTL_S).
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401 and "停用" in me.json()["error"]["message_zh"]
    login = api.client.post("/api/v1/auth/login", json={"username": "li.si", "password": "first-pass-1"})
    assert login.status_code == 401

    r = api.client.patch(
        "/api/v1/users/li.si", headers=api.as_("admin"), json={"active": True, "password": "second-pass-2"}
    )
    assert r.status_code == 200 and r.json()["active"] is True
    login = api.client.post("/api/v1/auth/login", json={"username": "li.si", "password": "second-pass-2"})
    assert login.status_code == 200


def test_only_admins(api: Api) -> None:
    for who in ("planner", "dispatcher", "viewer"):
        assert api.get("/api/v1/users", who).status_code == 403
        assert api.post("/api/v1/users", who, json=NEW).status_code == 403
    assert api.client.get("/api/v1/users").status_code == 401
    assert api.get("/api/v1/users", "admin").status_code == 200


def test_bad_input_is_a_4xx_naming_the_field(api: Api) -> None:
    cases = [
        ({**NEW, "role": "emperor"}, 422, "role"),
        ({**NEW, "password": "short"}, 422, "password"),
        ({**NEW, "username": "has space"}, 422, "username"),
        ({**NEW, "person_id": "P-none"}, 404, "person_id"),
        ({**NEW, "admin": True}, 422, None),
    ]
    for body, status, field in cases:
        r = api.post("/api/v1/users", "admin", json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["error"]["field"] == field, r.text
    assert api.post("/api/v1/users", "admin", json={**NEW, "username": "viewer"}).status_code == 409
    r = api.client.patch("/api/v1/users/viewer", headers=api.as_("admin"), json={"active": 0})
    assert r.status_code == 422
    r = api.client.patch("/api/v1/users/admin", headers=api.as_("admin"), json={"active": False})
    assert r.status_code == 409 and "最后一个管理员" in r.json()["error"]["message_zh"]
    assert api.client.patch("/api/v1/users/nobody", headers=api.as_("admin"), json={}).status_code == 404


def test_disabling_reaches_another_worker_within_the_account_ttl(db_url: str) -> None:
    """Two services on one database stand for two worker processes: the one that did not disable
    the account refuses its token once its cached row is older than ACCOUNT_TTL_S."""
    import time

    import pytest

    from api.ops import users
    from api.ops.access import authenticate
    from api.ops.accounts import login
    from api.ops.service import ACCOUNT_TTL_S, Service
    from api.ops.tokens import Unauthorized
    from api.settings import Settings
    from store import db

    settings = Settings(database_url=db_url, secret_key="shared")
    one, two = (Service(settings, db.make_engine(db_url)) for _ in range(2))
    try:
        users.add_user(one, "root", "root-password", "admin")
        users.add_user(one, "wang", "wang-password", "viewer")
        token = login(two, "wang", "wang-password")["access_token"]
        assert authenticate(two, token).username == "wang"  # now cached in "two"
        users.update_user(one, "wang", active=False, by="user:root")
        with pytest.raises(Unauthorized):
            authenticate(one, token)
        time.sleep(ACCOUNT_TTL_S + 0.1)
        with pytest.raises(Unauthorized):
            authenticate(two, token)
    finally:
        one.engine.dispose()
        two.engine.dispose()
