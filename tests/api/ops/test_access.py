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
