"""Fault drill as a test (issue 14, item 5): ``weiwang import --commit`` and ``weiwang publish``
killed with SIGKILL — after a random delay, inside their write transaction, and (PostgreSQL) half-way
through a publish, after the old version is retired and before the draft is published — on SpatiaLite
and PostGIS. Afterwards, read on a fresh connection: exactly one published version per community, no
half-written draft (a killed import leaves nothing or a complete draft), a publish either not at all
or whole, an intact file, and the next import and publish succeed. The drill itself is
``bench/drills/kill_import_publish.py`` (``python -m bench.drills``)."""

from __future__ import annotations

import pytest

from bench.drills._common import Database
from bench.drills.kill_import_publish import (
    COMMUNITY,
    EXPECTED_GRIDS,
    drill,
    table,
    versions_by_community,
    violations,
)


def test_kill_9_during_import_and_publish_leaves_one_published_version_and_no_partial_draft(
    db_template, seeded_url: str
) -> None:
    db_ = Database(db_template.kind, seeded_url, db_template.server)
    results = drill(db_, trials=1, seed=14)
    report = table(results)
    print(report)
    assert [(t.command, t.mode, t.problems) for t in results if t.problems] == [], report
    kinds = {(t.command, t.mode) for t in results}
    expected = {("import", "delay"), ("import", "in_tx"), ("publish", "delay"), ("publish", "in_tx")}
    if db_template.kind == "postgis":
        expected.add(("publish", "blocked"))
    assert expected <= kinds
    # The kills that matter did land inside the write transaction (not before it or after exit).
    for t in results:
        if t.mode in ("in_tx", "blocked"):
            assert t.killed and t.in_tx, (t.command, t.mode, report)
        if t.mode == "blocked":
            assert t.outcome == "unchanged"  # the half-way state was never committed
        if t.mode == "in_tx" and t.command == "import":
            assert t.outcome == "unchanged"  # killed before the commit: no draft at all
    # The drill's own ending: an import and a publish ran to the end.
    assert [t.outcome for t in results if t.mode == "after"] == ["draft_added", "published"]
    final = versions_by_community(seeded_url)
    for rows in final.values():
        assert sum(r[1] == "published" for r in rows) == 1
    # Every version of the drilled community, seeded or imported, holds all of its grids.
    assert [r[4] for r in final[COMMUNITY]] == [EXPECTED_GRIDS] * len(final[COMMUNITY])
    assert len(final[COMMUNITY]) >= 3


@pytest.mark.parametrize(
    ("before", "after", "outcome", "ok"),
    [
        ([(1, "published", "t0", None, 90)], [(1, "published", "t0", None, 90)], "unchanged", True),
        (
            [(1, "published", "t0", None, 90)],
            [(1, "published", "t0", None, 90), (2, "draft", None, None, 90)],
            "draft_added",
            True,
        ),
        (
            [(1, "published", "t0", None, 90)],
            [(1, "published", "t0", None, 90), (2, "draft", None, None, 41)],
            "draft_added",
            False,
        ),
    ],
)
def test_the_rule_refuses_a_half_written_draft(before, after, outcome, ok) -> None:
    got, problems = violations("import", {"510116004001": before}, {"510116004001": after})
    assert got == outcome and (problems == []) is ok


@pytest.mark.parametrize(
    ("after", "ok"),
    [
        ([(1, "retired", "t0", "t1", 90), (2, "published", "t1", None, 90)], True),
        ([(1, "retired", "t0", "t1", 90), (2, "draft", None, None, 90)], False),  # none in force
        ([(1, "published", "t0", None, 90), (2, "published", "t1", None, 90)], False),  # two
        ([(1, "retired", "t0", "t2", 90), (2, "published", "t1", None, 90)], False),  # a gap
    ],
)
def test_the_rule_refuses_a_mixed_publish(after, ok) -> None:
    before = {"510116004001": [(1, "published", "t0", None, 90), (2, "draft", None, None, 90)]}
    _, problems = violations("publish", before, {"510116004001": after})
    assert (problems == []) is ok, problems


def test_an_older_draft_published_over_a_newer_version_is_a_whole_switch() -> None:
    before = {"510116004001": [(3, "draft", None, None, 90), (4, "published", "t0", None, 90)]}
    after = {"510116004001": [(3, "published", "t1", None, 90), (4, "retired", "t0", "t1", 90)]}
    assert violations("publish", before, after) == ("published", [])
    half = {"510116004001": [(3, "draft", None, None, 90), (4, "retired", "t0", "t1", 90)]}
    assert violations("publish", before, half)[1]
