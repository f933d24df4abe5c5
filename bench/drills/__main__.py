"""Run every fault drill in this package: ``.venv/bin/python -m bench.drills [--only a,b] [--list]``.

Drills are discovered (every module of ``bench.drills`` not starting with ``_``), so a drill added
by dropping a file here is run without editing this runner. Each runs in its own process, one after
another; the exit status is 0 only if every drill held. Arguments after ``--`` go to every drill.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def drill_names() -> list[str]:
    """Every drill module in this package, sorted by name."""
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description="运行全部故障演练 / run every fault drill")
    ap.add_argument("--only", default="", help="comma-separated subset of drill names")
    ap.add_argument("--list", action="store_true", help="print the drills found and exit")
    args = ap.parse_args(argv)
    names = drill_names()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"未知演练 / unknown drill(s): {', '.join(unknown)}; found: {', '.join(names)}")
            return 2
        names = wanted
    print(f"负载 / load average at start: {os.getloadavg()}", flush=True)
    results: list[tuple[str, int, float]] = []
    for name in names:
        cmd = [sys.executable, "-m", f"bench.drills.{name}", *passthrough]
        print(f"\n######## {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        results.append((name, rc, time.perf_counter() - t))
    print(f"\n负载 / load average at end: {os.getloadavg()}")
    for name, rc, secs in results:
        print(f"{name:32s} {'HELD' if rc == 0 else f'FAILED (exit {rc})':18s} {secs:6.0f} s")
    return 0 if results and all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
