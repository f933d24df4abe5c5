"""Bench: intake (``POST /api/v1/incidents``) at a fixed rate, durable, on PostGIS and SpatiaLite.

Run: ``.venv/bin/python -m bench.bench_intake [--rate 500] [--seconds 15] [--engines postgis,spatialite]
[--batch off,on] [--pin-loadgen 1]``

Per engine and per ``--batch`` mode (``WEIWANG_INTAKE_BATCH``, the group commit of
:mod:`api.ops.intake_batch`): a fresh database — a throwaway PostGIS cluster started with **fsync,
synchronous_commit and full_page_writes on** (``tests.pgserver.start(durable=True)``), or a temp
SpatiaLite file (WAL, ``synchronous = NORMAL``, see :mod:`store.db`) — and ``weiwang serve
--workers 2``; a 2 s warm-up at 50/s, then ``bench/loadgen.py`` open-loop at ``--rate`` (latency
from each request's scheduled start). Reported: achieved rate, p50/p99, errors, the stored count
checked against the 201 answers, the server workers' CPU per report, machine CPU busy, load
average, and on PostGIS the commits and WAL fsyncs per report (``pg_stat_database.xact_commit``,
``pg_stat_wal.wal_sync``). The load generator runs in its own process, pinned with ``taskset`` to
``--pin-loadgen`` (default CPU 1; ``none`` for unpinned) while the server's workers are not pinned:
it shares that core with them, and its own CPU per report is printed.

On PostGIS with group commit (the target) the measured phase runs ``--repeat`` times (default 3) on
the same server: every run is printed with its CPU steal, and the median run by p99 is the result —
one 15 s run's p99 rests on its 75 slowest reports, and a few stalls of the host (steal) or of the
disk move it by several milliseconds. Before the runs, ``fdatasync`` of the database's filesystem is
probed for 3 s (:func:`fsync_probe`): no durable commit is faster, and its rare slow syncs delay
every report in flight at that moment.

Then, per engine, the write stage alone in this process (no HTTP; on PostGIS both the served
worker's one statement, :class:`store.groupwrite.ReportWriter`, and the transaction it falls back
to): prepared reports stored by
``store_batch`` in batches of 1, 8 and 64 → wall and CPU ms per report; 1000 / wall ms is what one
writer sustains (SpatiaLite's ceiling: one writer per file, however many workers).

Target (issue 15): ≥ 500 reports/s with p99 ≤ 10 ms on PostGIS with fsync on. SpatiaLite has one
writer per file: its ceiling is measured, not a target. Results go to ``bench/out/intake.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/bench_intake.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_api import OUT, PYTHON, ROOT, community_bbox, count_incidents, http_json, machine_use, served
from bench.runall import host_probe

TARGET_RATE = 500.0
TARGET_P99_MS = 10.0


def run_loadgen(
    port: int, token: str, bbox: tuple[float, ...], rate: float, seconds: float, pin: str | None
) -> dict:
    """``bench/loadgen.py`` in its own process (pinned with taskset when ``pin``); adds its CPU."""
    cmd = [PYTHON, "-m", "bench.loadgen", "--port", str(port), "--token", token, "--rate", str(rate)]
    cmd += ["--seconds", str(seconds), "--bbox", ",".join(f"{v:.7f}" for v in bbox)]
    if pin and shutil.which("taskset"):
        cmd = ["taskset", "-c", pin, *cmd]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(out.strip().splitlines()[-1])
    res["loadgen_cpu_s"] = round((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 2)
    return res


def pg_counters(dsn: str, db_name: str) -> tuple[int, int]:
    """(commits of the database, WAL syncs of the cluster) so far."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (db_name,)
        ).fetchone()
        syncs = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    return int(commits[0]) if commits else 0, int(syncs[0]) if syncs else 0


