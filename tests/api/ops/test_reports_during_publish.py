"""Reports arriving during a publish (both databases): each is stored with the version in force at
the instant the server received it, never a mix, and none is lost (the rule of :mod:`store.inforce`).

* the two cases of the rule, made deterministic with a worker whose version table is stale;
* a stream of reports from threads through the operations layer while another service publishes;
* the same through a real served app (``weiwang serve``, two workers), via the drill.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from api.ops import drafts, intake, publishing
from api.ops.access import User
from api.ops.service import Service
from api.settings import Settings
from dispatch import AppRole
from store import db
from store.inforce import in_force
from store.models import incidents
from store.versions import list_versions
from tests.api.ops.test_publishing import M1, WEST, C, points, split_wkt

DISPATCHER = User(1, "dispatcher", AppRole.DISPATCHER, None)
TAG = "publish stream"


@pytest.fixture
def engine_url(seeded_url: str) -> Iterator[tuple[object, str]]:
    engine = db.make_engine(seeded_url)
    yield engine, seeded_url
    engine.dispose()


def services(engine_url: tuple[object, str], poll_s: float) -> tuple[Service, Service]:
    """The planner's service (reads at once) and a reporting worker's (polls every ``poll_s``)."""
    engine, url = engine_url
    planner = Service(Settings(database_url=url, version_poll_s=0.0), engine)  # type: ignore[arg-type]
    worker = Service(Settings(database_url=url, version_poll_s=poll_s), engine)  # type: ignore[arg-type]
    return planner, worker


def body(lon: float, lat: float, text: str = TAG) -> dict:
    return {"lon": lon, "lat": lat, "category": "安全隐患", "description": text}


def version_ids(service: Service) -> tuple[int, int]:
    with db.read(service.engine) as conn:
        vs = {v.number: v.id for v in list_versions(conn, C)}
    return vs[1], vs[2]


def test_a_report_received_after_the_switch_on_a_stale_worker_goes_on_the_new_version(engine_url) -> None:
    planner, worker = services(engine_url, poll_s=3600.0)
    worker.layers.current()  # the worker has read the version table: version 1 in force
    west = points()["west"]
    drafts.new(planner, C)
    drafts.apply(planner, C, 2, "split", {"grid": M1, "line": split_wkt()})
    v1, v2 = version_ids(planner)

    early = intake.prepare_report(worker, DISPATCHER, body(*west))  # received before the switch
    publishing.publish(planner, C, 2, by="planner")
    late = intake.prepare_report(worker, DISPATCHER, body(*west))  # received after, stale table
    assert v1 in early.version_ids and v1 in late.version_ids  # both located on version 1 in memory

    stored_early = intake.store_report(worker, early)
    stored_late = intake.store_report(worker, late)
    assert (stored_early["layer_version_id"], stored_early["micro_code"]) == (v1, M1)
    assert (stored_late["layer_version_id"], stored_late["micro_code"]) == (v2, WEST)
    assert stored_late["reported_at"] == late.at  # the receipt instant is kept when located again
    with db.read(planner.engine) as conn:
        versions = list_versions(conn, C)
    switch = next(v for v in versions if v.number == 2).valid_from
    assert stored_early["reported_at"] < switch <= stored_late["reported_at"]


def test_a_stream_of_reports_during_a_publish_is_never_mixed_nor_lost(engine_url) -> None:
    planner, worker = services(engine_url, poll_s=0.5)
    pts = list(points().values())
    drafts.new(planner, C)
    drafts.apply(planner, C, 2, "split", {"grid": M1, "line": split_wkt()})
    worker.layers.at(None, None).locator  # noqa: B018 (built before the stream)
    sent: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.6

    def reporter(k: int) -> None:
        i = 0
        while time.monotonic() < stop:
            lon, lat = pts[(i + k) % len(pts)]
            try:
                row = intake.report_incident(worker, DISPATCHER, body(lon, lat, f"{TAG} {k}-{i}"))
            except BaseException as err:
                with lock:
                    errors.append(err)
                return
            with lock:
                sent.append(row["id"])
            i += 1

    threads = [threading.Thread(target=reporter, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    publishing.publish(planner, C, 2, by="planner")
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]

    with db.read(planner.engine) as conn:
        versions = list_versions(conn, C)
        rows = conn.execute(
            select(incidents.c.id, incidents.c.reported_at, incidents.c.layer_version_id).where(
                incidents.c.description.like(f"{TAG} %")
            )
        ).all()
    assert sorted(r.id for r in rows) == sorted(sent) and len(sent) > 20  # none lost
    switch = next(v for v in versions if v.number == 2).valid_from
    before = [r for r in rows if r.reported_at < switch]
    after = [r for r in rows if r.reported_at >= switch]
    assert before and after  # the stream straddled the switch
    wrong = [
        r
        for r in rows
        if not any(v.id == r.layer_version_id and in_force(v, r.reported_at) for v in versions)
    ]
    assert wrong == []


def test_reports_to_a_served_app_during_a_publish(seeded_url: str, db_kind: str) -> None:
    from bench.drills.reports_during_publish import run

    out = run(seeded_url, db_kind, reports=150, rate=75.0, workers=2, senders=4)
    assert out.errors == [] and out.answered_201 == out.sent == out.stored == 150, out.lines()
    assert out.wrong_version == [] and out.wrong_grid == [], out.lines()
    assert out.before > 0 and out.after > 0 and out.held, out.lines()


@pytest.mark.serial
def test_a_report_on_the_event_loop_does_not_wait_for_a_publish(engine_url) -> None:
    """While a publish holds the layer switch, a report's write with ``wait=False`` (the event
    loop's) gives way at once instead of blocking the loop; it is stored once the switch is free."""
    from store.versions import hold_switch

    planner, worker = services(engine_url, poll_s=0.0)
    rep = intake.prepare_report(worker, DISPATCHER, body(*points()["m2"]))
    held, release = threading.Event(), threading.Event()

    def publisher() -> None:  # another thread in the middle of a publish's transaction
        with db.write(planner.engine) as conn:
            hold_switch(conn, exclusive=True)
            held.set()
            release.wait(30)

    t = threading.Thread(target=publisher)
    t.start()
    try:
        assert held.wait(30)
        started = time.monotonic()
        with pytest.raises(db.WriterBusy):
            intake.store_report(worker, rep, wait=False)
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        t.join(30)
    assert intake.store_report(worker, rep, wait=False)["id"] == rep.id


def test_a_back_dated_publish_may_not_leave_reports_on_a_version_no_longer_in_force(engine_url) -> None:
    from datetime import timedelta

    from store.dberrors import Conflict

    planner, worker = services(engine_url, poll_s=0.0)
    row = intake.report_incident(worker, DISPATCHER, body(*points()["m2"]))
    drafts.new(planner, C)
    with pytest.raises(Conflict) as err:
        publishing.publish(planner, C, 2, at=row["reported_at"] - timedelta(seconds=1))
    assert err.value.field == "at" and "1 条上报" in err.value.zh
    v = publishing.publish(planner, C, 2, at=row["reported_at"] + timedelta(microseconds=1)).version
    assert v.state == "published"  # after the last report received: nothing is rewritten
