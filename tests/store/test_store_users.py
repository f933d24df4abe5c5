"""Accounts and login attempts (throttling shared by all workers through the database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from store import db
from store.dberrors import Conflict
from store.users import create_user, get_user, prune_logins, recent_failures, record_login, set_user

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_create_get_update_and_duplicate(engine) -> None:
    with db.write(engine) as conn:
        uid = create_user(conn, "dispatcher1", "$argon2id$fake", "调度员")
    with pytest.raises(Conflict), db.write(engine) as conn:
        create_user(conn, "dispatcher1", "$argon2id$other", "查看者")
    with db.write(engine) as conn:
        set_user(conn, "dispatcher1", active=False)
    with db.read(engine) as conn:
        user = get_user(conn, "dispatcher1")
        assert get_user(conn, "nobody") is None
    assert (user["id"], user["app_role"], user["active"], user["password_hash"]) == (
        uid,
        "调度员",
        False,
        "$argon2id$fake",
    )


def test_an_unknown_app_role_is_refused_by_the_schema(engine) -> None:
    with pytest.raises(IntegrityError), db.write(engine) as conn:
        create_user(conn, "x", "h", "超级用户")


def test_recent_failures_count_since_the_last_success_within_the_window(engine) -> None:
    with db.write(engine) as conn:
        for minutes, ok in [(-20, False), (-4, False), (-3, True), (-2, False), (-1, False)]:
            record_login(conn, "u", ok, NOW + timedelta(minutes=minutes))
        record_login(conn, "other", False, NOW)
    with db.read(engine) as conn:
        assert recent_failures(conn, "u", 300, now=NOW) == 2
        assert recent_failures(conn, "u", 90, now=NOW) == 1
        assert recent_failures(conn, "u", 60, now=NOW) == 0  # the window (now - 60 s, now] excludes -60 s
    with db.write(engine) as conn:
        assert prune_logins(conn, NOW - timedelta(minutes=10)) == 1
