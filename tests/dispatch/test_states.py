"""The incident loop end to end on an in-memory event list, and its refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dispatch import (
    TRANSITIONS,
    Action,
    Actor,
    AppRole,
    Category,
    Event,
    IllegalTransition,
    Incident,
    InvalidInput,
    NotPermitted,
    State,
    apply,
    from_record,
    replay,
    report,
    to_record,
)
from geo.roles import Role

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=CST)
COMMUNITY = "510116004001"
GENERAL = "510116004001001"
MICRO = "510116004001001001"

DISPATCHER = Actor("d1", AppRole.DISPATCHER)
OTHER_DISPATCHER = Actor("d2", AppRole.DISPATCHER)
WORKER = Actor("w1", AppRole.GRID_WORKER, frozenset({(Role.MICRO_WORKER, MICRO)}))
OTHER_WORKER = Actor("w2", AppRole.GRID_WORKER, frozenset({(Role.MICRO_WORKER, "510116004001001002")}))
VIEWER = Actor("v1", AppRole.VIEWER)
HEAD = Actor("h1", AppRole.GRID_WORKER, frozenset({(Role.COMMUNITY_HEAD, COMMUNITY)}))
OTHER_HEAD = Actor("h2", AppRole.GRID_WORKER, frozenset({(Role.COMMUNITY_HEAD, "510116004002")}))


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Log:
    """An in-memory incident table and append-only event list."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.history: list[Incident] = []  # the incident after each event
        self.inc: Incident | None = None

    def report(self, **kw) -> Incident:
        args = {
            "incident_id": "E1",
            "category": Category.SAFETY,
            "description": "楼道堆放杂物，堵塞消防通道",
            "reporter": WORKER,
            "at": T0,
            "community_code": COMMUNITY,
            "general_code": GENERAL,
            "micro_code": MICRO,
            "lon": 104.08,
            "lat": 30.40,
        } | kw
        self.inc, ev = report(**args)
        self.events.append(ev)
        self.history.append(self.inc)
        return self.inc

    def do(self, action: str, actor: Actor, at: datetime, **payload) -> Incident:
        assert self.inc is not None
        self.inc, ev = apply(self.inc, action, actor, at, **payload)
        self.events.append(ev)
        self.history.append(self.inc)
        return self.inc


def test_full_loop_with_one_rework_states_and_events():
    log = Log()
    log.report()
    steps = [
        ("accept", DISPATCHER, {}),
        ("assign", DISPATCHER, {"assignee_id": "w1", "assignee_role": "微网格员", "grid_code": MICRO}),
        ("start", WORKER, {}),
        ("feedback", WORKER, {"note": "已清理"}),
        ("verify_fail", DISPATCHER, {"reason": "仍有杂物"}),
        ("start", WORKER, {}),
        ("feedback", WORKER, {"note": "已彻底清理"}),
        ("verify_pass", OTHER_DISPATCHER, {"note": "现场核实"}),
    ]
    states = [log.inc.state]
    for i, (action, actor, payload) in enumerate(steps, start=1):
        states.append(log.do(action, actor, h(i), **payload).state)
    assert states == [
        State.REPORTED,
        State.ACCEPTED,
        State.ASSIGNED,
        State.IN_PROGRESS,
        State.FED_BACK,
        State.IN_PROGRESS,
        State.IN_PROGRESS,
        State.FED_BACK,
        State.CLOSED,
    ]
    inc = log.inc
    assert inc.rework_count == 1
    assert inc.closed_at == h(8) and inc.verifier_id == "d2" and inc.feedback_note == "已彻底清理"
    assert inc.assigned_at == h(2) and inc.deadline == h(26) and inc.started_at == h(6)
    assert [e.seq for e in log.events] == list(range(1, 10))
    assert [e.action for e in log.events][-2:] == [Action.FEEDBACK, Action.VERIFY_PASS]
    fail = log.events[5]
    assert fail.action is Action.VERIFY_FAIL and fail.payload["handler_id"] == "w1"
    assert fail.before == {
        "state": "已反馈",
        "verifier_id": None,
        "rework_count": 0,
        "updated_at": h(4).isoformat(),
        "seq": 5,
    }
    assert fail.after["rework_count"] == 1 and fail.after["state"] == "处置中"
    # who acted under which principal
    assert [e.actor_role for e in log.events] == [
        "网格员",
        "调度员",
        "调度员",
        "承办人",
        "承办人",
        "调度员",
        "承办人",
        "承办人",
        "调度员",
    ]


