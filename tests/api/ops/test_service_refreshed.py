"""Reference data a request needs on the hot path (:meth:`api.ops.service.Service.refreshed`: the
roster, time limits, account rows): in a served process the watcher thread reloads it, so a request
never waits for a reload, an unchanged roster stays the same object, and a change made by another
process still arrives within the TTL and one watcher period (both databases)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from api.ops.service import WATCHER_THREAD, Service
from api.settings import Settings
from geo.roles import Post, Role
from store import db
from store.people import add_post, upsert_person
from tests.api.ops.test_publishing import M1

NEWCOMER = Post("P-REFRESH", "新来的", Role.MICRO_WORKER, M1)


@pytest.fixture
def service(seeded_url: str) -> Iterator[Service]:
    engine = db.make_engine(seeded_url)
    service = Service(Settings(database_url=seeded_url, version_poll_s=0.2, locator_dir=None), engine)
    yield service
    service.stop_watching()
    engine.dispose()


def _statements_by_thread(service: Service, about: str = "") -> tuple[list[str], object]:
    """Names of the threads that ran a statement (containing ``about``) on the service's engine
    (an event listener)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if about in statement:
            seen.append(threading.current_thread().name)

    event.listen(service.engine, "before_cursor_execute", record)
    return seen, record


def _add_newcomer(url: str) -> None:
    """Another process's roster change: its own engine, committed."""
    other = db.make_engine(url)
    try:
        with db.write(other) as conn:
            upsert_person(conn, NEWCOMER.person_id, NEWCOMER.name)
            add_post(conn, NEWCOMER)
    finally:
        other.dispose()


def test_the_watcher_reloads_the_roster_and_requests_never_wait(service: Service, seeded_url: str) -> None:
    first = service.posts()  # loaded by the caller, the first time
    service.watch_layers()
    seen, record = _statements_by_thread(service)
    try:
        time.sleep(3 * service.roster_ttl_s)  # several reloads by the watcher
        assert service.posts() is first  # unchanged: the same object, so what was built from it holds
        caller = threading.current_thread().name
        assert caller not in seen and seen, seen  # the watcher read; this thread did not
        _add_newcomer(seeded_url)
        deadline = time.monotonic() + service.roster_ttl_s + 2 * service._poll_s() + 2.0
        while NEWCOMER.person_id not in {p.person_id for p in service.posts()}:
            assert time.monotonic() < deadline, "the change did not arrive"
            time.sleep(0.05)
        assert caller not in seen  # arrived without a request loading it
        assert service.posts() is not first
    finally:
        event.remove(service.engine, "before_cursor_execute", record)


def test_without_the_watcher_a_request_loads_an_expired_roster_itself(
    service: Service, seeded_url: str
) -> None:
    first = service.posts()
    seen, record = _statements_by_thread(service)
    try:
        _add_newcomer(seeded_url)
        time.sleep(service.roster_ttl_s + 0.1)
        again = service.posts()
        assert NEWCOMER.person_id in {p.person_id for p in again} and again is not first
        assert threading.current_thread().name in seen
    finally:
        event.remove(service.engine, "before_cursor_execute", record)


def test_writes_to_the_reference_tables_bump_their_counters(service: Service, seeded_url: str) -> None:
    """The triggers of migration 0007: a roster write moves ``roster`` (and only it), a time-limit
    write ``time_limits``, an account write ``users``."""
    from sqlalchemy import update

    from store.changes import ROSTER, TIME_LIMITS, USERS, read_counters
    from store.models import users
    from store.timelimits import set_time_limits
    from store.users import create_user

    def counters() -> dict[str, int]:
        with db.read(service.engine) as conn:
            found = read_counters(conn)
        assert found is not None
        return found

    before = counters()
    _add_newcomer(seeded_url)
    after_roster = counters()
    assert after_roster[ROSTER] > before[ROSTER]
    assert after_roster[TIME_LIMITS] == before[TIME_LIMITS] and after_roster[USERS] == before[USERS]
    with db.write(service.engine) as conn:
        set_time_limits(conn, M1[:12], {"安全隐患": 12})
    assert counters()[TIME_LIMITS] > after_roster[TIME_LIMITS]
    with db.write(service.engine) as conn:
        create_user(conn, "counter-check", "x" * 20, "查看者")
    created = counters()[USERS]
    assert created > after_roster[USERS]
    with db.write(service.engine) as conn:
        conn.execute(update(users).where(users.c.username == "counter-check").values(active=False))
    assert counters()[USERS] > created


def test_the_watcher_reloads_the_roster_only_when_it_changed(service: Service, seeded_url: str) -> None:
    first = service.posts()  # loaded before any counter was read: the watcher reads it once more
    service.watch_layers()
    time.sleep(2 * service._poll_s())
    roster_reads, record = _statements_by_thread(service, "role_assignments")
    try:
        time.sleep(4 * service._poll_s())  # polls that find the roster's counter unchanged
        assert roster_reads == [] and service.posts() is first  # not read again at all
        _add_newcomer(seeded_url)
        deadline = time.monotonic() + 2 * service._poll_s() + 2.0
        while NEWCOMER.person_id not in {p.person_id for p in service.posts()}:
            assert time.monotonic() < deadline, "the change did not arrive"
            time.sleep(0.05)
        assert threading.current_thread().name not in roster_reads and roster_reads  # the watcher read it
    finally:
        event.remove(service.engine, "before_cursor_execute", record)


def test_stop_watching_ends_the_watcher_and_its_polls(service: Service) -> None:
    service.watch_layers()
    time.sleep(2 * service._poll_s())
    watchers = [t for t in threading.enumerate() if t.name == WATCHER_THREAD]
    assert len(watchers) == 1 and watchers[0].is_alive()
    service.stop_watching()
    assert not watchers[0].is_alive()
    polls, record = _statements_by_thread(service)
    try:
        time.sleep(4 * service._poll_s())
        assert WATCHER_THREAD not in polls  # nothing more from a watcher
    finally:
        event.remove(service.engine, "before_cursor_execute", record)
    service.watch_layers()  # and it can be started again
    assert any(t.name == WATCHER_THREAD and t.is_alive() for t in threading.enumerate())
