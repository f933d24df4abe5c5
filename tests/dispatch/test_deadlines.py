"""Time limits, overdue, escalation and the 督办清单, with an injected clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dispatch import (
    DEFAULT_TIME_LIMITS,
    Actor,
    AppRole,
    Category,
    Incident,
    InvalidInput,
    State,
    TimeLimits,
    apply,
    limits_for,
    overdue,
    report,
    supervision_list,
    supervision_list_now,
)
from dispatch.deadlines import escalation_target, periods_overdue
from geo.roles import Post, Role

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=CST)
COMMUNITY = "510116004001"
GENERAL = "510116004001001"
MICRO = "510116004001001001"
DISPATCHER = Actor("d1", AppRole.DISPATCHER)
WORKER = Actor("w1", AppRole.GRID_WORKER)

POSTS = [
    Post("w1", "微网格员甲", Role.MICRO_WORKER, MICRO),
    Post("m1", "微网格长乙", Role.MICRO_HEAD, MICRO),
    Post("g1", "一般网格员丙", Role.GENERAL_WORKER, GENERAL),
    Post("c1", "总网格长丁", Role.COMMUNITY_HEAD, COMMUNITY),
]


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assigned(
    category: Category = Category.SAFETY,
    *,
    incident_id: str = "E1",
    urgent: bool = False,
    limits: TimeLimits = DEFAULT_TIME_LIMITS,
    role: Role | None = Role.MICRO_WORKER,
    **assign_kw,
) -> Incident:
    """An incident reported at T0 and assigned to w1 at T0 + 1 h."""
    inc, _ = report(
        incident_id,
        category,
        "路灯损坏",
        DISPATCHER,
        T0,
        community_code=COMMUNITY,
        general_code=GENERAL,
        micro_code=MICRO,
        urgent=urgent,
    )
    inc, _ = apply(inc, "accept", DISPATCHER, T0)
    inc, _ = apply(
        inc, "assign", DISPATCHER, h(1), limits=limits, assignee_id="w1", assignee_role=role, **assign_kw
    )
    return inc


@pytest.mark.parametrize(
    ("category", "hours"),
    [
        (Category.STABILITY, 24),
        (Category.DISPUTE, 72),
        (Category.SAFETY, 24),
        (Category.EMERGENCY, 4),
        (Category.REQUEST, 120),
    ],
)
def test_default_limits_start_at_assignment(category, hours):
    inc = assigned(category)
    assert inc.assigned_at == h(1) and inc.deadline == h(1 + hours)


def test_urgent_uses_hours_never_longer_than_the_category():
    assert assigned(Category.REQUEST, urgent=True).deadline == h(5)
    limits = TimeLimits.from_mapping({"emergency": 2}, urgent_hours=6)
    assert assigned(Category.EMERGENCY, urgent=True, limits=limits).deadline == h(3)
    assert assigned(Category.SAFETY, urgent=True, limits=limits).deadline == h(7)


def test_per_community_limits_and_per_incident_override():
    wayao = TimeLimits.from_mapping({"矛盾纠纷": 48, "request": 96})
    per = {"510116004002": wayao}
    assert limits_for("510116004002", per).hours_for(Category.DISPUTE) == 48
    assert limits_for("510116004002", per).hours_for(Category.SAFETY) == 24  # default kept
    assert limits_for(COMMUNITY, per) is DEFAULT_TIME_LIMITS
    assert limits_for(None, per) is DEFAULT_TIME_LIMITS
    assert assigned(Category.DISPUTE, limits=wayao).deadline == h(49)
    assert assigned(Category.DISPUTE, limits=wayao, limit_hours=2.5).deadline == h(3.5)
    with pytest.raises(InvalidInput) as err:
        TimeLimits.from_mapping({"request": -1})
    assert err.value.field == "time_limits.request"
    with pytest.raises(InvalidInput):
        TimeLimits.from_mapping({"noise": 3})


def test_overdue_boundary_and_states():
    inc = assigned()  # deadline h(25)
    assert not overdue(inc, h(25))  # exactly at the deadline: on time
    assert overdue(inc, h(25) + timedelta(seconds=1))
    started, _ = apply(inc, "start", WORKER, h(2))
    fed, _ = apply(started, "feedback", WORKER, h(3), note="已修复")
    assert overdue(started, h(26)) and overdue(fed, h(26))  # the clock runs until 结案
    closed, _ = apply(fed, "verify_pass", DISPATCHER, h(30))
    assert not overdue(closed, h(100))
    deferred, _ = apply(started, "defer", DISPATCHER, h(4), reason="等配件")
    assert not overdue(deferred, h(100))  # paused
    resumed, _ = apply(deferred, "resume", DISPATCHER, h(10))
    assert resumed.deadline == h(31) and not overdue(resumed, h(31)) and overdue(resumed, h(32))
    with pytest.raises(InvalidInput):
        overdue(inc, datetime(2025, 3, 5, 9, 0))  # naive clock refused


def test_periods_overdue_and_escalation_one_level_per_period():
    inc = assigned()  # 24 h limit, deadline h(25), handler w1 (微网格员)
    cases = [
        (h(25), 0, None),
        (h(25.5), 1, ("m1", Role.MICRO_HEAD, MICRO)),
        (h(49), 1, ("m1", Role.MICRO_HEAD, MICRO)),
        (h(49.1), 2, ("g1", Role.GENERAL_WORKER, GENERAL)),
        (h(73.1), 3, ("c1", Role.COMMUNITY_HEAD, COMMUNITY)),
        (h(500), 20, ("c1", Role.COMMUNITY_HEAD, COMMUNITY)),  # capped at the top
    ]
    for now, periods, target in cases:
        assert periods_overdue(inc, now) == periods, now
        items = supervision_list([inc], now, POSTS)
        if target is None:
            assert items == []
            continue
        (item,) = items
        assert (item.escalate_person_id, item.escalate_role, item.escalate_grid_code) == target
        assert item.periods_overdue == periods and item.overdue_by == now - h(25)


def test_escalation_skips_vacant_posts_and_the_handler():
    inc = assigned()
    no_micro_head = [p for p in POSTS if p.role is not Role.MICRO_HEAD]
    assert escalation_target(inc, 1, no_micro_head, h(26)) == (Role.GENERAL_WORKER, "g1", GENERAL)
    # the handler also holds the 微网格长 post: escalate past them
    dual = [*POSTS, Post("w1", "微网格员甲", Role.MICRO_HEAD, MICRO)]
    dual = [p for p in dual if p.person_id != "m1"]
    assert escalation_target(inc, 1, dual, h(26)) == (Role.GENERAL_WORKER, "g1", GENERAL)
    # the 一般网格员 post ends on 4 March (valid_to is exclusive)
    expired = [p for p in POSTS if p.role is not Role.GENERAL_WORKER]
    expired.append(Post("g1", "一般网格员丙", Role.GENERAL_WORKER, GENERAL, valid_to=date(2025, 3, 4)))
    assert escalation_target(inc, 2, expired, h(14)) == (Role.GENERAL_WORKER, "g1", GENERAL)  # 3 Mar 23:00
    assert escalation_target(inc, 2, expired, h(15)) == (Role.COMMUNITY_HEAD, "c1", COMMUNITY)  # 4 Mar 00:00
    assert escalation_target(inc, 1, [], h(26)) == (Role.COMMUNITY_HEAD, None, COMMUNITY)


def test_escalation_starts_from_the_handlers_role():
    head_handled = assigned(role=Role.MICRO_HEAD)
    assert escalation_target(head_handled, 1, POSTS, h(26)) == (Role.GENERAL_WORKER, "g1", GENERAL)
    no_role = assigned(role=None)  # counts as 微网格员
    assert escalation_target(no_role, 1, POSTS, h(26)) == (Role.MICRO_HEAD, "m1", MICRO)


def test_supervision_list_orders_by_lateness_and_skips_on_time():
    a = assigned(Category.SAFETY, incident_id="A")  # deadline h(25)
    b = assigned(Category.EMERGENCY, incident_id="B")  # deadline h(5)
    c = assigned(Category.REQUEST, incident_id="C")  # deadline h(121): on time
    d = assigned(Category.EMERGENCY, incident_id="D")  # same lateness as B: tie by id
    items = supervision_list([a, c, d, b], h(30), POSTS)
    assert [i.incident_id for i in items] == ["B", "D", "A"]
    assert items[0].overdue_by == timedelta(hours=25) and items[0].periods_overdue == 7
    assert items[2].overdue_by == timedelta(hours=5) and items[2].periods_overdue == 1
    row = items[0].to_dict()
    assert (
        row["overdue_hours"] == 25.0
        and row["category"] == "应急管理风险隐患"
        and row["escalate_role"] == "总网格长"
    )
    assert row["handler_id"] == "w1" and row["state"] == State.ASSIGNED.value


def test_supervision_list_now_wrapper_takes_an_injected_clock():
    inc = assigned()
    assert [i.incident_id for i in supervision_list_now([inc], POSTS, now=h(26))] == ["E1"]
    assert supervision_list_now([inc], POSTS, now=h(2)) == []