def test_feedback_before_start_is_illegal():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(1))
    log.do("assign", DISPATCHER, h(1), assignee_id="w1")
    with pytest.raises(IllegalTransition) as err:
        log.do("feedback", WORKER, h(2), note="好了")
    assert err.value.code == "illegal_transition"
    assert err.value.detail["state"] == "已交办"
    assert err.value.detail["allowed_actions"] == [
        "start",
        "assign",
        "defer",
        "reclassify",
        "merge",
        "void",
        "supervise",
    ]
    assert err.value.detail["allowed_states"] == ["处置中", "已交办", "缓办", "已合并", "无效"]
    assert "已交办" in err.value.zh and "开始处置" in err.value.zh and "assigned" in err.value.en


def test_illegal_transition_lists_allowed_actions():
    log = Log()
    log.report()
    with pytest.raises(IllegalTransition) as err:
        log.do("verify_pass", DISPATCHER, h(1))
    body = err.value.to_dict()
    assert body["code"] == "illegal_transition"
    assert body["detail"]["allowed_actions"] == ["accept", "reclassify", "merge", "void", "supervise"]
    assert body["detail"]["allowed_states"] == ["已受理", "已上报", "已合并", "无效"]
    assert (
        "已上报" in body["message_zh"] and "accept, reclassify, merge, void, supervise" in body["message_en"]
    )


def test_final_states_allow_nothing():
    for state in (State.CLOSED, State.MERGED, State.VOID):
        assert TRANSITIONS[state] == {}
    log = Log()
    log.report()
    log.do("void", DISPATCHER, h(1), reason="重复测试数据")
    with pytest.raises(IllegalTransition) as err:
        log.do("accept", DISPATCHER, h(2))
    assert err.value.detail["allowed_actions"] == [] and "无" in err.value.zh


def test_illegal_is_checked_before_permission():
    log = Log()
    log.report()
    with pytest.raises(IllegalTransition):
        log.do("feedback", VIEWER, h(1), note="x")


def test_verifier_must_differ_from_handler():
    # a dispatcher who is also the assignee may not verify their own work
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(1))
    log.do("assign", DISPATCHER, h(1), assignee_id="d1")
    log.do("start", DISPATCHER, h(2))
    log.do("feedback", DISPATCHER, h(3), note="处理完毕")
    for action, payload in (("verify_pass", {}), ("verify_fail", {"reason": "x"})):
        with pytest.raises(NotPermitted) as err:
            log.do(action, DISPATCHER, h(4), **payload)
        assert err.value.code == "forbidden" and "核查人不能是承办人" in err.value.zh
    assert log.do("verify_pass", OTHER_DISPATCHER, h(4)).state is State.CLOSED


def test_only_the_assignee_starts_and_gives_feedback():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(1))
    log.do("assign", DISPATCHER, h(1), assignee_id="w1")
    for actor in (OTHER_WORKER, DISPATCHER, HEAD):
        with pytest.raises(NotPermitted) as err:
            log.do("start", actor, h(2))
        assert "承办人" in err.value.zh
    log.do("start", WORKER, h(2))
    with pytest.raises(NotPermitted):
        log.do("feedback", Actor("admin1", AppRole.ADMIN), h(3), note="代为反馈")
    assert log.do("feedback", WORKER, h(3), note="已处理").feedback_by == "w1"


def test_reassign_moves_feedback_right_to_the_new_assignee():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(1))
    log.do("assign", DISPATCHER, h(1), assignee_id="w1")
    log.do("start", WORKER, h(2))
    inc = log.do("assign", DISPATCHER, h(3), assignee_id="w2")
    assert inc.state is State.ASSIGNED and inc.started_at is None
    assert inc.assigned_at == h(1) and inc.deadline == h(25)  # the clock is the incident's
    with pytest.raises(NotPermitted):
        log.do("start", WORKER, h(4))
    log.do("start", OTHER_WORKER, h(4))
    with pytest.raises(InvalidInput) as err:
        log.do("assign", DISPATCHER, h(5), assignee_id="w1", limit_hours=48)
    assert err.value.field == "limit_hours"


