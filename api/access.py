"""Who is calling and what they may see: bearer tokens, users, per-grid visibility.

Rules: every endpoint but ``/health`` and login needs a token. A 网格员 sees only incidents of the
grids they hold a post on (a 一般网格员 all micro-grids under the general grid, a 总网格长 the whole
community) or assigned to them; anything else answers 404, as if it did not exist. 查看者 see
residents' and workers' phones masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Context
from api.tokens import Unauthorized, read_token
from dispatch import Actor, AppRole
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Hierarchy, Level
from geo.roles import Post

_bearer = HTTPBearer(auto_error=False)
TOKEN_COOKIE = "weiwang_token"  # noqa: S105 (a cookie name)


class Forbidden(WeiwangError):
    code = "forbidden"


@dataclass(frozen=True)
class User:
    """The authenticated caller."""

    id: int
    username: str
    role: AppRole
    person_id: str | None

    @property
    def actor_id(self) -> str:
        """The id events record: the person, else the account."""
        return self.person_id or f"user:{self.username}"

    @property
    def masks_phones(self) -> bool:
        return self.role is AppRole.VIEWER

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role.value,
            "person_id": self.person_id,
        }


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


async def current_user(
    request: Request, cred: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> User:
    """The caller from ``Authorization: Bearer``; reads (GET) also accept the map pages' cookie.

    ``async`` although it does no awaiting: an HMAC check and a cached account row (a database
    read at most every :data:`~api.context.ACCOUNT_TTL_S`) cost less than the hop to the thread
    pool a plain ``def`` dependency takes on every request."""
    token = cred.credentials if cred is not None else None
    if token is None and request.method in ("GET", "HEAD"):
        token = request.cookies.get(TOKEN_COOKIE)  # the map pages; writes need the header (no CSRF)
    if not token:
        raise Unauthorized("需要登录", "authentication required")
    ctx = ctx_of(request)
    claims = read_token(ctx.settings.secret_key, token)
    row = ctx.account(claims.user_id)
    if row is None or not row.active:
        raise Unauthorized("账号不存在或已停用", "account unknown or disabled")
    return User(row.id, row.username, AppRole(row.app_role), row.person_id)


def require(*roles: AppRole):
    """A dependency that lets only these app roles through (403 otherwise)."""

    async def check(user: User = Depends(current_user)) -> User:
        if user.role not in roles:
            names = "、".join(r.value for r in roles)
            raise Forbidden(
                f"无权操作：需要角色 {names}", f"forbidden: requires role {', '.join(r.key for r in roles)}"
            )
        return user

    return check


def actor_for(ctx: Context, user: User, on: date) -> Actor:
    """The dispatch actor for a user: app role plus the grid posts held on ``on`` (from the cached
    roster, so a change of posts reaches every worker within :attr:`Context.roster_ttl_s`)."""
    if user.person_id is None:
        return Actor(user.actor_id, user.role)
    return Actor.from_posts(user.person_id, user.role, ctx.posts(), on)


@dataclass(frozen=True)
class Scope:
    """Grids a grid worker may see; ``everything`` for dispatchers, admins, planners and viewers."""

    everything: bool
    communities: frozenset[str] = frozenset()
    grids: frozenset[str] = frozenset()
    person_id: str | None = None

    def sees(self, incident: dict[str, Any]) -> bool:
        if self.everything:
            return True
        if self.person_id and incident.get("assignee_id") == self.person_id:
            return True
        if incident.get("community_code") in self.communities:
            return True
        return any(
            incident.get(k) in self.grids for k in ("micro_code", "general_code", "assigned_grid_code")
        )


def scope_for(user: User, posts: Iterable[Post], h: Hierarchy, on: date) -> Scope:
    """What ``user`` may see: grid workers only their posts' grids (expanded downwards)."""
    if user.role is not AppRole.GRID_WORKER:
        return Scope(True)
    from dispatch.routing import post_valid

    communities: set[str] = set()
    grids: set[str] = set()
    for p in posts:
        if p.person_id != user.person_id or not post_valid(p, on):
            continue
        if p.grid_code in h and h.get(p.grid_code).level is Level.COMMUNITY:
            communities.add(p.grid_code)
            continue
        grids.add(p.grid_code)
        grids.update(c.code for c in h.children(p.grid_code))
    return Scope(False, frozenset(communities), frozenset(grids), user.person_id)


def hidden(what: str, ident: str) -> NotFound:
    """The 404 a caller gets for an object that does not exist or that they may not see."""
    return NotFound(f"{what}不存在：{ident}", f"no such {what}: {ident}", field="id")
