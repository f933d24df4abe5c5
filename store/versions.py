"""Communities and their layer versions (MapIt-style generations, with dates).

A version is ``draft`` until published. :func:`publish` is one transaction: the old published
version becomes ``retired`` with ``valid_to = at``, the draft becomes ``published`` with
``valid_from = at``; a reader sees one or the other, never a mix, and a partial unique index keeps
at most one published version per community. Validity is half-open ``[valid_from, valid_to)``:
at the switch instant the new version is in force.

Every function takes an open :class:`~sqlalchemy.Connection` inside a transaction (see
:func:`store.db.write` / :func:`store.db.read`); none commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, text, update

from geo.errors import NotFound
from geo.times import as_instant
from store.dberrors import Conflict
from store.models import DRAFT, PUBLISHED, RETIRED, communities, layer_versions

#: How a person reads a version's state: one table for the CLI, the maps and the printed sheet.
STATE_LABELS: dict[str, str] = {DRAFT: "草稿", PUBLISHED: "现行", RETIRED: "已停用"}


@dataclass(frozen=True, slots=True)
class Version:
    """One stored layer version of one community."""

    id: int
    community_code: str
    number: int
    state: str
    valid_from: datetime | None
    valid_to: datetime | None
    author: str
    note: str
    source: str
    source_crs: str
    validation: dict[str, Any] | None
    created_at: datetime
    published_by: str | None = None
    published_at: datetime | None = None
    override_reason: str | None = None
    override_findings: list[dict[str, Any]] | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> Version:
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__slots__})  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no findings list)."""
        summary = (self.validation or {}).get("summary")
        return {
            "id": self.id,
            "community_code": self.community_code,
            "number": self.number,
            "state": self.state,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "author": self.author,
            "note": self.note,
            "source": self.source,
            "validation": summary,
            "created_at": self.created_at.isoformat(),
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "override": self.override(),
        }

    def override(self) -> dict[str, Any] | None:
        """The override recorded at publish (who, when, reason, the blocking findings), or None
        when the version was published with no blocking finding (or is not published)."""
        if self.override_reason is None:
            return None
        return {
            "reason": self.override_reason,
            "by": self.published_by,
            "at": self.published_at.isoformat() if self.published_at else None,
            "findings": list(self.override_findings or []),
        }


# -- communities -------------------------------------------------------------------------------


def ensure_community(conn: Connection, code: str, name: str, kind: str = "社区") -> bool:
    """Create the community if absent; True when created. An existing row is left unchanged."""
    if conn.execute(select(communities.c.code).where(communities.c.code == code)).first():
        return False
    conn.execute(
        insert(communities).values(code=code, name=name or code, kind=kind, created_at=datetime.now(UTC))
    )
    return True


def list_communities(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(communities).order_by(communities.c.code))
    return [dict(r._mapping) for r in rows]


def _lock_community(conn: Connection, code: str) -> None:
    """Serialise writers of one community's versions (a row lock on PostgreSQL; SQLite writers are
    already serialised by BEGIN IMMEDIATE)."""
    row = conn.execute(select(communities.c.code).where(communities.c.code == code).with_for_update()).first()
    if row is None:
        raise NotFound(f"社区不存在：{code}", f"no community {code}", field="community")


# -- versions ----------------------------------------------------------------------------------


def create_draft(
    conn: Connection,
    community_code: str,
    *,
    author: str = "",
    note: str = "",
    source: str = "",
    source_crs: str = "",
    validation: dict[str, Any] | None = None,
) -> Version:
    """A new empty draft numbered one above the community's highest version."""
    _lock_community(conn, community_code)
    top = conn.execute(
        select(func.max(layer_versions.c.number)).where(layer_versions.c.community_code == community_code)
    ).scalar()
    new_id = conn.execute(
        insert(layer_versions)
        .values(
            community_code=community_code,
            number=(top or 0) + 1,
            state=DRAFT,
            author=author,
            note=note,
            source=source,
            source_crs=source_crs,
            validation=validation,
            created_at=datetime.now(UTC),
        )
        .returning(layer_versions.c.id)
    ).scalar_one()
    return get_version_by_id(conn, new_id)


def get_version_by_id(conn: Connection, version_id: int) -> Version:
    row = conn.execute(select(layer_versions).where(layer_versions.c.id == version_id)).first()
    if row is None:
        raise NotFound(f"版本不存在：{version_id}", f"no layer version with id {version_id}", field="version")
    return Version.from_row(row)


