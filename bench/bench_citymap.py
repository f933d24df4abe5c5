"""City map pages in Chromium at city scale (issue 15 item 6): first draw ≤ 2 s and ≤ 5 MB.

```
.venv/bin/python -m bench.bench_citymap [--grids 50000] [--db FILE] [--zooms 13,15] [--workers 1]
```

A SYNTHETIC city of ``--grids`` micro-grids (:func:`bench.bench_tiles.load_city` over
:mod:`bench.citygen`: four community strips, general grids of ≤ 500 micro-grids) is imported and
published into a SpatiaLite file (``--db`` keeps it for the next run), served by a real
``weiwang serve`` (:func:`tests.served.served`, ``--workers`` workers, started fresh: its tile cache is
empty) and drawn in headless Debian Chromium (``/usr/bin/chromium`` through Playwright, the flags of
``tests/browser/conftest.py``), logged in as the dispatcher through the real login form. Pages:
``/maps/city`` and the dispatcher, coverage and assignment maps of three different communities (so
each page's tiles are cold on its first load: a community page's tiles are keyed by that community's
version, the city's by every version).

For each page, twice — **cold** (the first load after the server started, its tiles built on demand)
then **warm** (a new browser context, so an empty browser cache, against the server's tile cache):

* **first draw**: ``window.wwGridsDrawnMs``, which ``layers/static/tiles.js`` sets from
  ``performance.now()`` (ms since navigation start) when every tile layer drawn at the first view has
  fired Leaflet's ``load``: all its visible tiles fetched, decoded and handed to the canvas renderer
  (VectorGrid calls a tile done on the animation frame after adding its features). Bytes: Playwright's
  ``request.sizes()`` (response headers + encoded body) of every response from the navigation to that
  moment; requests: their count. The Resource Timing ``transferSize`` of what ended before the mark
  is printed beside it as a cross-check.
* **zoom**: ``setView`` (no animation) on a micro-grid at each of ``--zooms`` (micro-grids are drawn
  from zoom 13), until the tile layers drawn at that zoom fire ``load`` (timed in the page), with the
  bytes and requests it took;
* **click**: a click on that micro-grid until the popup card shows its code and the people holding
  its posts (one 微网格员 post is added through the API before the server starts answering pages);
  timed in the page by a MutationObserver. The dispatcher's own page is not clicked: there a click
  reports an incident.

Every request is checked to stay on 127.0.0.1. Server CPU (the ``weiwang serve`` process group) and
browser CPU (Playwright's driver and Chromium: this process's descendants) are read from /proc per
phase: they share the machine's cores, unpinned, with whatever else runs (load average printed at
start and end). Exit status 0 only if every first draw (cold and warm) is ≤ 2 s and ≤ 5 MB with no
request off 127.0.0.1. Results: ``bench/out/citymap.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyogrio  # noqa: F401  (STACK.md: load GDAL before mod_spatialite)

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "citymap.json"
TARGET_MS = 2000.0
TARGET_BYTES = 5 * 2**20
VIEWPORT = {"width": 1400, "height": 900}
WORKER = {"person_id": "B0001", "name": "基准微网格员", "phone": "13900002222"}
_TICK = os.sysconf("SC_CLK_TCK")

#: Resource Timing cross-check: bytes (transferSize: headers + encoded body) and count of the
#: navigation and the resources that ended before the "drawn" mark.
_TIMING = """() => {
  const drawn = window.wwGridsDrawnMs;
  const n = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').filter((r) => r.responseEnd <= drawn);
  return {bytes: (n ? n.transferSize : 0) + res.reduce((a, r) => a + r.transferSize, 0),
          requests: 1 + res.length, html: n ? n.responseEnd : 0,
          server: n ? n.responseStart - n.requestStart : 0};
}"""

#: Zoom to [lat, lon, z] and resolve with the ms until every tile layer drawn at z fired "load".
_ZOOM = """([lat, lon, z]) => new Promise((done, fail) => {
  const g = window.wwGrids;
  const layers = [g.micro, g.general, g.community].filter((l) => l && l.options
    && l.options.vectorTileLayerStyles && z >= l.options.minZoom);
  let left = layers.length;
  const t0 = performance.now();
  const one = () => { if (--left === 0) done(performance.now() - t0); };
  layers.forEach((l) => l.once('load', one));
  setTimeout(() => fail(new Error('tiles did not load in 120 s')), 120000);
  wwMap.setView([lat, lon], z, {animate: false});
  if (!layers.length) done(performance.now() - t0);
  // nothing to fetch (the view's tiles were already there): no "load" will come
  layers.forEach((l) => { if (!l.isLoading()) { l.off('load', one); one(); } });
})"""

#: Before a click: note when the popup card of ``code`` shows its people (window.__wwCardMs).
_WATCH_CARD = """(code) => {
  window.__wwCardMs = null;
  window.wwLastCard = null;
  const sel = '.leaflet-popup .ww-card[data-code="' + code + '"] .ww-card-people';
  const obs = new MutationObserver(() => {
    if (document.querySelector(sel)) { window.__wwCardMs = performance.now(); obs.disconnect(); }
  });
  obs.observe(document.body, {childList: true, subtree: true});
  return performance.now();
}"""


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _procs() -> list[tuple[int, int, int]]:
    """(pid, ppid, pgrp) of every process."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                f = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out.append((int(entry), int(f[1]), int(f[2])))
    return out


