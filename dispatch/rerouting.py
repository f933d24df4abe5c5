"""Re-routing open incidents when a new grid map is published (pure: no storage, no clock).

**The rule.** At a publish, an open incident whose work has not started — 已上报, 已受理 or 已交办
(:data:`REROUTED_STATES`, the states before 处置中) — is located again under the new map. When
its micro-grid or general grid changes there, it gets one 重新路由 event (:data:`Action.REROUTE`)
with the old and new grids; one in 已交办 is also handed to the new grid's post holder by
:func:`dispatch.routing.route` (微网格员 → 微网格长 → 一般网格员 → 总网格长), the old and new handler
in the event, the 交办 clock kept. Where every post of the new grids is vacant the handler is kept.
Incidents in 处置中 or later (and 缓办) keep their grids and their handler: their work is under
way. An incident whose grids do not change is left alone, even if its handler differs from the
routing (a dispatcher may have reassigned it).

:func:`plan_reroutes` says which incidents move and to whom (the impact preview shows exactly
this list); :func:`reroute` makes the event of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dispatch.actions import apply
from dispatch.actors import Actor
from dispatch.events import Event
from dispatch.incident import Incident
from dispatch.routing import route
from dispatch.states import Action, State
from geo.roles import Post

#: States re-routed at a publish: before work starts (处置中).
REROUTED_STATES: frozenset[State] = frozenset({State.REPORTED, State.ACCEPTED, State.ASSIGNED})

#: Where a point lies under the new map: (micro_code, general_code), None outside.
Locate = Callable[[float, float], tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class Reroute:
    """One incident's move under the new map."""

    incident_id: str
    state: State
    from_micro: str | None
    to_micro: str | None
    from_general: str | None
    to_general: str | None
    from_assignee: str | None
    #: The new handler (only for 已交办; otherwise the current assignee, usually None).
    to_assignee: str | None
    to_role: str | None
    to_grid: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.incident_id,
            "state": self.state.value,
            "from": self.from_micro,
            "to": self.to_micro,
            "from_general": self.from_general,
            "to_general": self.to_general,
            "assignee_id": self.from_assignee,
            "to_assignee_id": self.to_assignee,
            "to_role": self.to_role,
            "to_grid": self.to_grid,
        }


def plan_reroutes(
    incidents: Iterable[Incident], locate: Locate, posts: Sequence[Post], day: date
) -> list[Reroute]:
    """The incidents of :data:`REROUTED_STATES` whose grids change under the new map (``locate``),
    each with its new handler by the posts in force on ``day``; by incident id."""
    out: list[Reroute] = []
    for inc in incidents:
        if inc.state not in REROUTED_STATES or inc.lon is None or inc.lat is None:
            continue
        micro, general = locate(inc.lon, inc.lat)
        if (micro, general) == (inc.micro_code, inc.general_code):
            continue
        to_assignee, to_role, to_grid = inc.assignee_id, None, None
        if inc.state is State.ASSIGNED:
            routed = route(micro, general, inc.community_code, posts, day)
            if routed.person_id is not None:
                to_assignee, to_role, to_grid = routed.person_id, routed.role.value, routed.grid_code
        out.append(
            Reroute(
                inc.id,
                inc.state,
                inc.micro_code,
                micro,
                inc.general_code,
                general,
                inc.assignee_id,
                to_assignee,
                to_role,
                to_grid,
            )
        )
    return sorted(out, key=lambda r: r.incident_id)


def reroute(
    incident: Incident, move: Reroute, actor: Actor, at: datetime, *, from_version: int, to_version: int
) -> tuple[Incident, Event]:
    """The 重新路由 event of one planned move, taken by ``actor`` (the system) at ``at``."""
    payload: dict[str, Any] = {
        "micro_code": move.to_micro,
        "general_code": move.to_general,
        "from_version": from_version,
        "to_version": to_version,
        "note": f"发布第 {to_version} 版网格图，按新网格重新路由",
    }
    if incident.state is State.ASSIGNED and move.to_grid is not None:
        payload |= {"assignee_id": move.to_assignee, "assignee_role": move.to_role, "grid_code": move.to_grid}
    return apply(incident, Action.REROUTE, actor, max(at, incident.updated_at), **payload)
