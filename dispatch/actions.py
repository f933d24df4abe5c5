"""Taking actions on incidents: :func:`report` creates one, :func:`apply` moves it along.

Both are pure: they take the current incident, the actor and the time, and return the new
incident with the one :class:`~dispatch.events.Event` describing the change. Checks, in order:
input/time (``invalid_input``), state (``illegal_transition``), permission (``forbidden``).

Payload per action (unknown keys are refused):

=============  ==============================================================================
accept         ``note`` (optional)
reclassify     ``category`` (required, zh value or English key), ``urgent`` (bool, optional)
merge          ``into`` (required: the surviving incident's id, not this one), ``note``
void           ``reason`` (required)
assign         ``assignee_id`` (required), ``assignee_role`` (grid Role, optional),
               ``grid_code`` (optional), ``limit_hours`` (optional override), ``note``.
               The first 交办 starts the clock (``assigned_at``, ``deadline``); reassigning keeps it.
start          none (assignee only); also in 处置中 after 返工 (state unchanged)
feedback       ``note`` (required; assignee only — 谁办理谁反馈)
verify_pass    ``note`` (optional; verifier ≠ handler) → 已结案
verify_fail    ``reason`` (required; verifier ≠ handler) → 处置中, ``rework_count`` + 1 (返工)
defer          ``reason`` (required) → 缓办; the clock pauses
resume         ``note`` (optional) → back to the state deferred from; deadline += time deferred
supervise      督办, in any open state (state unchanged): ``target_id`` (required: whom it notifies),
               ``target_role`` (grid Role, optional), ``target_grid`` (optional), ``note``,
               ``reassign`` (bool, default false: hand the incident to the target, clock kept).
               Not to the current assignee (督办 goes up); an unassigned target cannot take it over.
reroute        重新路由, the system's at a publish (:mod:`dispatch.rerouting`; state unchanged):
               ``micro_code``, ``general_code`` (the grids under the new map, None outside),
               ``assignee_id``/``assignee_role``/``grid_code`` (the new handler; only in 已交办),
               ``from_version``/``to_version`` (numbers), ``note``. Not offered as a button.
=============  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dispatch.actors import Actor, authorise
from dispatch.categories import Category
from dispatch.deadlines import DEFAULT_TIME_LIMITS, TimeLimits
from dispatch.errors import InvalidInput, NotPermitted
from dispatch.events import Event
from dispatch.incident import Incident, record_diff, to_record
from dispatch.states import SYSTEM_ACTIONS, Action, State, allowed_actions, next_state
from dispatch.validation import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    NOTE_MAX,
    REASON_MAX,
    check_aware,
    check_hours,
    check_id,
    check_lonlat,
    check_text,
)
from geo.roles import Role


def _check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} 必须是布尔值", f"{field} must be true or false", field=field)
    return value


def report(
    incident_id: str,
    category: Category | str,
    description: str,
    reporter: Actor,
    at: datetime,
    *,
    community_code: str | None,
    general_code: str | None = None,
    micro_code: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    address: str = "",
    urgent: bool = False,
) -> tuple[Incident, Event]:
    """上报: a new incident in 已上报 and its first event (seq 1, ``after`` = the whole record).

    The grid codes are where the point lay at report time (kept even if grids are redrawn later).
    """
    check_aware("at", at)
    lon_f, lat_f = check_lonlat(lon, lat)
    inc = Incident(
        id=str(check_id("incident_id", incident_id)),
        category=Category.parse(category),
        state=State.REPORTED,
        description=check_text("description", description, DESCRIPTION_MAX),
        reporter_id=str(check_id("reporter_id", reporter.person_id)),
        reported_at=at,
        updated_at=at,
        community_code=check_id("community_code", community_code, required=False),
        general_code=check_id("general_code", general_code, required=False),
        micro_code=check_id("micro_code", micro_code, required=False),
        lon=lon_f,
        lat=lat_f,
        address=check_text("address", address, ADDRESS_MAX, required=False),
        urgent=_check_bool("urgent", urgent),
        seq=1,
    )
    granted = authorise(inc, Action.REPORT, reporter)
    record = to_record(inc)
    payload = {
        k: record[k]
        for k in (
            "category",
            "description",
            "community_code",
            "general_code",
            "micro_code",
            "lon",
            "lat",
            "address",
            "urgent",
        )
    }
    event = Event(
        inc.id, 1, Action.REPORT, reporter.person_id, granted, at, None, State.REPORTED, payload, {}, record
    )
    return inc, event


_Changes = dict[str, Any]
#: What a handler returns: the changes to the incident and the event's payload.
_Outcome = tuple[_Changes, dict[str, Any]]
_Handler = Callable[[Incident, Actor, datetime, TimeLimits, dict[str, Any]], _Outcome]


def _take(payload: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(payload) - allowed)
    if extra:
        raise InvalidInput(f"未知参数：{extra[0]}", f"unexpected input {extra[0]!r}", field=extra[0])


def _note_only(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"note"})
    return {}, {"note": check_text("note", p.get("note"), NOTE_MAX, required=False)}


def _reclassify(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"category", "urgent", "note"})
    if "category" not in p:
        raise InvalidInput("category 不能为空", "category is required", field="category")
    cat = Category.parse(p["category"])
    urgent = _check_bool("urgent", p["urgent"]) if "urgent" in p else inc.urgent
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    return {"category": cat, "urgent": urgent}, {"category": cat.value, "urgent": urgent, "note": note}


def _merge(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"into", "note"})
    into = str(check_id("into", p.get("into")))
    if into == inc.id:
        raise InvalidInput("不能合并到自身", "an incident cannot be merged into itself", field="into")
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    return {"merged_into": into}, {"into": into, "note": note}


def _void(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"reason"})
    reason = check_text("reason", p.get("reason"), REASON_MAX)
    return {"void_reason": reason}, {"reason": reason}


def _assign(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"assignee_id", "assignee_role", "grid_code", "limit_hours", "note"})
    assignee = str(check_id("assignee_id", p.get("assignee_id")))
    role = None
    if p.get("assignee_role") is not None:
        try:
            role = Role(p["assignee_role"])
        except ValueError:
            raise InvalidInput("assignee_role 无效", "invalid assignee_role", field="assignee_role") from None
    grid = check_id("grid_code", p.get("grid_code"), required=False)
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    changes: _Changes = {
        "assignee_id": assignee,
        "assignee_role": role,
        "assigned_grid_code": grid,
        "started_at": None,
    }
    payload: dict[str, Any] = {
        "assignee_id": assignee,
        "assignee_role": role.value if role else None,
        "grid_code": grid,
        "note": note,
    }
    if inc.assigned_at is None:  # first 交办 starts the clock
        hours = (
            check_hours("limit_hours", p["limit_hours"])
            if p.get("limit_hours") is not None
            else limits.hours_for(inc.category, inc.urgent)
        )
        changes |= {"assigned_at": at, "limit_hours": hours, "deadline": at + timedelta(hours=hours)}
        payload["limit_hours"] = hours
    elif p.get("limit_hours") is not None:
        raise InvalidInput(
            "改派时不能重设时限", "limit_hours can only be set on the first assignment", field="limit_hours"
        )
    return changes, payload


def _start(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, set())
    return {"started_at": at}, {}


def _feedback(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"note"})
    note = check_text("note", p.get("note"), NOTE_MAX)
    return {"feedback_by": actor.person_id, "feedback_at": at, "feedback_note": note}, {"note": note}


def _verify_pass(
    inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]
) -> _Outcome:
    _take(p, {"note"})
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    return {"verifier_id": actor.person_id, "closed_at": at}, {"note": note, "handler_id": inc.assignee_id}


def _verify_fail(
    inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]
) -> _Outcome:
    _take(p, {"reason"})
    reason = check_text("reason", p.get("reason"), REASON_MAX)
    return (
        {"verifier_id": actor.person_id, "rework_count": inc.rework_count + 1},
        {"reason": reason, "handler_id": inc.assignee_id},
    )


def _defer(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"reason"})
    reason = check_text("reason", p.get("reason"), REASON_MAX)
    return {"deferred_from": inc.state, "deferred_at": at, "defer_reason": reason}, {"reason": reason}


def _resume(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    changes, payload = _note_only(inc, actor, at, limits, p)
    changes = {"deferred_from": None, "deferred_at": None}
    if inc.deadline is not None and inc.deferred_at is not None:
        changes["deadline"] = inc.deadline + (at - inc.deferred_at)  # the clock paused while deferred
    return changes, payload


def _supervise(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(p, {"target_id", "target_role", "target_grid", "note", "reassign"})
    target = str(check_id("target_id", p.get("target_id")))
    if target == inc.assignee_id:
        raise InvalidInput(
            "督办对象不能是承办人本人", "the supervision target must not be the assignee", field="target_id"
        )
    role = None
    if p.get("target_role") is not None:
        try:
            role = Role(p["target_role"])
        except ValueError:
            raise InvalidInput("target_role 无效", "invalid target_role", field="target_role") from None
    grid = check_id("target_grid", p.get("target_grid"), required=False)
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    reassign = _check_bool("reassign", p.get("reassign", False))
    if reassign and inc.state not in (State.ASSIGNED, State.IN_PROGRESS):
        raise InvalidInput(
            f"当前状态为「{inc.state.value}」，督办时不能改派",
            f"cannot reassign while supervising an incident in state {inc.state.key}",
            field="reassign",
        )
    changes: _Changes = {}
    if reassign:
        changes = {
            "assignee_id": target,
            "assignee_role": role,
            "assigned_grid_code": grid,
            "started_at": None,
        }
    payload = {
        "target_id": target,
        "target_role": role.value if role else None,
        "target_grid": grid,
        "reassign": reassign,
        "handler_id": inc.assignee_id,
        "note": note,
    }
    return changes, payload


def _reroute(inc: Incident, actor: Actor, at: datetime, limits: TimeLimits, p: dict[str, Any]) -> _Outcome:
    _take(
        p,
        {
            "micro_code",
            "general_code",
            "assignee_id",
            "assignee_role",
            "grid_code",
            "from_version",
            "to_version",
            "note",
        },
    )
    micro = check_id("micro_code", p.get("micro_code"), required=False)
    general = check_id("general_code", p.get("general_code"), required=False)
    note = check_text("note", p.get("note"), NOTE_MAX, required=False)
    changes: _Changes = {"micro_code": micro, "general_code": general}
    payload: dict[str, Any] = {
        "from_micro": inc.micro_code,
        "to_micro": micro,
        "from_general": inc.general_code,
        "to_general": general,
        "from_version": p.get("from_version"),
        "to_version": p.get("to_version"),
        "note": note,
    }
    if inc.state is State.ASSIGNED and p.get("assignee_id") is not None:
        role = None
        if p.get("assignee_role") is not None:
            try:
                role = Role(p["assignee_role"])
            except ValueError:
                raise InvalidInput(
                    "assignee_role 无效", "invalid assignee_role", field="assignee_role"
                ) from None
        assignee = str(check_id("assignee_id", p.get("assignee_id")))
        grid = check_id("grid_code", p.get("grid_code"), required=False)
        changes |= {
            "assignee_id": assignee,
            "assignee_role": role,
            "assigned_grid_code": grid,
            "started_at": None,
        }
        payload |= {
            "from_assignee": inc.assignee_id,
            "to_assignee": assignee,
            "assignee_role": role.value if role else None,
            "grid_code": grid,
        }
    return changes, payload


_HANDLERS: dict[Action, _Handler] = {
    Action.ACCEPT: _note_only,
    Action.RECLASSIFY: _reclassify,
    Action.MERGE: _merge,
    Action.VOID: _void,
    Action.ASSIGN: _assign,
    Action.START: _start,
    Action.FEEDBACK: _feedback,
    Action.VERIFY_PASS: _verify_pass,
    Action.VERIFY_FAIL: _verify_fail,
    Action.DEFER: _defer,
    Action.RESUME: _resume,
    Action.SUPERVISE: _supervise,
    Action.REROUTE: _reroute,
}


def apply(
    incident: Incident,
    action: Action | str,
    actor: Actor,
    at: datetime,
    *,
    limits: TimeLimits = DEFAULT_TIME_LIMITS,
    **payload: Any,
) -> tuple[Incident, Event]:
    """Take ``action`` on ``incident`` as ``actor`` at ``at``; return (new incident, its event).

    ``at`` must be timezone-aware and not before the incident's last event. ``limits`` (the
    community's :class:`TimeLimits`) is used only by the first ``assign``; the resulting deadline is
    recorded in the event, so replay never needs it. Report is :func:`report`, not an action here.
    """
    act = Action.parse(action)
    check_aware("at", at)
    if at < incident.updated_at:
        raise InvalidInput(
            "操作时间早于上一条记录", "at is earlier than the incident's last event", field="at"
        )
    if act is Action.REPORT:
        raise InvalidInput("上报请使用 report()", "use report() to create an incident", field="action")
    target = next_state(incident.state, act, incident.deferred_from)
    granted = authorise(incident, act, actor)
    changes, clean = _HANDLERS[act](incident, actor, at, limits, dict(payload))
    new = replace(incident, state=target, updated_at=at, seq=incident.seq + 1, **changes)
    before, after = record_diff(incident, new)
    event = Event(
        incident.id, new.seq, act, actor.person_id, granted, at, incident.state, target, clean, before, after
    )
    return new, event


def available_actions(incident: Incident, actor: Actor) -> tuple[Action, ...]:
    """Actions ``actor`` may take on ``incident`` now (state allows and permission holds).

    For the UI's buttons; :func:`apply` still checks everything.
    """
    out: list[Action] = []
    for act in allowed_actions(incident.state):
        if act in SYSTEM_ACTIONS:
            continue
        try:
            authorise(incident, act, actor)
        except NotPermitted:
            continue
        out.append(act)
    return tuple(out)
