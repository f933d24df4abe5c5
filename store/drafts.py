"""Drafts that planners redraw: a draft version's grids change operation by operation, with an undo log.

A draft is a ``layer_versions`` row in state ``draft``; only while it is a draft may its grids and
its elements' micro-grid codes change (a published or retired version never changes). Each redraw
operation (:mod:`geo.redraw`) is written in one transaction with its ``draft_operations`` row: the
grids it replaced and the element codes it changed, so :func:`undo` restores exactly the draft
before it. After every change the draft's stored validation is refreshed, so the coverage map and
the publish guard see the draft as it is.

Codes ever used in a community (:func:`used_codes`) are the codes of every version's grids plus
every code an operation created, undone or not: a code is never reused for a different area.

Every function takes an open :class:`~sqlalchemy.Connection` inside a transaction; none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import Connection, delete, func, insert, select, update

from geo.elements import Element
from geo.errors import WeiwangError
from geo.hierarchy import Grid, Hierarchy, Level
from geo.redraw import Redraw, assign_elements
from geo.validate import ValidationOptions, summarize
from geo.validate import validate as run_validate
from store.dberrors import Conflict
from store.grids import insert_elements, insert_grids, load_elements, load_grids
from store.importing import MAX_STORED_FINDINGS
from store.models import DRAFT, draft_operations, household_bands, layer_versions
from store.models import elements as elements_t
from store.models import grids as grids_t
from store.people import party_orgs_of
from store.versions import Version, create_draft, get_version, get_version_by_id, published_version


@dataclass
class Draft:
    """A draft version with its grids and elements as read in one transaction."""

    version: Version
    grids: list[Grid]
    elements: list[Element]


def grid_to_json(g: Grid) -> dict[str, Any]:
    """A grid as a JSON-ready mapping (geometry as GeoJSON), for the undo log."""
    return g.properties() | {"geometry": mapping(g.geometry)}


def grid_from_json(d: dict[str, Any]) -> Grid:
    return Grid(
        code=d["code"],
        name=d["name"],
        level=Level(d["level"]),
        geometry=shape(d["geometry"]),
        parent_code=d.get("parent_code"),
        community_code=d.get("community_code"),
        kind=d.get("kind"),
        households=d.get("households"),
    )


def used_codes(conn: Connection, community_code: str) -> set[str]:
    """Every grid code a community's history has used (all versions, every operation's new codes)."""
    rows = conn.execute(
        select(grids_t.c.code)
        .join(layer_versions, grids_t.c.version_id == layer_versions.c.id)
        .where(layer_versions.c.community_code == community_code)
        .distinct()
    )
    codes = {r[0] for r in rows}
    ops = conn.execute(
        select(draft_operations.c.added)
        .join(layer_versions, draft_operations.c.version_id == layer_versions.c.id)
        .where(layer_versions.c.community_code == community_code)
    )
    for (added,) in ops:
        codes.update(added or [])
    return codes


def load_draft(conn: Connection, community_code: str, number: int, *, lock: bool = False) -> Draft:
    """Draft ``number`` of a community with its grids and elements; Conflict when not a draft.

    ``lock`` (in a write transaction, before changing the draft): hold the draft's version row until
    the transaction ends, so that what is read here is still the draft when the change is written.
    On PostgreSQL ``SELECT … FOR UPDATE`` (a second writer waits, then reads the first one's
    result); on SpatiaLite the write transaction already holds the database (``BEGIN IMMEDIATE``)."""
    v = get_version(conn, community_code, number)
    if lock:
        conn.execute(select(layer_versions.c.id).where(layer_versions.c.id == v.id).with_for_update())
        v = get_version_by_id(conn, v.id)
    if v.state != DRAFT:
        raise Conflict(
            f"第 {number} 版已{'发布' if v.state == 'published' else '停用'}，只能修改草稿",
            f"version {number} is {v.state}; only a draft can be redrawn",
            field="version",
        )
    return Draft(v, load_grids(conn, v.id), load_elements(conn, v.id))


class InvalidBand(WeiwangError):
    """A households band that is not ``0 ≤ lo ≤ hi`` or a level without bands (HTTP 422)."""

    code = "invalid_input"


#: The largest households bound a band may name (far above any grid; keeps values in an INTEGER).
MAX_HOUSEHOLDS = 1_000_000
#: The band of households per micro-grid unless a community sets its own (Chengdu practice).
DEFAULT_BANDS: dict[str, tuple[int, int]] = {"micro": (30, 100)}


def _require_community(conn: Connection, community_code: str) -> None:
    from geo.errors import NotFound
    from store.models import communities

    if conn.execute(select(communities.c.code).where(communities.c.code == community_code)).first() is None:
        raise NotFound(f"社区不存在：{community_code}", f"no community {community_code}", field="community")


def bands_of(conn: Connection, community_code: str) -> dict[str, tuple[int, int]]:
    """The households bands a community plans for, by level (``micro`` defaults to 30–100);
    NotFound for an unknown community."""
    _require_community(conn, community_code)
    rows = conn.execute(select(household_bands).where(household_bands.c.community_code == community_code))
    return {**DEFAULT_BANDS, **{r.level: (int(r.lo), int(r.hi)) for r in rows}}


def set_band(conn: Connection, community_code: str, level: str, band: tuple[int, int] | None) -> None:
    """Set (or, with None, reset to the default) a community's households band for ``level``."""
    if level not in ("micro", "general"):
        raise InvalidBand(
            f"层级无效：{level[:16]}（micro 或 general）", f"invalid level {level[:16]!r}", field="level"
        )
    if band is not None and not (0 <= band[0] <= band[1] <= MAX_HOUSEHOLDS):
        raise InvalidBand(
            f"户数范围无效：{band[0]}–{band[1]}", f"invalid band {band[0]}-{band[1]}", field=level
        )
    _require_community(conn, community_code)
    where = (household_bands.c.community_code == community_code, household_bands.c.level == level)
    conn.execute(delete(household_bands).where(*where))
    if band is not None:
        conn.execute(
            insert(household_bands).values(community_code=community_code, level=level, lo=band[0], hi=band[1])
        )


