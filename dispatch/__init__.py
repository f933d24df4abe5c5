"""The incident loop 上报 → 研判 → 交办 → 处置 → 反馈 → 核查 → 结案 as pure logic (no DB, no HTTP).

Contract for storage and API (values are stable; never rename them):

* :class:`Category` (``categories``) — stored value is the Chinese name (综合维稳, 矛盾纠纷,
  安全隐患, 应急管理风险隐患, 群众诉求); ``.key`` is the English key (stability, dispute, safety,
  emergency, request); :meth:`Category.parse` accepts either.
* :class:`State` (``states``) — stored value Chinese (已上报, 已受理, 已交办, 处置中, 已反馈, 已结案,
  缓办, 已合并, 无效); ``.key`` English. :class:`Action` — stored value English verb (report, accept,
  reclassify, merge, void, assign, start, feedback, verify_pass, verify_fail, defer, resume);
  ``.zh`` Chinese label. :data:`TRANSITIONS` is the whole state machine as data.
* :class:`AppRole` (``actors``) — 规划员, 调度员, 网格员, 查看者, admin. :data:`PERMISSIONS` maps each
  action to the principals allowed: app roles, grid roles scoped to the incident's grids
  (总网格长 of its community …) and 承办人 (the assignee). Verifier ≠ handler.
* :class:`Incident` (``incident``) — frozen dataclass; :func:`to_record`/:func:`from_record` give
  a JSON-ready dict (ISO 8601 datetimes with offset, enum values). One table row per incident.
* :class:`Event` (``events``) — append-only, ``(incident_id, seq)`` unique, seq from 1 without
  gaps; ``before``/``after`` hold the changed record fields, so :func:`replay` rebuilds the
  incident from events alone. ``Event.to_dict``/``from_dict`` for storage.
* :func:`report` creates an incident; :func:`apply(incident, action, actor, at, **payload)
  <apply>` returns ``(new_incident, event)``. Errors (``errors``): ``IllegalTransition``
  (``illegal_transition`` → 409; ``detail`` has ``state``, ``allowed_actions``,
  ``allowed_states``), ``NotPermitted`` (``forbidden`` → 403), ``InvalidInput``
  (``invalid_input`` → 422; ``field`` names the input). All subclass ``geo.errors.WeiwangError``.
* :func:`route` (``routing``) — default handler from posts valid on a date: 微网格员 → 微网格长 →
  一般网格员 → 总网格长; outside every micro-grid → community queue (``queue=True``).
* ``deadlines`` — :class:`TimeLimits` per community (defaults: 综合维稳 24 h, 矛盾纠纷 72 h,
  安全隐患 24 h, 应急管理风险隐患 4 h, 群众诉求 120 h, urgent ≤ 4 h), :func:`overdue`,
  :func:`supervision_list` (督办清单 with escalation one level up per overdue period).
* ``indicators`` — :func:`indicators` per community/general/micro/handler, on each incident's
  state at ``as_of = min(now, period_end)`` rebuilt from events; 应结案数 = incidents (not
  无效/已合并) whose deadline falls in ``[period_start, as_of)``; 缓办数/结案数/按期结案数 are among
  those; rates are exact Fractions or None (zero denominator); threshold flags 结案率 ≥ 90 %,
  按期结案率 ≥ 70 % (urgent: 100 %, ≥ 95 %). ``IndicatorRow.to_dict`` gives floats.

All times are timezone-aware; no function reads the clock except ``supervision_list_now``.
"""

from dispatch.actions import apply, available_actions, report
from dispatch.actors import ASSIGNEE, PERMISSIONS, Actor, AppRole, authorise
from dispatch.categories import Category
from dispatch.deadlines import (
    DEFAULT_TIME_LIMITS,
    SupervisionItem,
    TimeLimits,
    limits_for,
    overdue,
    supervision_list,
    supervision_list_now,
)
from dispatch.errors import IllegalTransition, InvalidInput, NotPermitted
from dispatch.events import Event, replay
from dispatch.incident import Incident, from_record, to_record
from dispatch.indicators import IndicatorRow, indicators
from dispatch.routing import RouteResult, RouteStep, route
from dispatch.states import TRANSITIONS, Action, State, allowed_actions

__all__ = [
    "ASSIGNEE",
    "DEFAULT_TIME_LIMITS",
    "PERMISSIONS",
    "TRANSITIONS",
    "Action",
    "Actor",
    "AppRole",
    "Category",
    "Event",
    "IllegalTransition",
    "Incident",
    "IndicatorRow",
    "InvalidInput",
    "NotPermitted",
    "RouteResult",
    "RouteStep",
    "State",
    "SupervisionItem",
    "TimeLimits",
    "allowed_actions",
    "apply",
    "authorise",
    "available_actions",
    "from_record",
    "indicators",
    "limits_for",
    "overdue",
    "replay",
    "report",
    "route",
    "supervision_list",
    "supervision_list_now",
    "to_record",
]
