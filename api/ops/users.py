"""Accounts managed by an administrator: add, change a password, disable or enable, list.

The first admin of a new site comes from the CLI (``weiwang users add``: whoever can run it on the
server can already read the database); every later account also through the admin API
(``/api/v1/users``). Passwords are hashed here (Argon2id) and never stored, logged or echoed. A
disabled account is refused by every worker within :data:`api.ops.service.ACCOUNT_TTL_S`; this
process forgets the cached row at once. The last active admin cannot be disabled or demoted, so a
site never locks itself out.
"""

from __future__ import annotations

import re
from typing import Any

from api.ops.service import Service
from api.ops.tokens import hash_password
from dispatch import AppRole
from dispatch.errors import InvalidInput
from geo.errors import NotFound
from store import db
from store.dberrors import Conflict

#: A username: letters (any script), digits and ``. _ - @``; 1–64 characters.
USERNAME_RE = re.compile(r"^[\w.@-]{1,64}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256


def parse_role(text: str) -> AppRole:
    """An app role from its Chinese name (规划员) or English key (planner)."""
    t = text.strip()
    for role in AppRole:
        if t in (role.value, role.key):
            return role
    names = "、".join(f"{r.value}({r.key})" for r in AppRole)
    raise InvalidInput(f"未知角色：{t[:32]}（可用 {names}）", f"unknown role {t[:32]!r}", field="role")


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "用户名须为 1–64 个字母、数字或 . _ - @",
            "username must be 1-64 letters, digits or . _ - @",
            field="username",
        )
    return username


def check_password(password: str) -> str:
    """A password of 8–256 characters without control characters (it is never echoed back)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(
            f"密码长度须为 {PASSWORD_MIN}–{PASSWORD_MAX} 个字符",
            f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters",
            field="password",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise InvalidInput(
            "密码不能含控制字符", "password must not contain control characters", field="password"
        )
    return password


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """An account as the API and CLI show it (never the hash)."""
    created = row.get("created_at")
    return {
        "id": row["id"],
        "username": row["username"],
        "role": row["app_role"],
        "role_key": AppRole(row["app_role"]).key,
        "person_id": row["person_id"],
        "active": bool(row["active"]),
        "created_at": created.isoformat() if created is not None else None,
    }


def _audit(conn: Any, by: str, action: str, username: str, before: Any, after: Any) -> None:
    from store.audit import record

    record(conn, actor=by, action=action, entity="user", entity_id=username, before=before, after=after)


def _check_person(conn: Any, person_id: str | None) -> None:
    from sqlalchemy import select

    from store.models import people

    if (
        person_id is not None
        and conn.execute(select(people.c.id).where(people.c.id == person_id)).first() is None
    ):
        raise NotFound(f"人员不存在：{person_id[:64]}", f"no person {person_id[:64]}", field="person_id")


def add_user(
    service: Service,
    username: str,
    password: str,
    role: str | AppRole,
    *,
    person_id: str | None = None,
    by: str = "cli",
) -> dict[str, Any]:
    """A new active account; :class:`Conflict` if the username is taken."""
    from store.users import create_user, get_user

    check_username(username)
    check_password(password)
    app_role = role if isinstance(role, AppRole) else parse_role(role)
    pw_hash = hash_password(password)
    with db.write(service.engine) as conn:
        _check_person(conn, person_id)
        create_user(conn, username, pw_hash, app_role.value, person_id=person_id)
        row = get_user(conn, username)
        assert row is not None
        out = _public(row)
        _audit(conn, by, "user.add", username, None, {k: out[k] for k in ("role", "person_id", "active")})
    return out


def _row(conn: Any, username: str) -> dict[str, Any]:
    from store.users import get_user

    row = get_user(conn, username)
    if row is None:
        raise NotFound(f"用户不存在：{username[:64]}", f"no user {username[:64]}", field="username")
    return row


def _guard_last_admin(conn: Any, row: dict[str, Any], *, active: bool, role: AppRole) -> None:
    from store.users import count_active

    losing = (
        row["active"] and row["app_role"] == AppRole.ADMIN.value and (not active or role is not AppRole.ADMIN)
    )
    if losing and count_active(conn, AppRole.ADMIN.value) <= 1:
        raise Conflict(
            "不能停用或降级最后一个管理员账号",
            "cannot disable or demote the last active admin",
            field="username",
        )


def set_password(service: Service, username: str, password: str, *, by: str = "cli") -> dict[str, Any]:
    """Replace an account's password (tokens already issued stay valid until they expire)."""
    from store.users import set_user

    check_password(password)
    pw_hash = hash_password(password)
    with db.write(service.engine) as conn:
        row = _row(conn, username)
        set_user(conn, username, password_hash=pw_hash)
        _audit(conn, by, "user.passwd", username, None, None)
    return _public(row)


def update_user(
    service: Service,
    username: str,
    *,
    active: bool | None = None,
    role: str | AppRole | None = None,
    person_id: str | None = None,
    by: str = "cli",
) -> dict[str, Any]:
    """Disable/enable an account or change its role or person; takes effect on every worker within
    the account cache TTL (this process at once)."""
    from store.users import set_user

    values: dict[str, Any] = {}
    with db.write(service.engine) as conn:
        row = _row(conn, username)
        new_role = AppRole(row["app_role"])
        if role is not None:
            new_role = role if isinstance(role, AppRole) else parse_role(role)
            values["app_role"] = new_role.value
        if active is not None:
            values["active"] = active
        if person_id is not None:
            _check_person(conn, person_id or None)
            values["person_id"] = person_id or None
        _guard_last_admin(conn, row, active=values.get("active", row["active"]), role=new_role)
        if values:
            set_user(conn, username, **values)
        after = _row(conn, username)
        keys = ("app_role", "person_id", "active")
        _audit(
            conn,
            by,
            "user.update",
            username,
            {k: row[k] for k in keys},
            {k: after[k] for k in keys},
        )
    service.forget(("account", row["id"]))
    return _public(after)


def list_users(service: Service) -> list[dict[str, Any]]:
    """Every account, ordered by username (no password hashes)."""
    from store.users import list_users as load

    with db.read(service.engine) as conn:
        return [_public(r) for r in load(conn)]