def validation_of(
    grids: Sequence[Grid],
    elements: Sequence[Element],
    party_orgs: Sequence[dict[str, Any]] | None = None,
    bands: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The validation stored with a version (the same shape an import stores); with the community's
    party organisations, their coverage of the micro-grids too (两网融合), and its households bands."""
    community = next((g.code for g in grids if g.level is Level.COMMUNITY), "")
    options = ValidationOptions(bands_by_community={community: bands} if bands else {})
    found = run_validate(Hierarchy(grids), elements=elements, party_orgs=party_orgs or None, options=options)
    return {"summary": summarize(found), "findings": [f.to_dict() for f in found][:MAX_STORED_FINDINGS]}


def _set_validation(conn: Connection, version_id: int, validation: dict[str, Any]) -> None:
    old = get_version_by_id(conn, version_id).validation or {}
    validation = {**validation, "warnings": old.get("warnings", [])}
    conn.execute(
        update(layer_versions).where(layer_versions.c.id == version_id).values(validation=validation)
    )


def new_draft(conn: Connection, community_code: str, *, author: str = "", note: str = "") -> Version:
    """A new draft copied from the community's published version: its grids, and its governance
    elements (posts refer to grids by code and so carry over as they are)."""
    pub = published_version(conn, community_code)
    if pub is None:
        from geo.errors import NotFound

        raise NotFound(
            f"社区 {community_code} 没有已发布的版本可作为草稿起点",
            f"community {community_code} has no published version to start a draft from",
            field="community",
        )
    grids = load_grids(conn, pub.id)
    elements = load_elements(conn, pub.id)
    v = create_draft(
        conn,
        community_code,
        author=author,
        note=note or f"由第 {pub.number} 版起草 (drafted from version {pub.number})",
        source=f"version:{pub.number}",
        source_crs="EPSG:4326",
        validation=validation_of(
            grids, elements, party_orgs_of(conn, community_code), bands_of(conn, community_code)
        ),
    )
    insert_grids(conn, v.id, grids, community_code=community_code)
    insert_elements(conn, v.id, elements, community_code=community_code)
    return get_version_by_id(conn, v.id)


def _same(a: Grid, b: Grid) -> bool:
    return (
        a.name == b.name
        and a.parent_code == b.parent_code
        and a.households == b.households
        and a.level is b.level
        and (a.geometry is b.geometry or shapely.equals_exact(a.geometry, b.geometry, 0.0))
    )


def _rewrite(conn: Connection, version_id: int, drop: Sequence[str], grids: Sequence[Grid]) -> None:
    if drop:
        conn.execute(
            delete(grids_t).where(grids_t.c.version_id == version_id, grids_t.c.code.in_(list(drop)))
        )
    insert_grids(conn, version_id, grids)


def _set_micro(conn: Connection, version_id: int, codes: dict[str, str | None]) -> None:
    for eid, code in codes.items():
        conn.execute(
            update(elements_t)
            .where(elements_t.c.version_id == version_id, elements_t.c.element_id == eid)
            .values(micro_code=code)
        )


def record(
    conn: Connection,
    draft: Draft,
    redraw: Redraw,
    *,
    params: dict[str, Any],
    author: str = "",
) -> dict[str, Any]:
    """Write one operation's result into the draft with its undo row; elements re-assigned to the
    micro-grids they now fall in, validation refreshed. Returns the operation as stored."""
    return record_draft(conn, draft, redraw, params=params, author=author)[0]


def record_draft(
    conn: Connection,
    draft: Draft,
    redraw: Redraw,
    *,
    params: dict[str, Any],
    author: str = "",
) -> tuple[dict[str, Any], Draft]:
    """:func:`record`, also answering the draft as now stored (grids ordered by code and elements
    by id, as :func:`load_draft` would read them back; the version as it was), so a caller need
    not read it again."""
    vid = draft.version.id
    old = {g.code: g for g in draft.grids}
    new = {g.code: g for g in redraw.grids}
    replaced = [g for c, g in old.items() if c not in new or not _same(g, new[c])]
    written = [g for c, g in new.items() if c not in old or not _same(old[c], g)]
    _rewrite(conn, vid, sorted({g.code for g in replaced} | {g.code for g in written}), written)
    where = assign_elements(redraw.grids, draft.elements)
    moved = {e.id: where[e.id] for e in draft.elements if where[e.id] != e.micro_code}
    before_elements = {e.id: e.micro_code for e in draft.elements if e.id in moved}
    _set_micro(conn, vid, moved)
    seq = (
        conn.execute(
            select(func.max(draft_operations.c.seq)).where(draft_operations.c.version_id == vid)
        ).scalar()
        or 0
    ) + 1
    row = {
        "version_id": vid,
        "seq": seq,
        "operation": redraw.operation,
        "params": params,
        "removed": list(redraw.removed),
        "added": list(redraw.added),
        "before_grids": [grid_to_json(g) for g in replaced],
        "after_codes": sorted(g.code for g in written),
        "before_elements": before_elements,
        "summary_zh": redraw.summary_zh,
        "summary_en": redraw.summary_en,
        "author": author,
        "at": datetime.now(UTC),
    }
    conn.execute(insert(draft_operations).values(**row))
    elements = [
        Element(
            e.id, e.type, e.name, e.geometry, e.households, e.community_code, moved.get(e.id, e.micro_code)
        )
        for e in draft.elements
    ]
    c = draft.version.community_code
    _set_validation(
        conn, vid, validation_of(redraw.grids, elements, party_orgs_of(conn, c), bands_of(conn, c))
    )
    after = Draft(draft.version, sorted(redraw.grids, key=lambda g: g.code), elements)
    return _op_dict(row) | {"elements_moved": len(moved)}, after


def _op_dict(m: Any) -> dict[str, Any]:
    at, undone = m["at"], m.get("undone_at")
    return {
        "seq": m["seq"],
        "operation": m["operation"],
        "params": m["params"],
        "removed": list(m["removed"] or []),
        "added": list(m["added"] or []),
        "summary_zh": m["summary_zh"],
        "summary_en": m["summary_en"],
        "author": m["author"],
        "at": at.isoformat() if at else None,
        "undone_at": undone.isoformat() if undone else None,
    }


def operations(conn: Connection, version_id: int) -> list[dict[str, Any]]:
    """The undo log of a draft, oldest first (undone operations included, marked)."""
    rows = conn.execute(
        select(draft_operations)
        .where(draft_operations.c.version_id == version_id)
        .order_by(draft_operations.c.seq)
    )
    return [_op_dict(r._mapping) for r in rows]


def undo(conn: Connection, community_code: str, number: int) -> dict[str, Any]:
    """Undo the draft's last operation not yet undone: its grids and element codes as before it."""
    draft = load_draft(conn, community_code, number, lock=True)
    vid = draft.version.id
    row = conn.execute(
        select(draft_operations)
        .where(draft_operations.c.version_id == vid, draft_operations.c.undone_at.is_(None))
        .order_by(draft_operations.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        raise Conflict(
            f"第 {number} 版草稿没有可撤销的操作", f"draft {number} has no operation to undo", field="version"
        )
    m = row._mapping
    before = [grid_from_json(d) for d in m["before_grids"] or []]
    _rewrite(conn, vid, sorted(set(m["after_codes"] or []) | {g.code for g in before}), before)
    _set_micro(conn, vid, dict(m["before_elements"] or {}))
    conn.execute(
        update(draft_operations).where(draft_operations.c.id == m["id"]).values(undone_at=datetime.now(UTC))
    )
    orgs, bands = party_orgs_of(conn, community_code), bands_of(conn, community_code)
    _set_validation(conn, vid, validation_of(load_grids(conn, vid), load_elements(conn, vid), orgs, bands))
    return _op_dict({**m, "undone_at": datetime.now(UTC)})


def draft_stamp(conn: Connection, version_id: int) -> tuple[int, int]:
    """What changes with every operation on a draft and every undo: (operations, undone), for a
    process to tell whether the draft it built is still the stored one."""
    row = conn.execute(
        select(func.count(), func.count(draft_operations.c.undone_at)).where(
            draft_operations.c.version_id == version_id
        )
    ).one()
    return int(row[0]), int(row[1])


def drafts_of(conn: Connection, community_code: str) -> list[Version]:
    """The community's drafts, newest first."""
    rows = conn.execute(
        select(layer_versions)
        .where(layer_versions.c.community_code == community_code, layer_versions.c.state == DRAFT)
        .order_by(layer_versions.c.number.desc())
    )
    return [Version.from_row(r) for r in rows]


def forget_built(layers: Any, version_id: int) -> None:
    """Drop every layer view ``layers`` (:class:`store.inforce.LayersInForce`) built from a version
    whose grids just changed: its cache assumes versions never change, which holds for everything
    but a draft being redrawn. Then re-read the version table."""
    layers.forget(version_id)
