"""OGC API – Features paging over a 50,000-feature collection: ms per page of 1,000 through
``weiwang serve`` (one worker, SpatiaLite) on 127.0.0.1.

A SYNTHETIC community (:func:`bench.citygen.city_partition`: Voronoi micro-grids tiling a 30 km
square, grouped by reading order into general grids of 500) is imported and published into a fresh
database; then every page of ``/ogc/collections/{code}-micro/items?limit=1000`` is fetched on one
keep-alive connection, twice (the first pass includes building the collection's cached arrays).
Target: every page of the second pass under 200 ms; a bbox-filtered page is timed too. The figure
(median and worst ms per page) is printed with the load average and the cores this process may use
(at start and at the end), since the machine may be shared. Also run by ``python -m bench``
(``--quick``: 5,000 grids, a smoke test, not the figure).

    .venv/bin/python -m bench.bench_ogc [--grids 50000] [--page 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import shapely

from bench.citygen import city_partition
from geo.hierarchy import Grid, Level

COMMUNITY = "510116999001"
TARGET_MS = 200.0
PER_GENERAL = 500


def synthetic_layer(n: int) -> list[Grid]:
    """One community, general grids of :data:`PER_GENERAL` consecutive micro-grids, ``n`` micro-grids."""
    _codes, polys = city_partition(n)
    grids: list[Grid] = []
    box = shapely.box(*shapely.total_bounds(polys))
    grids.append(Grid(COMMUNITY, "基准社区", Level.COMMUNITY, box, None, COMMUNITY, "社区", None))
    for g, start in enumerate(range(0, len(polys), PER_GENERAL), start=1):
        gcode = f"{COMMUNITY}{g:03d}"
        chunk = polys[start : start + PER_GENERAL]
        area = shapely.coverage_union_all(chunk)
        grids.append(Grid(gcode, f"第{g}网格", Level.GENERAL, area, COMMUNITY, COMMUNITY, "一般网格", None))
        grids += [
            Grid(f"{gcode}{i:03d}", f"第{g}网格第{i}微网格", Level.MICRO, p, gcode, COMMUNITY, "微网格", 50)
            for i, p in enumerate(chunk, start=1)
        ]
    return grids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="OGC API – Features 翻页基准 / paging bench")
    ap.add_argument("--grids", type=int, default=50_000)
    ap.add_argument("--page", type=int, default=1000)
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"负载 / load average at start: {os.getloadavg()}; cores: {cores} of {os.cpu_count()}", flush=True)

    from api.ops.accounts import prepare_database
    from api.settings import Settings
    from store import db
    from store.importing import import_grids
    from store.versions import publish
    from tests.served import served

    tmp = Path(tempfile.mkdtemp(prefix="bench_ogc_"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    t = time.perf_counter()
    prepare_database(Settings(database_url=url, secret_key="bench"))
    grids = synthetic_layer(args.grids)
    engine = db.make_engine(url)
    result = import_grids(engine, grids, COMMUNITY, commit=True, source="bench_ogc", drop_elements=True)
    with db.write(engine) as conn:
        publish(conn, COMMUNITY, result.version_number, force=True)
    engine.dispose()
    micro = sum(1 for g in grids if g.level is Level.MICRO)
    print(f"layer: {micro} micro-grids imported and published in {time.perf_counter() - t:.0f} s", flush=True)

    try:
        with served(url, workers=1, start_timeout=120) as srv:  # one worker, stopped on the way out
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)

            def page(path: str) -> tuple[float, dict]:
                t0 = time.perf_counter()
                conn.request("GET", path)
                r = conn.getresponse()
                data = r.read()
                ms = (time.perf_counter() - t0) * 1000
                assert r.status == 200, data[:300]
                return ms, json.loads(data)

            base = f"/ogc/collections/{COMMUNITY}-micro/items?limit={args.page}"
            passes: list[list[float]] = []
            for _ in range(2):
                times, seen, offset = [], 0, 0
                while True:
                    ms, body = page(f"{base}&offset={offset}" if offset else base)
                    times.append(ms)
                    seen += body["numberReturned"]
                    assert body["numberMatched"] == micro
                    if not any(link["rel"] == "next" for link in body["links"]):
                        break
                    offset += args.page
                assert seen == micro, (seen, micro)
                passes.append(times)
            x1, y1, x2, y2 = (float(v) for v in shapely.total_bounds([g.geometry for g in grids[:2]]))
            bbox_ms, bbox_body = page(f"{base}&bbox={x1},{y1},{(x1 + x2) / 2},{(y1 + y2) / 2}")
            conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'pass':10s}{'pages':>7s}{'median ms':>11s}{'p95 ms':>9s}{'max ms':>9s}")
    for name, times in zip(("first", "second"), passes, strict=True):
        p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
        print(f"{name:10s}{len(times):7d}{statistics.median(times):11.1f}{p95:9.1f}{max(times):9.1f}")
    shown, matched = bbox_body["numberReturned"], bbox_body["numberMatched"]
    print(f"bbox page: {shown} of {matched} matched in {bbox_ms:.1f} ms")
    worst = max(passes[1])
    ok = worst < TARGET_MS
    print(
        f"figure: {statistics.median(passes[1]):.1f} ms per page of {args.page} "
        f"(median; worst {worst:.1f} ms) from a {micro:,}-feature collection, second pass"
    )
    print(f"负载 / load average at end: {os.getloadavg()}; cores: {cores} of {os.cpu_count()}")
    print(f"target: every page of {args.page} < {TARGET_MS:.0f} ms (second pass): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
