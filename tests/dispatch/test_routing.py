"""Routing to the default handler with fallbacks over vacant and expired posts."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from dispatch import Actor, AppRole, RouteStep, route
from dispatch.routing import post_valid
from geo.roles import Post, Role

COMMUNITY = "510116004001"
GENERAL = "510116004001001"
MICRO = "510116004001001001"
NEIGHBOUR_MICRO = "510116004001001002"
DAY = date(2025, 3, 3)

# One holder per post on our grids, named after the post.
FULL = {
    Role.MICRO_WORKER: Post("p4-mw", "微网格员甲", Role.MICRO_WORKER, MICRO),
    Role.MICRO_HEAD: Post("p3-mh", "微网格长乙", Role.MICRO_HEAD, MICRO),
    Role.GENERAL_WORKER: Post("p2-gw", "一般网格员丙", Role.GENERAL_WORKER, GENERAL),
    Role.COMMUNITY_HEAD: Post("p1-ch", "总网格长丁", Role.COMMUNITY_HEAD, COMMUNITY),
}
ORDER = [Role.MICRO_WORKER, Role.MICRO_HEAD, Role.GENERAL_WORKER, Role.COMMUNITY_HEAD]
GRID = {
    Role.MICRO_WORKER: MICRO,
    Role.MICRO_HEAD: MICRO,
    Role.GENERAL_WORKER: GENERAL,
    Role.COMMUNITY_HEAD: COMMUNITY,
}
# A neighbour's micro-grid worker must never be picked for our micro-grid.
DISTRACTOR = Post("p0-other", "邻格网格员", Role.MICRO_WORKER, NEIGHBOUR_MICRO)


@pytest.mark.parametrize("filled", list(itertools.product([True, False], repeat=4)))
def test_every_vacancy_combination(filled):
    posts = [FULL[r] for r, f in zip(ORDER, filled, strict=True) if f] + [DISTRACTOR]
    res = route(MICRO, GENERAL, COMMUNITY, posts, DAY)
    first = next((i for i, f in enumerate(filled) if f), None)
    assert res.queue is False
    if first is None:  # every post vacant: nobody, ends at the 总网格长 step
        assert res.person_id is None and res.role is Role.COMMUNITY_HEAD and res.grid_code == COMMUNITY
        assert len(res.fallback_chain) == 4
        return
    role = ORDER[first]
    assert (res.person_id, res.role, res.grid_code) == (FULL[role].person_id, role, GRID[role])
    assert res.fallback_chain == tuple(
        RouteStep(r, GRID[r], FULL[r].person_id if i == first else None)
        for i, r in enumerate(ORDER[: first + 1])
    )


def test_expired_and_future_posts_are_vacant():
    expired = Post("p4-old", "已离任", Role.MICRO_WORKER, MICRO, valid_from=date(2024, 1, 1), valid_to=DAY)
    future = Post("p4-new", "未到任", Role.MICRO_WORKER, MICRO, valid_from=date(2025, 3, 4))
    res = route(MICRO, GENERAL, COMMUNITY, [expired, future, FULL[Role.MICRO_HEAD]], DAY)
    assert res.person_id == "p3-mh" and [s.person_id for s in res.fallback_chain] == [None, "p3-mh"]
    # the day before valid_to the old post still holds; on valid_from the new one does
    assert route(MICRO, GENERAL, COMMUNITY, [expired], date(2025, 3, 2)).person_id == "p4-old"
    assert route(MICRO, GENERAL, COMMUNITY, [expired, future], date(2025, 3, 4)).person_id == "p4-new"


def test_several_holders_smallest_person_id_wins():
    posts = [
        Post("w9", "乙", Role.MICRO_WORKER, MICRO),
        Post("w10", "甲", Role.MICRO_WORKER, MICRO),
        Post("w3", "丙", Role.MICRO_WORKER, MICRO),
    ]
    assert route(MICRO, GENERAL, COMMUNITY, posts, DAY).person_id == "w10"  # string order
    assert route(MICRO, GENERAL, COMMUNITY, list(reversed(posts)), DAY).person_id == "w10"


def test_outside_every_grid_goes_to_the_community_queue():
    res = route(None, None, COMMUNITY, list(FULL.values()), DAY)
    assert res.queue is True
    assert (res.person_id, res.role, res.grid_code) == ("p1-ch", Role.COMMUNITY_HEAD, COMMUNITY)
    assert res.fallback_chain == (RouteStep(Role.COMMUNITY_HEAD, COMMUNITY, "p1-ch"),)
    # in a general grid but in no micro-grid (a coverage gap): still the 研判 queue
    assert route(None, GENERAL, COMMUNITY, list(FULL.values()), DAY).queue is True
    vacant = route(None, None, COMMUNITY, [], DAY)
    assert vacant.queue and vacant.person_id is None and vacant.grid_code == COMMUNITY
    nowhere = route(None, None, None, list(FULL.values()), DAY)
    assert nowhere.queue and nowhere.person_id is None and nowhere.grid_code is None


def test_missing_general_code_skips_to_the_community_head():
    posts = [FULL[Role.GENERAL_WORKER], FULL[Role.COMMUNITY_HEAD]]
    res = route(MICRO, None, COMMUNITY, posts, DAY)
    assert res.person_id == "p1-ch"
    assert res.fallback_chain[2] == RouteStep(Role.GENERAL_WORKER, None, None)


def test_post_valid_bounds():
    p = Post("x", "x", Role.MICRO_WORKER, MICRO, valid_from=date(2025, 1, 1), valid_to=date(2025, 2, 1))
    assert [
        post_valid(p, d) for d in (date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 31), date(2025, 2, 1))
    ] == [
        False,
        True,
        True,
        False,
    ]


def test_actor_from_posts_keeps_only_valid_posts():
    old = Post("p1-ch", "总网格长丁", Role.MICRO_HEAD, MICRO, valid_to=DAY)
    actor = Actor.from_posts("p1-ch", AppRole.GRID_WORKER, [*FULL.values(), old], DAY)
    assert actor.grid_posts == frozenset({(Role.COMMUNITY_HEAD, COMMUNITY)})
