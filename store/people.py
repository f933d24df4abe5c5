"""People, their posts on grids (四级工作机制) and party organisations over grids (两网融合).

Posts and party organisations refer to grids by code, stable across layer versions. Whether a post
is in force on a day is :meth:`geo.roles.Post.in_force` (``valid_from <= d < valid_to``, open ends
allowed), the one rule routing and access use too. Functions take a
connection inside a transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from geo.errors import NotFound
from geo.roles import Post, Role
from store.models import party_org_grids, party_orgs, people, role_assignments


def upsert_person(
    conn: Connection,
    person_id: str,
    name: str,
    *,
    phone: str | None = None,
    community_code: str | None = None,
    note: str = "",
) -> None:
    """Create a person, or update name/phone/community/note of an existing one."""
    values = {"name": name, "phone": phone, "community_code": community_code, "note": note}
    found = conn.execute(select(people.c.id).where(people.c.id == person_id)).first()
    if found:
        conn.execute(people.update().where(people.c.id == person_id).values(**values))
    else:
        conn.execute(insert(people).values(id=person_id, **values))


def add_posts(conn: Connection, posts: Iterable[Post], *, community_code: str | None = None) -> int:
    """Record posts (the person rows must exist: see :func:`upsert_person`). Returns the count."""
    rows = [
        {
            "person_id": p.person_id,
            "role": Role(p.role).value,
            "grid_code": p.grid_code,
            "community_code": community_code,
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
            "note": p.note,
        }
        for p in posts
    ]
    if rows:
        conn.execute(insert(role_assignments), rows)
    return len(rows)


def posts(
    conn: Connection,
    *,
    grid_codes: Sequence[str] | None = None,
    community_code: str | None = None,
    role: Role | str | None = None,
    on: date | None = None,
) -> list[Post]:
    """Posts, optionally only on some grids / in a community / of a role / in force on day ``on``;
    ordered by grid code, role rank, person id."""
    q = select(
        role_assignments.c.person_id,
        people.c.name,
        people.c.phone,
        role_assignments.c.role,
        role_assignments.c.grid_code,
        role_assignments.c.valid_from,
        role_assignments.c.valid_to,
        role_assignments.c.note,
    ).join(people, people.c.id == role_assignments.c.person_id)
    if grid_codes is not None:
        q = q.where(role_assignments.c.grid_code.in_(list(grid_codes)))
    if community_code is not None:
        q = q.where(role_assignments.c.community_code == community_code)
    if role is not None:
        q = q.where(role_assignments.c.role == Role(role).value)
    if on is not None:  # a cheap superset in SQL; the rule itself is Post.in_force, below
        q = q.where(or_(role_assignments.c.valid_from.is_(None), role_assignments.c.valid_from <= on))
    out = [
        Post(
            person_id=r.person_id,
            name=r.name,
            role=Role(r.role),
            grid_code=r.grid_code,
            phone=r.phone,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            note=r.note,
        )
        for r in conn.execute(q)
    ]
    if on is not None:
        out = [p for p in out if p.in_force(on)]
    return sorted(out, key=lambda p: (p.grid_code, p.role.rank, p.person_id))


def get_person(conn: Connection, person_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(people).where(people.c.id == person_id)).first()
    return dict(row._mapping) if row else None


def add_post(conn: Connection, post: Post, *, community_code: str | None = None) -> int:
    """Record one post (the person must exist); returns its id."""
    return int(
        conn.execute(
            insert(role_assignments)
            .values(
                person_id=post.person_id,
                role=Role(post.role).value,
                grid_code=post.grid_code,
                community_code=community_code,
                valid_from=post.valid_from,
                valid_to=post.valid_to,
                note=post.note,
            )
            .returning(role_assignments.c.id)
        ).scalar_one()
    )


def post_rows(
    conn: Connection,
    *,
    community_code: str | None = None,
    person_id: str | None = None,
    grid_code: str | None = None,
    ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Posts of every date with their ids and the person's name and phone (the roster's history),
    ordered by grid code, role rank, valid_from, id. Which of them are in force on a day is
    decided by the caller (:func:`dispatch.routing.post_valid`)."""
    q = select(
        role_assignments,
        people.c.name,
        people.c.phone,
    ).join(people, people.c.id == role_assignments.c.person_id)
    if community_code is not None:
        q = q.where(role_assignments.c.community_code == community_code)
    if person_id is not None:
        q = q.where(role_assignments.c.person_id == person_id)
    if grid_code is not None:
        q = q.where(role_assignments.c.grid_code == grid_code)
    if ids is not None:
        q = q.where(role_assignments.c.id.in_(list(ids)))
    rows = [dict(r._mapping) for r in conn.execute(q)]
    return sorted(
        rows,
        key=lambda r: (r["grid_code"], Role(r["role"]).rank, r["valid_from"] or date.min, r["id"]),
    )


def end_post(conn: Connection, post_id: int, valid_to: date) -> None:
    """Set the day a post ends (exclusive); NotFound for an unknown id."""
    done = conn.execute(
        update(role_assignments).where(role_assignments.c.id == post_id).values(valid_to=valid_to)
    )
    if done.rowcount != 1:
        raise NotFound(f"岗位不存在：{post_id}", f"no post {post_id}", field="post_id")


def add_party_org(
    conn: Connection,
    code: str,
    name: str,
    type_: str,
    community_code: str,
    grid_codes: Iterable[str],
    *,
    parent_code: str | None = None,
    element_id: str | None = None,
) -> None:
    """Record a party organisation and the grids it covers."""
    conn.execute(
        insert(party_orgs).values(
            code=code,
            name=name,
            type=type_,
            community_code=community_code,
            parent_code=parent_code,
            element_id=element_id,
        )
    )
    rows = [{"org_code": code, "grid_code": g} for g in dict.fromkeys(grid_codes)]
    if rows:
        conn.execute(insert(party_org_grids), rows)


def party_orgs_of(conn: Connection, community_code: str | None = None) -> list[dict[str, Any]]:
    """Party organisations (as dicts with ``grid_codes``), ordered by code."""
    q = select(party_orgs).order_by(party_orgs.c.code)
    if community_code is not None:
        q = q.where(party_orgs.c.community_code == community_code)
    orgs = [dict(r._mapping) for r in conn.execute(q)]
    cover: dict[str, list[str]] = {}
    for r in conn.execute(select(party_org_grids).order_by(party_org_grids.c.grid_code)):
        cover.setdefault(r.org_code, []).append(r.grid_code)
    for o in orgs:
        o["grid_codes"] = cover.get(o["code"], [])
    return orgs


def party_orgs_covering(conn: Connection, grid_code: str) -> list[Mapping[str, Any]]:
    """Organisations covering a grid directly."""
    q = (
        select(party_orgs)
        .join(party_org_grids, and_(party_org_grids.c.org_code == party_orgs.c.code))
        .where(party_org_grids.c.grid_code == grid_code)
        .order_by(party_orgs.c.code)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
