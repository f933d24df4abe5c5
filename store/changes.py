"""Change counters of the reference data a running service keeps in memory.

Each kind — the roster (``people``, ``role_assignments``), time limits, accounts (``users``) — has
one row in ``change_counters`` that triggers bump on every insert, update or delete of its tables
(migration 0007), whoever writes: this process, another worker, a CLI command, a notebook. A
served worker reads the counters every poll (one tiny query) and reloads a kind only when its
counter moved (:meth:`api.ops.service.Service.refreshed`), instead of reloading everything on a
timer. Bumps are made in the writer's transaction, so a reader never sees the new rows without the
new count.
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from store.models import change_counters

ROSTER = "roster"
TIME_LIMITS = "time_limits"
USERS = "users"

_READ = select(change_counters.c.name, change_counters.c.n)


def read_counters(conn: Connection) -> dict[str, int] | None:
    """Every counter by name; None when the database has none (a schema before migration 0007:
    the caller falls back to reloading on a timer)."""
    try:
        with conn.begin_nested():
            return {name: int(n) for name, n in conn.execute(_READ)}
    except DBAPIError:
        return None
