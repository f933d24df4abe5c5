"""OGC API – Features Part 4 over plain HTTP against ``weiwang serve --workers 2`` (SpatiaLite and
PostGIS): a round trip (create in a draft, refused on the published version, a partition break
refused with its findings, a stale ETag refused), then optimistic locking across processes: two
editors send a PATCH with the same ``If-Match`` at the same moment, each on its own connection;
exactly one gets 200 and the other 412, also when the two requests are answered by different
workers (the worker is found from the server-side socket's owner in /proc). Then every worker
serves the winner's draft (no worker keeps the draft it built before)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from shapely.geometry import box, mapping, shape

from tests.api.test_routes_incidents import MICRO
from tests.api.test_routes_workers import _owner
from tests.served import served

SANGENSONG = "510116004001"
ROUNDS = 12  # rounds of two concurrent writers; enough that some pairs land on different workers


def _request(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    workers: list[int] | None = None,
    barrier: threading.Barrier | None = None,
) -> tuple[int, dict[str, str], dict, int | None]:
    """One request on a fresh connection: status, headers, JSON body and the worker that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            h["Content-Type"] = "application/json"
        conn.connect()
        if barrier is not None:
            barrier.wait(timeout=30)
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        data = r.read()
        assert conn.sock is not None
        served_by = _owner(port, conn.sock.getsockname()[1], workers) if workers else None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data or b"null"), served_by
    finally:
        conn.close()


def _new_draft(port: int, community: str) -> tuple[str, int]:
    """Log in as the planner and open a new draft of ``community``: (token, draft number)."""
    status, _, login, _ = _request(
        port, "POST", "/api/v1/auth/login", body={"username": "planner", "password": "planner-demo"}
    )
    assert status == 200, login
    token = login["access_token"]
    status, _, made, _ = _request(port, "POST", f"/api/v1/communities/{community}/drafts/new", token)
    assert status in (200, 201), made
    return token, made["draft"]["number"]


@pytest.fixture
def two_workers(seeded_url: str) -> Iterator[tuple[int, list[int]]]:
    """``weiwang serve --workers 2`` on the fresh seeded database: (port, worker pids)."""
    with served(seeded_url, workers=2, start_timeout=90) as srv:
        yield srv.port, srv.workers(2, timeout=90)


def test_part4_round_trip_and_two_writers_on_two_workers(
    two_workers: tuple[int, list[int]],
) -> None:
    port, workers = two_workers
    assert len(workers) == 2
    token, number = _new_draft(port, SANGENSONG)
    url = f"/ogc/collections/{SANGENSONG}-micro/items/{MICRO}?version={number}"
    items = f"/ogc/collections/{SANGENSONG}-micro/items"

    # the round trip: create a micro-grid in the draft from half of one; the same POST on the
    # published version is a 405; a grid across two general grids is refused with its findings;
    # a stale ETag is a 412
    status, headers, current, _ = _request(port, "GET", url, token)
    outline = shape(current["geometry"])
    x1, y1, x2, y2 = outline.bounds
    half = outline.intersection(box(x1, y1, (x1 + x2) / 2, y2))
    feature = {
        "type": "Feature",
        "geometry": mapping(half),
        "properties": {"name": "新增", "parent_code": MICRO[:15]},
    }
    geojson = {"Content-Type": "application/geo+json"}
    status, created_headers, created, _ = _request(
        port, "POST", f"{items}?version={number}", token, feature, geojson
    )
    assert status == 201 and created["properties"]["name"] == "新增", created
    status, _, got, _ = _request(
        port, "GET", urlsplit(created_headers["location"]).path + f"?version={number}", token
    )
    assert status == 200 and got["id"] == created["id"]
    status, refused_headers, refused, _ = _request(port, "POST", items, token, feature, geojson)
    assert (
        status == 405
        and "现行版本只读" in refused["error"]["message_zh"]
        and refused_headers["allow"] == "GET"
    )
    status, _, generals, _ = _request(
        port, "GET", f"/ogc/collections/{SANGENSONG}-general/items?version={number}&limit=100", token
    )
    mine = shape(next(f for f in generals["features"] if f["id"] == MICRO[:15])["geometry"])
    edge = next(
        mine.intersection(shape(f["geometry"]))
        for f in generals["features"]
        if f["id"] != MICRO[:15] and mine.intersection(shape(f["geometry"])).length > 0
    )
    disc = edge.interpolate(0.5, normalized=True).buffer(0.0003)
    across_generals = feature | {"geometry": mapping(disc)}
    status, _, refused, _ = _request(
        port, "POST", f"{items}?version={number}", token, across_generals, geojson
    )
    assert (
        status == 422
        and refused["error"]["code"] == "redraw_refused"
        and refused["error"]["detail"]["findings"]
    )
    stale = headers["etag"]  # MICRO lost half of its area to the new grid: it is a new grid now
    other = f"{items}/{created['id']}?version={number}"
    status, _, refused, _ = _request(port, "DELETE", other, token, None, {"If-Match": stale})
    assert status == 412 and refused["error"]["code"] == "precondition_failed"
    url = f"{items}/{next(c for c in created['operation']['added'] if c != created['id'])}?version={number}"

    across = 0
    for k in range(ROUNDS):
        status, headers, before, _ = _request(port, "GET", url, token)
        assert status == 200, before
        tag = headers["etag"]
        barrier = threading.Barrier(2)
        names = [f"第{k}轮甲", f"第{k}轮乙"]

        def patch(name: str, tag: str = tag, barrier: threading.Barrier = barrier):
            body = {"properties": {"name": name}}
            return _request(port, "PATCH", url, token, body, {"If-Match": tag}, workers, barrier)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(patch, names))
        codes = sorted(a[0] for a in answers)
        assert codes == [200, 412], [(a[0], a[2]) for a in answers]
        loser = next(a for a in answers if a[0] == 412)
        assert (
            loser[2]["error"]["code"] == "precondition_failed" and loser[2]["error"]["detail"]["etag"] != tag
        )
        winner = next(a for a in answers if a[0] == 200)[2]["properties"]["name"]
        if {a[3] for a in answers} == set(workers):
            across += 1
        # whichever worker answers next serves the winner's draft, with the ETag the loser was told
        for _ in range(4):
            status, headers, now, _ = _request(port, "GET", url, token)
            assert status == 200 and now["properties"]["name"] == winner
            assert headers["etag"] == loser[2]["error"]["detail"]["etag"]
    assert across > 0, "no round had its two writers answered by different workers"
