"""A city of several thousand micro-grids (bench/bench_tiles.city_grids over bench/citygen.py) drawn in
Chromium from vector tiles: the city overview and a large community's dispatcher, coverage and
assignment maps ask /tiles (with no request leaving 127.0.0.1), clicking a micro-grid shows its code
and the people holding its posts; the sample community (83 micro-grids) stays embedded.

First-draw time and bytes are printed, not asserted (``-s`` to see them; the city size is
``WEIWANG_TEST_TILE_CITY_N``, default 3,000).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import shapely

from bench.bench_tiles import load_city
from tests.browser.conftest import SANGENSONG, Live, login, off_loopback, screenshot, serving_app, until

N = int(os.environ.get("WEIWANG_TEST_TILE_CITY_N", "3000"))
THRESHOLD = 500  # a city community has N / 4 micro-grids, above it; the sample's 83 stay below


@pytest.fixture(scope="module")
def city_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, dict]]:
    from api.http.app import create_app
    from api.ops.accounts import prepare_database
    from api.settings import Settings

    db_file = tmp_path_factory.mktemp("city-db") / "weiwang.sqlite"
    settings = Settings(
        database_url=f"sqlite:///{db_file}",
        secret_key="browser-test",
        version_poll_s=0.0,
        map_tiles_above=THRESHOLD,
    )
    prepare_database(settings)  # sample data and demo accounts
    city = load_city(settings.database_url, N, communities=4)
    app = create_app(settings)
    with serving_app(app, "uvicorn-city-tiles", start_timeout=30) as served:
        yield served, city


@pytest.fixture
def city_page(browser, city_live) -> Iterator[object]:
    live, _city = city_live
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.requests, pg.errors, pg.bytes = [], [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("requestfinished", lambda r: pg.bytes.append(r.sizes()["responseBodySize"]))
    login(pg, live.base)
    try:
        yield pg
        assert pg.errors == [], f"JavaScript errors: {pg.errors}"
        assert off_loopback(pg.requests) == [], "requests left 127.0.0.1"
    finally:
        context.close()


def _fresh(page) -> None:
    page.requests.clear()
    page.bytes.clear()


def _drawn_ms(page) -> float:
    until(page, "typeof window.wwGridsDrawnMs === 'number' && window.wwGridsDrawnMs > 0", 60)
    return float(page.evaluate("window.wwGridsDrawnMs"))


def _click_at(page, lon: float, lat: float) -> None:
    """Click the map at a WGS84 point (the page has no basemap shift)."""
    x, y = page.evaluate(
        "([lat, lon]) => { const p = wwMap.latLngToContainerPoint([lat, lon]);"
        " const r = wwMap.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(x, y)


def test_city_overview_draws_from_tiles_and_a_click_shows_code_and_workers(city_page, city_live) -> None:
    live, city = city_live
    page = city_page
    code = sorted(city)[1]
    micro = [g for g in city[code] if g.level.value == "micro"][7]
    # someone holds the micro-grid's 微网格员 post today: the card must name them
    with httpx.Client(base_url=live.base) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "planner", "password": "planner-demo"})
        r = client.post(
            "/api/v1/roster/posts",
            json={
                "person_id": "T0001",
                "role": "微网格员",
                "grid_code": micro.code,
                "name": "瓦片测试员",
                "phone": "13900001111",
                "valid_from": "2020-01-01",
            },
            headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        )
        assert r.status_code == 201, r.text
    _fresh(page)
    t0 = time.perf_counter()
    page.goto(f"{live.base}/maps/city")
    drawn = _drawn_ms(page)
    wall = time.perf_counter() - t0
    tiles = [u for u in page.requests if "/tiles/" in u]
    assert tiles, "the city page asked for no tile"
    listed = page.evaluate("[...document.querySelectorAll('#ww-communities li')].map(e => e.dataset.code)")
    assert set(city) | {SANGENSONG} <= set(listed)
    html_size = len(page.content().encode())
    print(
        f"\ncity overview ({N} micro-grids): grids drawn at {drawn:.0f} ms after navigation start "
        f"(wall {wall:.2f} s incl. tiles), {len(tiles)} tile requests, "
        f"{sum(page.bytes) / 1024:.0f} KiB transferred, page {html_size / 1024:.0f} KiB; "
        f"load average {os.getloadavg()}"
    )
    screenshot(page, "city-overview")
    # zoom onto the micro-grid at a zoom where micro-grids are drawn, click it
    p = micro.geometry.representative_point()
    page.evaluate("([lat, lon]) => wwMap.setView([lat, lon], 16, {animate: false})", [p.y, p.x])
    until(page, "Object.keys(wwGrids.micro._vectorTiles || {}).length > 0 && !wwGrids.micro._loading", 60)
    page.wait_for_timeout(300)
    assert any("/tiles/micro/16/" in u for u in page.requests)
    _click_at(page, p.x, p.y)
    until(page, "window.wwLastCard && window.wwLastCard.code", 30)
    card = page.evaluate("window.wwLastCard")
    assert card["code"] == micro.code
    assert [x["name"] for x in card["people"]] == ["瓦片测试员"]
    until(
        page,
        f"!!document.querySelector('.leaflet-popup .ww-card[data-code=\"{micro.code}\"] .ww-card-people')",
    )
    popup = page.inner_text(".leaflet-popup-content")
    assert micro.code in popup and "瓦片测试员" in popup and "13900001111" in popup
    screenshot(page, "city-overview-click")


@pytest.mark.parametrize("kind", ["dispatch", "coverage", "assignment"])
def test_large_community_maps_draw_micro_grids_from_tiles(city_page, city_live, kind: str) -> None:
    live, city = city_live
    page = city_page
    code = sorted(city)[0]
    _fresh(page)
    page.goto(f"{live.base}/maps/{kind}/{code}")
    drawn = _drawn_ms(page)
    data = page.evaluate("ww.data()")
    assert data["tiles"]["community"] == code
    assert not [f for f in data["grids"]["features"] if f["properties"]["level"] == "micro"]  # not embedded
    until(page, "!!wwGrids.micro && !wwGrids.micro._loading", 60)
    tiles = [u for u in page.requests if "/tiles/micro/" in u]
    assert tiles and all(f"community={code}" in u for u in tiles)
    print(
        f"\n{kind} of a {len(city[code])}-grid community from tiles: drawn at {drawn:.0f} ms, "
        f"{len(tiles)} micro tiles, {sum(page.bytes) / 1024:.0f} KiB; load average {os.getloadavg()}"
    )
    if kind == "assignment":  # switching the picture restyles the tiled micro-grids without error
        page.evaluate("document.querySelectorAll('input[name=\"ww-theme\"]').forEach(e => e.click())")
        page.wait_for_timeout(300)


def _post_worker(live: Live, person: str, grid: str, name: str, phone: str) -> None:
    """Put ``name`` in the 微网格员 post of ``grid`` from 2020 on (as the planner)."""
    with httpx.Client(base_url=live.base) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "planner", "password": "planner-demo"})
        r = client.post(
            "/api/v1/roster/posts",
            json={
                "person_id": person,
                "role": "微网格员",
                "grid_code": grid,
                "name": name,
                "phone": phone,
                "valid_from": "2020-01-01",
            },
            headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("kind, nth", [("coverage", 11), ("assignment", 12)])
def test_a_click_on_a_tiled_micro_grid_of_a_community_page_shows_code_and_workers(
    city_page, city_live, kind: str, nth: int
) -> None:
    live, city = city_live
    page = city_page
    code = sorted(city)[0]
    micro = [g for g in city[code] if g.level.value == "micro"][nth]
    name, phone = f"{kind}测试员", f"1390000{nth:04d}"
    _post_worker(live, f"T{nth:04d}", micro.code, name, phone)
    _fresh(page)
    page.goto(f"{live.base}/maps/{kind}/{code}")
    _drawn_ms(page)
    assert page.evaluate("ww.data().api") == "/api/v1"
    p = micro.geometry.representative_point()
    page.evaluate("([lat, lon]) => wwMap.setView([lat, lon], 16, {animate: false})", [p.y, p.x])
    until(page, "Object.keys(wwGrids.micro._vectorTiles || {}).length > 0 && !wwGrids.micro._loading", 60)
    page.wait_for_timeout(300)
    _click_at(page, p.x, p.y)
    until(page, "window.wwLastCard && window.wwLastCard.code", 30)
    card = page.evaluate("window.wwLastCard")
    assert card["code"] == micro.code
    assert [x["name"] for x in card["people"]] == [name]
    until(
        page,
        f"!!document.querySelector('.leaflet-popup .ww-card[data-code=\"{micro.code}\"] .ww-card-people')",
    )
    popup = page.inner_text(".leaflet-popup-content")
    assert micro.code in popup and name in popup
    assert not [u for u in page.requests if "undefined/" in u]
    screenshot(page, f"city-{kind}-click")


def test_tiled_coverage_page_lists_unstaffed_grids_without_their_geometry(city_page, city_live) -> None:
    """The coverage page of a tiled community does not embed one polygon per unstaffed micro-grid:
    the kind is one group in the list (count, first codes); a code zooms to its grid."""
    live, city = city_live
    page = city_page
    code = sorted(city)[1]
    micro = {g.code: g for g in city[code] if g.level.value == "micro"}
    _fresh(page)
    r = page.goto(f"{live.base}/maps/coverage/{code}")
    size = len(r.body())
    _drawn_ms(page)
    drawn = page.evaluate("ww.data().findings.features.map(f => f.properties.kind)")
    assert "unstaffed" not in drawn and len(drawn) <= 50
    count = int(page.get_attribute('li.ww-finding-group[data-kind="unstaffed"]', "data-count"))
    assert count >= len(micro) - 2  # every micro-grid but the few given a worker by other tests
    codes = page.evaluate("[...document.querySelectorAll('li.ww-finding-code')].map(e => e.dataset.code)")
    assert 0 < len(codes) <= 50 and set(codes) <= set(micro)
    # far less than the ~0.9 KB per micro-grid of a polygon per finding
    assert size < 120 * len(micro) + 60_000, size
    print(f"\ncoverage of a {len(micro)}-grid community from tiles: page {size / 1024:.0f} KiB")
    first = micro[codes[0]]
    page.click(f'li.ww-finding-code[data-code="{first.code}"]')
    until(page, "window.wwLastCard && window.wwLastCard.code", 30)
    assert page.evaluate("window.wwLastCard.code") == first.code
    c = first.geometry.representative_point()
    assert page.evaluate("([lat, lon]) => wwMap.getBounds().contains([lat, lon])", [c.y, c.x])
    assert page.evaluate("wwMap.getZoom()") >= 16


def test_the_sample_community_stays_embedded(city_page, city_live) -> None:
    live, _ = city_live
    page = city_page
    for kind in ("dispatch", "assignment"):
        _fresh(page)
        page.goto(f"{live.base}/maps/{kind}/{SANGENSONG}")
        drawn = _drawn_ms(page)
        assert page.evaluate("ww.data().tiles") is None
        assert not [u for u in page.requests if "/tiles/" in u]
        n = page.evaluate("document.querySelectorAll('path.ww-micro').length")
        assert n == 83
        print(
            f"\n{kind} of 三根松 (83 micro-grids, embedded): grids drawn at {drawn:.0f} ms after "
            f"navigation start; load average {os.getloadavg()}"
        )


def test_tile_features_match_the_city_grids(city_live) -> None:
    """The tiles of one city community at zoom 15 hold exactly its micro-grids (each somewhere)."""
    from geo.tiles import tile_for_lonlat
    from tests.tile_compare import decode

    live, city = city_live
    code = sorted(city)[2]
    micro = {g.code for g in city[code] if g.level.value == "micro"}
    x1, y1, x2, y2 = shapely.total_bounds([g.geometry for g in city[code]])
    a, b = tile_for_lonlat(x1, y2, 15), tile_for_lonlat(x2, y1, 15)
    seen: set[str] = set()
    with httpx.Client(base_url=live.base) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "viewer", "password": "viewer-demo"})
        h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        for x in range(a.x, b.x + 1):
            for y in range(a.y, b.y + 1):
                r = client.get(f"/tiles/micro/15/{x}/{y}.mvt?community={code}", headers=h)
                assert r.status_code == 200
                seen |= {p["code"] for p, _ in decode(r.content).get("micro", [])}
    assert seen == micro
