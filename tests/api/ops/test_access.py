"""Who sees what (:func:`api.ops.access.scope_for`): a grid worker sees the grids of the posts in
force on the day asked — an expired post (or one not yet begun) grants nothing."""

from __future__ import annotations

from datetime import date

import pytest

from api.ops.access import User, scope_for
from dispatch import AppRole
from geo.roles import Post, Role
from tests.fixtures_geo import COMMUNITY, GENERAL_1, MICRO_11, MICRO_12, MICRO_21, clean_hierarchy

H = clean_hierarchy()
WORKER = User(7, "w", AppRole.GRID_WORKER, "P1")
DAY = date(2026, 6, 1)


def test_a_post_in_force_grants_its_grid() -> None:
    posts = [Post("P1", "张三", Role.MICRO_WORKER, MICRO_11, valid_from=date(2026, 1, 1))]
    scope = scope_for(WORKER, posts, H, DAY)
    assert not scope.everything and scope.grids == {MICRO_11} and scope.person_id == "P1"


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [
        (date(2025, 1, 1), DAY),  # ended at the start of the day: valid_to is exclusive
        (date(2025, 1, 1), date(2026, 3, 1)),  # ended months ago
        (date(2026, 6, 2), None),  # not begun yet
    ],
)
def test_a_post_not_in_force_grants_nothing(valid_from: date, valid_to: date | None) -> None:
    posts = [
        Post("P1", "张三", Role.GENERAL_WORKER, GENERAL_1, valid_from=valid_from, valid_to=valid_to),
        Post("P1", "张三", Role.MICRO_WORKER, MICRO_21, valid_from=date(2026, 1, 1)),
    ]
    scope = scope_for(WORKER, posts, H, DAY)
    assert scope.grids == {MICRO_21} and scope.communities == frozenset()
    assert GENERAL_1 not in scope.grids and MICRO_12 not in scope.grids


def test_an_expired_community_post_grants_nothing() -> None:
    posts = [Post("P1", "张三", Role.COMMUNITY_HEAD, COMMUNITY, valid_to=DAY)]
    scope = scope_for(WORKER, posts, H, DAY)
    assert scope.communities == frozenset() and scope.grids == frozenset()
    assert scope_for(WORKER, posts, H, date(2026, 5, 31)).communities == {COMMUNITY}


def test_only_grid_workers_are_limited() -> None:
    for role in (AppRole.DISPATCHER, AppRole.VIEWER, AppRole.PLANNER, AppRole.ADMIN):
        assert scope_for(User(1, "x", role, None), [], H, DAY).everything


# -- scope_of: the posts in force at an instant, on a stored roster (both databases) -------------

SANGENSONG_MICRO = "510116004001003012"  # a micro-grid of the sample layer (seeded, version 1)


def test_scope_of_follows_the_posts_in_force_at_the_instant(seeded_url: str, seeded_engine) -> None:
    """A worker holds a post on one micro-grid from 1 March to 1 June 2026 (Beijing dates). The scope
    is decided by the posts in force at the instant asked — now by default — with the same rule as
    routing (valid_to exclusive: on 1 June, from 00:00 Beijing time, it grants nothing)."""
    from datetime import UTC, datetime, timedelta

    from api.ops.access import scope_of
    from api.ops.service import Service
    from api.settings import Settings
    from dispatch.routing import post_valid
    from store import db
    from store.people import add_post, upsert_person

    post = Post(
        "DRILL1",
        "李四",
        Role.MICRO_WORKER,
        SANGENSONG_MICRO,
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 6, 1),
    )
    with db.write(seeded_engine) as conn:
        upsert_person(conn, "DRILL1", "李四", community_code=COMMUNITY_SAMPLE)
        add_post(conn, post, community_code=COMMUNITY_SAMPLE)
    worker = User(99, "drill", AppRole.GRID_WORKER, "DRILL1")
    last_moment = datetime(2026, 5, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 31 May, Beijing time
    clock = {"now": last_moment}
    service = Service(
        Settings(database_url=seeded_url, version_poll_s=0.0), seeded_engine, lambda: clock["now"]
    )
    assert scope_of(service, worker).grids == {SANGENSONG_MICRO}  # now: 31 May
    clock["now"] = last_moment + timedelta(seconds=1)  # 00:00 on 1 June: ended
    assert post_valid(post, service.today()) is False
    assert scope_of(service, worker).grids == frozenset()
    # An earlier instant, asked explicitly, sees the posts then in force …
    assert scope_of(service, worker, last_moment).grids == {SANGENSONG_MICRO}
    assert scope_of(service, worker, date(2026, 3, 1)).grids == {SANGENSONG_MICRO}
    # … and one before the post began sees nothing (the layers of that instant are used too).
    assert scope_of(service, worker, datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC)).grids == frozenset()
    # Roles other than grid workers are not limited at any instant.
    assert scope_of(service, User(1, "d", AppRole.DISPATCHER, None), last_moment).everything


COMMUNITY_SAMPLE = "510116004001"
