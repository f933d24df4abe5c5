"""Re-routing at a publish (pure): which open incidents move, to whom, and the 重新路由 event."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch import (
    Action,
    Actor,
    AppRole,
    IllegalTransition,
    State,
    apply,
    available_actions,
    replay,
    report,
)
from dispatch.rerouting import REROUTED_STATES, plan_reroutes, reroute
from geo.roles import Post, Role

C, G, G2 = "510116004001", "510116004001001", "510116004001002"
OLD, NEW, OTHER = G + "001", G + "012", G2 + "001"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 2)
SYSTEM = Actor("system", AppRole.ADMIN)
DISPATCHER = Actor("d1", AppRole.DISPATCHER)
POSTS = [
    Post("w-old", "甲", Role.MICRO_WORKER, OLD),
    Post("w-new", "乙", Role.MICRO_WORKER, NEW),
    Post("g-worker", "丙", Role.GENERAL_WORKER, G),
    Post("head", "丁", Role.COMMUNITY_HEAD, C),
]


def incident(state: State, n: int = 1):
    inc, _ = report(
        f"SJ{n}",
        "安全隐患",
        "井盖",
        DISPATCHER,
        T0,
        community_code=C,
        general_code=G,
        micro_code=OLD,
        lon=104.0,
        lat=30.0,
    )
    if state is State.REPORTED:
        return inc
    inc, _ = apply(inc, Action.ACCEPT, DISPATCHER, T0)
    if state is State.ACCEPTED:
        return inc
    inc, _ = apply(
        inc, Action.ASSIGN, DISPATCHER, T0, assignee_id="w-old", assignee_role="微网格员", grid_code=OLD
    )
    if state is State.ASSIGNED:
        return inc
    inc, _ = apply(inc, Action.START, Actor("w-old", AppRole.GRID_WORKER), T0 + timedelta(minutes=5))
    return inc


def to(micro, general=G):
    return lambda lon, lat: (micro, general)


def test_only_states_before_work_are_rerouted_and_only_when_the_grid_changes() -> None:
    incs = [
        incident(s, k)
        for k, s in enumerate([State.REPORTED, State.ACCEPTED, State.ASSIGNED, State.IN_PROGRESS], start=1)
    ]
    plan = plan_reroutes(incs, to(NEW), POSTS, DAY)
    assert [(r.incident_id, r.state) for r in plan] == [
        ("SJ1", State.REPORTED),
        ("SJ2", State.ACCEPTED),
        ("SJ3", State.ASSIGNED),
    ]
    assert {State.REPORTED, State.ACCEPTED, State.ASSIGNED} == REROUTED_STATES
    assigned = plan[2]
    assert (assigned.from_assignee, assigned.to_assignee, assigned.to_role, assigned.to_grid) == (
        "w-old",
        "w-new",
        "微网格员",
        NEW,
    )
    assert plan[0].to_assignee is None and plan[0].to_grid is None  # not assigned yet: only the grids move
    assert plan_reroutes(incs, to(OLD), POSTS, DAY) == []  # same grids: nothing moves


def test_vacant_new_grid_falls_back_up_the_chain_and_outside_goes_to_the_head() -> None:
    inc = incident(State.ASSIGNED)
    (up,) = plan_reroutes([inc], to(G + "099"), POSTS, DAY)
    assert (up.to_assignee, up.to_role) == ("g-worker", "一般网格员")
    (out,) = plan_reroutes([inc], to(None, None), POSTS, DAY)
    assert (out.to_micro, out.to_assignee, out.to_role) == (None, "head", "总网格长")
    (none,) = plan_reroutes([inc], to(OTHER, G2), [], DAY)
    assert none.to_assignee == "w-old"  # every post vacant: the handler is kept


def test_the_reroute_event_replays_and_keeps_the_clock() -> None:
    inc = incident(State.ASSIGNED)
    (move,) = plan_reroutes([inc], to(NEW), POSTS, DAY)
    new, ev = reroute(inc, move, SYSTEM, T0 + timedelta(hours=1), from_version=1, to_version=2)
    assert ev.action is Action.REROUTE and ev.from_state is ev.to_state is State.ASSIGNED
    assert ev.payload["from_micro"] == OLD and ev.payload["to_micro"] == NEW
    assert (ev.payload["from_assignee"], ev.payload["to_assignee"]) == ("w-old", "w-new")
    assert (new.micro_code, new.assignee_id, new.assigned_grid_code) == (NEW, "w-new", NEW)
    assert new.deadline == inc.deadline and new.assigned_at == inc.assigned_at
    assert replay([*_events(inc), ev]).micro_code == NEW
    assert Action.REROUTE not in available_actions(new, SYSTEM)  # never a button


def test_reroute_is_refused_once_work_started() -> None:
    inc = incident(State.IN_PROGRESS)
    with pytest.raises(IllegalTransition):
        apply(inc, Action.REROUTE, SYSTEM, T0 + timedelta(hours=1), micro_code=NEW, general_code=G)


def _events(inc):
    """The events that built ``incident(State.ASSIGNED)`` again (replay needs them)."""
    first, ev1 = report(
        inc.id,
        "安全隐患",
        "井盖",
        DISPATCHER,
        T0,
        community_code=C,
        general_code=G,
        micro_code=OLD,
        lon=104.0,
        lat=30.0,
    )
    a, ev2 = apply(first, Action.ACCEPT, DISPATCHER, T0)
    _b, ev3 = apply(
        a, Action.ASSIGN, DISPATCHER, T0, assignee_id="w-old", assignee_role="微网格员", grid_code=OLD
    )
    return [ev1, ev2, ev3]
