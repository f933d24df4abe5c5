"""Incidents: insert with the first event in one transaction, append events with optimistic
concurrency, filters; records and events written by ``dispatch`` come back unchanged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.actions import apply, report
from dispatch.actors import Actor, AppRole
from dispatch.events import Event, replay
from dispatch.incident import INCIDENT_FIELDS, from_record, to_record
from geo.errors import NotFound
from store import db
from store.dberrors import Conflict
from store.importing import import_grids
from store.incidents import (
    append_event,
    count_incidents,
    get_incident,
    insert_incident,
    list_events,
    list_incidents,
)
from tests.fixtures_geo import GENERAL_1, MICRO_11, MICRO_21
from tests.store.store_fixtures import COMMUNITY, layer_v1

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WORKER = Actor("P0001", AppRole.GRID_WORKER)
DISPATCHER = Actor("P0002", AppRole.DISPATCHER)


@pytest.fixture
def db_with_community(engine):
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    return engine


def _report(engine, incident_id: str = "I-1", micro: str = MICRO_11, category: str = "安全隐患"):
    inc, ev = report(
        incident_id,
        category,
        "楼道堆放杂物，存在消防隐患",
        WORKER,
        T0,
        community_code=COMMUNITY,
        general_code=micro[:15],
        micro_code=micro,
        lon=104.08,
        lat=30.40,
    )
    extras = {"raw_lon": 104.0862, "raw_lat": 30.3975, "raw_crs": "gcj02", "on_boundary": False}
    with db.write(engine) as conn:
        insert_incident(conn, to_record(inc) | extras, ev.to_dict())
    return inc


def _stored(engine, incident_id: str):
    with db.read(engine) as conn:
        row = get_incident(conn, incident_id)
        events = [Event.from_dict(e) for e in list_events(conn, incident_id)]
    return row, events


def test_insert_stores_the_record_and_its_first_event(db_with_community) -> None:
    inc = _report(db_with_community)
    row, events = _stored(db_with_community, "I-1")
    assert from_record({k: row[k] for k in INCIDENT_FIELDS}) == inc
    assert (row["raw_crs"], row["seq"]) == ("gcj02", 1)
    assert [(e.seq, e.action.value, e.to_state.value) for e in events] == [(1, "report", "已上报")]
    assert replay(events) == inc


def test_append_applies_changes_and_replay_matches_the_row(db_with_community) -> None:
    engine = db_with_community
    inc = _report(engine)
    for action, at, payload in [
        ("accept", T0 + timedelta(minutes=5), {}),
        ("assign", T0 + timedelta(minutes=10), {"assignee_id": "P0003", "grid_code": MICRO_11}),
    ]:
        with db.write(engine) as conn:
            current = from_record(
                {k: v for k, v in get_incident(conn, "I-1").items() if k in INCIDENT_FIELDS}
            )
            inc, ev = apply(current, action, DISPATCHER, at, **payload)
            assert append_event(conn, "I-1", ev.to_dict(), expected_seq=current.seq) == ev.seq
    row, events = _stored(engine, "I-1")
    assert from_record({k: row[k] for k in INCIDENT_FIELDS}) == inc
    assert replay(events) == inc
    assert (row["state"], row["seq"], row["assignee_id"]) == ("已交办", 3, "P0003")
    assert row["deadline"] is not None and row["deadline"] > row["assigned_at"]


def test_a_stale_seq_is_a_conflict_and_leaves_no_trace(db_with_community) -> None:
    engine = db_with_community
    inc = _report(engine)
    _, accepted = apply(inc, "accept", DISPATCHER, T0 + timedelta(minutes=1))
    _, voided = apply(inc, "void", DISPATCHER, T0 + timedelta(minutes=2), reason="重复上报")
    with db.write(engine) as conn:
        append_event(conn, "I-1", accepted.to_dict(), expected_seq=1)
    with pytest.raises(Conflict) as err, db.write(engine) as conn:
        append_event(conn, "I-1", voided.to_dict(), expected_seq=1)
    assert err.value.detail == {"expected_seq": 1, "current_seq": 2}
    row, events = _stored(engine, "I-1")
    assert (row["state"], row["seq"], len(events)) == ("已受理", 2, 2)


def test_two_workers_applying_the_same_transition_one_wins(db_with_community) -> None:
    engine = db_with_community
    inc = _report(engine)
    go = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        _, ev = apply(inc, "accept", Actor(f"P000{i}", AppRole.DISPATCHER), T0 + timedelta(minutes=i))
        go.wait(timeout=60)
        try:
            with db.write(engine) as conn:
                append_event(conn, "I-1", ev.to_dict(), expected_seq=1)
            result = "ok"
        except Conflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in (7, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]
    row, events = _stored(engine, "I-1")
    assert (row["seq"], len(events)) == (2, 2)


def test_duplicate_id_is_a_conflict_and_unknown_is_not_found(db_with_community) -> None:
    engine = db_with_community
    _report(engine)
    with pytest.raises(Conflict):
        _report(engine)
    with pytest.raises(NotFound), db.read(engine) as conn:
        get_incident(conn, "I-404")
    _, ev = apply(
        from_record({"id": "I-404"} | {k: v for k, v in to_record(_dummy()).items() if k != "id"}),
        "accept",
        DISPATCHER,
        T0 + timedelta(minutes=1),
    )
    with pytest.raises(NotFound), db.write(engine) as conn:
        append_event(conn, "I-404", ev.to_dict(), expected_seq=1)


def _dummy():
    inc, _ = report("X", "群众诉求", "路灯不亮", WORKER, T0, community_code=COMMUNITY)
    return inc


def test_filters_by_community_grid_state_and_category(db_with_community) -> None:
    engine = db_with_community
    _report(engine, "I-1", MICRO_11, "安全隐患")
    _report(engine, "I-2", MICRO_21, "矛盾纠纷")
    inc3 = _report(engine, "I-3", MICRO_11, "群众诉求")
    _, ev = apply(inc3, "accept", DISPATCHER, T0 + timedelta(minutes=1))
    with db.write(engine) as conn:
        append_event(conn, "I-3", ev.to_dict(), expected_seq=1)
    with db.read(engine) as conn:
        ids = lambda **kw: sorted(r["id"] for r in list_incidents(conn, **kw))  # noqa: E731
        assert ids(community_code=COMMUNITY) == ["I-1", "I-2", "I-3"]
        assert ids(grid_codes=[MICRO_11]) == ["I-1", "I-3"]
        assert ids(grid_codes=[GENERAL_1]) == ["I-1", "I-3"]
        assert ids(states=["已受理"]) == ["I-3"]
        assert ids(categories=["矛盾纠纷", "群众诉求"]) == ["I-2", "I-3"]
        assert ids(community_code="510116004002") == []
        assert count_incidents(conn, grid_codes=[MICRO_11], states=["已上报"]) == 1
        assert [r["id"] for r in list_incidents(conn, limit=2)] == ["I-1", "I-2"]
