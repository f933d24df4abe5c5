"""Web map pages: HTML size and time until the grid layer is drawn in Chromium (三根松, 1,000 incidents).

```
.venv/bin/python -m bench.bench_webmap [--incidents 1000] [--repeat 5]
```

Starts the real app (``api.http.app.create_app``) on a fresh SpatiaLite file in a temp folder, served by
uvicorn on 127.0.0.1, reports ``--incidents`` incidents at random points inside 三根松社区 through
``POST /api/v1/incidents`` (fixed seed), then for each page (dispatch, coverage, assignment):

* the HTML size in bytes (target ≤ 1 MB);
* in headless Debian Chromium, ``performance.now()`` when our JS has added the grid layer
  (``window.wwGridsDrawnMs``, measured from navigation start; target ≤ 1 s), and for the dispatcher
  page also when the incidents have been fetched and drawn (``window.wwLoadedMs``).

Median of ``--repeat`` fresh page loads (new browser context each time: nothing cached). Exit status
0 only if every page meets both targets. Every request is checked to stay on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyogrio  # noqa: F401  (STACK.md: load GDAL before mod_spatialite)

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SANGENSONG = "510116004001"
MAX_BYTES = 1_000_000
MAX_DRAW_MS = 300.0  # issue 15 item 6: the 83-grid pages draw in ≤ 300 ms (issue 5 asked ≤ 1 s)
OLD_DRAW_MS = 1000.0
#: Installed before any page script: long tasks (≥ 50 ms of main-thread work) are recorded from the start.
LONGTASKS = (
    "window.__wwLong = [];"
    "try { new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) {"
    " window.__wwLong.push([e.startTime, e.duration]); }); }).observe({type: 'longtask', buffered: true});"
    "} catch (e) {}"
)
#: Where the time before the grid layer went, from the Navigation and Resource Timing entries.
BREAKDOWN = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const drawn = window.wwGridsDrawnMs;
  const end = (rs) => rs.length ? Math.max(...rs.map((r) => r.responseEnd)) : 0;
  const start = performance.getEntriesByName('ww-grids-start')[0];
  const before = res.filter((r) => r.startTime < drawn);
  return {
    server: n.responseStart - n.requestStart,
    html: n.responseEnd,
    css: end(res.filter((r) => r.name.endsWith('.css'))),
    js: end(res.filter((r) => r.name.endsWith('.js'))),
    dcl: n.domContentLoadedEventStart,
    start: start ? start.startTime : drawn,
    drawn: drawn,
    longBefore: (window.__wwLong || []).filter((t) => t[0] < drawn).reduce((a, t) => a + t[1], 0),
    requests: before.length,
    fetches: before.filter((r) => r.initiatorType === 'fetch' || r.initiatorType === 'xmlhttprequest')
      .map((r) => r.name.replace(location.origin, '')),
  };
}"""


