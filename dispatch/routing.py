"""Routing a new incident to a handler from the posts on its grids (就近就熟).

The default handler is the micro-grid's 微网格员; when that post is vacant on the day, the
微网格长 of the same micro-grid, then the general grid's 一般网格员, then the community's 总网格长.
A point outside every micro-grid (``micro_code`` None) is not routed to a person directly: it goes
to the community's 总网格 queue for 研判 (``queue=True``, person = the 总网格长 if any).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from geo.roles import Post, Role

#: Fallback order for a point inside a micro-grid: (role, level of the grid the post is on).
ROUTE_CHAIN: tuple[tuple[Role, str], ...] = (
    (Role.MICRO_WORKER, "micro"),
    (Role.MICRO_HEAD, "micro"),
    (Role.GENERAL_WORKER, "general"),
    (Role.COMMUNITY_HEAD, "community"),
)


def post_valid(post: Post, at: date) -> bool:
    """True when ``valid_from ≤ at < valid_to`` (a missing bound is open).

    >>> p = Post("p1", "张三", Role.MICRO_WORKER, "510116004001001001",
    ...          valid_from=date(2024, 1, 1), valid_to=date(2025, 1, 1))
    >>> post_valid(p, date(2024, 1, 1)), post_valid(p, date(2025, 1, 1))
    (True, False)
    """
    return post.in_force(at)  # the rule lives with the post (geo.roles.Post.in_force)


def posts_on(posts: Iterable[Post], at: date) -> list[Post]:
    """The posts in force on ``at`` (:func:`post_valid`), in their given order."""
    return [p for p in posts if post_valid(p, at)]


def holders(posts: Iterable[Post], role: Role, grid_code: str | None, at: date) -> list[Post]:
    """Posts of ``role`` on exactly ``grid_code`` valid on ``at``, sorted by person_id."""
    if grid_code is None:
        return []
    return sorted(
        (p for p in posts if p.role is role and p.grid_code == grid_code and post_valid(p, at)),
        key=lambda p: p.person_id,
    )


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One post tried: the role, the grid it is on, and who holds it (None: vacant)."""

    role: Role
    grid_code: str | None
    person_id: str | None


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Where an incident goes.

    ``person_id`` None means every post tried was vacant (the API should show the incident as
    unrouted to dispatchers). ``fallback_chain`` lists every step tried, the chosen one last.
    ``queue`` True: the incident goes to the community's 总网格 研判 queue (point outside every
    micro-grid) rather than straight to a handler.
    """

    person_id: str | None
    role: Role
    grid_code: str | None
    fallback_chain: tuple[RouteStep, ...]
    queue: bool = False


def route(
    micro_code: str | None,
    general_code: str | None,
    community_code: str | None,
    posts: Sequence[Post],
    at: date,
) -> RouteResult:
    """The handler for an incident on these grids on day ``at``.

    Among several holders of a post the smallest ``person_id`` wins (deterministic).
    """
    grid_of = {"micro": micro_code, "general": general_code, "community": community_code}
    chain = ROUTE_CHAIN if micro_code is not None else ROUTE_CHAIN[-1:]
    steps: list[RouteStep] = []
    for role, level in chain:
        grid = grid_of[level]
        found = holders(posts, role, grid, at)
        step = RouteStep(role, grid, found[0].person_id if found else None)
        steps.append(step)
        if found:
            break
    last = steps[-1]
    return RouteResult(last.person_id, last.role, last.grid_code, tuple(steps), queue=micro_code is None)