def writer_stage(kind: str, url: str, sizes: tuple[int, ...] = (1, 8, 64), per_size: int = 256) -> dict:
    """The write stage alone, in this process (no HTTP): :func:`api.ops.intake_batch.store_batch`
    on prepared reports, batches of each size, one after another. Wall ms per report is what one
    writer (SpatiaLite: one per file, whatever the workers) can sustain: its ceiling is 1000/that."""
    import random

    from api.http.app import create_app
    from api.ops import intake
    from api.ops.access import User
    from api.ops.intake_batch import store_batch
    from api.settings import Settings
    from dispatch import AppRole
    from geo.errors import WeiwangError

    app = create_app(Settings(database_url=url, secret_key="bench", locator_dir=None), prepare=True)
    svc = app.state.service
    bbox = community_bbox(url)
    rng = random.Random(11)
    user = User(1, "dispatcher", AppRole.DISPATCHER, None)

    def report(i: int) -> Any:
        while True:  # points of the bbox outside every community are refused: draw again
            body = {"lon": rng.uniform(bbox[0], bbox[2]), "lat": rng.uniform(bbox[1], bbox[3])}
            try:
                return intake.prepare_report(
                    svc, user, body | {"category": "安全隐患", "description": f"w{i}"}
                )
            except WeiwangError:
                pass

    from store.db import HeldWriter

    writer = HeldWriter(svc.engine)  # one connection kept, as each served worker's writer thread does
    out: dict[str, Any] = {}
    try:
        for size in sizes:
            batches = [
                [report(k * size + j) for j in range(size)] for k in range(max(4, per_size // size) + 1)
            ]
            store_batch(svc, batches[0], writer)  # warm
            t, c = time.perf_counter(), time.process_time()
            for b in batches[1:]:
                assert all(isinstance(r, dict) for r in store_batch(svc, b, writer))
            n = sum(len(b) for b in batches[1:])
            wall_ms = (time.perf_counter() - t) / n * 1e3
            out[str(size)] = {
                "wall_ms_per_report": round(wall_ms, 3),
                "cpu_ms_per_report": round((time.process_time() - c) / n * 1e3, 3),
                "ceiling_per_s": round(1000 / wall_ms),
            }
            w = out[str(size)]
            print(
                f"写入阶段 / write stage, batch {size}: {w['wall_ms_per_report']} ms/report wall, "
                f"{w['cpu_ms_per_report']} ms CPU → one writer ≤ {w['ceiling_per_s']}/s",
                flush=True,
            )
        if kind == "postgis":
            out["one_statement"] = one_statement_stage(svc, report, sizes, per_size)
    finally:
        writer.close()
        svc.engine.dispose()
    return out


def one_statement_stage(svc: Any, report: Any, sizes: tuple[int, ...], per_size: int) -> dict:
    """The served worker's PostgreSQL write alone: :class:`store.groupwrite.ReportWriter` (one
    statement, awaited on an event loop) in batches of each size → wall and CPU ms per report."""
    import asyncio

    from store.groupwrite import ReportWriter

    out: dict[str, Any] = {}

    async def run(batches: list[list[Any]]) -> None:
        writer = ReportWriter(svc.engine)
        try:
            for b in batches:
                located = [(r.at, r.version_ids) for r in b]
                await writer.write(svc.layers.committed(), located, [(r.record, r.events) for r in b])
        finally:
            writer.close()

    for size in sizes:
        batches = [
            [report(k * size + j + 10**6) for j in range(size)] for k in range(max(4, per_size // size) + 1)
        ]
        asyncio.run(run(batches[:1]))  # warm
        t, c = time.perf_counter(), time.process_time()
        asyncio.run(run(batches[1:]))
        n = sum(len(b) for b in batches[1:])
        wall_ms = (time.perf_counter() - t) / n * 1e3
        out[str(size)] = w = {
            "wall_ms_per_report": round(wall_ms, 3),
            "cpu_ms_per_report": round((time.process_time() - c) / n * 1e3, 3),
            "ceiling_per_s": round(1000 / wall_ms),
        }
        print(
            f"一条语句 / one statement, batch {size}: {w['wall_ms_per_report']} ms/report wall, "
            f"{w['cpu_ms_per_report']} ms CPU → one writer ≤ {w['ceiling_per_s']}/s",
            flush=True,
        )
    return out


@contextmanager
def batch_env(mode: str) -> Any:
    old = os.environ.get("WEIWANG_INTAKE_BATCH")
    os.environ["WEIWANG_INTAKE_BATCH"] = "true" if mode == "on" else "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WEIWANG_INTAKE_BATCH", None)
        else:
            os.environ["WEIWANG_INTAKE_BATCH"] = old


def fsync_probe(folder: Path, seconds: float = 3.0, interval_s: float = 0.002) -> dict[str, Any]:
    """Latency of ``fdatasync`` on the filesystem of ``folder`` (8 KiB rewritten, one sync each
    ``interval_s``, as a WAL flush per commit does): a durable commit cannot beat it, and its rare
    slow syncs stall every report in flight at that moment. Milliseconds, nearest rank."""
    from bench.loadgen import percentiles

    path = folder / "weiwang-fsync-probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    lat: list[float] = []
    try:
        block = b"\x00" * 8192
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            os.pwrite(fd, block, (len(lat) % 64) * 8192)
            t = time.perf_counter()
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t) * 1e3)
            time.sleep(interval_s)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    p = percentiles(lat)
    return {"syncs": len(lat), "over_5_ms": sum(v > 5.0 for v in lat)} | {
        k: p[k] for k in ("p50", "p99", "p999", "max")
    }


def _passes(r: dict[str, Any], rate: float) -> bool:
    lat = r["latency_ms"]
    return (
        r["achieved_rate"] >= 0.98 * rate
        and lat["p99"] is not None
        and lat["p99"] <= TARGET_P99_MS
        and r["errors"] == 0
        and r["stored_matches_201"]
    )


def bench_one(kind: str, mode: str, args: argparse.Namespace, work: Path) -> dict:
    """One engine and group-commit mode: a fresh database and server, a warm-up, then the measured
    load phase — ``--repeat`` times on PostGIS with group commit (the target; each run on the same
    server, the median run by p99 is the result and every run is printed), once otherwise."""
    print(f"\n== {kind}, group commit {mode}: weiwang serve --workers {args.workers} ==", flush=True)
    server = None
    result: dict[str, Any] = {"engine": kind, "batch": mode, "rate": args.rate}
    repeats = max(1, args.repeat) if kind == "postgis" and mode == "on" else 1
    try:
        if kind == "spatialite":
            url = f"sqlite:///{work / f'intake-{mode}.sqlite'}"
            result["durability"] = "WAL, synchronous=NORMAL"
            probe_dir = work
        else:
            from tests.pgserver import start

            server = start(durable=True)
            url = server.create_database("weiwang_bench")
            result["durability"] = "fsync=on, synchronous_commit=on, full_page_writes=on"
            probe_dir = server.root
        result["fsync_probe_ms"] = fsync_probe(probe_dir)
        fp = result["fsync_probe_ms"]
        print(
            f"磁盘 / disk fdatasync ({fp['syncs']} in 3 s, before the runs): p50 {fp['p50']} ms, "
            f"p99 {fp['p99']} ms, p99.9 {fp['p999']} ms, max {fp['max']} ms, {fp['over_5_ms']} over 5 ms",
            flush=True,
        )
        OUT.mkdir(parents=True, exist_ok=True)
        with (
            batch_env(mode),
            served(url, args.workers, OUT / f"serve-intake-{kind}-{mode}.log") as (port, pid),
        ):
            token = http_json(
                port, "POST", "/api/v1/auth/login", {"username": "dispatcher", "password": "dispatch-demo"}
            )["access_token"]
            bbox = community_bbox(url)
            run_loadgen(port, token, bbox, 50, 2, args.pin_loadgen)  # warm-up
            runs = []
            for i in range(repeats):
                phase = _phase(url, server, port, pid, token, bbox, args)
                runs.append(phase)
                _print_phase(kind, phase, args.rate, f" run {i + 1}/{repeats}" if repeats > 1 else "")
        ranked = sorted(
            runs, key=lambda r: r["latency_ms"]["p99"] if r["latency_ms"]["p99"] is not None else 1e9
        )
        result |= ranked[(len(ranked) - 1) // 2]  # the median run (the lower middle of an even count)
        if repeats > 1:
            result["runs"] = [
                {
                    k: r[k]
                    for k in (
                        "achieved_rate",
                        "latency_ms",
                        "errors",
                        "server_cpu_ms_per_report",
                        "machine_cpu_busy_pct",
                        "machine_steal_pct",
                        "load_before",
                    )
                }
                for r in runs
            ]
            met = sum(_passes(r, args.rate) for r in runs)
            result["runs_meeting_target"] = met
            print(
                f"{repeats} runs: p99 {sorted(r['latency_ms']['p99'] for r in runs)} ms; the median run's "
                f"p99 {result['latency_ms']['p99']} ms is the result; {met} of {repeats} met the target",
                flush=True,
            )
        if args.writer_stage and mode == args.batch.split(",")[-1].strip():
            result["writer_stage"] = writer_stage(kind, url)
    finally:
        if server is not None:
            server.stop()
    result["pass"] = _passes(result, args.rate)
    return result


def _phase(
    url: str, server: Any, port: int, pid: int, token: str, bbox: tuple[float, ...], args: argparse.Namespace
) -> dict[str, Any]:
    """One measured load phase: the load generator at ``--rate`` for ``--seconds``, the stored
    count, CPU per report, and on PostGIS the commits and WAL syncs per report."""
    probe = host_probe()
    n0 = count_incidents(url)
    c0 = pg_counters(server.dsn("weiwang_bench"), "weiwang_bench") if server else (0, 0)
    phase: dict[str, Any] = {"host_probe_ms": probe[0]}
    with machine_use(phase, pid):
        phase |= run_loadgen(port, token, bbox, args.rate, args.seconds, args.pin_loadgen)
    c1 = pg_counters(server.dsn("weiwang_bench"), "weiwang_bench") if server else (0, 0)
    phase["stored"] = count_incidents(url) - n0
    phase["stored_matches_201"] = phase["stored"] == phase["statuses"].get("201", 0)
    ok = max(phase["ok"], 1)
    phase["server_cpu_ms_per_report"] = round(sum(phase["worker_cpu_s"]) / ok * 1e3, 3)
    phase["loadgen_cpu_ms_per_report"] = round(phase["loadgen_cpu_s"] / ok * 1e3, 3)
    if server is not None:
        # the counters include the two stats queries and count_incidents (a few commits)
        phase["commits_per_report"] = round((c1[0] - c0[0]) / ok, 3)
        phase["wal_syncs_per_report"] = round((c1[1] - c0[1]) / ok, 3)
    return phase


def _print_phase(kind: str, r: dict[str, Any], rate: float, label: str) -> None:
    lat = r["latency_ms"]
    extra = ""
    if kind == "postgis":
        extra = f", commits/report {r['commits_per_report']}, WAL syncs/report {r['wal_syncs_per_report']}"
    print(
        f"上报 / intake{label}: {r['achieved_rate']} /s of {rate:g}, p50 {lat['p50']} ms, "
        f"p99 {lat['p99']} ms, errors {r['errors']} {r['error_samples'][:1]}, stored {r['stored']} "
        f"(= 201s: {r['stored_matches_201']}); server CPU {r['server_cpu_ms_per_report']} ms/report "
        f"(workers {r['worker_cpu_s']} s), load generator {r['loadgen_cpu_ms_per_report']} ms/report "
        f"({r.get('paced_cpu_ms_per_request')} ms while pacing)"
        f"{extra}; machine CPU {r['machine_cpu_busy_pct']} % (steal {r.get('machine_steal_pct')} %), "
        f"load {r['load_before']} → {r['load_after']}; host probe {r['host_probe_ms']} ms",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="上报压测 / durable intake at a fixed rate")
    ap.add_argument("--rate", type=float, default=TARGET_RATE)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", default="postgis,spatialite")
    ap.add_argument("--batch", default="off,on", help="group commit modes to run: off, on or both")
    ap.add_argument(
        "--no-writer-stage", dest="writer_stage", action="store_false", help="skip the write-stage timing"
    )
    ap.add_argument("--pin-loadgen", default="1", help="taskset CPU list for the load generator, or none")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measured runs on PostGIS with group commit (the target): the median run by p99 is the result",
    )
    args = ap.parse_args(argv)
    if args.pin_loadgen in ("", "none"):
        args.pin_loadgen = None
    load0 = os.getloadavg()
    sharing = (
        f"load generator pinned to CPU {args.pin_loadgen} (taskset), server workers unpinned: they share it"
        if args.pin_loadgen
        else "load generator not pinned: it shares every core with the server"
    )
    print(f"负载 / load average at start: {load0}; cores: {os.cpu_count()}; {sharing}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="weiwang-bench-intake-") as tmp:
        for kind in args.engines.split(","):
            for mode in args.batch.split(","):
                results.append(bench_one(kind.strip(), mode.strip(), args, Path(tmp)))
    load1 = os.getloadavg()
    print(f"\n负载 / load average at end: {load1}; {sharing}\n")
    head = (
        "engine",
        "group commit",
        "rate /s",
        "p50 / p99 ms",
        "errors",
        "CPU ms/report",
        "commits/report",
        "",
    )
    rows = [head]
    for r in results:
        rows.append(
            (
                r["engine"],
                r["batch"],
                f"{r['achieved_rate']} of {r['rate']:g}",
                f"{r['latency_ms']['p50']} / {r['latency_ms']['p99']}",
                str(r["errors"]),
                str(r["server_cpu_ms_per_report"]),
                str(r.get("commits_per_report", "")),
                ("PASS" if r["pass"] else "FAIL") if r["engine"] == "postgis" else "(ceiling, no target)",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows))
    for r in results:
        stage = dict(r.get("writer_stage") or {})
        one = stage.pop("one_statement", {})
        for label, sizes in (("write stage alone (transaction)", stage), ("one statement", one)):
            for size, w in sizes.items():
                print(
                    f"{r['engine']}: {label}, batches of {size}: {w['wall_ms_per_report']} ms/report "
                    f"→ one writer ≤ {w['ceiling_per_s']} reports/s ({w['cpu_ms_per_report']} ms CPU/report)"
                )
    (OUT / "intake.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "cores": os.cpu_count(),
                "load_start": load0,
                "load_end": load1,
                "sharing": sharing,
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "results": results,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    ok = all(r["pass"] for r in results if r["engine"] == "postgis" and r["batch"] == "on") and all(
        r["errors"] == 0 and r["stored_matches_201"] for r in results
    )
    print("\n总体 / overall:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
