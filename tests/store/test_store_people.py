"""People, posts in force on a day, party organisations covering grids."""

from __future__ import annotations

from datetime import date

from geo.roles import Post, Role
from store import db
from store.people import add_party_org, add_posts, party_orgs_covering, party_orgs_of, posts, upsert_person
from store.versions import ensure_community
from tests.fixtures_geo import GENERAL_1, MICRO_11, MICRO_12
from tests.store.store_fixtures import COMMUNITY


def test_posts_by_grid_role_and_day(engine) -> None:
    with db.write(engine) as conn:
        ensure_community(conn, COMMUNITY, "三根松社区")
        upsert_person(conn, "P1", "张三", phone="13800000001", community_code=COMMUNITY)
        upsert_person(conn, "P2", "李四", community_code=COMMUNITY)
        upsert_person(conn, "P1", "张三丰", phone="13800000009", community_code=COMMUNITY)  # update
        add_posts(
            conn,
            [
                Post(
                    "P1",
                    "",
                    Role.MICRO_WORKER,
                    MICRO_11,
                    valid_from=date(2026, 1, 1),
                    valid_to=date(2026, 3, 1),
                ),
                Post("P2", "", Role.MICRO_WORKER, MICRO_11, valid_from=date(2026, 3, 1)),
                Post("P2", "", Role.MICRO_HEAD, MICRO_12),
                Post("P1", "", Role.GENERAL_WORKER, GENERAL_1),
            ],
            community_code=COMMUNITY,
        )
    with db.read(engine) as conn:
        on_feb = posts(conn, grid_codes=[MICRO_11], on=date(2026, 2, 28))
        on_mar = posts(conn, grid_codes=[MICRO_11], on=date(2026, 3, 1))
        heads = posts(conn, role=Role.MICRO_HEAD)
        everyone = posts(conn, community_code=COMMUNITY)
    assert [(p.person_id, p.name, p.phone) for p in on_feb] == [("P1", "张三丰", "13800000009")]
    assert [p.person_id for p in on_mar] == ["P2"]  # valid_to is exclusive, valid_from inclusive
    assert [(p.person_id, p.grid_code) for p in heads] == [("P2", MICRO_12)]
    assert [p.role for p in everyone] == [
        Role.GENERAL_WORKER,
        Role.MICRO_WORKER,
        Role.MICRO_WORKER,
        Role.MICRO_HEAD,
    ]


def test_party_organisations_and_the_grids_they_cover(engine) -> None:
    with db.write(engine) as conn:
        ensure_community(conn, COMMUNITY, "三根松社区")
        add_party_org(conn, "ZB01", "第1网格党支部", "网格党支部", COMMUNITY, [GENERAL_1])
        add_party_org(
            conn,
            "XZ01",
            "党小组",
            "网格党小组",
            COMMUNITY,
            [MICRO_12, MICRO_11, MICRO_11],
            parent_code="ZB01",
        )
    with db.read(engine) as conn:
        orgs = party_orgs_of(conn, COMMUNITY)
        covering = party_orgs_covering(conn, MICRO_11)
    assert [(o["code"], o["grid_codes"]) for o in orgs] == [
        ("XZ01", [MICRO_11, MICRO_12]),
        ("ZB01", [GENERAL_1]),
    ]
    assert [o["code"] for o in covering] == ["XZ01"]
    assert orgs[0]["parent_code"] == "ZB01"


def test_post_history_ids_and_end_with_the_audit_entry(engine) -> None:
    import pytest

    from geo.errors import NotFound
    from store.audit import entries, record
    from store.people import add_post, end_post, get_person, post_rows

    with db.write(engine) as conn:
        ensure_community(conn, COMMUNITY, "三根松社区")
        upsert_person(conn, "P1", "张三", phone="13800000001", community_code=COMMUNITY)
        first = add_post(
            conn,
            Post("P1", "", Role.MICRO_WORKER, MICRO_11, valid_from=date(2026, 1, 1)),
            community_code=COMMUNITY,
        )
        end_post(conn, first, date(2026, 3, 1))
        record(
            conn,
            actor="user:planner",
            action="post.vacate",
            entity="post",
            entity_id=str(first),
            before={"valid_to": None},
            after={"valid_to": date(2026, 3, 1)},
        )
        second = add_post(
            conn,
            Post("P1", "", Role.MICRO_HEAD, MICRO_11, valid_from=date(2026, 3, 1)),
            community_code=COMMUNITY,
        )
    with pytest.raises(NotFound), db.write(engine) as conn:
        end_post(conn, 10_000, date(2026, 3, 1))
    with db.read(engine) as conn:
        rows = post_rows(conn, person_id="P1")
        assert get_person(conn, "P1")["name"] == "张三" and get_person(conn, "P9") is None
        assert [(r["id"], r["role"], r["valid_from"], r["valid_to"]) for r in rows] == [
            (second, "微网格长", date(2026, 3, 1), None),
            (first, "微网格员", date(2026, 1, 1), date(2026, 3, 1)),
        ]
        assert [r["id"] for r in post_rows(conn, ids=[first])] == [first]
        assert rows[0]["name"] == "张三" and rows[0]["community_code"] == COMMUNITY
        # The history stays: the closed post is still a post of February.
        assert [p.role for p in posts(conn, grid_codes=[MICRO_11], on=date(2026, 2, 1))] == [
            Role.MICRO_WORKER
        ]
        log = entries(conn, entity="post", entity_id=str(first))
    assert [(e["actor"], e["action"], e["after"]) for e in log] == [
        ("user:planner", "post.vacate", {"valid_to": "2026-03-01"})
    ]


def test_posts_on_a_day_are_those_the_one_rule_says(engine) -> None:
    """``posts(on=d)`` answers exactly the stored posts for which :meth:`Post.in_force` holds (the
    rule routing and access use), every day around each bound, open ends included."""
    from datetime import timedelta

    from dispatch.routing import post_valid

    spans = [
        (date(2026, 3, 1), date(2026, 3, 3)),
        (None, date(2026, 3, 2)),
        (date(2026, 3, 2), None),
        (None, None),
        (date(2026, 3, 1), date(2026, 3, 2)),
    ]
    with db.write(engine) as conn:
        ensure_community(conn, COMMUNITY, "三根松社区")
        for i, (start, end) in enumerate(spans):
            upsert_person(conn, f"Q{i}", f"人{i}", community_code=COMMUNITY)
            add_posts(conn, [Post(f"Q{i}", "", Role.MICRO_WORKER, MICRO_11, valid_from=start, valid_to=end)])
    with db.read(engine) as conn:
        stored = posts(conn)
        assert len(stored) == len(spans)
        for k in range(6):
            day = date(2026, 2, 28) + timedelta(days=k)
            expected = sorted(p.person_id for p in stored if p.in_force(day))
            assert sorted(p.person_id for p in posts(conn, on=day)) == expected, day
            assert expected == sorted(p.person_id for p in stored if post_valid(p, day))
        assert sorted(p.person_id for p in posts(conn, on=date(2026, 3, 2))) == ["Q0", "Q2", "Q3"]
