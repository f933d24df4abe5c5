"""Running benchmark or drill modules one after another, each in its own process (so one cannot
warm or slow the next), with the load average at start and end and a line of outcome per module:
the shared loop of ``python -m bench`` and ``python -m bench.drills``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence


def _steal_and_total() -> tuple[int, int]:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            parts = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (parts[7] if len(parts) > 7 else 0), sum(parts)


def host_probe(rounds: int = 5) -> tuple[float, float]:
    """(median wall ms of a fixed pure-Python workload, CPU steal % meanwhile): the speed the host
    gives this machine right now. The same code on the same machine measured 1.3–2× slower in some
    hours than in others at low steal; printed before each module so figures of different runs can
    be compared (lower is faster)."""
    s0, t0 = _steal_and_total()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        d: dict[int, str] = {}
        for i in range(300_000):
            d[i & 1023] = f"{i:x}"
        times.append((time.perf_counter() - t) * 1e3)
    s1, t1 = _steal_and_total()
    times.sort()
    return round(times[len(times) // 2], 1), round(100.0 * (s1 - s0) / max(t1 - t0, 1), 1)


def run_modules(
    modules: Sequence[tuple[str, Sequence[str]]], *, ok: str, failed: str, width: tuple[int, int]
) -> list[tuple[str, int, float]]:
    """Run ``python -m <module> <arguments>`` for each ``(module, arguments)`` and print the summary:
    name (``width[0]`` wide), ``ok`` or ``failed (exit N)`` (``width[1]`` wide) and seconds. Returns
    (short name: the module's last part, exit status, seconds) per module."""
    print(f"负载 / load average at start: {os.getloadavg()}", flush=True)
    results: list[tuple[str, int, float]] = []
    probes: list[tuple[float, float]] = []
    for module, arguments in modules:
        cmd = [sys.executable, "-m", module, *arguments]
        print(f"\n######## {' '.join(cmd[1:])}", flush=True)
        probes.append(host_probe())
        print(
            f"主机 / host: CPU probe {probes[-1][0]} ms (a fixed pure-Python loop, median of 5; lower is "
            f"faster), steal {probes[-1][1]} %",
            flush=True,
        )
        t = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        results.append((module.rsplit(".", 1)[-1], rc, time.perf_counter() - t))
    print(f"\n负载 / load average at end: {os.getloadavg()}")
    for (name, rc, secs), (probe_ms, steal) in zip(results, probes, strict=True):
        status = ok if rc == 0 else f"{failed} (exit {rc})"
        print(
            f"{name:{width[0]}s} {status:{width[1]}s} {secs:6.0f} s"
            f"   host probe {probe_ms} ms, steal {steal} %"
        )
    return results
