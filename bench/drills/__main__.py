"""Run every fault drill in this package: ``.venv/bin/python -m bench.drills [--only a,b] [--list]``.

Drills are discovered (every module of ``bench.drills`` not starting with ``_``), so a drill added
by dropping a file here is run without editing this runner. Each runs in its own process, one after
another; the exit status is 0 only if every drill held. Arguments after ``--`` go to every drill.
"""

from __future__ import annotations

import argparse
import pkgutil
import sys
from pathlib import Path

from bench.runall import run_modules


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
    modules = [(f"bench.drills.{name}", passthrough) for name in names]
    results = run_modules(modules, ok="HELD", failed="FAILED", width=(32, 18))
    return 0 if results and all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
