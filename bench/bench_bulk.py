"""Bench: bulk locate of a CSV (``weiwang locate --in/--out``) against pandas + geopandas.sjoin.

Run: ``.venv/bin/python -m bench.bench_bulk [--points N] [--repeat R]``.

10^6 random points, uniform over the bounding box of the sample communities' micro-grids
(``data/boundaries``, fixed seed), written once as a CSV (``id,lon,lat``). Then, in this one
process, one after the other and interleaved ``--repeat`` times (best of each is kept):

- **ours**: ``api.ops.locating.locate_csv`` — pyarrow reads the CSV, the locator answers indices,
  labels are gathered by index, pyarrow writes the CSV with the 13 result columns;
- **pandas + sjoin**: ``pandas.read_csv`` → points GeoDataFrame → ``geopandas.sjoin(predicate=
  "within", how="left")`` against the micro-grids (code, name, parent and community columns) →
  ``DataFrame.to_csv``.

Both are timed from file to file, in-process, page cache warm; the locator (and its outline index
for points outside every grid) is built once beforehand and its build time printed apart, as the
sjoin side's grids GeoDataFrame is. Arrow uses its thread pool, pandas and geopandas one thread.

Answers are checked: wherever sjoin finds exactly one grid ours must name the same one; where it
finds none ours must be outside, snapped or on a boundary; points sjoin gives two or more grids
(shared edges: our tie rule picks one) are counted, not compared. Target (issue 15): ≥ 4×.
The load average and cores are printed: the machine may be shared. Exit 0 only if both hold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/bench_bulk.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from api.ops.locating import file_layer, locate_csv

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "boundaries"
OUT = ROOT / "bench" / "out"
TARGET = 4.0


def sjoin_csv(
    grids: gpd.GeoDataFrame, in_path: Path, out_path: Path, steps: dict[str, float]
) -> pd.DataFrame:
    """The pandas way, file to file; returns the joined frame for the check and the time of each
    step in ``steps``."""
    t0 = time.perf_counter()
    df = pd.read_csv(in_path)
    t1 = time.perf_counter()
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    joined = gpd.sjoin(pts, grids, predicate="within", how="left")
    t2 = time.perf_counter()
    joined.drop(columns="geometry").to_csv(out_path, index=False)
    t3 = time.perf_counter()
    steps.update({"read_csv": t1 - t0, "points + sjoin": t2 - t1, "to_csv": t3 - t2})
    return joined


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="批量定位基准 / bulk locate benchmark")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    print(f"负载 / load average (1, 5, 15 min) at start: {load0}; cores: {os.cpu_count()}", flush=True)
    print(
        f"pyarrow {pa.__version__}, pandas {pd.__version__}, geopandas {gpd.__version__}, "
        f"shapely {shapely.__version__}; both in this process, one at a time",
        flush=True,
    )
    t = time.perf_counter()
    view = file_layer(SAMPLE, 30.0)
    view.locator.prepare()
    build = time.perf_counter() - t
    h = view.hierarchy
    micro = h.micro
    names = {g.code: g.name for g in h}
    grids = gpd.GeoDataFrame(
        {
            "micro_code": [g.code for g in micro],
            "micro_name": [g.name for g in micro],
            "general_code": [g.parent_code for g in micro],
            "general_name": [names.get(g.parent_code) for g in micro],
            "community_code": [h.chain(g.code)[-1].code for g in micro],
        },
        geometry=[g.geometry for g in micro],
        crs="EPSG:4326",
    )
    print(
        f"载入样例并构建定位器 / load sample + build locator: {build:.2f} s (not counted; {len(micro)} grids)"
    )
    minx, miny, maxx, maxy = shapely.total_bounds(grids.geometry.values)
    rng = np.random.default_rng(20260101)
    n = args.points
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    with tempfile.TemporaryDirectory(prefix="weiwang-bulk-") as tmp:
        src = Path(tmp) / "points.csv"
        pd.DataFrame({"id": np.arange(n), "lon": lon, "lat": lat}).to_csv(src, index=False)
        print(
            f"{n:,} 点 / points, {src.stat().st_size / 1e6:.0f} MB CSV; {args.repeat} 轮 / rounds", flush=True
        )
        t_ours = t_sj = float("inf")
        joined = None
        steps: dict[str, float] = {}
        for r in range(args.repeat):
            t = time.perf_counter()
            locate_csv(view, src, Path(tmp) / "ours.csv")
            t_ours = min(t_ours, time.perf_counter() - t)
            t = time.perf_counter()
            joined = sjoin_csv(grids, src, Path(tmp) / "sjoin.csv", steps)
            t_sj = min(t_sj, time.perf_counter() - t)
            print(f"  round {r + 1}: best so far ours {t_ours:.2f} s, pandas+sjoin {t_sj:.2f} s", flush=True)
        ours = pacsv.read_csv(
            Path(tmp) / "ours.csv",
            convert_options=pacsv.ConvertOptions(
                column_types={"micro_code": pa.string()}, strings_can_be_null=True
            ),
        ).to_pandas()
    assert joined is not None
    pos = joined.index.to_numpy()
    has = joined["index_right"].notna().to_numpy()
    counts = np.bincount(pos[has], minlength=n)
    theirs = np.full(n, None, dtype=object)
    theirs[pos[has]] = joined["micro_code"].to_numpy()[has]
    got = ours["micro_code"].to_numpy(dtype=object)
    one = counts == 1
    mismatch_one = int(np.sum(got[one] != theirs[one]))
    zero = counts == 0
    excused = ours["snapped"].to_numpy(dtype=bool) | ours["on_boundary"].to_numpy(dtype=bool)
    mismatch_zero = int(np.sum(zero & pd.notna(got) & ~excused))
    speedup = t_sj / t_ours
    ok = speedup >= TARGET and mismatch_one == 0 and mismatch_zero == 0
    load1 = os.getloadavg()
    print(f"ours (locate_csv):      {t_ours:6.2f} s  {t_ours / n * 1e9:7.0f} ns/点")
    print(f"pandas + sjoin + CSV:   {t_sj:6.2f} s  {t_sj / n * 1e9:7.0f} ns/点")
    print("  (last round: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()) + ")")
    print(f"加速比 / speed-up: {speedup:.1f}×  目标 / target ≥ {TARGET:g}×")
    print(
        f"一致性 / agreement: {int(one.sum()):,} 点 sjoin 恰好一个网格 / exactly one grid, 不一致 / "
        f"mismatches {mismatch_one}; {int(zero.sum()):,} 点无网格 / none (ours located without "
        f"snap or boundary: {mismatch_zero}); {int(np.sum(counts > 1)):,} 点多个网格 / several "
        "(shared edges, not compared)"
    )
    print(f"负载 / load average at end: {load1}")
    print("总体 / overall:", "PASS" if ok else "FAIL")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bulk.json").write_text(
        json.dumps(
            {
                "points": n,
                "cores": os.cpu_count(),
                "load_start": load0,
                "load_end": load1,
                "build_s": round(build, 3),
                "ours_s": round(t_ours, 3),
                "sjoin_s": round(t_sj, 3),
                "speedup": round(speedup, 2),
                "compared": int(one.sum()),
                "mismatches": mismatch_one + mismatch_zero,
                "several": int(np.sum(counts > 1)),
                "pass": ok,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
