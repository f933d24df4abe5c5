"""Period indicators on a small hand-computed fixture (exact fractions).

Period: March 2025, [1 Mar 00:00, 1 Apr 00:00) Beijing time; now = 3 Apr, so as_of = 1 Apr 00:00.
Grids: community C1 510116004001 with general G1 …001001 (micro M1 …001001001, M2 …001001002) and
G2 …001002 (micro M3 …001002001); community C2 510116004002 (general …002001, micro W1 …002001001).

| id | grid | story (assign time, limit → deadline)                                | due? | state @ as_of |
|----|------|----------------------------------------------------------------------|------|---------------|
| A  | M1   | w1, 2 Mar 00:00 + 24 h → 3 Mar; closed 2 Mar 12:00 (12 h)            | yes  | 结案, on time  |
| B  | M1   | w1, 5 Mar 00:00 + 24 h → 6 Mar; 核查 fails 5 Mar 12:00 (返工, w1);    | yes  | 结案, late     |
|    |      | reassigned to w2 (clock kept), closed 7 Mar 00:00 (48 h)             |      |               |
| C  | M2   | w2, 10 Mar + 72 h → 13 Mar; still 处置中                              | yes  | open, overdue |
| D  | M2   | w2, 20 Mar + 24 h → 21 Mar; 缓办 20 Mar 12:00                         | yes  | 缓办 (open)    |
| E  | M3   | w3, 30 Mar + 120 h → 4 Apr; closed 31 Mar (24 h), before its deadline | yes  | 结案, on time  |
| F  | M3   | reported 15 Mar, 无效                                                 | no   | 无效           |
| G  | W1   | w4, 27 Feb 00:00 + 72 h → 2 Mar; closed 1 Mar 12:00 (60 h)           | yes  | 结案, on time  |
| H  | M1   | w1, 31 Mar 00:00 + 4 h → 31 Mar 04:00; feedback 02:00; verified      | yes  | 已反馈, overdue |
|    |      | 1 Apr 02:00 — after the period, so not closed as of 1 Apr            |      |               |
| I  | M1   | reported 8 Mar, 已合并 into A                                         | no   | 已合并        |
| J  | M1   | reported 2 Apr — after the period: ignored                            | —    | —             |

E counts as due although its deadline lies after the period: closed on time counts at once
(DOMAIN.md, the corrected 应结案数).

By community — C1: 应结案 A B C D H E = 6, 缓办 D = 1, 结案 A B E = 3, 按期 A E = 2
  → 结案率 3/(6−1) = 3/5, 按期结案率 2/5; 返工 1 (B); median(12 h, 48 h, 24 h) = 24 h; open C D H = 3;
  overdue C H = 2 (D is paused). C2: 1, 0, 1, 1 → 1, 1; median 60 h; open 0.
  Urgent (A flagged urgent, H is 应急管理风险隐患): C1 due A H = 2, 结案 A = 1 on time → 1/2, 1/2, both
  below target (100 %, 95 %); C2 none → None.
By handler (current assignee; 返工 to the handler at the failed check) —
  w1: A H → due 2, 结案 1, 按期 1 → 1/2, 1/2; 返工 1 (B, before reassignment); median 12 h;
      open 1 (H), overdue 1.
  w2: B C D → due 3, 缓办 1, 结案 1 (B), 按期 0 → 1/2, 0; median 48 h; open 2, overdue 1 (C).
  w3: E (closed early) → 1, 1, 24 h. w4: G → 1, 1, 60 h. None: F, I → all zero, rates None.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest

from dispatch import Actor, AppRole, Event, Incident, InvalidInput, apply, indicators, report

CST = timezone(timedelta(hours=8))
START = datetime(2025, 3, 1, tzinfo=CST)
END = datetime(2025, 4, 1, tzinfo=CST)
NOW = datetime(2025, 4, 3, tzinfo=CST)

C1, G1, G2 = "510116004001", "510116004001001", "510116004001002"
M1, M2, M3 = "510116004001001001", "510116004001001002", "510116004001002001"
C2, GW, W1 = "510116004002", "510116004002001", "510116004002001001"
GRIDS = {M1: (C1, G1), M2: (C1, G1), M3: (C1, G2), W1: (C2, GW)}

D1 = Actor("d1", AppRole.DISPATCHER)
D2 = Actor("d2", AppRole.DISPATCHER)


def t(month: int, day: int, hour: float = 0) -> datetime:
    return datetime(2025, month, day, tzinfo=CST) + timedelta(hours=hour)


def worker(pid: str) -> Actor:
    return Actor(pid, AppRole.GRID_WORKER)


class Store:
    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.events: list[Event] = []

    def report(
        self, iid: str, micro: str, at: datetime, category: str = "安全隐患", urgent: bool = False
    ) -> None:
        community, general = GRIDS[micro]
        inc, ev = report(
            iid,
            category,
            "测试事件",
            D1,
            at,
            community_code=community,
            general_code=general,
            micro_code=micro,
            urgent=urgent,
        )
        self.incidents[iid] = inc
        self.events.append(ev)

    def do(self, iid: str, action: str, actor: Actor, at: datetime, **payload) -> None:
        inc, ev = apply(self.incidents[iid], action, actor, at, **payload)
        self.incidents[iid] = inc
        self.events.append(ev)

    def assign(self, iid: str, who: str, at: datetime, hours: float) -> None:
        self.do(iid, "accept", D1, at)
        self.do(iid, "assign", D1, at, assignee_id=who, limit_hours=hours)

    def finish(self, iid: str, who: str, fb: datetime, closed: datetime) -> None:
        self.do(iid, "start", worker(who), fb)
        self.do(iid, "feedback", worker(who), fb, note="已处理")
        self.do(iid, "verify_pass", D2, closed)


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store()
    s.report("A", M1, t(3, 1, 20), urgent=True)
    s.assign("A", "w1", t(3, 2), 24)
    s.finish("A", "w1", t(3, 2, 10), t(3, 2, 12))

    s.report("B", M1, t(3, 4, 22))
    s.assign("B", "w1", t(3, 5), 24)
    s.do("B", "start", worker("w1"), t(3, 5, 1))
    s.do("B", "feedback", worker("w1"), t(3, 5, 11), note="已处理")
    s.do("B", "verify_fail", D2, t(3, 5, 12), reason="未处理到位")
    s.do("B", "assign", D1, t(3, 5, 13), assignee_id="w2")
    s.finish("B", "w2", t(3, 6, 20), t(3, 7))

    s.report("C", M2, t(3, 9))
    s.assign("C", "w2", t(3, 10), 72)
    s.do("C", "start", worker("w2"), t(3, 10, 2))

    s.report("D", M2, t(3, 19))
    s.assign("D", "w2", t(3, 20), 24)
    s.do("D", "defer", D1, t(3, 20, 12), reason="待业主委员会表决")

    s.report("E", M3, t(3, 29))
    s.assign("E", "w3", t(3, 30), 120)
    s.finish("E", "w3", t(3, 30, 20), t(3, 31))

    s.report("F", M3, t(3, 15))
    s.do("F", "void", D1, t(3, 15, 1), reason="误报")

    s.report("G", W1, t(2, 26))
    s.assign("G", "w4", t(2, 27), 72)
    s.finish("G", "w4", t(3, 1, 10), t(3, 1, 12))

    s.report("H", M1, t(3, 30, 23), category="应急管理风险隐患")
    s.assign("H", "w1", t(3, 31), 4)
    s.do("H", "start", worker("w1"), t(3, 31, 1))
    s.do("H", "feedback", worker("w1"), t(3, 31, 2), note="已处理")
    s.do("H", "verify_pass", D1, t(4, 1, 2))

    s.report("I", M1, t(3, 8))
    s.do("I", "merge", D1, t(3, 8, 1), into="A")

    s.report("J", M1, t(4, 2))
    return s


def rows_by_key(store: Store, group_by: str, now: datetime = NOW):
    rows = indicators(list(store.incidents.values()), store.events, START, END, now, group_by)
    return {r.key: r for r in rows}, [r.key for r in rows]


def test_by_community(store):
    rows, keys = rows_by_key(store, "community")
    assert keys == [C1, C2]
    c1 = rows[C1]
    assert (c1.due, c1.deferred, c1.closed, c1.closed_on_time) == (6, 1, 3, 2)
    assert c1.close_rate == Fraction(3, 5) and c1.on_time_rate == Fraction(2, 5)
    assert c1.rework == 1 and c1.median_handling == timedelta(hours=24)
    assert (c1.open, c1.overdue) == (3, 2)
    assert c1.meets_close_rate is False and c1.meets_on_time_rate is False
    assert (c1.urgent_due, c1.urgent_deferred, c1.urgent_closed, c1.urgent_closed_on_time) == (2, 0, 1, 1)
    assert c1.urgent_close_rate == Fraction(1, 2) and c1.urgent_on_time_rate == Fraction(1, 2)
    assert c1.meets_urgent_close_rate is False and c1.meets_urgent_on_time_rate is False
    c2 = rows[C2]
    assert (c2.due, c2.deferred, c2.closed, c2.closed_on_time, c2.rework, c2.open, c2.overdue) == (
        1,
        0,
        1,
        1,
        0,
        0,
        0,
    )
    assert c2.close_rate == 1 and c2.on_time_rate == 1 and c2.median_handling == timedelta(hours=60)
    assert c2.meets_close_rate is True and c2.meets_on_time_rate is True
    assert (c2.urgent_due, c2.urgent_close_rate, c2.meets_urgent_close_rate) == (0, None, None)


def test_by_handler_counts_rework_against_the_handler_at_the_check(store):
    rows, keys = rows_by_key(store, "handler")
    assert keys == ["w1", "w2", "w3", "w4", None]
    w1, w2, w3, w4, nobody = (rows[k] for k in keys)
    assert (w1.due, w1.closed, w1.close_rate, w1.on_time_rate) == (2, 1, Fraction(1, 2), Fraction(1, 2))
    assert (w1.rework, w1.median_handling, w1.open, w1.overdue) == (1, timedelta(hours=12), 1, 1)
    assert (w2.due, w2.deferred, w2.closed, w2.closed_on_time) == (3, 1, 1, 0)
    assert w2.close_rate == Fraction(1, 2) and w2.on_time_rate == 0
    assert (w2.rework, w2.median_handling, w2.open, w2.overdue) == (0, timedelta(hours=48), 2, 1)
    assert (w3.due, w3.close_rate, w3.on_time_rate, w3.meets_close_rate, w3.median_handling) == (
        1,
        1,
        1,
        True,
        timedelta(hours=24),
    )
    assert (w4.close_rate, w4.on_time_rate, w4.median_handling) == (1, 1, timedelta(hours=60))
    assert (nobody.due, nobody.open, nobody.rework, nobody.close_rate) == (0, 0, 0, None)


def test_by_micro_and_general(store):
    micro, keys = rows_by_key(store, "micro")
    assert keys == [M1, M2, M3, W1]
    m1, m2, m3 = micro[M1], micro[M2], micro[M3]
    assert (m1.due, m1.closed, m1.close_rate, m1.on_time_rate, m1.rework) == (
        3,
        2,
        Fraction(2, 3),
        Fraction(1, 3),
        1,
    )
    assert (m2.due, m2.deferred, m2.close_rate, m2.open, m2.overdue) == (2, 1, 0, 2, 1)
    assert (m3.due, m3.close_rate, m3.open) == (1, 1, 0)
    general, keys = rows_by_key(store, "general")
    assert keys == [G1, G2, GW]
    assert (general[G1].due, general[G1].closed, general[G1].close_rate) == (5, 2, Fraction(1, 2))
    assert (general[G2].due, general[G2].close_rate) == (1, 1)


def test_mid_period_uses_the_state_at_now(store):
    # now = 6 Mar 12:00: due so far G (2 Mar) and A (3 Mar) and B (6 Mar 00:00); B is 处置中 and late.
    # C1: due A B = 2, 结案 A = 1 on time → 1/2, 1/2; 返工 1; open B = 1 (later ones not yet reported).
    rows, _ = rows_by_key(store, "community", now=t(3, 6, 12))
    c1 = rows[C1]
    assert (c1.due, c1.closed, c1.closed_on_time, c1.rework, c1.open, c1.overdue) == (2, 1, 1, 1, 1, 1)
    assert c1.close_rate == Fraction(1, 2) and c1.on_time_rate == Fraction(1, 2)
    assert c1.median_handling == timedelta(hours=12)


def test_to_dict_keeps_none_and_floats(store):
    rows, _ = rows_by_key(store, "handler")
    assert rows[None].to_dict()["close_rate"] is None
    d = rows["w1"].to_dict()
    assert d["close_rate"] == 0.5 and d["median_handling_hours"] == 12.0 and d["meets_on_time_rate"] is False


def test_incident_without_history_is_taken_as_given(store):
    h = store.incidents["H"]  # closed 1 Apr 02:00 in its current state
    (row,) = indicators([h], [], START, END, NOW, "community")
    assert (row.due, row.closed, row.closed_on_time) == (1, 1, 0)  # no history: today's state


def test_empty_and_bad_inputs(store):
    assert indicators([], [], START, END, NOW) == []
    with pytest.raises(InvalidInput) as err:
        indicators([], [], END, START, NOW)
    assert err.value.field == "period_end"
    with pytest.raises(InvalidInput) as err:
        indicators([], [], START, END, NOW, "street")
    assert err.value.field == "group_by"
    with pytest.raises(InvalidInput) as err:
        indicators([], [], datetime(2025, 3, 1), END, NOW)
    assert err.value.field == "period_start"


def test_closed_on_time_counts_at_once(store):
    # now = 31 Mar 12:00: E was closed this morning, its deadline (4 Apr) still ahead: due and on time
    rows, _ = rows_by_key(store, "micro", now=t(3, 31, 12))
    m3 = rows[M3]
    assert (m3.due, m3.closed, m3.closed_on_time, m3.on_time_rate) == (1, 1, 1, 1)
    # before it was closed it was not yet due (its deadline lies ahead): no rate at all
    rows, _ = rows_by_key(store, "micro", now=t(3, 30, 21))
    assert (rows[M3].due, rows[M3].on_time_rate) == (0, None)


@pytest.mark.parametrize(("closed_after_deadline_s", "on_time"), [(-1, 1), (0, 1), (1, 0)])
def test_closed_exactly_at_the_deadline_is_on_time(closed_after_deadline_s: int, on_time: int) -> None:
    """按期 is ``closed_at <= deadline``: a case closed at the very second of its deadline is on time."""
    s = Store()
    s.report("K", M1, t(3, 9))
    s.assign("K", "w1", t(3, 10), 24)
    deadline = s.incidents["K"].deadline
    assert deadline == t(3, 11)
    s.finish("K", "w1", t(3, 10, 12), deadline + timedelta(seconds=closed_after_deadline_s))
    rows, _ = rows_by_key(s, "micro")
    assert (rows[M1].due, rows[M1].closed, rows[M1].closed_on_time) == (1, 1, on_time)
