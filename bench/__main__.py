"""Every benchmark in one command: ``.venv/bin/python -m bench [--quick]``.

Runs, one after another in their own processes (so one cannot warm or slow the next): the locator
against geopandas.sjoin, bulk CSV locating against pandas + sjoin, the printed sheets, the web
map pages in Chromium, and the HTTP service under load on SpatiaLite and PostGIS. Each prints its
own table; this prints a summary of their exit statuses at the end and exits 0 only if every one
met its targets. ``--quick`` shortens the runs (fewer points, repeats and seconds) to check that
everything works, not to quote figures.
"""

from __future__ import annotations

import argparse

from bench.runall import run_modules

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (full arguments, --quick arguments)
    # 10^6 points even when quick: at 10^5 the per-call costs weigh on ns/point and the targets,
    # set for 10^6, are missed although nothing is wrong.
    "bench_locator": ([], ["--city-grids", "5000", "--repeat", "2"]),
    "bench_bulk": ([], ["--repeat", "1"]),
    "bench_print": ([], ["--repeat", "1", "--city-grids", "5000"]),
    "bench_webmap": ([], ["--incidents", "200", "--repeat", "2"]),
    "bench_api": ([], ["--seconds", "5", "--points", "300"]),
    "bench_cli": ([], ["--repeat", "2"]),
    "bench_ogc": ([], ["--grids", "5000"]),
    "bench_city": ([], ["--grids", "10000"]),
    "bench_tiles": ([], ["--grids", "5000", "--sample", "50"]),
    "bench_citymap": ([], ["--grids", "10000", "--zooms", "13"]),
    "bench_intake": ([], ["--seconds", "3", "--batch", "on", "--repeat", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="运行全部基准 / run every benchmark")
    ap.add_argument("--quick", action="store_true", help="short runs: a smoke test, not figures to quote")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset")
    args = ap.parse_args(argv)
    modules = [(f"bench.{name}", BENCHES[name][1 if args.quick else 0]) for name in args.only.split(",")]
    results = run_modules(modules, ok="PASS", failed="FAIL", width=(15, 16))
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
