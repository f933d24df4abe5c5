"""Publishing under concurrent readers (threads with their own connections: SQLite WAL readers,
PostgreSQL sessions): every read sees the old layer or the new one, never a mix, and exactly one
published version at every instant. Concurrent publishers are serialised."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from sqlalchemy import func, select

from store import db, models
from store.grids import published_layers
from store.importing import import_grids
from store.versions import list_versions, publish
from tests.store.store_fixtures import COMMUNITY, layer_v1, layer_v2

READERS = 4
DRAFTS = 6  # versions 2..7 alternate between the v2 and v1 drawings


def _signature(grids) -> frozenset:
    return frozenset((g.code, g.name, g.geometry.wkb) for g in grids)


def _run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def test_readers_during_publish_see_the_old_or_the_new_layer_never_a_mix(engine) -> None:
    v1, v2 = _signature(layer_v1()), _signature(layer_v2())
    assert v1 != v2
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1)
    for i in range(DRAFTS):
        import_grids(engine, layer_v2() if i % 2 == 0 else layer_v1(), COMMUNITY, commit=True)
    expected = {n: (v1 if n % 2 == 1 else v2) for n in range(1, DRAFTS + 2)}

    started = threading.Barrier(READERS + 1)
    published_all = threading.Event()
    seen: list[tuple[int, int, frozenset]] = []
    lock = threading.Lock()

    def reader() -> None:
        first = True
        done_after_publish = 0
        while done_after_publish < 2:
            finished = published_all.is_set()
            with db.read(engine) as conn:
                n_published = conn.execute(
                    select(func.count())
                    .select_from(models.layer_versions)
                    .where(
                        models.layer_versions.c.community_code == COMMUNITY,
                        models.layer_versions.c.state == "published",
                    )
                ).scalar_one()
                [(_code, _vid, number, h)] = published_layers(conn)
            with lock:
                seen.append((n_published, number, _signature(h)))
            if first:
                started.wait(timeout=60)
                first = False
            if finished:
                done_after_publish += 1

    def writer() -> None:
        started.wait(timeout=60)
        for n in range(2, DRAFTS + 2):
            with db.write(engine) as conn:
                publish(conn, COMMUNITY, n)
        published_all.set()

    _run_threads([reader] * READERS + [writer])

    assert len(seen) >= 3 * READERS
    for n_published, number, sig in seen:
        assert n_published == 1
        assert sig == expected[number], f"version {number} read with another version's grids"
    numbers = {number for _, number, _ in seen}
    assert 1 in numbers and DRAFTS + 1 in numbers  # reads before the first and after the last publish


def test_concurrent_publishers_are_serialised(engine) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1)
    import_grids(engine, layer_v2(), COMMUNITY, commit=True)
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    go = threading.Barrier(2)

    def publisher(n: int) -> Callable[[], None]:
        def run() -> None:
            go.wait(timeout=60)
            with db.write(engine) as conn:
                publish(conn, COMMUNITY, n)

        return run

    _run_threads([publisher(2), publisher(3)])
    with db.read(engine) as conn:
        versions = list_versions(conn, COMMUNITY)
    assert [v.state for v in versions].count("published") == 1
    assert [v.state for v in versions].count("retired") == 2
    # validity intervals chain without gap or overlap, in publish order
    chain = sorted(versions, key=lambda v: v.valid_from)
    for older, newer in itertools.pairwise(chain):
        assert older.valid_to == newer.valid_from
    assert chain[-1].valid_to is None and chain[0].number == 1
