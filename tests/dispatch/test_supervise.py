"""督办 as an action, and merge/void on an auto-assigned report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dispatch import (
    TRANSITIONS,
    Action,
    Actor,
    AppRole,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    State,
    apply,
    available_actions,
    indicators,
    replay,
    report,
)
from geo.roles import Role

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, tzinfo=CST)
COMMUNITY, GENERAL, MICRO = "510116004001", "510116004001001", "510116004001001001"
DISPATCHER = Actor("d1", AppRole.DISPATCHER)
WORKER = Actor("w1", AppRole.GRID_WORKER, frozenset({(Role.MICRO_WORKER, MICRO)}))
HEAD = Actor("h1", AppRole.GRID_WORKER, frozenset({(Role.MICRO_HEAD, MICRO)}))


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assigned():
    """A report as intake leaves it: accepted and assigned to the micro-grid worker at once."""
    inc, e1 = report(
        "E1",
        "安全隐患",
        "井盖缺失",
        WORKER,
        T0,
        community_code=COMMUNITY,
        general_code=GENERAL,
        micro_code=MICRO,
    )
    inc, e2 = apply(inc, "accept", DISPATCHER, T0)
    inc, e3 = apply(inc, "assign", DISPATCHER, T0, assignee_id="w1", assignee_role="微网格员")
    return inc, [e1, e2, e3]


def test_supervise_is_open_in_every_open_state_and_keeps_it() -> None:
    for state, table in TRANSITIONS.items():
        if state.is_final:
            assert Action.SUPERVISE not in table
        else:
            assert table[Action.SUPERVISE] is state


def test_supervise_records_the_target_and_optionally_reassigns() -> None:
    inc, events = assigned()
    inc, ev = apply(inc, "supervise", DISPATCHER, h(30), target_id="h1", target_role="微网格长", note="超期")
    assert ev.action is Action.SUPERVISE and ev.from_state is ev.to_state is State.ASSIGNED
    assert ev.payload["target_id"] == "h1" and ev.payload["handler_id"] == "w1"
    assert ev.payload["reassign"] is False and inc.assignee_id == "w1"
    events.append(ev)
    deadline = inc.deadline
    inc, ev = apply(
        inc, "supervise", DISPATCHER, h(31), target_id="h1", target_role="微网格长", reassign=True
    )
    events.append(ev)
    assert inc.assignee_id == "h1" and inc.assignee_role is Role.MICRO_HEAD and inc.deadline == deadline
    assert replay(events) == inc
    # the new handler may start; the old one may not
    assert Action.START in available_actions(inc, HEAD)
    assert Action.START not in available_actions(inc, WORKER)


def test_supervise_refusals() -> None:
    inc, _ = assigned()
    with pytest.raises(NotPermitted):
        apply(inc, "supervise", WORKER, h(1), target_id="h1")
    with pytest.raises(InvalidInput) as err:
        apply(inc, "supervise", DISPATCHER, h(1))
    assert err.value.field == "target_id"
    with pytest.raises(InvalidInput) as err:
        apply(inc, "supervise", DISPATCHER, h(1), target_id="w1")
    assert err.value.field == "target_id"
    with pytest.raises(InvalidInput) as err:
        apply(inc, "supervise", DISPATCHER, h(1), target_id="h1", reassign="yes")
    assert err.value.field == "reassign"
    closed = apply(inc, "void", DISPATCHER, h(1), reason="误报")[0]
    with pytest.raises(IllegalTransition):
        apply(closed, "supervise", DISPATCHER, h(2), target_id="h1")


def test_merge_and_void_on_an_auto_assigned_report() -> None:
    inc, _ = assigned()
    assert {Action.MERGE, Action.VOID} <= set(available_actions(inc, DISPATCHER))
    merged, _ = apply(inc, "merge", DISPATCHER, h(1), into="E0")
    assert merged.state is State.MERGED and merged.merged_into == "E0"
    voided, _ = apply(inc, "void", DISPATCHER, h(1), reason="重复上报")
    assert voided.state is State.VOID
    started, _ = apply(inc, "start", WORKER, h(1))
    with pytest.raises(IllegalTransition):  # once work started, the handler's work is not thrown away
        apply(started, "void", DISPATCHER, h(2), reason="x")


def test_supervise_counts_in_the_indicators_per_handler() -> None:
    inc, events = assigned()
    for hour in (30, 40):
        inc, ev = apply(inc, "supervise", DISPATCHER, h(hour), target_id="h1")
        events.append(ev)
    inc, ev = apply(inc, "supervise", DISPATCHER, h(50), target_id="h1", reassign=True)
    events.append(ev)
    start, end = datetime(2025, 3, 1, tzinfo=CST), datetime(2025, 4, 1, tzinfo=CST)
    by_handler = {r.key: r for r in indicators([inc], events, start, end, end, group_by="handler")}
    assert by_handler["w1"].supervised == 3  # every 督办 counts against the handler at that time
    by_micro = indicators([inc], events, start, end, end, group_by="micro")
    assert [r.to_dict()["supervised"] for r in by_micro] == [3]
    before = indicators([inc], events, start, h(35), h(35), group_by="micro")
    assert before[0].supervised == 1
