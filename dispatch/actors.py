"""Who may do what: application roles, actors and the permission table (pure data).

An :class:`Actor` is a person with one application role (:class:`AppRole`) and the grid posts they
hold (``geo.roles.Role`` on a grid code). A permission rule lists *principals*, each one of:

* an :class:`AppRole` (调度员, admin, 网格员 …): any incident;
* a grid ``Role``: only if the actor holds that role on the incident's own grid at that level
  (总网格长 → ``community_code``, 一般网格员 → ``general_code``, 微网格长/微网格员 → ``micro_code``);
* :data:`ASSIGNEE` (承办人): only the incident's current assignee (谁办理谁反馈).

:func:`authorise` returns the first matching principal; the event records it as ``actor_role``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from dispatch.errors import InvalidInput, NotPermitted
from dispatch.routing import post_valid
from dispatch.states import Action
from geo.roles import Post, Role

if TYPE_CHECKING:
    from dispatch.incident import Incident


class AppRole(StrEnum):
    """A user's role in the application. Value: Chinese name (stored), except ``admin``."""

    PLANNER = "规划员"
    DISPATCHER = "调度员"
    GRID_WORKER = "网格员"
    VIEWER = "查看者"
    ADMIN = "admin"

    @property
    def key(self) -> str:
        """Stable English key: planner, dispatcher, grid_worker, viewer, admin."""
        return self.name.lower()


#: Relational principal: the incident's current assignee (承办人).
ASSIGNEE = "承办人"

Principal = AppRole | Role | str

_TRIAGE: tuple[Principal, ...] = (AppRole.DISPATCHER, AppRole.ADMIN, Role.COMMUNITY_HEAD)

#: Permission table: action → principals allowed (first match is recorded as the event's role).
PERMISSIONS: Mapping[Action, tuple[Principal, ...]] = MappingProxyType(
    {
        Action.REPORT: (
            AppRole.GRID_WORKER,
            AppRole.DISPATCHER,
            AppRole.ADMIN,
            Role.MICRO_WORKER,
            Role.MICRO_HEAD,
            Role.GENERAL_WORKER,
            Role.COMMUNITY_HEAD,
        ),
        Action.ACCEPT: _TRIAGE,
        Action.RECLASSIFY: _TRIAGE,
        Action.MERGE: _TRIAGE,
        Action.VOID: _TRIAGE,
        Action.ASSIGN: _TRIAGE,
        Action.DEFER: _TRIAGE,
        Action.RESUME: _TRIAGE,
        Action.SUPERVISE: _TRIAGE,
        Action.REROUTE: (AppRole.ADMIN,),  # the system's, at a publish (dispatch.rerouting)
        Action.VERIFY_PASS: _TRIAGE,
        Action.VERIFY_FAIL: _TRIAGE,
        Action.START: (ASSIGNEE,),
        Action.FEEDBACK: (ASSIGNEE,),
    }
)

#: Actions whose actor must differ from the handler (the assignee and whoever gave feedback).
VERIFY_ACTIONS = frozenset({Action.VERIFY_PASS, Action.VERIFY_FAIL})


@dataclass(frozen=True, slots=True)
class Actor:
    """A person acting: id, application role, and grid posts held now as (Role, grid_code) pairs."""

    person_id: str
    app_role: AppRole
    grid_posts: frozenset[tuple[Role, str]] = frozenset()

    def __post_init__(self) -> None:
        # Accept plain strings from the API/database ("调度员", ("总网格长", code)) and normalise.
        try:
            object.__setattr__(self, "app_role", AppRole(self.app_role))
            object.__setattr__(self, "grid_posts", frozenset((Role(r), str(g)) for r, g in self.grid_posts))
        except ValueError:
            raise InvalidInput("角色无效", "invalid app role or grid role", field="actor") from None

    @classmethod
    def from_posts(cls, person_id: str, app_role: AppRole, posts: Iterable[Post], at: date) -> Actor:
        """The actor with the grid posts ``person_id`` holds on ``at`` (valid_from ≤ at < valid_to)."""
        held = frozenset(
            (p.role, p.grid_code) for p in posts if p.person_id == person_id and post_valid(p, at)
        )
        return cls(person_id, AppRole(app_role), held)

    def holds(self, role: Role, grid_code: str | None) -> bool:
        return grid_code is not None and (role, grid_code) in self.grid_posts


def _grid_for(role: Role, incident: Incident) -> str | None:
    if role is Role.COMMUNITY_HEAD:
        return incident.community_code
    if role is Role.GENERAL_WORKER:
        return incident.general_code
    return incident.micro_code


def _matches(principal: Principal, actor: Actor, incident: Incident) -> bool:
    if isinstance(principal, AppRole):
        return actor.app_role is principal
    if isinstance(principal, Role):
        return actor.holds(principal, _grid_for(principal, incident))
    if principal == ASSIGNEE:
        return incident.assignee_id is not None and actor.person_id == incident.assignee_id
    return False


def authorise(incident: Incident, action: Action, actor: Actor) -> str:
    """The principal (as its stored string) under which ``actor`` may take ``action``.

    Raises :class:`NotPermitted` (``forbidden``) naming the roles allowed. For 核查 the actor must
    also differ from the handler: the assignee and whoever gave the last feedback.
    """
    rule = PERMISSIONS[action]
    granted = next((p for p in rule if _matches(p, actor, incident)), None)
    if granted is None:
        names = [str(p) for p in rule]
        if rule == (ASSIGNEE,):
            zh = f"只有承办人可以{action.zh}（谁办理谁反馈）"
            en = f"only the assignee may {action.value} (whoever handles gives feedback)"
        else:
            zh = f"无权{action.zh}：需要角色 {'、'.join(names)}"
            en = f"not allowed to {action.value}: requires one of {', '.join(names)}"
        raise NotPermitted(zh, en, field="actor", detail={"action": action.value, "allowed_roles": names})
    if action in VERIFY_ACTIONS and actor.person_id in {incident.assignee_id, incident.feedback_by}:
        raise NotPermitted(
            "核查人不能是承办人本人",
            "the verifier must not be the handler",
            field="actor",
            detail={"action": action.value, "rule": "verifier_differs_from_handler"},
        )
    return str(granted)
