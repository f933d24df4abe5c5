"""Imports: dry run writes nothing; a commit is one transaction; a failure halfway leaves the
database exactly as it was."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.exc import IntegrityError

from geo.errors import InvalidHierarchy
from store import db
from store import grids as grids_mod
from store.dberrors import Conflict
from store.importing import import_grids
from store.versions import list_versions, publish
from tests.fixtures_geo import MICRO_12, MICRO_21, with_grid
from tests.store.store_fixtures import COMMUNITY, layer_v1, layer_v2, snapshot


class Boom(RuntimeError):
    pass


def test_dry_run_writes_nothing_and_tells_the_next_number(engine) -> None:
    before = snapshot(engine)
    result = import_grids(engine, layer_v1(), COMMUNITY)
    assert (result.committed, result.version_number) == (False, 1)
    assert result.grids_by_level == {"community": 1, "general": 2, "micro": 4}
    assert result.summary["errors"] == 0
    assert snapshot(engine) == before


def test_a_failure_halfway_leaves_the_database_exactly_as_before(engine, monkeypatch) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1)
    before = snapshot(engine)
    monkeypatch.setattr(grids_mod, "BATCH", 3)  # 7 grids → batches of 3, 3, 1
    written: list[int] = []

    def fail_after_first_batch(n: int) -> None:
        written.append(n)
        if sum(written) >= 3:
            raise Boom("disk on fire")

    with pytest.raises(Boom):
        import_grids(engine, layer_v2(), COMMUNITY, commit=True, progress=fail_after_first_batch)
    assert written == [3]  # the draft row and 3 grids were written before the failure
    assert snapshot(engine) == before


def test_a_row_the_database_refuses_halfway_rolls_everything_back(engine, monkeypatch) -> None:
    """The 6th of 7 grids has no name (NOT NULL): the database itself refuses it, in the 2nd batch."""
    before = snapshot(engine)
    monkeypatch.setattr(grids_mod, "BATCH", 3)
    grids = layer_v1()
    grids[5] = replace(grids[5], name=None)
    written: list[int] = []
    with pytest.raises(IntegrityError):
        import_grids(engine, grids, COMMUNITY, commit=True, progress=written.append)
    assert written == [3]
    assert snapshot(engine) == before


def test_duplicate_codes_are_refused_before_writing(engine) -> None:
    before = snapshot(engine)
    dup = with_grid(layer_v1(), MICRO_21, code=MICRO_12)
    with pytest.raises(Conflict) as err:
        import_grids(engine, dup, COMMUNITY, commit=True)
    assert MICRO_12 in err.value.zh
    assert snapshot(engine) == before


def test_a_file_without_the_community_is_refused(engine) -> None:
    with pytest.raises(InvalidHierarchy):
        import_grids(engine, layer_v1(), "510116004999", commit=True)
    with db.read(engine) as conn:
        assert list_versions(conn, "510116004999") == []


def test_the_sample_file_of_two_communities_imports_one(seeded_engine) -> None:
    from store.seed import read_sample
    from tests.conftest import SAMPLE_DIR

    sample = read_sample(SAMPLE_DIR)
    result = import_grids(
        seeded_engine, sample["grids"], "510116004002", elements=sample["elements"], commit=True
    )
    assert result.grids_by_level == {"community": 1, "general": 9, "micro": 21}
    assert result.version_number == 2
    assert all(e.community_code == "510116004002" for e in result.element_list)
