"""Over HTTP, against a real ``weiwang serve``: the lean ``GET /api/v1/locate``
(:mod:`api.http.lean`) answers every request exactly as the full app does — status, content type,
``WWW-Authenticate`` and the body byte for byte — for points inside grids, on shared boundaries,
just outside (snapped), far outside, in every CRS, and for refused requests (no token, a bad one,
missing or non-finite numbers, an overlong or unknown CRS, swapped coordinates).

The full app's answer is asked for with the path spelt ``/api/v1/%6cocate``: the same route and
query once decoded, which the lean path never takes (it answers only the exact raw path)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from geo.crs import from_wgs84
from store import db
from store.inforce import LayersInForce
from tests.served import Server, served

SGS = "510116004001"
FULL = "/api/v1/%6cocate"
LEAN = "/api/v1/locate"

pytestmark = pytest.mark.parametrize("db_template", ["spatialite"], indirect=True)


@pytest.fixture
def server(seeded_url: str) -> Iterator[Server]:
    with served(seeded_url, workers=1) as srv:
        yield srv


def _get(conn: http.client.HTTPConnection, target: str, headers: dict[str, str]) -> tuple:
    conn.request("GET", target, headers=headers)
    r = conn.getresponse()
    body = r.read()
    return r.status, r.getheader("content-type"), r.getheader("www-authenticate"), body


def _token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": "dispatcher", "password": "dispatch-demo"})
    conn.request("POST", "/api/v1/auth/login", body=body, headers={"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["access_token"]
    conn.close()
    return str(token)


def _queries(url: str) -> list[str]:
    """Inside, on a shared vertex, on an edge, just outside (snapped), far outside, in a gap, and
    the inner point in every CRS the service reads."""
    engine = db.make_engine(url)
    try:
        view = LayersInForce(engine, snap_m=30.0).current()
        micro = [g for g in view.hierarchy.micro if g.community_code == SGS]
        minx, miny, maxx, maxy = view.hierarchy.get(SGS).geometry.bounds
    finally:
        engine.dispose()
    out = []
    for g in micro[:12]:
        p = g.geometry.representative_point()
        (vx, vy), (wx, wy) = g.geometry.exterior.coords[1], g.geometry.exterior.coords[2]
        out += [(p.x, p.y), (vx, vy), ((vx + wx) / 2, (vy + wy) / 2)]
    out += [(maxx + 0.0001, (miny + maxy) / 2), (minx - 0.0002, miny), (maxx + 0.05, maxy + 0.05)]
    for i in range(40):  # a grid of points over the community's box: gaps and outside cells too
        out.append((minx + (maxx - minx) * (i % 8) / 7, miny + (maxy - miny) * (i // 8) / 4))
    qs = [f"lon={x!r}&lat={y!r}" for x, y in out]
    qs += [f"lon={x!r}&lat={y!r}&crs=wgs84" for x, y in out[:6]]
    inner = micro[0].geometry.representative_point()
    for crs in ("gcj02", "bd09", "BD-09", "cgcs2000", "EPSG:4544", "EPSG:4326", "EPSG:3857"):
        x, y = from_wgs84(inner.x, inner.y, "wgs84" if crs == "cgcs2000" else crs)
        qs.append(f"lon={float(x)!r}&lat={float(y)!r}&crs={crs}")
    return qs


BAD = [
    "lat=30.41",
    "lon=104.08",
    "",
    "lon=nan&lat=30.41",
    "lon=NaN&lat=inf",
    "lon=abc&lat=30.41",
    "lon=&lat=30.41",
    "lon=1e999&lat=30.41",
    "lon=30.41&lat=104.08",
    "lon=200&lat=30.41",
    "lon=104.08&lat=30.41&crs=mars",
    "lon=104.08&lat=30.41&crs=EPSG:0",
    "lon=104.08&lat=30.41&crs=" + "x" * 65,
    "lon=104.08&lat=30.41&crs=",
    "lon=104.08&lat=30.41&crs=%00",
    "lon=1&lon=104.08&lat=30.41",
    "lon=%20104.08&lat=30.41&crs=EPSG%3A4326",
    "lon=1.0408e2&lat=30.41",
]


def test_answers_equal_the_full_app(server: Server, seeded_url: str) -> None:
    auth = {"Authorization": f"Bearer {_token(server.port)}"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    kinds = set()
    try:
        for q in _queries(seeded_url):
            lean, full = _get(conn, f"{LEAN}?{q}", auth), _get(conn, f"{FULL}?{q}", auth)
            assert lean == full, q
            assert lean[0] == 200 and lean[1] == "application/json", (q, lean)
            ans = json.loads(lean[3])
            kinds.add("snapped" if ans["snapped"] else "outside" if ans["outside"] else "inside")
            kinds.update(["boundary"] if ans["on_boundary"] else [])
    finally:
        conn.close()
    assert kinds == {"inside", "boundary", "snapped", "outside"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "bearer GOOD"},
        {"Cookie": "weiwang_token=GOOD"},
        {"Cookie": "weiwang_token=forged"},
    ],
)
def test_refusals_equal_the_full_app(server: Server, headers: dict[str, str]) -> None:
    token = _token(server.port)
    headers = {k: v.replace("GOOD", token) for k, v in headers.items()}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for q in ["lon=104.08&lat=30.41", *BAD]:
            lean, full = _get(conn, f"{LEAN}?{q}", headers), _get(conn, f"{FULL}?{q}", headers)
            assert lean == full, (headers, q)
    finally:
        conn.close()


def test_bad_input_equals_the_full_app(server: Server) -> None:
    auth = {"Authorization": f"Bearer {_token(server.port)}"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    statuses = set()
    try:
        for q in BAD:
            lean, full = _get(conn, f"{LEAN}?{q}", auth), _get(conn, f"{FULL}?{q}", auth)
            assert lean == full, q
            statuses.add(lean[0])
            if lean[0] != 200:
                assert json.loads(lean[3])["error"]["code"], q
    finally:
        conn.close()
    assert statuses == {200, 422}