def get_version(conn: Connection, community_code: str, number: int | None = None) -> Version:
    """Version ``number`` of a community, or its published version when ``number`` is None."""
    if number is None:
        v = published_version(conn, community_code)
        if v is None:
            raise NotFound(
                f"社区 {community_code} 没有已发布的版本",
                f"community {community_code} has no published version",
                field="version",
            )
        return v
    row = conn.execute(
        select(layer_versions).where(
            layer_versions.c.community_code == community_code, layer_versions.c.number == number
        )
    ).first()
    if row is None:
        raise NotFound(
            f"社区 {community_code} 没有第 {number} 版",
            f"community {community_code} has no version {number}",
            field="version",
        )
    return Version.from_row(row)


def list_versions(conn: Connection, community_code: str) -> list[Version]:
    rows = conn.execute(
        select(layer_versions)
        .where(layer_versions.c.community_code == community_code)
        .order_by(layer_versions.c.number)
    )
    return [Version.from_row(r) for r in rows]


def list_all_versions(conn: Connection) -> list[Version]:
    """Every version of every community, by community code and number."""
    rows = conn.execute(
        select(layer_versions).order_by(layer_versions.c.community_code, layer_versions.c.number)
    )
    return [Version.from_row(r) for r in rows]


def published_version(conn: Connection, community_code: str) -> Version | None:
    row = conn.execute(
        select(layer_versions).where(
            layer_versions.c.community_code == community_code, layer_versions.c.state == PUBLISHED
        )
    ).first()
    return Version.from_row(row) if row else None


def published_versions(conn: Connection) -> list[Version]:
    """The published version of every community, by community code."""
    rows = conn.execute(
        select(layer_versions)
        .where(layer_versions.c.state == PUBLISHED)
        .order_by(layer_versions.c.community_code)
    )
    return [Version.from_row(r) for r in rows]


def fingerprint(conn: Connection) -> tuple[int, ...]:
    """Ids of the published versions: changes exactly when something is published (cheap to poll)."""
    rows = conn.execute(
        select(layer_versions.c.id).where(layer_versions.c.state == PUBLISHED).order_by(layer_versions.c.id)
    )
    return tuple(r[0] for r in rows)


#: PostgreSQL advisory lock key ordering publishes against report writes (see :func:`hold_switch`).
SWITCH_LOCK_KEY = 0x57_57_53_57_49_54_43_48  # "WWSWITCH"
#: Blocking findings named in a refusal (the rest are counted).
NAMED_FINDINGS = 20
#: Overridden findings stored with a version (the count is in its validation summary).
MAX_OVERRIDE_FINDINGS = 200


def hold_switch(conn: Connection, *, exclusive: bool, wait: bool = True) -> bool:
    """Hold the layer-switch lock until the transaction ends: exclusive for a publish, shared for a
    report being stored (:func:`store.inforce.check_located`). So a report's write either commits
    before a publish chooses its ``valid_from`` or sees the publish committed — never in between.
    On SQLite ``BEGIN IMMEDIATE`` already serialises every writer; this is a no-op there.

    ``wait=False``: only try (for a caller on an event loop); False when a publish holds it."""
    if conn.dialect.name != "postgresql":
        return True
    if wait:
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(text(f"SELECT {fn}(:key)"), {"key": SWITCH_LOCK_KEY})
        return True
    fn = "pg_try_advisory_xact_lock" if exclusive else "pg_try_advisory_xact_lock_shared"
    return bool(conn.execute(text(f"SELECT {fn}(:key)"), {"key": SWITCH_LOCK_KEY}).scalar())


def blocking_findings(v: Version) -> list[dict[str, Any]]:
    """The stored findings of ``v`` that block a publish (severity error), as ``{code, grids,
    message_zh, message_en}``; when the stored list was cut, only those stored are listed."""
    found = (v.validation or {}).get("findings") or []
    return [
        {
            "code": f.get("code"),
            "grids": list(f.get("grids") or []),
            "message_zh": f.get("message_zh", ""),
            "message_en": f.get("message_en", ""),
        }
        for f in found
        if f.get("severity") == "error"
    ]


