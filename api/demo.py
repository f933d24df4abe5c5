"""Demo accounts, created only together with the sample data (never on a database seeded otherwise).

| user | password | role |
|---|---|---|
| admin | admin-demo | admin |
| dispatcher | dispatch-demo | 调度员 |
| planner | planner-demo | 规划员 |
| viewer | viewer-demo | 查看者 |
| every person in people.csv, by person_id | worker-demo | 网格员 |
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from api.tokens import hash_password
from store.models import communities, people, users
from store.users import create_user

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
