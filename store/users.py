"""Application accounts and login attempts (throttling that holds across worker processes).

Passwords arrive here already hashed (the API hashes with argon2); this module never sees a
password. Functions take a connection inside a transaction and never commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from geo.errors import NotFound
from store.dberrors import Conflict
from store.models import login_attempts, users


def create_user(
    conn: Connection, username: str, password_hash: str, app_role: str, *, person_id: str | None = None
) -> int:
    """A new active account; :class:`Conflict` if the username is taken. Returns its id."""
    try:
        with conn.begin_nested():
            return int(
                conn.execute(
                    insert(users)
                    .values(
                        username=username,
                        password_hash=password_hash,
                        app_role=app_role,
                        person_id=person_id,
                        active=True,
                        created_at=datetime.now(UTC),
                    )
                    .returning(users.c.id)
                ).scalar_one()
            )
    except IntegrityError as exc:
        if get_user(conn, username) is not None:
            raise Conflict(
                f"用户名已存在：{username}", f"username {username} is taken", field="username"
            ) from exc
        raise


def get_user(conn: Connection, username: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    return dict(row._mapping) if row else None


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every account without its password hash, ordered by username."""
    cols = [c for c in users.c if c.name != "password_hash"]
    return [dict(r._mapping) for r in conn.execute(select(*cols).order_by(users.c.username))]


def count_active(conn: Connection, app_role: str) -> int:
    """How many active accounts hold ``app_role``."""
    q = select(func.count()).where(users.c.app_role == app_role, users.c.active.is_(True))
    return int(conn.execute(q).scalar_one())


def set_user(conn: Connection, username: str, **values: Any) -> None:
    """Change ``password_hash``, ``app_role``, ``person_id`` or ``active``; NotFound if absent."""
    if conn.execute(update(users).where(users.c.username == username).values(**values)).rowcount != 1:
        raise NotFound(f"用户不存在：{username}", f"no user {username}", field="username")


def record_login(conn: Connection, username: str, ok: bool, at: datetime | None = None) -> None:
    conn.execute(insert(login_attempts).values(username=username, ok=ok, at=at or datetime.now(UTC)))


def recent_failures(conn: Connection, username: str, window_s: int, now: datetime | None = None) -> int:
    """Failed logins of ``username`` in ``(now - window_s, now]`` and after its last success."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=window_s)
    last_ok = conn.execute(
        select(func.max(login_attempts.c.at)).where(
            login_attempts.c.username == username, login_attempts.c.ok.is_(True)
        )
    ).scalar()
    if last_ok is not None and last_ok > since:
        since = last_ok
    return int(
        conn.execute(
            select(func.count()).where(
                login_attempts.c.username == username,
                login_attempts.c.ok.is_(False),
                login_attempts.c.at > since,
            )
        ).scalar_one()
    )


def prune_logins(conn: Connection, older_than: datetime) -> int:
    """Forget attempts before ``older_than``; returns how many."""
    return int(conn.execute(delete(login_attempts).where(login_attempts.c.at < older_than)).rowcount)