def test_triage_roles():
    log = Log()
    log.report()
    for actor in (WORKER, VIEWER, Actor("p1", AppRole.PLANNER), OTHER_HEAD):
        with pytest.raises(NotPermitted) as err:
            log.do("accept", actor, h(1))
        assert err.value.detail["allowed_roles"] == ["调度员", "admin", "总网格长"]
    inc = log.do("accept", HEAD, h(1))  # the 总网格长 of this community
    assert log.events[-1].actor_role == "总网格长" and inc.state is State.ACCEPTED


def test_report_permissions_and_grid_scope():
    log = Log()
    with pytest.raises(NotPermitted):
        log.report(reporter=VIEWER)
    planner_on_grid = Actor("p2", AppRole.PLANNER, frozenset({(Role.MICRO_HEAD, MICRO)}))
    assert log.report(reporter=planner_on_grid).reporter_id == "p2"
    assert log.events[-1].actor_role == "微网格长"
    with pytest.raises(NotPermitted):
        log.report(
            reporter=Actor("p3", AppRole.PLANNER, frozenset({(Role.MICRO_HEAD, "510116004001001002")}))
        )


def test_reclassify_then_merge():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(1))
    inc = log.do("reclassify", DISPATCHER, h(2), category="dispute", urgent=True)
    assert inc.category is Category.DISPUTE and inc.urgent and inc.state is State.ACCEPTED
    assert log.events[-1].before["category"] == "安全隐患" and log.events[-1].after["category"] == "矛盾纠纷"
    with pytest.raises(InvalidInput) as err:
        log.do("merge", DISPATCHER, h(3), into="E1")
    assert err.value.field == "into"
    inc = log.do("merge", DISPATCHER, h(3), into="E0")
    assert inc.state is State.MERGED and inc.merged_into == "E0" and not inc.is_open


def test_reclassify_urgent_changes_the_time_limit():
    log = Log()
    log.report(category="群众诉求")
    log.do("accept", DISPATCHER, h(1))
    log.do("reclassify", DISPATCHER, h(1), category="群众诉求", urgent=True)
    inc = log.do("assign", DISPATCHER, h(2), assignee_id="w1")
    assert inc.limit_hours == 4.0 and inc.deadline == h(6)


def test_void_needs_a_reason():
    log = Log()
    log.report()
    with pytest.raises(InvalidInput) as err:
        log.do("void", DISPATCHER, h(1))
    assert err.value.field == "reason"
    with pytest.raises(InvalidInput):
        log.do("void", DISPATCHER, h(1), reason="   ")
    inc = log.do("void", DISPATCHER, h(1), reason="误报")
    assert inc.state is State.VOID and inc.void_reason == "误报"


def test_defer_and_resume_pause_the_clock():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(0))
    log.do("assign", DISPATCHER, h(1), assignee_id="w1")  # deadline h(25)
    log.do("start", WORKER, h(2))
    inc = log.do("defer", DISPATCHER, h(5), reason="等待物业配合")
    assert inc.state is State.DEFERRED and inc.deferred_from is State.IN_PROGRESS
    with pytest.raises(IllegalTransition) as err:
        log.do("feedback", WORKER, h(6), note="x")
    assert err.value.detail["allowed_actions"] == ["resume", "supervise"]
    assert err.value.detail["allowed_states"] == ["处置中", "缓办"]
    inc = log.do("resume", DISPATCHER, h(15))
    assert inc.state is State.IN_PROGRESS and inc.deadline == h(35)
    assert inc.deferred_from is None and inc.deferred_at is None


def test_defer_before_assignment_resumes_to_accepted():
    log = Log()
    log.report()
    log.do("accept", DISPATCHER, h(0))
    log.do("defer", DISPATCHER, h(1), reason="需上级研判")
    inc = log.do("resume", HEAD, h(30))
    assert inc.state is State.ACCEPTED and inc.deadline is None


