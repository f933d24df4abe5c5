"""First-start seeding: load the sample communities into an empty database.

:func:`ensure_seeded` reads the sample layout of ``data/boundaries/`` — ``grids.geojson``,
``elements.geojson``, ``people.csv``, ``party_orgs.json`` (SYNTHETIC data, see the folder's
README) — and stores every community found as **version 1, published, valid from 2026-01-01 00:00
China Standard Time** (:data:`SEED_VALID_FROM`), with its people, posts and party organisations.

Idempotent: it does nothing once any community exists. Everything happens in one write
transaction (on PostgreSQL under an advisory lock), so two workers starting together seed once.
Sample files are small and trusted, so they are read with json/csv/shapely directly.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Engine, select, text

from geo.elements import Element
from geo.hierarchy import Grid, Level
from geo.roles import Post, Role
from geo.times import CST
from store import db
from store.importing import prepare, write_draft
from store.models import communities
from store.people import add_party_org, add_posts, upsert_person
from store.versions import publish

#: When the sample layers came into force.
SEED_VALID_FROM = datetime.combine(date(2026, 1, 1), time(0, 0), tzinfo=CST)
#: Arbitrary constant for pg_advisory_xact_lock: "seeding weiwang".
_SEED_LOCK = 0x5EED_3E1


def _features(path: Path) -> list[tuple[dict[str, Any], Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(f.get("properties") or {}, shape(f["geometry"])) for f in doc.get("features", [])]


def read_sample(data_dir: str | Path) -> dict[str, Any]:
    """The sample files as geo objects: grids, elements, people rows, party organisations."""
    d = Path(data_dir)
    grids = [Grid.from_properties(p, g) for p, g in _features(d / "grids.geojson")]
    elements = (
        [Element.from_properties(p, g) for p, g in _features(d / "elements.geojson")]
        if (d / "elements.geojson").exists()
        else []
    )
    people_rows: list[dict[str, str]] = []
    if (d / "people.csv").exists():
        with (d / "people.csv").open(encoding="utf-8-sig", newline="") as fh:
            people_rows = list(csv.DictReader(fh))
    orgs = (
        json.loads((d / "party_orgs.json").read_text(encoding="utf-8"))
        if (d / "party_orgs.json").exists()
        else []
    )
    return {"grids": grids, "elements": elements, "people": people_rows, "party_orgs": orgs}


def ensure_seeded(engine: Engine, data_dir: str | Path = "data/boundaries") -> bool:
    """Seed an empty (already migrated) database from ``data_dir``; True if it seeded now.

    Returns False without reading any file when a community already exists.
    """
    with db.read(engine) as conn:
        if conn.execute(select(communities.c.code).limit(1)).first() is not None:
            return False
    sample = read_sample(data_dir)
    codes = [g.code for g in sample["grids"] if g.level is Level.COMMUNITY]
    prepared = [
        prepare(
            sample["grids"],
            code,
            elements=sample["elements"],
            source=f"{Path(data_dir).name}/grids.geojson",
        )
        for code in codes
    ]
    with db.write(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEED_LOCK})
        if conn.execute(select(communities.c.code).limit(1)).first() is not None:
            return False
        for p in prepared:
            version = write_draft(conn, p, author="seed", note="样例数据（合成）synthetic sample data")
            publish(conn, p.community_code, version.number, at=SEED_VALID_FROM, force=True)
        _seed_people(conn, sample["people"])
        for o in sample["party_orgs"]:
            add_party_org(
                conn,
                o["code"],
                o["name"],
                o["type"],
                o["community_code"],
                o.get("grid_codes") or [],
                parent_code=o.get("parent_code"),
                element_id=o.get("element_id"),
            )
    return True


def post_from_row(row: dict[str, str], *, valid_from: date | None = None) -> Post:
    """A roster row of ``people.csv`` (``person_id,name,phone,role,grid_code,…``) as a :class:`Post`."""
    return Post(
        person_id=row["person_id"],
        name=row.get("name") or "",
        role=Role(row["role"]),
        grid_code=row["grid_code"],
        phone=row.get("phone") or None,
        valid_from=valid_from,
        note=row.get("note") or "",
    )


def _seed_people(conn: Any, rows: list[dict[str, str]]) -> None:
    by_community: dict[str | None, list[Post]] = {}
    for r in rows:
        community = r.get("community_code") or None
        upsert_person(
            conn, r["person_id"], r.get("name") or "", phone=r.get("phone") or None, community_code=community
        )
        by_community.setdefault(community, []).append(post_from_row(r, valid_from=SEED_VALID_FROM.date()))
    for community, posts in by_community.items():
        add_posts(conn, posts, community_code=community)
