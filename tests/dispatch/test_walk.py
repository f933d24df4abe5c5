"""Random walks over the loop: whatever actors try, the invariants hold and replay agrees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import (
    Action,
    Actor,
    AppRole,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    State,
    apply,
    available_actions,
    replay,
    report,
)
from dispatch.events import diff
from dispatch.incident import INCIDENT_FIELDS, to_record
from geo.roles import Role

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, tzinfo=CST)
COMMUNITY, MICRO = "510116004001", "510116004001001001"
ACTORS = [
    Actor("d1", AppRole.DISPATCHER),
    Actor("d2", AppRole.ADMIN),
    Actor("w1", AppRole.GRID_WORKER, frozenset({(Role.MICRO_WORKER, MICRO)})),
    Actor("w2", AppRole.GRID_WORKER),
    Actor("h1", AppRole.GRID_WORKER, frozenset({(Role.COMMUNITY_HEAD, COMMUNITY)})),
    Actor("v1", AppRole.VIEWER),
]
PAYLOADS = {
    Action.ACCEPT: {},
    Action.RECLASSIFY: {"category": "dispute"},
    Action.MERGE: {"into": "E0"},
    Action.VOID: {"reason": "误报"},
    Action.START: {},
    Action.FEEDBACK: {"note": "已处理"},
    Action.VERIFY_PASS: {},
    Action.VERIFY_FAIL: {"reason": "返工"},
    Action.DEFER: {"reason": "缓办"},
    Action.RESUME: {},
    Action.SUPERVISE: {"target_id": "h1", "note": "请加快办理"},
}

# Merge and void end the walk, so they are drawn rarely; the rest often enough to reach 已结案.
WEIGHTED = [a for a in [*PAYLOADS, Action.ASSIGN] if a not in (Action.MERGE, Action.VOID)] * 6 + [
    Action.MERGE,
    Action.VOID,
]
steps = st.lists(
    st.tuples(
        st.sampled_from(WEIGHTED),
        st.integers(0, len(ACTORS) - 1),
        st.sampled_from(["w1", "w2", "d1"]),
        st.integers(0, 30),
        st.integers(0, 9),  # > 2: take one of the actions the actor may take now (progress)
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_random_walk_keeps_invariants(walk):
    inc, ev = report("E1", "安全隐患", "井盖缺失", ACTORS[2], T0, community_code=COMMUNITY, micro_code=MICRO)
    events = [ev]
    at = T0
    for action, who, assignee, minutes, pick in walk:
        at += timedelta(minutes=minutes)
        possible = [a for a in available_actions(inc, ACTORS[who]) if a not in (Action.MERGE, Action.VOID)]
        if pick > 2 and possible:
            action = possible[pick % len(possible)]
        payload = {"assignee_id": assignee} if action is Action.ASSIGN else PAYLOADS[action]
        before = inc
        try:
            inc, ev = apply(inc, action, ACTORS[who], at, **payload)
        except (IllegalTransition, NotPermitted, InvalidInput):
            assert inc is before
            continue
        events.append(ev)
        assert ev.seq == len(events) and ev.from_state is before.state and ev.to_state is inc.state
        assert (ev.before, ev.after) == diff(to_record(before), to_record(inc))  # record_diff's promise
        assert list(ev.after) == [k for k in INCIDENT_FIELDS if k in ev.after]  # in field order
        if inc.state is State.CLOSED:
            assert ev.action is Action.VERIFY_PASS and inc.closed_at == at
            assert inc.verifier_id not in (inc.assignee_id, inc.feedback_by)
        if ev.action is Action.FEEDBACK:
            assert ev.actor_id == before.assignee_id
        assert (inc.deadline is None) == (inc.assigned_at is None)
    assert inc.rework_count == sum(e.action is Action.VERIFY_FAIL for e in events)
    assert replay(events) == inc