def group_cpu(pgrp: int) -> float:
    """CPU seconds of the live processes of process group ``pgrp``."""
    return sum(_proc_cpu(pid) for pid, _, g in _procs() if g == pgrp)


def descendants_cpu(root: int, exclude_pgrp: int) -> float:
    """CPU seconds of ``root``'s live descendants outside ``exclude_pgrp`` (the browser side)."""
    procs = _procs()
    children: dict[int, list[int]] = {}
    for pid, ppid, g in procs:
        if g != exclude_pgrp:
            children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += _proc_cpu(pid)
        todo += children.get(pid, [])
    return total


class Meter:
    """Requests and bytes (headers + encoded body, per Playwright) of one page, and CPU per phase."""

    def __init__(self, page: Any, server_pgrp: int) -> None:
        self.urls: list[str] = []
        self.sizes: list[int] = []
        self.server_pgrp = server_pgrp
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("requestfinished", self._finished)
        self.reset()

    def _finished(self, r: Any) -> None:
        try:
            s = r.sizes()
        except Exception:  # a request still open when the context closes
            return
        self.sizes.append(int(s["responseBodySize"]) + int(s["responseHeadersSize"]))

    def reset(self) -> None:
        self.n_urls, self.n_sizes = len(self.urls), len(self.sizes)
        self.cpu = (group_cpu(self.server_pgrp), descendants_cpu(os.getpid(), self.server_pgrp))

    def take(self) -> dict[str, Any]:
        """What happened since the last reset (and reset)."""
        urls = self.urls[self.n_urls :]
        server, browser = group_cpu(self.server_pgrp), descendants_cpu(os.getpid(), self.server_pgrp)
        out = {
            "requests": len(urls),
            "tile_requests": sum(1 for u in urls if "/tiles/" in u),
            "tiles": dict(
                Counter(
                    "{}/z{}".format(*u.split("/tiles/")[1].split("/")[:2]) for u in urls if "/tiles/" in u
                )
            ),
            "bytes": sum(self.sizes[self.n_sizes :]),
            "server_cpu_s": round(server - self.cpu[0], 2),
            "browser_cpu_s": round(browser - self.cpu[1], 2),
        }
        self.reset()
        return out


