"""Running benchmark or drill modules one after another, each in its own process (so one cannot
warm or slow the next), with the load average at start and end and a line of outcome per module:
the shared loop of ``python -m bench`` and ``python -m bench.drills``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence


def run_modules(
    modules: Sequence[tuple[str, Sequence[str]]], *, ok: str, failed: str, width: tuple[int, int]
) -> list[tuple[str, int, float]]:
    """Run ``python -m <module> <arguments>`` for each ``(module, arguments)`` and print the summary:
    name (``width[0]`` wide), ``ok`` or ``failed (exit N)`` (``width[1]`` wide) and seconds. Returns
    (short name: the module's last part, exit status, seconds) per module."""
    print(f"负载 / load average at start: {os.getloadavg()}", flush=True)
    results: list[tuple[str, int, float]] = []
    for module, arguments in modules:
        cmd = [sys.executable, "-m", module, *arguments]
        print(f"\n######## {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        results.append((module.rsplit(".", 1)[-1], rc, time.perf_counter() - t))
    print(f"\n负载 / load average at end: {os.getloadavg()}")
    for name, rc, secs in results:
        status = ok if rc == 0 else f"{failed} (exit {rc})"
        print(f"{name:{width[0]}s} {status:{width[1]}s} {secs:6.0f} s")
    return results
