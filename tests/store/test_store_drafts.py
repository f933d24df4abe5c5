"""store.drafts: a draft copied from the published version, redrawn operation by operation with an undo
log, elements re-assigned; on both engines, on the seeded sample (三根松 version 1 published)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString

from geo.redraw import merge, split
from store import db
from store.dberrors import Conflict
from store.drafts import load_draft, new_draft, operations, record, undo, used_codes
from store.grids import load_elements, load_grids
from store.versions import get_version

C = "510116004001"
G1 = C + "001"
M1, M2 = G1 + "001", G1 + "002"


def _split_line(grids) -> LineString:
    x0, y0, x1, y1 = next(g for g in grids if g.code == M1).geometry.bounds
    mid = (x0 + x1) / 2
    return LineString([(mid, y0 - 0.001), (mid, y1 + 0.001)])


def test_new_draft_carries_grids_and_elements(seeded_engine) -> None:
    with db.write(seeded_engine) as conn:
        v = new_draft(conn, C, author="planner")
    with db.read(seeded_engine) as conn:
        pub = get_version(conn, C)
        assert (v.number, v.state, pub.number) == (2, "draft", 1)
        assert [g.code for g in load_grids(conn, v.id)] == [g.code for g in load_grids(conn, pub.id)]
        els, pub_els = load_elements(conn, v.id), load_elements(conn, pub.id)
        assert len(els) == len(pub_els) > 0
        assert [(e.id, e.micro_code) for e in els] == [(e.id, e.micro_code) for e in pub_els]
    assert v.validation is not None and v.validation["summary"]["errors"] == 0
    # party coverage is checked against the stored organisations: 三根松 has a 党小组 per general grid
    assert "party_uncovered" not in v.validation["summary"]["by_code"]


def test_draft_validation_checks_party_coverage(seeded_engine) -> None:
    with db.write(seeded_engine) as conn:
        v = new_draft(conn, "510116004002")  # 瓦窑村: 8 院落党小组 for 21 micro-grids
    assert v.validation is not None and v.validation["summary"]["by_code"]["party_uncovered"] == 13


def test_split_is_stored_and_undone_exactly(seeded_engine) -> None:
    with db.write(seeded_engine) as conn:
        v = new_draft(conn, C)
    with db.write(seeded_engine) as conn:
        d = load_draft(conn, C, v.number)
        before = {g.code: g.geometry for g in d.grids}
        before_el = {e.id: e.micro_code for e in d.elements}
        in_m1 = sorted(e.id for e in d.elements if e.micro_code == M1)
        r = split(d.grids, M1, _split_line(d.grids), used_codes(conn, C))
        op = record(conn, d, r, params={"grid": M1}, author="planner")
    assert op["seq"] == 1 and op["added"] == [G1 + "012", G1 + "013"] and op["removed"] == [M1]
    assert op["elements_moved"] == len(in_m1) > 0
    with db.read(seeded_engine) as conn:
        grids = load_grids(conn, v.id)
        assert len(grids) == len(before) + 1 and M1 not in {g.code for g in grids}
        els = {e.id: e.micro_code for e in load_elements(conn, v.id)}
        assert {els[i] for i in in_m1} <= {G1 + "012", G1 + "013"}
        stored = get_version(conn, C, v.number).validation
        assert stored is not None and stored["summary"]["errors"] == 0
        assert len(operations(conn, v.id)) == 1
    with db.write(seeded_engine) as conn:
        undone = undo(conn, C, v.number)
    assert undone["seq"] == 1 and undone["undone_at"] is not None
    with db.read(seeded_engine) as conn:
        after = {g.code: g.geometry for g in load_grids(conn, v.id)}
        assert set(after) == set(before)
        assert all(shapely.equals_exact(after[c], before[c], 1e-12) for c in before)
        assert {e.id: e.micro_code for e in load_elements(conn, v.id)} == before_el
        # the undone codes stay taken: the next split numbers after them
        assert {G1 + "012", G1 + "013"} <= used_codes(conn, C)
    with db.write(seeded_engine) as conn:
        d = load_draft(conn, C, v.number)
        r = merge(d.grids, [M1, M2], used_codes(conn, C))
        assert r.added == (G1 + "014",)
        with pytest.raises(Conflict):
            undo(conn, C, v.number)  # nothing left to undo before this merge is recorded


def test_a_published_version_cannot_be_redrawn(seeded_engine) -> None:
    with db.read(seeded_engine) as conn, pytest.raises(Conflict) as exc:
        load_draft(conn, C, 1)
    assert exc.value.field == "version" and "只能修改草稿" in exc.value.zh


def test_grids_only_upload_keeps_the_elements_reassigned(seeded_engine) -> None:
    from store.importing import import_grids
    from tests.geo.test_validate import load_sample

    h, _, _ = load_sample()
    with db.read(seeded_engine) as conn:
        pub_elements = load_elements(conn, get_version(conn, C).id)
    in_m1 = {e.id for e in pub_elements if e.micro_code == M1}
    assert in_m1
    grids = [g for g in h.grids if g.code != M1]  # 001001 dropped: its elements lie in no grid now
    r = import_grids(seeded_engine, grids, C, commit=True)
    assert r.elements == len(pub_elements)
    (warning,) = [w for w in r.warnings if "沿用第 1 版" in w]
    assert f"沿用第 1 版的 {len(pub_elements)} 个要素" in warning
    outside = {e for f in r.findings if f["code"] == "element_outside" for e in f["elements"]}
    assert in_m1 <= outside
    with db.read(seeded_engine) as conn:
        stored = {e.id: e.micro_code for e in load_elements(conn, r.version_id)}
    assert len(stored) == len(pub_elements) and all(stored[i] is None for i in in_m1)

    dropped = import_grids(seeded_engine, list(h.grids), C, commit=False, drop_elements=True)
    assert dropped.elements == 0 and not [w for w in dropped.warnings if "沿用" in w]


def test_households_bands_per_community_drive_the_draft_validation(seeded_engine) -> None:
    from geo.errors import NotFound
    from store.drafts import InvalidBand, bands_of, set_band

    with db.write(seeded_engine) as conn:
        assert bands_of(conn, C) == {"micro": (30, 100)}
        set_band(conn, C, "micro", (50, 80))
        set_band(conn, C, "general", (500, 1000))
        with pytest.raises(InvalidBand):
            set_band(conn, C, "micro", (80, 50))
        with pytest.raises(NotFound):
            set_band(conn, "510116004999", "micro", (1, 2))
    with db.write(seeded_engine) as conn:
        assert bands_of(conn, C) == {"micro": (50, 80), "general": (500, 1000)}
        v = new_draft(conn, C)
    by_code = v.validation["summary"]["by_code"]  # type: ignore[index]
    assert by_code["households_out_of_band"] > 0
    found = {tuple(f["grids"]) for f in v.validation["findings"] if f["code"] == "households_out_of_band"}  # type: ignore[index]
    assert (M1,) in found  # 46 households, below 50
    with db.write(seeded_engine) as conn:
        set_band(conn, C, "micro", None)
        set_band(conn, C, "general", None)
        assert bands_of(conn, "510116004002") == {"micro": (30, 100)}