def _until(page: Any, expression: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {expression}")
        page.wait_for_timeout(20)


def _settle(page: Any, meter: Meter, quiet_ms: int = 300, timeout_s: float = 60) -> None:
    """Wait until no request has finished for ``quiet_ms`` (so a phase's bytes are all counted)."""
    deadline = time.monotonic() + timeout_s
    last = len(meter.sizes)
    while time.monotonic() < deadline:
        page.wait_for_timeout(quiet_ms)
        if len(meter.sizes) == last and len(meter.urls) - meter.n_urls <= len(meter.sizes) - meter.n_sizes:
            return
        last = len(meter.sizes)


def measure_page(
    browser: Any, base: str, path: str, target: Any, zooms: list[int], server_pgrp: int, click: bool
) -> dict[str, Any]:
    """One load of ``path`` in a fresh context: first draw, zoom onto ``target``, click it."""
    from tests.browser.conftest import login, off_loopback

    ctx = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    meter = Meter(page, server_pgrp)
    try:
        login(page, base)
        _settle(page, meter)
        meter.reset()
        t0 = time.perf_counter()
        page.goto(base + path, wait_until="commit")
        _until(page, "typeof window.wwGridsDrawnMs === 'number' && window.wwGridsDrawnMs > 0", 300)
        wall = time.perf_counter() - t0
        drawn = float(page.evaluate("window.wwGridsDrawnMs"))
        timing = page.evaluate(_TIMING)
        first = meter.take() | {
            "drawn_ms": round(drawn),
            "wall_s": round(wall, 2),
            "zoom": page.evaluate("wwMap.getZoom()"),
            "rt_bytes": timing["bytes"],
            "rt_requests": timing["requests"],
            "html_ms": round(timing["html"]),
            "html_server_ms": round(timing["server"]),
        }
        _settle(page, meter)  # tiles of the first view still arriving after the mark, if any
        first["after_mark"] = meter.take()
        p = target.geometry.representative_point()
        out: dict[str, Any] = {"first": first, "zoom": {}}
        for z in zooms:
            ms = page.evaluate(_ZOOM, [p.y, p.x, z])
            _settle(page, meter)
            out["zoom"][str(z)] = meter.take() | {"drawn_ms": round(ms)}
        if click:
            x, y = page.evaluate(
                "([lat, lon]) => { const q = wwMap.latLngToContainerPoint([lat, lon]);"
                " const r = wwMap.getContainer().getBoundingClientRect();"
                " return [r.left + q.x, r.top + q.y]; }",
                [p.y, p.x],
            )
            t_click = page.evaluate(_WATCH_CARD, target.code)
            page.mouse.click(x, y)
            with contextlib.suppress(RuntimeError):  # recorded below as a failed click
                _until(page, "window.__wwCardMs !== null", 60)
            card = page.evaluate("window.wwLastCard") or {}
            shown = page.evaluate("window.__wwCardMs")
            people = [c["name"] for c in card.get("people", [])]
            out["click"] = meter.take() | {
                "card_ms": round(shown - t_click) if shown is not None else None,
                "code": card.get("code"),
                "people": people,
                "ok": shown is not None and card.get("code") == target.code and people == [WORKER["name"]],
                "popup": page.evaluate(
                    "(document.querySelector('.leaflet-popup-content') || {}).innerText || null"
                ),
            }
        out["off_loopback"] = off_loopback(meter.urls)
        out["js_errors"] = errors
        return out
    finally:
        ctx.close()


def _add_worker(base: str, code: str, person: int) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        tok = client.post("/api/v1/auth/login", json={"username": "planner", "password": "planner-demo"})
        r = client.post(
            "/api/v1/roster/posts",
            json={
                "person_id": f"{WORKER['person_id'][:-1]}{person}",
                "role": "微网格员",
                "grid_code": code,
                "name": WORKER["name"],
                "phone": WORKER["phone"],
                "valid_from": "2020-01-01",
            },
            headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        )
        if r.status_code not in (201, 409):  # 409: already in post (a --db kept from a last run)
            raise RuntimeError(f"roster post for {code}: {r.status_code} {r.text[:200]}")


def _line(name: str, label: str, r: dict[str, Any]) -> str:
    f = r["first"]
    s = (
        f"{name:<10} {label:<4} first draw {f['drawn_ms']:>6} ms z{f['zoom']:<2} "
        f"{f['bytes'] / 2**20:>5.2f} MB {f['requests']:>3} req ({f['tile_requests']} tiles) "
        f"[RT {f['rt_bytes'] / 2**20:.2f} MB/{f['rt_requests']}] "
        f"cpu server {f['server_cpu_s']:.1f} s browser {f['browser_cpu_s']:.1f} s"
    )
    for z, zr in r["zoom"].items():
        s += (
            f"\n{'':<15} zoom {z:>2}: {zr['drawn_ms']:>6} ms {zr['bytes'] / 2**20:>5.2f} MB "
            f"{zr['tile_requests']:>3} tiles, cpu server {zr['server_cpu_s']:.1f} s "
            f"browser {zr['browser_cpu_s']:.1f} s {zr['tiles']}"
        )
    if "click" in r:
        c = r["click"]
        s += (
            f"\n{'':<15} click: card in {c['card_ms']} ms, {c['code']} {c['people']} "
            f"{'ok' if c['ok'] else 'WRONG: popup ' + repr((c['popup'] or '')[:120])}"
        )
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="城市地图页面基准 / city map pages in Chromium")
    ap.add_argument("--grids", type=int, default=50_000)
    ap.add_argument("--communities", type=int, default=4)
    ap.add_argument("--db", help="SQLite file to keep the city in (reused when it exists)")
    ap.add_argument("--zooms", default="13,15", help="micro-grid zooms measured after the first draw")
    ap.add_argument("--workers", type=int, default=1, help="weiwang serve --workers")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    zooms = [int(z) for z in args.zooms.split(",") if z]

    from playwright.sync_api import sync_playwright

    from api.ops.accounts import prepare_database
    from api.settings import Settings
    from bench.bench_tiles import city_grids, load_city
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.served import served

    load_start = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    print(f"负载 / load average at start: {load_start}; cores: {cores} of {os.cpu_count()}", flush=True)
    print(
        f"server: weiwang serve --workers {args.workers}, SpatiaLite; browser: headless Chromium "
        f"(Playwright); both on the same {cores} cores, unpinned, with whatever else runs",
        flush=True,
    )
    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench_citymap_"))
        path = tmp / "bench.sqlite"
    url = f"sqlite:///{path}"
    t = time.perf_counter()
    reused = path.exists()
    if reused:
        city = city_grids(args.grids, communities=args.communities)
    else:
        prepare_database(Settings(database_url=url, secret_key="bench"))  # sample data + demo accounts
        city = load_city(url, args.grids, communities=args.communities)
    print(
        f"city: {args.grids} micro-grids in {len(city)} communities "
        f"({'reused ' + str(path) if reused else 'imported and published'}"
        f" in {time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    codes = sorted(city)

    def micro_of(code: str, i: int) -> Any:
        micro = [g for g in city[code] if g.level.value == "micro"]
        centre = city[code][0].geometry.centroid  # the community's outline comes first
        # the micro-grid nearest the community's centre (a view full of micro-grids), shifted by i
        micro.sort(key=lambda g: g.geometry.centroid.distance(centre))
        return micro[i]

    pages = [  # (name, path, micro-grid zoomed on and clicked, click?)
        ("city", "/maps/city", micro_of(codes[1 % len(codes)], 0), True),
        ("dispatch", f"/maps/dispatch/{codes[0]}", micro_of(codes[0], 3), False),
        ("coverage", f"/maps/coverage/{codes[2 % len(codes)]}", micro_of(codes[2 % len(codes)], 5), True),
        ("assignment", f"/maps/assignment/{codes[3 % len(codes)]}", micro_of(codes[3 % len(codes)], 7), True),
    ]
    locators = path.parent / f"{path.stem}_citymap_locators"
    results: dict[str, Any] = {}
    idle = None
    ok = True
    try:
        env = {"WEIWANG_LOCATOR_DIR": str(locators)}
        with served(url, workers=args.workers, env=env, start_timeout=300) as srv:
            base = srv.base_url
            pgrp = srv.proc.pid  # start_new_session: the server leads its own group
            # a person in post on each clicked micro-grid (roster posts: no tile is built)
            for i, (_, _, g, click) in enumerate(pages):
                if click:
                    _add_worker(base, g.code, i)
            print(f"map_tiles_above: {Settings().map_tiles_above} (default setting)", flush=True)
            c0 = group_cpu(pgrp)
            time.sleep(5)
            idle = (group_cpu(pgrp) - c0) / 5
            print(f"server CPU while no page is open: {idle:.2f} s per s (counted in every phase)")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    warmup = browser.new_context()  # Chromium's own first-start costs, not the page's
                    warmup.new_page().goto(base + "/maps/login")
                    warmup.close()
                    for name, p, target, click in pages:
                        results[name] = {}
                        for label in ("cold", "warm"):
                            r = measure_page(browser, base, p, target, zooms, pgrp, click)
                            results[name][label] = r
                            print(_line(name, label, r) + f"  load {os.getloadavg()[0]:.1f}", flush=True)
                            f = r["first"]
                            passed = (
                                f["drawn_ms"] <= TARGET_MS
                                and f["bytes"] <= TARGET_BYTES
                                and not r["off_loopback"]
                                and not r["js_errors"]
                                and r.get("click", {}).get("ok", True)
                            )
                            r["pass"] = passed
                            ok &= passed
                            if r["off_loopback"]:
                                print(f"  requests off 127.0.0.1: {r['off_loopback'][:3]}")
                            if r["js_errors"]:
                                print(f"  JavaScript errors: {r['js_errors'][:3]}")
                finally:
                    browser.close()
    finally:
        shutil.rmtree(locators, ignore_errors=True)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()
    print(
        f"\ntargets (issue 15 item 6): first draw ≤ {TARGET_MS / 1000:.0f} s"
        f" and ≤ {TARGET_BYTES / 2**20:.0f} MB "
        f"(cold and warm), every request on 127.0.0.1, the clicked card names the grid and its worker: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    print(f"负载 / load average at end: {load_end}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "grids": args.grids,
                "communities": args.communities,
                "workers": args.workers,
                "cores": cores,
                "load_start": load_start,
                "load_end": load_end,
                "targets": {"first_draw_ms": TARGET_MS, "first_draw_bytes": TARGET_BYTES},
                "pass": ok,
                "server_idle_cpu_per_s": idle,
                "pages": results,
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    print(f"results: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
