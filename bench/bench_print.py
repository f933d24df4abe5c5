"""Benchmark the printed 微网格分布图: the A3 sheet of 三根松社区 and its multi-page PDF.

Run: ``.venv/bin/python -m bench.bench_print [--repeat N] [--data DIR]``. Prints seconds (cold = the
first render in the process, which loads fonts; warm = best of the repeats) against the targets:
A3 community sheet ≤ 2 s, all pages ≤ 10 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from api.ops.printing import SAMPLE_NOTE
from api.ops.sources import load_source
from layers.printmap import render_sheet

SGS = "510116004001"
TARGETS = {"A3 sheet (PDF)": 2.0, "all pages (PDF)": 10.0, "A3 sheet (PNG 300 dpi)": None}


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 only if every timed case meets its target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data" / "boundaries"))
    args = ap.parse_args(argv)
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
    cases = {
        "A3 sheet (PDF)": {"fmt": "pdf"},
        "all pages (PDF)": {"fmt": "pdf", "multipage": True},
        "A3 sheet (PNG 300 dpi)": {"fmt": "png", "dpi": 300},
    }
    for name, kw in cases.items():
        times = []
        size = 0
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            size = len(render_sheet(h, SGS, **common, **kw))
            times.append(time.perf_counter() - t)
        target = TARGETS[name]
        missed += target is not None and min(times) > target
        verdict = (
            ""
            if target is None
            else (f"  target ≤ {target:g} s: " + ("OK" if min(times) <= target else "MISSED"))
        )
        print(f"{name:24s} cold {times[0]:5.2f} s  warm {min(times):5.2f} s  ({size / 1024:.0f} KB){verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
