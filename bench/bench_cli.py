"""Start-up time of the ``weiwang`` database commands (issue 10: under 1 s on the sample database).

Seeds a throwaway SpatiaLite file with the sample data (``weiwang db seed``), then times each command
as a user runs it — a fresh process, wall clock from spawn to exit — ``--repeat`` times, and prints
the median and the worst next to the 1 s target. Exit status 0 only if every median meets it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SGS = "510116004001"
TARGET_S = 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    weiwang = str(Path(sys.executable).parent / "weiwang")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        seed = [weiwang, "db", "seed", "--url", url, "--data-dir", str(REPO / "data" / "boundaries")]
        subprocess.run(seed, check=True, capture_output=True)
        commands = {
            "weiwang versions": ["versions", "--community", SGS],
            "weiwang grids": ["grids"],
            "weiwang locate (one point)": ["locate", "--lon", "104.0858", "--lat", "30.4062"],
            "weiwang time-limits": ["time-limits", "--community", SGS],
        }
        print(f"load average: {os.getloadavg()}; {os.cpu_count()} cores; one command at a time")
        print(f"{'command':30s} {'median s':>9s} {'worst s':>8s}  target ≤ {TARGET_S:.1f} s")
        missed = 0
        for name, cmd in commands.items():
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                subprocess.run([weiwang, *cmd, "--url", url], check=True, capture_output=True)
                times.append(time.perf_counter() - t)
            med = statistics.median(times)
            ok = med <= TARGET_S
            missed += not ok
            print(f"{name:30s} {med:9.2f} {max(times):8.2f}  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
