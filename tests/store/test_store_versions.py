"""Layer versions: drafts never touch the published layer; publishing is atomic and dated;
as-of queries answer with the version in force."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from geo.errors import NotFound
from geo.times import CST
from store import db, models
from store.dberrors import Conflict
from store.grids import grid_at, grids_at, load_grids, published_layers
from store.importing import import_grids
from store.inforce import version_at
from store.versions import (
    fingerprint,
    get_version,
    list_versions,
    publish,
    published_version,
)
from tests.fixtures_geo import GENERAL_1, MICRO_11, MICRO_12, MICRO_21, local_box, with_grid
from tests.store.store_fixtures import (
    COMMUNITY,
    POINT_MOVED,
    POINT_ON_EDGE,
    POINT_OUTSIDE,
    layer_v1,
    layer_v2,
)

JAN = datetime(2026, 1, 1, tzinfo=CST)
MAR = datetime(2026, 3, 1, tzinfo=CST)


def _two_versions(engine) -> None:
    """v1 published from 2026-01-01, v2 published from 2026-03-01 (both 00:00 UTC+8)."""
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1, at=JAN)
    import_grids(engine, layer_v2(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 2, at=MAR)


def test_draft_import_leaves_the_published_version_untouched(engine) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1, at=JAN)
    with db.read(engine) as conn:
        before = published_version(conn, COMMUNITY)
        grids_before = load_grids(conn, before.id)
    result = import_grids(engine, layer_v2(), COMMUNITY, commit=True, author="规划员甲", note="重划")
    assert (result.committed, result.version_number) == (True, 2)
    with db.read(engine) as conn:
        assert published_version(conn, COMMUNITY) == before
        assert load_grids(conn, before.id) == grids_before
        draft = get_version(conn, COMMUNITY, 2)
        assert (draft.state, draft.valid_from, draft.author, draft.note) == (
            "draft",
            None,
            "规划员甲",
            "重划",
        )
        assert grid_at(conn, POINT_MOVED.x, POINT_MOVED.y).code == MICRO_12  # still v1's answer


def test_publish_sets_valid_from_and_retires_the_old_version(engine) -> None:
    _two_versions(engine)
    with db.read(engine) as conn:
        v1, v2 = list_versions(conn, COMMUNITY)
    assert (v1.state, v1.valid_from, v1.valid_to) == ("retired", JAN, MAR)
    assert (v2.state, v2.valid_from, v2.valid_to) == ("published", MAR, None)


def test_exactly_one_published_version_and_the_database_enforces_it(engine) -> None:
    _two_versions(engine)
    with db.read(engine) as conn:
        assert [v.state for v in list_versions(conn, COMMUNITY)].count("published") == 1
    with pytest.raises(IntegrityError), db.write(engine) as conn:
        conn.execute(update(models.layer_versions).values(state="published"))
    with db.read(engine) as conn:
        assert [v.state for v in list_versions(conn, COMMUNITY)] == ["retired", "published"]


def test_publish_refuses_non_drafts_past_dates_and_missing_versions(engine) -> None:
    _two_versions(engine)
    with pytest.raises(Conflict), db.write(engine) as conn:
        publish(conn, COMMUNITY, 1)
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with pytest.raises(Conflict), db.write(engine) as conn:
        publish(conn, COMMUNITY, 3, at=date(2026, 2, 1))  # before v2's valid_from
    with pytest.raises(NotFound), db.write(engine) as conn:
        publish(conn, COMMUNITY, 9)
    with pytest.raises(NotFound), db.write(engine) as conn:
        publish(conn, "510116004999", 1)
    with db.read(engine) as conn:
        assert [v.state for v in list_versions(conn, COMMUNITY)] == ["retired", "published", "draft"]


def test_a_draft_with_validation_errors_needs_force(engine) -> None:
    # micro …001001 widened over its neighbour: an overlap, which geo.validate reports as an error
    bad = with_grid(layer_v1(), MICRO_11, geometry=local_box(0, 0, 80, 100))
    result = import_grids(engine, bad, COMMUNITY, commit=True)
    assert result.summary["errors"] >= 1
    with db.read(engine) as conn:
        stored = get_version(conn, COMMUNITY, 1).validation
    assert stored["summary"] == result.summary
    assert stored["findings"] == result.findings and stored["findings"]
    with pytest.raises(Conflict), db.write(engine) as conn:
        publish(conn, COMMUNITY, 1)
    with db.write(engine) as conn:
        assert publish(conn, COMMUNITY, 1, force=True).state == "published"


@pytest.mark.parametrize(
    ("when", "want_number", "want_code"),
    [
        (date(2026, 2, 28), 1, MICRO_12),
        (date(2026, 3, 1), 2, MICRO_11),  # the switch instant belongs to the new version
        (datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), 1, MICRO_12),  # 23:59:59 UTC+8
        (date(2027, 1, 1), 2, MICRO_11),
    ],
)
def test_as_of_point_query_answers_with_the_version_in_force(engine, when, want_number, want_code) -> None:
    _two_versions(engine)
    with db.read(engine) as conn:
        assert version_at(conn, COMMUNITY, when).number == want_number
        hit = grid_at(conn, POINT_MOVED.x, POINT_MOVED.y, when)
    assert (hit.code, hit.version_number) == (want_code, want_number)


def test_as_of_before_the_first_version_and_outside_finds_nothing(engine) -> None:
    _two_versions(engine)
    with db.read(engine) as conn:
        assert version_at(conn, COMMUNITY, date(2025, 12, 31)) is None
        assert grid_at(conn, POINT_MOVED.x, POINT_MOVED.y, date(2025, 12, 31)) is None
        assert grid_at(conn, POINT_OUTSIDE.x, POINT_OUTSIDE.y) is None


def test_a_point_on_a_shared_edge_is_covered_by_both_grids(engine) -> None:
    _two_versions(engine)
    with db.read(engine) as conn:
        hits = grids_at(conn, POINT_ON_EDGE.x, POINT_ON_EDGE.y)
        general = grid_at(conn, POINT_MOVED.x, POINT_MOVED.y, level="general")
    assert [h.code for h in hits] == [MICRO_12, MICRO_21]
    assert general.code == GENERAL_1


def test_published_layers_and_fingerprint_follow_publishing(engine) -> None:
    import_grids(engine, layer_v1(), COMMUNITY, commit=True)
    with db.read(engine) as conn:
        assert published_layers(conn) == [] and fingerprint(conn) == ()
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 1, at=JAN)
    with db.read(engine) as conn:
        fp1 = fingerprint(conn)
        [(code, _vid, number, h)] = published_layers(conn)
    assert (code, number, len(h), len(h.micro)) == (COMMUNITY, 1, 7, 4)
    import_grids(engine, layer_v2(), COMMUNITY, commit=True)
    with db.read(engine) as conn:
        assert fingerprint(conn) == fp1  # a draft changes nothing readers see
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, 2, at=MAR)
    with db.read(engine) as conn:
        assert fingerprint(conn) != fp1
