"""Input limits, the consistency of the rule tables, and the doctests of dispatch/."""

from __future__ import annotations

import doctest
import importlib
from datetime import datetime, timedelta, timezone

import pytest

import dispatch
from dispatch import PERMISSIONS, TRANSITIONS, Action, Actor, AppRole, Category, InvalidInput, State
from dispatch.actions import _HANDLERS, available_actions, report
from dispatch.validation import (
    DESCRIPTION_MAX,
    ID_MAX,
    check_aware,
    check_hours,
    check_id,
    check_lonlat,
    check_text,
)
from geo.errors import WeiwangError
from geo.roles import Role

CST = timezone(timedelta(hours=8))


def test_text_limits_name_the_field():
    assert check_text("description", "a" * DESCRIPTION_MAX, DESCRIPTION_MAX) == "a" * DESCRIPTION_MAX
    for bad in ("a" * (DESCRIPTION_MAX + 1), "", "  ", 3, "a\x00b"):
        with pytest.raises(InvalidInput) as err:
            check_text("description", bad, DESCRIPTION_MAX)
        assert err.value.field == "description" and err.value.code == "invalid_input"
        assert isinstance(err.value, WeiwangError) and "description" in err.value.zh


def test_ids_hours_times_and_points():
    assert check_id("assignee_id", "w1") == "w1" and check_id("x", None, required=False) is None
    for bad in ("", "a b", "x" * (ID_MAX + 1), 7, "a\nb"):
        with pytest.raises(InvalidInput):
            check_id("assignee_id", bad)
    assert check_hours("h", 4) == 4.0
    for bad in (0, -1, float("inf"), float("nan"), True, "4", 24 * 366):
        with pytest.raises(InvalidInput):
            check_hours("h", bad)
    assert check_aware("at", datetime(2025, 1, 1, tzinfo=CST))
    for bad in (datetime(2025, 1, 1), "2025-01-01"):
        with pytest.raises(InvalidInput):
            check_aware("at", bad)
    assert check_lonlat(104.08, 30.4) == (104.08, 30.4) and check_lonlat(None, None) == (None, None)
    for lon, lat, field in ((104.08, None, "lat"), (181, 30, "lon"), (104, 91, "lat"), ("104", 30, "lon")):
        with pytest.raises(InvalidInput) as err:
            check_lonlat(lon, lat)
        assert err.value.field == field


def test_id_check_refuses_exactly_whitespace_and_unprintable_characters():
    """``check_id`` refuses a character exactly when ``str.isspace`` or not ``str.isprintable``
    says so, over every code point of the Basic Multilingual Plane and a few beyond it."""
    for cp in [*range(0x10000), 0x1F600, 0xE0001, 0x10FFFD]:
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        bad = ch.isspace() or not ch.isprintable()
        try:
            check_id("id", f"a{ch}b")
        except InvalidInput:
            assert bad, hex(cp)
        else:
            assert not bad, hex(cp)


def test_stable_values():
    assert [c.value for c in Category] == ["综合维稳", "矛盾纠纷", "安全隐患", "应急管理风险隐患", "群众诉求"]
    assert [c.key for c in Category] == ["stability", "dispute", "safety", "emergency", "request"]
    assert [s.value for s in State] == [
        "已上报",
        "已受理",
        "已交办",
        "处置中",
        "已反馈",
        "已结案",
        "缓办",
        "已合并",
        "无效",
    ]
    assert [r.value for r in AppRole] == ["规划员", "调度员", "网格员", "查看者", "admin"]
    assert [r.key for r in AppRole] == ["planner", "dispatcher", "grid_worker", "viewer", "admin"]


def test_tables_are_consistent():
    assert set(PERMISSIONS) == set(Action)
    assert set(TRANSITIONS) == set(State)
    table_actions = {a for moves in TRANSITIONS.values() for a in moves}
    assert table_actions == set(Action) - {Action.REPORT} == set(_HANDLERS)
    reachable = {State.REPORTED} | {
        t for moves in TRANSITIONS.values() for t in moves.values() if t is not None
    }
    assert reachable == set(State)


def test_available_actions_per_actor():
    at = datetime(2025, 3, 3, 9, tzinfo=CST)
    inc, _ = report(
        "E1", "群众诉求", "路灯不亮", Actor("w1", AppRole.GRID_WORKER), at, community_code="510116004001"
    )
    assert available_actions(inc, Actor("d1", AppRole.DISPATCHER)) == (
        Action.ACCEPT,
        Action.RECLASSIFY,
        Action.MERGE,
        Action.VOID,
        Action.SUPERVISE,
    )
    assert available_actions(inc, Actor("w1", AppRole.GRID_WORKER)) == ()
    assert available_actions(inc, Actor("v1", AppRole.VIEWER)) == ()


@pytest.mark.parametrize("name", ["categories", "deadlines", "routing", "validation"])
def test_doctests(name):
    module = importlib.import_module(f"dispatch.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_public_names_exist():
    for name in dispatch.__all__:
        assert hasattr(dispatch, name), name


def test_actor_accepts_stored_strings():
    actor = Actor("h1", "网格员", frozenset({("总网格长", "510116004001")}))
    assert actor.app_role is AppRole.GRID_WORKER and actor.holds(Role.COMMUNITY_HEAD, "510116004001")
    for bad in (("x", "队长", frozenset()), ("x", "调度员", frozenset({("组长", "1")}))):
        with pytest.raises(InvalidInput) as err:
            Actor(*bad)
        assert err.value.field == "actor"
