"""Accounts: log in for a token, and preparing a database (migrate; sample data and demo accounts).

Demo accounts are created only together with the sample data (never on a database seeded otherwise):

| user | password | role |
|---|---|---|
| admin | admin-demo | admin |
| dispatcher | dispatch-demo | 调度员 |
| planner | planner-demo | 规划员 |
| viewer | viewer-demo | 查看者 |
| every person in people.csv, by person_id | worker-demo | 网格员 |
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from api.ops.service import Service
from api.ops.tokens import hash_password, issue_token, verify_password
from api.settings import Settings
from geo.errors import WeiwangError
from store import db
from store.models import communities, people, users
from store.users import create_user, get_user, recent_failures, record_login

DEMO_ACCOUNTS = (
    ("admin", "admin-demo", "admin"),
    ("dispatcher", "dispatch-demo", "调度员"),
    ("planner", "planner-demo", "规划员"),
    ("viewer", "viewer-demo", "查看者"),
)
SAMPLE_COMMUNITIES = ("510116004001", "510116004002")
WORKER_PASSWORD = "worker-demo"  # noqa: S105 (documented demo password, sample data only)


def holds_only_sample(conn: Connection) -> bool:
    """True when the database holds exactly the sample communities (so demo accounts may exist)."""
    codes = {r[0] for r in conn.execute(select(communities.c.code))}
    return codes == set(SAMPLE_COMMUNITIES)


def create_demo_accounts(conn: Connection) -> int:
    """Create the demo accounts if there are no users yet; returns how many were made."""
    if conn.execute(select(users.c.id).limit(1)).first():
        return 0
    n = 0
    for username, password, role in DEMO_ACCOUNTS:
        create_user(conn, username, hash_password(password), role)
        n += 1
    worker_hash = hash_password(WORKER_PASSWORD)  # one hash (one salt) for all: demo data only
    for (pid,) in conn.execute(select(people.c.id).order_by(people.c.id)):
        create_user(conn, pid, worker_hash, "网格员", person_id=pid)
        n += 1
    return n


class Throttled(WeiwangError):
    code = "throttled"


class BadLogin(WeiwangError):
    code = "unauthorized"


def login(service: Service, username: str, password: str) -> dict[str, Any]:
    """A bearer token for a correct username and password; failures are recorded and, past
    ``login_max_failures`` within ``login_window_s``, the username is throttled (across workers)."""
    s = service.settings
    with db.write(service.engine) as conn:
        if recent_failures(conn, username, s.login_window_s) >= s.login_max_failures:
            raise Throttled(
                f"登录失败次数过多，请 {s.login_window_s // 60} 分钟后再试",
                "too many failed logins; try again later",
                field="username",
            )
        row = get_user(conn, username)
        ok = bool(row and row["active"] and verify_password(row["password_hash"], password))
        record_login(conn, username, ok)
    if not ok or row is None:
        raise BadLogin("用户名或密码错误", "wrong username or password", field="password")
    token = issue_token(s.secret_key, row["id"], row["app_role"], s.token_ttl_s)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_at": datetime.fromtimestamp(datetime.now(UTC).timestamp() + s.token_ttl_s, UTC).isoformat(),
        "user": {
            "id": row["id"],
            "username": row["username"],
            "role": row["app_role"],
            "person_id": row["person_id"],
        },
    }


def prepare_database(settings: Settings | None = None) -> bool:
    """Migrate; with ``seed_sample``, load the sample data and demo accounts into an empty
    database. True if it seeded now. Only ``weiwang serve`` and ``weiwang db seed`` call this:
    commands that read never seed or create accounts."""
    from store.seed import ensure_seeded

    settings = settings or Settings()
    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine)
        seeded = False
        if settings.seed_sample:
            seeded = ensure_seeded(engine, settings.data_dir)
            with db.write(engine) as conn:
                if seeded or holds_only_sample(conn):
                    create_demo_accounts(conn)
        return seeded
    finally:
        engine.dispose()
