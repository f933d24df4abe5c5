"""Who is calling and what they may see: accounts from tokens, roles, per-grid visibility.

Rules: every operation but login needs an authenticated :class:`User`. A 网格员 sees only incidents
of the grids they hold a post on today (a 一般网格员 also the micro-grids under the general grid, a
总网格长 the whole community) or assigned to them; anything else is "not found", as if it did not
exist (:class:`store.incidents.Visibility` applies the rule in every query). 查看者 see residents'
and workers' phones masked.

The HTTP API and the map pages authenticate through the same :func:`authenticate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.ops.privacy import POLICY, Show
from api.ops.service import ACCOUNT_TTL_S, Service
from api.ops.tokens import Unauthorized, read_token
from dispatch import Actor, AppRole
from dispatch.routing import posts_on
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Hierarchy, Level
from geo.roles import Post
from geo.times import beijing_date
from store import db
from store.changes import USERS
from store.incidents import Visibility
from store.models import users

#: The cookie the map pages keep the token in (set by the login page; reads only, no writes).
TOKEN_COOKIE = "weiwang_token"  # noqa: S105 (a cookie name)

#: What a caller may see; see :class:`store.incidents.Visibility`.
Scope = Visibility


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
        """Whether handlers' phones (posts on pages and printed sheets) are masked for this user:
        the ``handler_phone`` column of the privacy table (:data:`api.ops.privacy.POLICY`)."""
        return POLICY[self.role]["handler_phone"] is not Show.FULL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role.value,
            "person_id": self.person_id,
        }


def account(service: Service, user_id: int) -> Any:
    """The ``users`` row of an account (None if absent), cached for :data:`ACCOUNT_TTL_S`."""

    def load() -> Any:
        with db.read(service.engine) as conn:
            return conn.execute(users.select().where(users.c.id == user_id)).first()

    return service.refreshed(("account", user_id), load, ACCOUNT_TTL_S, USERS)


def authenticate(service: Service, token: str | None) -> User:
    """The caller a bearer token names: signature, expiry, and an active account. Raises
    :class:`Unauthorized` saying which of these failed."""
    if not token:
        raise Unauthorized("需要登录", "authentication required")
    claims = read_token(service.settings.secret_key, token)
    row = account(service, claims.user_id)
    if row is None or not row.active:
        raise Unauthorized("账号不存在或已停用", "account unknown or disabled")
    return User(row.id, row.username, AppRole(row.app_role), row.person_id)


def user_named(service: Service, username: str) -> User:
    """The account ``username`` for a local command (``weiwang report --as …``): whoever can run
    the CLI on the server can already read the database, so no password is asked; the account must
    exist and be active, and acts with its own role and grids."""
    from store.users import get_user

    with db.read(service.engine) as conn:
        row = get_user(conn, username)
    if row is None or not row["active"]:
        raise Unauthorized(
            f"账号不存在或已停用：{username[:64]}",
            f"account unknown or disabled: {username[:64]}",
            field="as",
        )
    return User(row["id"], row["username"], AppRole(row["app_role"]), row["person_id"])


def require_role(user: User, *roles: AppRole) -> User:
    """``user`` if it holds one of ``roles``; :class:`Forbidden` naming them otherwise."""
    if user.role not in roles:
        names = "、".join(r.value for r in roles)
        raise Forbidden(
            f"无权操作：需要角色 {names}", f"forbidden: requires role {', '.join(r.key for r in roles)}"
        )
    return user


def actor_for(service: Service, user: User, on: date) -> Actor:
    """The dispatch actor for a user: app role plus the grid posts held on ``on`` (from the cached
    roster, so a change of posts reaches every worker within :attr:`Service.roster_ttl_s`)."""
    if user.person_id is None:
        return Actor(user.actor_id, user.role)
    return Actor.from_posts(user.person_id, user.role, service.posts(), on)


def scope_for(user: User, posts: Iterable[Post], h: Hierarchy, on: date) -> Scope:
    """What ``user`` may see: grid workers only their posts' grids (expanded downwards)."""
    if user.role is not AppRole.GRID_WORKER:
        return Scope(True)
    communities: set[str] = set()
    grids: set[str] = set()
    for p in posts_on(posts, on):
        if p.person_id != user.person_id:
            continue
        if p.grid_code in h and h.get(p.grid_code).level is Level.COMMUNITY:
            communities.add(p.grid_code)
            continue
        grids.add(p.grid_code)
        if p.grid_code in h:
            grids.update(c.code for c in h.children(p.grid_code))
    return Scope(False, frozenset(communities), frozenset(grids), user.person_id)


def scope_of(service: Service, user: User, at: datetime | date | None = None) -> Scope:
    """:func:`scope_for` at an instant: the caller's posts in force that day (Beijing date,
    :meth:`geo.roles.Post.in_force`), expanded over the layers in force then, from the cached
    roster. ``at`` defaults to now (the service's clock): who may see an incident is decided by the
    posts held now, so a post that ended yesterday grants nothing today; a caller judging something
    as of another instant (an action stamped at ``now``, a report's own time) passes it."""
    if user.role is not AppRole.GRID_WORKER:
        return Scope(True)
    if at is None:
        return scope_for(user, service.posts(), service.layers.current().hierarchy, service.today())
    day = at if not isinstance(at, datetime) else beijing_date(at)
    return scope_for(user, service.posts(), service.layers.at(None, at).hierarchy, day)


def hidden(what: str, ident: str) -> NotFound:
    """The 404 a caller gets for an object that does not exist or that they may not see."""
    return NotFound(f"{what}不存在：{ident}", f"no such {what}: {ident}", field="id")
