"""Publishing (both databases): blocking findings refuse a publish unless an override reason is
given, which is stored with the version (who, when, why); open incidents not yet 处置中 are
re-routed under the new map with an event, in the publish's transaction, and the impact preview
lists exactly those."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box, shape

from api.ops import drafts, incidents, intake, layers, publishing
from api.ops.access import User
from api.ops.service import Service
from api.settings import Settings
from dispatch import Actor, AppRole, apply, route
from dispatch.errors import InvalidInput
from store import db
from store.dberrors import Conflict
from store.importing import import_grids
from store.incidents import append_event, get_incident, list_events

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "boundaries" / "grids.geojson"
C = "510116004001"
G1 = C + "001"
M1, M2 = G1 + "001", G1 + "002"
WEST, EAST = G1 + "012", G1 + "013"  # the halves of M1 after the split (codes west → east)


def feature(code: str) -> dict:
    fc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return next(f for f in fc["features"] if f["properties"]["code"] == code)


def split_wkt() -> str:
    xs = [p[0] for p in feature(M1)["geometry"]["coordinates"][0]]
    ys = [p[1] for p in feature(M1)["geometry"]["coordinates"][0]]
    mid = (min(xs) + max(xs)) / 2
    return f"LINESTRING ({mid} {min(ys) - 0.001}, {mid} {max(ys) + 0.001})"


def points() -> dict[str, tuple[float, float]]:
    """A point well inside each half of M1, and one inside M2."""
    m1 = shape(feature(M1)["geometry"])
    x0, y0, x1, y1 = m1.bounds
    mid = (x0 + x1) / 2
    west = m1.intersection(box(x0, y0, mid, y1)).buffer(-0.00005).representative_point()
    east = m1.intersection(box(mid, y0, x1, y1)).buffer(-0.00005).representative_point()
    m2 = shape(feature(M2)["geometry"]).buffer(-0.00005).representative_point()
    return {"west": (west.x, west.y), "east": (east.x, east.y), "m2": (m2.x, m2.y)}


@pytest.fixture
def service(seeded_url: str) -> Iterator[Service]:
    engine = db.make_engine(seeded_url)
    yield Service(Settings(database_url=seeded_url, version_poll_s=0.0), engine)
    engine.dispose()


def report(service: Service, lon: float, lat: float) -> dict:
    user = User(1, "dispatcher", AppRole.DISPATCHER, None)
    body = {"lon": lon, "lat": lat, "category": "安全隐患", "description": "井盖缺失"}
    return intake.report_incident(service, user, body)


def start(service: Service, incident_id: str) -> None:
    """The assignee starts work (处置中)."""
    with db.write(service.engine) as conn:
        row = get_incident(conn, incident_id)
        inc = incidents.to_incident(row)
        _new, ev = apply(inc, "start", Actor(inc.assignee_id, AppRole.GRID_WORKER), service.clock())
        append_event(conn, incident_id, ev.to_dict(), expected_seq=inc.seq)


def test_publish_reroutes_open_incidents_not_yet_in_progress(service: Service) -> None:
    pts = points()
    waiting = report(service, *pts["west"])  # 已交办 in M1 → re-routed to the west half
    working = report(service, *pts["east"])  # 处置中 in M1 → keeps its handler and grid
    elsewhere = report(service, *pts["m2"])  # 已交办 in M2, which does not change
    start(service, working["id"])
    assert waiting["state"] == "已交办" and waiting["micro_code"] == M1
    v1_id = waiting["layer_version_id"]

    drafts.new(service, C)
    drafts.apply(service, C, 2, "split", {"grid": M1, "line": split_wkt()})
    halves = service.layers.version(C, 2).hierarchy
    # M1's 46 households shared by area between its halves (geo.redraw), stored with the draft
    assert (halves.get(WEST).households, halves.get(EAST).households) == (27, 19)
    posts, day = service.posts(), service.today()
    expected = route(WEST, G1, C, posts, day)  # the new grid has no posts yet: up the chain
    assert expected.person_id is not None and expected.person_id != waiting["assignee_id"]

    impact = drafts.impact(service, C, 2)
    assert [i["id"] for i in impact["incidents"]] == [waiting["id"]]
    (move,) = impact["incidents"]
    assert (move["from"], move["to"], move["assignee_id"], move["to_assignee_id"]) == (
        M1,
        WEST,
        waiting["assignee_id"],
        expected.person_id,
    )
    assert [i["id"] for i in impact["incidents_kept"]] == [working["id"]]
    assert impact["counts"]["incidents"] == 1 and impact["counts"]["incidents_kept"] == 1

    done = publishing.publish(service, C, 2, by="planner")
    assert [r.incident_id for r in done.rerouted] == [waiting["id"]] and done.previous == 1

    with db.read(service.engine) as conn:
        moved = get_incident(conn, waiting["id"])
        kept = get_incident(conn, working["id"])
        other = get_incident(conn, elsewhere["id"])
        events = list_events(conn, waiting["id"])
        kept_events = list_events(conn, working["id"])
        other_events = list_events(conn, elsewhere["id"])
    assert (moved["micro_code"], moved["assignee_id"], moved["state"]) == (WEST, expected.person_id, "已交办")
    assert moved["assigned_grid_code"] == expected.grid_code
    assert moved["deadline"] == waiting["deadline"] is not None  # the 交办 clock is kept
    assert moved["layer_version_id"] == v1_id  # the version it was located on at receipt
    last = events[-1]
    assert last["action"] == "reroute" and last["actor_id"] == "system"
    assert last["payload"]["from_micro"] == M1 and last["payload"]["to_micro"] == WEST
    assert last["payload"]["from_assignee"] == waiting["assignee_id"]
    assert last["payload"]["to_assignee"] == expected.person_id
    assert (last["payload"]["from_version"], last["payload"]["to_version"]) == (1, 2)
    assert (kept["micro_code"], kept["assignee_id"], kept["state"]) == (M1, working["assignee_id"], "处置中")
    assert all(e["action"] != "reroute" for e in kept_events + other_events)
    assert (other["micro_code"], other["assignee_id"]) == (M2, elsewhere["assignee_id"])

    # the event replays: the incident rebuilt from its events is the stored one
    from dispatch import Event, replay

    rebuilt = replay(Event.from_dict(e) for e in events)
    assert (rebuilt.micro_code, rebuilt.assignee_id) == (WEST, expected.person_id)
    # the re-routed handler now sees it among the actions: no 重新路由 button for anyone
    assert "reroute" not in incidents.my_actions(service, User(2, "admin", AppRole.ADMIN, None), moved)


def overlapping_draft(service: Service) -> int:
    """A draft of 三根松 whose micro-grid M1 also covers M2: an overlap, a blocking finding."""
    view = service.layers.current(C)
    grids = []
    for g in view.hierarchy.grids:
        if g.code == M1:
            union = shapely.union(g.geometry, view.hierarchy.get(M2).geometry)
            g = replace(g, geometry=union)
        grids.append(g)
    result = import_grids(service.engine, grids, C, commit=True, source="overlap test")
    assert result.summary["errors"] >= 1
    service.layers.refresh()
    return int(result.version_number)


def test_blocking_findings_refuse_a_publish_unless_a_reason_is_given(service: Service) -> None:
    number = overlapping_draft(service)
    for kw in ({}, {"force": True}):
        with pytest.raises(Conflict) as err:
            publishing.publish(service, C, number, by="planner", **kw)
        assert err.value.field == "override_reason"
        assert "overlap" in err.value.zh and M1 in err.value.zh and "override_reason" in err.value.en
        assert any(f["code"] == "overlap" and M1 in f["grids"] for f in err.value.detail["findings"])
    with pytest.raises(InvalidInput):
        publishing.publish(service, C, number, override_reason="   ")
    assert [v.state for v in layers.versions(service, C)] == ["published", "draft"]  # nothing changed

    v = layers.publish(service, C, number, override_reason="街道办确认：两格合并待勘界", by="planner")
    assert v.state == "published" and v.number == number
    listed = {x.number: x.to_dict() for x in layers.versions(service, C)}
    over = listed[number]["override"]
    assert over["reason"] == "街道办确认：两格合并待勘界" and over["by"] == "planner"
    assert over["at"] is not None and any(f["code"] == "overlap" for f in over["findings"])
    assert listed[1]["override"] is None and listed[number]["published_by"] == "planner"


def test_a_clean_draft_publishes_without_a_reason_and_records_none(service: Service) -> None:
    drafts.new(service, C)
    v = layers.publish(service, C, 2, by="planner")
    assert v.override() is None and v.published_by == "planner" and v.published_at is not None
    assert v.valid_from == v.published_at  # published now: valid from the clock read in the transaction