def test_inputs_refused():
    log = Log()
    with pytest.raises(InvalidInput) as err:
        log.report(description="x" * 2001)
    assert err.value.field == "description" and err.value.detail["max"] == 2000
    assert log.report(description="x" * 2000).description == "x" * 2000
    with pytest.raises(InvalidInput) as err:
        log.report(category="噪音")
    assert err.value.field == "category"
    with pytest.raises(InvalidInput) as err:
        log.report(at=datetime(2025, 3, 3, 9, 0))
    assert err.value.field == "at"
    with pytest.raises(InvalidInput) as err:
        log.report(lon=float("nan"))
    assert err.value.field == "lon"
    with pytest.raises(InvalidInput) as err:
        log.do("accept", DISPATCHER, h(1), colour="red")
    assert err.value.field == "colour"
    with pytest.raises(InvalidInput) as err:
        log.do("accept", DISPATCHER, h(-1))
    assert err.value.field == "at"
    with pytest.raises(InvalidInput) as err:
        log.do("launch", DISPATCHER, h(1))
    assert err.value.field == "action"
    log.do("accept", DISPATCHER, h(1))
    with pytest.raises(InvalidInput) as err:
        log.do("assign", DISPATCHER, h(1), assignee_id="w 1")
    assert err.value.field == "assignee_id"
    with pytest.raises(InvalidInput) as err:
        log.do("assign", DISPATCHER, h(1), assignee_id="w1", limit_hours=0)
    assert err.value.field == "limit_hours"
    with pytest.raises(InvalidInput) as err:
        log.do("assign", DISPATCHER, h(1), assignee_id="w1", assignee_role="队长")
    assert err.value.field == "assignee_role"


def _run_everything(log: Log) -> None:
    log.report(urgent=True)
    log.do("reclassify", DISPATCHER, h(0), category="emergency")
    log.do("accept", DISPATCHER, h(0.5))
    log.do("assign", DISPATCHER, h(1), assignee_id="w1", assignee_role="微网格员", limit_hours=6)
    log.do("start", WORKER, h(2))
    log.do("defer", HEAD, h(3), reason="待汛期后处理")
    log.do("resume", HEAD, h(10))
    log.do("feedback", WORKER, h(11), note="已加固")
    log.do("verify_fail", HEAD, h(12), reason="未加固到位")
    log.do("assign", DISPATCHER, h(13), assignee_id="w2")
    log.do("start", OTHER_WORKER, h(14))
    log.do("feedback", OTHER_WORKER, h(15), note="重新加固")
    log.do("verify_pass", DISPATCHER, h(16))


def test_replay_rebuilds_state_after_every_event():
    log = Log()
    _run_everything(log)
    assert log.inc.state is State.CLOSED and log.inc.deadline == h(14)  # 1 + 6 h + 7 h deferred
    assert len(log.history) == len(log.events) == 13
    for n, snap in enumerate(log.history, start=1):
        assert replay(log.events[:n]) == snap
    assert replay(list(reversed(log.events))) == log.inc


def test_events_and_records_roundtrip_through_json():
    log = Log()
    _run_everything(log)
    wire = json.dumps([e.to_dict() for e in log.events], ensure_ascii=False)
    back = [Event.from_dict(d) for d in json.loads(wire)]
    assert back == log.events
    assert replay(back) == log.inc
    rec = json.loads(json.dumps(to_record(log.inc), ensure_ascii=False))
    assert rec["state"] == "已结案" and rec["category"] == "应急管理风险隐患" and rec["assignee_role"] is None
    assert from_record(rec) == log.inc


def test_replay_refuses_broken_histories():
    log = Log()
    _run_everything(log)
    with pytest.raises(InvalidInput):
        replay([])
    with pytest.raises(InvalidInput):
        replay(log.events[1:])
    with pytest.raises(InvalidInput):
        replay(log.events[:3] + log.events[4:])
    other = Log()
    other.report(incident_id="E2")
    with pytest.raises(InvalidInput):
        replay([*log.events[:1], Event.from_dict({**log.events[1].to_dict(), "incident_id": "E2"})])