def _points(n: int, seed: int = 7) -> list[tuple[float, float]]:
    import numpy as np
    import shapely

    from api.ops.sources import load_source

    community = load_source().hierarchy.get(SANGENSONG).geometry
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = community.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x = rng.uniform(minx, maxx, 4 * n)
        y = rng.uniform(miny, maxy, 4 * n)
        inside = shapely.contains_xy(community, x, y)
        out += list(zip(x[inside].tolist(), y[inside].tolist(), strict=True))
    return out[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    import httpx
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.http.app import create_app
    from api.settings import Settings
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port

    print(f"load average at start: {os.getloadavg()}")
    tmp = tempfile.TemporaryDirectory()
    settings = Settings(
        database_url=f"sqlite:///{tmp.name}/bench.sqlite", secret_key="bench", version_poll_s=0.0
    )
    app = create_app(settings, prepare=True)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ok = True
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                "/api/v1/auth/login", json={"username": "dispatcher", "password": "dispatch-demo"}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            cats = ["综合维稳", "矛盾纠纷", "安全隐患", "应急管理风险隐患", "群众诉求"]
            t0 = time.perf_counter()
            for i, (lon, lat) in enumerate(_points(args.incidents)):
                r = http.post(
                    "/api/v1/incidents",
                    headers=auth,
                    json={
                        "lon": lon,
                        "lat": lat,
                        "crs": "wgs84",
                        "category": cats[i % 5],
                        "description": f"基准测试事件 {i}",
                    },
                )
                r.raise_for_status()
            print(f"reported {args.incidents} incidents in {time.perf_counter() - t0:.1f} s")
            pages = {
                "dispatch": f"/maps/dispatch/{SANGENSONG}",
                "coverage": f"/maps/coverage/{SANGENSONG}",
                "assignment": f"/maps/assignment/{SANGENSONG}",
            }
            sizes = {k: len(http.get(u, cookies={"weiwang_token": token}).content) for k, u in pages.items()}
            api_size = len(
                http.get(f"/api/v1/incidents?community={SANGENSONG}&limit=5000", headers=auth).content
            )

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            warm = browser.new_context()  # one throw-away load: Chromium's own first-start costs
            warm.add_cookies([{"name": "weiwang_token", "value": token, "url": base}])
            warm.new_page().goto(base + pages["coverage"])
            warm.close()
            print(
                f"\n{'page':<11} {'HTML bytes':>11} {'grids drawn ms':>15} {'all loaded ms':>14}"
                f"  ≤ {MAX_DRAW_MS:.0f} ms  ≤ {OLD_DRAW_MS:.0f} ms"
            )
            details: dict[str, dict[str, float]] = {}
            fetched: dict[str, set[str]] = {}
            for name, url in pages.items():
                drawn, loaded, outside, parts = [], [], [], []
                for _ in range(args.repeat):
                    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                    ctx.add_cookies([{"name": "weiwang_token", "value": token, "url": base}])
                    ctx.add_init_script(f"localStorage.setItem('weiwang_token', {token!r});")
                    ctx.add_init_script(LONGTASKS)
                    page = ctx.new_page()
                    cdp = ctx.new_cdp_session(page)
                    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
                    page.on(
                        "request",
                        lambda r, out=outside: None if r.url.startswith(base) else out.append(r.url),
                    )
                    page.goto(base + url)
                    deadline = time.monotonic() + 30
                    while not page.evaluate("window.wwLoaded === true"):
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"{name}: page did not finish loading")
                        page.wait_for_timeout(20)
                    drawn.append(page.evaluate("window.wwGridsDrawnMs"))
                    loaded.append(page.evaluate("window.wwLoadedMs || window.wwGridsDrawnMs"))
                    part = page.evaluate(BREAKDOWN)
                    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                    part["cpu"] = 1000 * metrics.get("TaskDuration", 0.0)
                    part["script"] = 1000 * metrics.get("ScriptDuration", 0.0)
                    fetched.setdefault(name, set()).update(part.pop("fetches"))
                    parts.append(part)
                    ctx.close()
                d, lo = statistics.median(drawn), statistics.median(loaded)
                details[name] = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
                passed = sizes[name] <= MAX_BYTES and d <= MAX_DRAW_MS and not outside
                ok &= passed
                print(
                    f"{name:<11} {sizes[name]:>11,} {d:>15.0f} {lo:>14.0f}  {'PASS' if passed else 'FAIL':>8}"
                    f"  {'PASS' if d <= OLD_DRAW_MS else 'FAIL':>8}"
                    + (f"  outside requests: {outside[:3]}" if outside else "")
                )
            browser.close()
        print(
            "\nwhere the time went (medians, ms from navigation start): server = request sent → first"
            " byte of the HTML;\nhtml/css/js = last byte received; dcl = DOMContentLoaded; start/drawn ="
            " drawGrids entered/returned;\nlong = long tasks (≥ 50 ms) before the draw; req = requests"
            " started before it;\ncpu/script = the renderer's main-thread task/script time until loaded"
            " (CDP Performance.getMetrics, thread ticks: what the load average inflates least)"
        )
        cols = (
            "server",
            "html",
            "css",
            "js",
            "dcl",
            "start",
            "drawn",
            "longBefore",
            "requests",
            "cpu",
            "script",
        )
        print(
            f"{'page':<11}"
            + "".join(f"{c.replace('longBefore', 'long').replace('requests', 'req'):>8}" for c in cols)
        )
        for name, det in details.items():
            print(f"{name:<11}" + "".join(f"{det[c]:>8.0f}" for c in cols))
            if fetched.get(name):
                print(f"{'':<11}fetched before the draw: {sorted(fetched[name])}")
        print(
            f"\nAPI incident list ({args.incidents} incidents): {api_size:,} bytes (fetched, not in the page)"
        )
        print(
            f"targets: HTML ≤ {MAX_BYTES:,} bytes, grid layer drawn ≤ {MAX_DRAW_MS:.0f} ms"
            f" (issue 15; issue 5's ≤ {OLD_DRAW_MS:.0f} ms shown beside it)"
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.service.engine.dispose()
        tmp.cleanup()
    print(f"load average at end: {os.getloadavg()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
