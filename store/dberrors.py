"""Errors of the database repositories (stable codes, zh-CN + en messages).

``conflict`` maps to HTTP 409 in ``api/errors.py``; missing rows raise :class:`geo.errors.NotFound`.
"""

from __future__ import annotations

from geo.errors import WeiwangError


class Conflict(WeiwangError):
    """The row changed under us (optimistic concurrency), or the action clashes with its state
    (publishing a version that is not a draft, a duplicate code or id)."""

    code = "conflict"


class DatabaseUnavailable(WeiwangError):
    """The database cannot be reached or is restarting (PostgreSQL down, a connection cut, a
    SpatiaLite file locked past its busy timeout): try again shortly. Raised by :func:`store.db.read`
    and :func:`store.db.write` in place of the driver's error; nothing was committed."""

    code = "database_unavailable"
