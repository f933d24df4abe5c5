"""The impact preview of a draft (both databases): its locator is built in the process's memory
per (draft, revision), never written to the machine-wide locator store (only published versions
are); and a worker that previewed a draft sees another worker's later operation and undo
(the draft's revision is checked on each preview)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.ops import drafts
from api.ops.service import Service
from api.settings import Settings
from geo.hierarchy import Hierarchy
from store import db
from store.drafts import load_draft
from store.files.locatorfile import locator_key
from tests.api.ops.test_publishing import EAST, M1, WEST, C, points, report, split_wkt


@pytest.fixture
def workers(seeded_url: str, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Two services on one database sharing one locator folder, as two ``weiwang serve`` workers."""
    settings = Settings(database_url=seeded_url, version_poll_s=0.0, locator_dir=tmp_path / "locators")
    engines = [db.make_engine(seeded_url), db.make_engine(seeded_url)]
    yield Service(settings, engines[0]), Service(settings, engines[1])
    for e in engines:
        e.dispose()


def _draft_key(service: Service) -> str:
    with db.read(service.engine) as conn:
        grids = load_draft(conn, C, 2).grids
    return locator_key(Hierarchy(grids), service.layers.snap_m)


def test_preview_locator_stays_in_memory_and_follows_other_workers(
    workers: tuple[Service, Service], tmp_path: Path
) -> None:
    a, b = workers
    store = tmp_path / "locators"
    inc = report(a, *points()["west"])  # an open incident (已交办) in M1, located with the stored locator
    assert inc["micro_code"] == M1
    published = sorted(p.name for p in store.iterdir() if p.is_dir())
    assert len(published) == 1  # the published version's, stored to locate the report
    drafts.new(a, C)
    first = drafts.impact(b, C, 2)  # b keeps its view of the unchanged draft
    assert first["grids_removed"] == [] and first["counts"]["incidents"] == 0

    drafts.apply(a, C, 2, "split", {"grid": M1, "line": split_wkt()})
    seen_by_b = drafts.impact(b, C, 2)  # a's split, seen by the other worker
    assert seen_by_b["grids_removed"] == [M1] and sorted(seen_by_b["grids_added"]) == [WEST, EAST]
    assert [(i["id"], i["to"]) for i in seen_by_b["incidents"]] == [(inc["id"], WEST)]
    assert drafts.impact(a, C, 2) == seen_by_b  # the worker that split answers the same
    assert not (store / _draft_key(a)).exists()  # no preview stored the draft's locator

    drafts.undo(a, C, 2)
    undone = drafts.impact(b, C, 2)
    assert undone["grids_removed"] == [] and undone["counts"]["incidents"] == 0

    drafts.apply(b, C, 2, "split", {"grid": M1, "line": split_wkt()})  # new codes: never reused
    again = drafts.impact(a, C, 2)
    assert again["grids_removed"] == [M1] and not {WEST, EAST} & set(again["grids_added"])
    assert not (store / _draft_key(a)).exists()
    assert sorted(p.name for p in store.iterdir() if p.is_dir()) == published  # nothing stored per change