def _named(findings: list[dict[str, Any]]) -> tuple[str, str]:
    parts = [f"{f['code']}（{'、'.join(f['grids'][:3]) or '—'}）" for f in findings[:NAMED_FINDINGS]]
    parts_en = [f"{f['code']} ({', '.join(f['grids'][:3]) or '-'})" for f in findings[:NAMED_FINDINGS]]
    more = len(findings) - NAMED_FINDINGS
    if more > 0:
        parts.append(f"另有 {more} 个")
        parts_en.append(f"{more} more")
    return "；".join(parts), "; ".join(parts_en)


def _refuse_rewriting_history(conn: Connection, old: Version, t: datetime) -> None:
    """A back-dated publish may not leave reports on a version no longer in force at their
    receipt: refused when reports received at or after ``t`` are already stored with ``old``."""
    from store.models import incidents

    late = conn.execute(
        select(func.count())
        .select_from(incidents)
        .where(incidents.c.layer_version_id == old.id, incidents.c.reported_at >= t)
    ).scalar_one()
    if late:
        raise Conflict(
            f"已有 {late} 条上报在 {t.isoformat()} 之后按第 {old.number} 版定位，发布时间不能早于它们",
            f"{late} reports received at or after {t.isoformat()} are stored with version {old.number}; "
            "publish from now or a later time",
            field="at",
        )


def publish(
    conn: Connection,
    community_code: str,
    number: int,
    *,
    at: datetime | date | None = None,
    force: bool = False,
    override_reason: str | None = None,
    by: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Version:
    """Publish draft ``number`` from ``at`` (default: now, read from ``clock`` *inside* this
    transaction after the switch lock); the previous version retires at the same instant.

    Refused (:class:`Conflict`) when the version is not a draft, when ``at`` is not after the
    current version's ``valid_from`` or is so far back that reports received since are already
    stored with the current version, or when the draft's stored validation has blocking findings
    (errors) and neither an ``override_reason`` nor ``force`` is given; the refusal names the
    findings. An override is recorded with the version: ``override_reason`` (empty with a bare
    ``force``), ``published_by`` = ``by``, ``published_at`` and the findings overridden.

    **When the switch happens**: with ``at`` None, ``valid_from`` is the clock read after
    :func:`hold_switch` (exclusive) and the community row lock, so every report stored before this
    transaction was received before ``valid_from`` (it stays with the old version, in force at its
    receipt) and every report stored after it is checked against the committed switch
    (:func:`store.inforce.check_located`). Run it inside one write transaction.
    """
    hold_switch(conn, exclusive=True)
    _lock_community(conn, community_code)
    target = get_version(conn, community_code, number)
    if target.state != DRAFT:
        raise Conflict(
            f"第 {number} 版不是草稿（当前状态 {target.state}），不能发布",
            f"version {number} is {target.state}, only a draft can be published",
            field="version",
        )
    reason = override_reason.strip() if override_reason is not None else None
    blocking = blocking_findings(target)
    errors = max(int(((target.validation or {}).get("summary") or {}).get("errors", 0)), len(blocking))
    if errors and not reason and not force:
        zh, en = _named(blocking)
        raise Conflict(
            f"第 {number} 版有 {errors} 个阻断性问题，不能发布：{zh or '见校验结果'}。"
            "如确需发布，请填写越过原因（override_reason / --override-reason）",
            f"version {number} has {errors} blocking findings: {en or 'see its validation'}; "
            "to publish anyway give an override reason (override_reason / --override-reason)",
            field="override_reason",
            detail={"errors": errors, "findings": blocking[:NAMED_FINDINGS]},
        )
    now = as_instant(clock() if clock is not None else None)
    t = as_instant(at) if at is not None else now
    old = published_version(conn, community_code)
    if old is not None:
        if old.valid_from is not None and t <= old.valid_from:
            raise Conflict(
                f"发布时间 {t.isoformat()} 须晚于现行版本的生效时间 {old.valid_from.isoformat()}",
                f"publish time {t.isoformat()} must be after the current version's valid_from "
                f"{old.valid_from.isoformat()}",
                field="at",
            )
        if at is not None:
            _refuse_rewriting_history(conn, old, t)
        conn.execute(
            update(layer_versions).where(layer_versions.c.id == old.id).values(state=RETIRED, valid_to=t)
        )
    values: dict[str, Any] = {"state": PUBLISHED, "valid_from": t, "published_by": by, "published_at": now}
    if errors:
        values |= {"override_reason": reason or "", "override_findings": blocking[:MAX_OVERRIDE_FINDINGS]}
    conn.execute(update(layer_versions).where(layer_versions.c.id == target.id).values(**values))
    return get_version_by_id(conn, target.id)
