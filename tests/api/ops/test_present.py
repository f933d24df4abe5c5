"""``present``'s overdue flag, which skips building the incident when the deadline cannot have passed,
equals :func:`dispatch.deadlines.overdue` of the full incident in every case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.ops.incidents import present, to_incident
from dispatch import Action, Actor, AppRole, Incident, apply, report
from dispatch.deadlines import overdue
from dispatch.incident import INCIDENT_FIELDS, to_record
from dispatch.states import State

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SYSTEM = Actor("system", AppRole.ADMIN)


def _assigned() -> Incident:
    """Reported, accepted and assigned at AT: deadline AT + 24 h (安全隐患)."""
    inc, _ = report(
        "SJ20261201AAAA",
        "安全隐患",
        "井盖缺失",
        Actor("user:d", AppRole.DISPATCHER),
        AT,
        community_code="510116004001",
        lon=104.08,
        lat=30.41,
    )
    inc, _ = apply(inc, Action.ACCEPT, SYSTEM, AT)
    inc, _ = apply(inc, Action.ASSIGN, SYSTEM, AT, assignee_id="P1", limit_hours=24.0)
    return inc


def _row(inc: Incident, *, as_text: bool) -> dict[str, Any]:
    """The incident as a stored row: datetimes as read back, or their ISO text."""
    return (
        to_record(inc)
        if as_text
        else {n: getattr(inc, n) for n in INCIDENT_FIELDS}
        | {
            "category": inc.category.value,
            "state": inc.state.value,
            "assignee_role": None,
            "deferred_from": inc.deferred_from.value if inc.deferred_from else None,
        }
    )


CASES = {
    "before the deadline": (_assigned(), timedelta(hours=23)),
    "at the deadline": (_assigned(), timedelta(hours=24)),
    "after the deadline": (_assigned(), timedelta(hours=25)),
    "no deadline": (replace(_assigned(), deadline=None), timedelta(hours=25)),
    "deferred after the deadline": (
        replace(_assigned(), state=State.DEFERRED, deferred_from=State.ASSIGNED, deferred_at=AT),
        timedelta(hours=25),
    ),
    "closed after the deadline": (replace(_assigned(), state=State.CLOSED), timedelta(hours=25)),
}


@pytest.mark.parametrize("as_text", [False, True], ids=["datetimes", "iso-text"])
@pytest.mark.parametrize("case", list(CASES))
def test_overdue_flag_equals_the_domain_rule(case: str, as_text: bool) -> None:
    inc, later = CASES[case]
    now = AT + later
    row = _row(inc, as_text=as_text)
    shown = present(row, people={}, names={}, mask=False, now=now)
    assert shown["overdue"] is overdue(to_incident(row), now)
    assert shown["overdue"] is (case == "after the deadline")
