"""Incident states, actions and the transition table (pure data).

The loop: 已上报 → 已受理 → 已交办 → 处置中 → 已反馈 → (核查) → 已结案, with 缓办 (deferred,
resumable), 已合并 (duplicate) and 无效 (void) on the side. A failed 核查 sends the incident back
to 处置中 (返工). State values are the Chinese names (stored); action values are English verbs
(stored in events, used in API paths); both have an English ``key``/Chinese ``zh``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from dispatch.errors import IllegalTransition, InvalidInput


class State(StrEnum):
    """Incident state. Value: Chinese name (stored); ``key``: English key."""

    REPORTED = "已上报"
    ACCEPTED = "已受理"
    ASSIGNED = "已交办"
    IN_PROGRESS = "处置中"
    FED_BACK = "已反馈"
    CLOSED = "已结案"
    DEFERRED = "缓办"
    MERGED = "已合并"
    VOID = "无效"

    @property
    def key(self) -> str:
        """Stable English key, e.g. ``in_progress``."""
        return self.name.lower()

    @property
    def is_final(self) -> bool:
        """已结案, 已合并 and 无效 allow no further action."""
        return self in (State.CLOSED, State.MERGED, State.VOID)

    @property
    def clock_running(self) -> bool:
        """States in which the 交办 clock runs (so the incident can become overdue)."""
        return self in (State.ASSIGNED, State.IN_PROGRESS, State.FED_BACK)


class Action(StrEnum):
    """What an actor does to an incident. Value: English verb (stored in events); ``zh``: label."""

    REPORT = "report"
    ACCEPT = "accept"
    RECLASSIFY = "reclassify"
    MERGE = "merge"
    VOID = "void"
    ASSIGN = "assign"
    START = "start"
    FEEDBACK = "feedback"
    VERIFY_PASS = "verify_pass"  # noqa: S105 (an action name, not a password)
    VERIFY_FAIL = "verify_fail"
    DEFER = "defer"
    RESUME = "resume"
    SUPERVISE = "supervise"
    REROUTE = "reroute"

    @property
    def zh(self) -> str:
        return _ACTION_ZH[self]

    @classmethod
    def parse(cls, value: object) -> Action:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value))
        except ValueError:
            raise InvalidInput(
                f"操作无效：{value!r}",
                f"unknown action {value!r}",
                field="action",
                detail={"allowed": [a.value for a in cls]},
            ) from None


_ACTION_ZH = {
    Action.REPORT: "上报",
    Action.ACCEPT: "受理",
    Action.RECLASSIFY: "改类",
    Action.MERGE: "合并",
    Action.VOID: "作废",
    Action.ASSIGN: "交办",
    Action.START: "开始处置",
    Action.FEEDBACK: "反馈",
    Action.VERIFY_PASS: "核查通过",
    Action.VERIFY_FAIL: "核查不通过（返工）",
    Action.DEFER: "缓办",
    Action.RESUME: "恢复办理",
    Action.SUPERVISE: "督办",
    Action.REROUTE: "重新路由",
}

#: Transition table: state → {action → next state}. ``None`` as next state means "back to the
#: state the incident was deferred from" (only for 缓办 → resume). Report creates an incident in
#: 已上报 and is not in the table. Final states have no actions. ``start`` in 处置中 is the handler
#: taking up work returned by a failed 核查 (返工); it keeps the state and records ``started_at``.
#: ``supervise`` (督办) is open in every open state and keeps it. ``merge`` and ``void`` stay open
#: after 交办 until work starts: intake accepts and assigns a report at once, and a duplicate or a
#: false report is often noticed only then. ``reroute`` (重新路由) is the system's, at a publish of a
#: new grid map, on incidents whose work has not started (:mod:`dispatch.rerouting`); it keeps the state.
TRANSITIONS: Mapping[State, Mapping[Action, State | None]] = MappingProxyType(
    {
        State.REPORTED: {
            Action.ACCEPT: State.ACCEPTED,
            Action.RECLASSIFY: State.REPORTED,
            Action.MERGE: State.MERGED,
            Action.VOID: State.VOID,
            Action.SUPERVISE: State.REPORTED,
            Action.REROUTE: State.REPORTED,
        },
        State.ACCEPTED: {
            Action.RECLASSIFY: State.ACCEPTED,
            Action.MERGE: State.MERGED,
            Action.VOID: State.VOID,
            Action.ASSIGN: State.ASSIGNED,
            Action.DEFER: State.DEFERRED,
            Action.SUPERVISE: State.ACCEPTED,
            Action.REROUTE: State.ACCEPTED,
        },
        State.ASSIGNED: {
            Action.START: State.IN_PROGRESS,
            Action.ASSIGN: State.ASSIGNED,
            Action.DEFER: State.DEFERRED,
            Action.RECLASSIFY: State.ASSIGNED,
            Action.MERGE: State.MERGED,
            Action.VOID: State.VOID,
            Action.SUPERVISE: State.ASSIGNED,
            Action.REROUTE: State.ASSIGNED,
        },
        State.IN_PROGRESS: {
            Action.START: State.IN_PROGRESS,
            Action.FEEDBACK: State.FED_BACK,
            Action.ASSIGN: State.ASSIGNED,
            Action.DEFER: State.DEFERRED,
            Action.SUPERVISE: State.IN_PROGRESS,
        },
        State.FED_BACK: {
            Action.VERIFY_PASS: State.CLOSED,
            Action.VERIFY_FAIL: State.IN_PROGRESS,
            Action.SUPERVISE: State.FED_BACK,
        },
        State.DEFERRED: {Action.RESUME: None, Action.SUPERVISE: State.DEFERRED},
        State.CLOSED: {},
        State.MERGED: {},
        State.VOID: {},
    }
)


#: Actions only the system takes (never offered to a person, never named to one as allowed).
SYSTEM_ACTIONS = frozenset({Action.REROUTE})


def allowed_actions(state: State) -> tuple[Action, ...]:
    """Actions the table allows in ``state`` (in table order; ignores who asks)."""
    return tuple(TRANSITIONS[state])


def next_state(state: State, action: Action, deferred_from: State | None = None) -> State:
    """The state ``action`` leads to from ``state``, or :class:`IllegalTransition`.

    The error's ``detail`` holds ``state``, ``action``, ``allowed_actions`` and ``allowed_states``
    (English keys and Chinese values), and its message names them.
    """
    table = TRANSITIONS[state]
    if action in table:
        target = table[action]
        if target is None:
            if deferred_from is None:  # a deferred incident always records where it came from
                raise IllegalTransition(
                    "缓办记录缺少原状态，无法恢复", "deferred incident has no previous state to resume to"
                )
            return deferred_from
        return target
    actions = tuple(a for a in allowed_actions(state) if a not in SYSTEM_ACTIONS)
    targets: list[State] = []
    for a in actions:
        t = table[a] if table[a] is not None else deferred_from
        if t is not None and t not in targets:
            targets.append(t)
    zh_actions = "、".join(a.zh for a in actions) or "无"
    zh_states = "、".join(t.value for t in targets) or "无"
    en_actions = ", ".join(a.value for a in actions) or "none"
    en_states = ", ".join(t.key for t in targets) or "none"
    raise IllegalTransition(
        f"当前状态为「{state.value}」，不能执行「{action.zh}」；可执行：{zh_actions}；可转入：{zh_states}",
        f"cannot {action.value} an incident in state {state.key}; allowed actions: {en_actions}; "
        f"allowed next states: {en_states}",
        field="action",
        detail={
            "state": state.value,
            "state_key": state.key,
            "action": action.value,
            "allowed_actions": [a.value for a in actions],
            "allowed_states": [t.value for t in targets],
        },
    )
