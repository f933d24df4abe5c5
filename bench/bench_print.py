"""Benchmark the printed sheets: the A3 微网格分布图 of 三根松社区 (warm), its multi-page PDF, and the
overview sheet of a SYNTHETIC city of 50,000 micro-grids.

Run: ``.venv/bin/python -m bench.bench_print [--repeat N] [--data DIR] [--city-grids N]``. Prints
seconds — wall and this process's CPU (the machine may be shared: the CPU figure is what the sheet
cost) — for the first render in the process (cold: fonts are opened and glyph outlines converted)
and the best of the repeats (warm), with the load average and cores before and after. Targets (wall,
warm): A3 community sheet ≤ 1 s, all pages ≤ 10 s, city overview of 50,000 micro-grids ≤ 30 s. The
city is :func:`bench.citygen.city_partition` grouped into communities (vertical strips) and general
grids (bands of at most 999 micro-grids); building it is not timed.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from api.ops.printing import SAMPLE_NOTE
from api.ops.sources import load_source
from bench.citygen import city_partition
from geo.hierarchy import Grid, Hierarchy, Level
from layers.printmap import render_overview, render_sheet

SGS = "510116004001"


def city_hierarchy(n: int, communities: int = 5) -> Hierarchy:
    """A SYNTHETIC city of about ``n`` micro-grids in ``communities`` strips, each cut into bands of
    general grids of at most 999 micro-grids (outlines are exact unions, so it nests)."""
    _codes, polys = city_partition(n)
    arr = np.array(polys, dtype=object)
    k = math.ceil(math.sqrt(n))
    i = np.arange(len(arr))
    col, row = i % k, i // k
    com = col * communities // k
    band = max(1, 999 // -(-k // communities))
    gen = row // band
    grids: list[Grid] = []
    for c in range(communities):
        cc = f"510116{901 + c:03d}001"
        mine = np.flatnonzero(com == c)
        outlines = []
        for gi, g in enumerate(np.unique(gen[mine])):
            gc = f"{cc}{gi + 1:03d}"
            members = mine[gen[mine] == g]
            geom = shapely.coverage_union_all(arr[members])
            outlines.append(geom)
            grids.append(Grid(gc, f"城{c + 1}社区第{gi + 1}网格", Level.GENERAL, geom, cc, cc, "一般网格"))
            grids.extend(
                Grid(f"{gc}{j + 1:03d}", f"微网格{j + 1}", Level.MICRO, arr[m], gc, cc, "微网格", 50)
                for j, m in enumerate(members)
            )
        whole = shapely.coverage_union_all(np.array(outlines, dtype=object))
        grids.append(Grid(cc, f"城{c + 1}社区", Level.COMMUNITY, whole, None, cc, "社区"))
    return Hierarchy(grids)


def _time(fn: Callable[[], bytes], repeat: int) -> tuple[list[tuple[float, float]], int]:
    """(wall, cpu) of each run and the size of the last output."""
    runs = []
    size = 0
    for _ in range(max(1, repeat)):
        t, c = time.perf_counter(), time.process_time()
        size = len(fn())
        runs.append((time.perf_counter() - t, time.process_time() - c))
    return runs, size


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 only if every timed case meets its target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data" / "boundaries"))
    ap.add_argument("--city-grids", type=int, default=50_000, help="micro-grids of the synthetic city")
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"负载 / load average (1, 5, 15 min) at start: {os.getloadavg()}; cores: {cores}", flush=True)
    missed = 0
    t = time.perf_counter()
    src = load_source(args.data)
    h, elements, posts = src.hierarchy, src.elements, src.posts or []
    print(f"load sample: {time.perf_counter() - t:.2f} s")
    common = {
        "elements": elements,
        "posts": posts,
        "paper": "A3",
        "data_note": SAMPLE_NOTE,
        "version_label": "v1",
    }
    t = time.perf_counter()
    city = city_hierarchy(args.city_grids)
    n_micro = sum(1 for g in city if g.level is Level.MICRO)
    print(f"build synthetic city of {n_micro} micro-grids: {time.perf_counter() - t:.1f} s (not timed)")
    cases: list[tuple[str, float | None, Callable[[], bytes]]] = [
        ("A3 sheet (PDF)", 1.0, lambda: render_sheet(h, SGS, **common, fmt="pdf")),
        ("all pages (PDF)", 10.0, lambda: render_sheet(h, SGS, **common, fmt="pdf", multipage=True)),
        ("A3 sheet (PNG 300 dpi)", None, lambda: render_sheet(h, SGS, **common, fmt="png", dpi=300)),
        (
            f"city overview {n_micro} (PDF)",
            30.0 if n_micro >= 50_000 else None,
            lambda: render_overview(city, paper="A3", version_label="synthetic"),
        ),
    ]
    for name, target, fn in cases:
        runs, size = _time(fn, args.repeat if target != 30.0 else min(args.repeat, 2))
        cold_wall, cold_cpu = runs[0]
        warm_wall, warm_cpu = min(runs[1:] or runs)
        ok = target is None or warm_wall <= target
        missed += not ok
        verdict = "" if target is None else f"  target ≤ {target:g} s: " + ("OK" if ok else "MISSED")
        print(
            f"{name:30s} cold {cold_wall:6.2f} s (cpu {cold_cpu:5.2f})  warm {warm_wall:6.2f} s "
            f"(cpu {warm_cpu:5.2f})  {size / 1024:6.0f} KB{verdict}",
            flush=True,
        )
    print(f"负载 / load average (1, 5, 15 min) at end: {os.getloadavg()}; cores: {cores}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
