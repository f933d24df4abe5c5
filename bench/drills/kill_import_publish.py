"""Drill: ``kill -9`` during ``weiwang import --commit`` and during ``weiwang publish``, on SpatiaLite
and PostGIS. ``python -m bench.drills.kill_import_publish [--trials N] [--engines spatialite,postgis]``.

Each trial starts the real command as a subprocess and kills it with SIGKILL at one point:

* ``delay``   — after a random delay spread over the command's whole run (start-up included);
* ``in_tx``   — as soon as the command is seen inside its write transaction: on SpatiaLite while it
  holds the file's writer lock (``flock`` on ``<file>-writer``, read from ``/proc/locks``); on
  PostgreSQL once its backend holds a transaction id (it has written a row), read from
  ``pg_stat_activity`` by the trial's ``application_name``;
* ``blocked`` — publish on PostgreSQL only: the drill holds a row lock on the draft, so the publish
  stops after it has retired the old version and before the draft becomes published — the half-way
  point — and is killed there.

After each kill a fresh connection checks the rule (:func:`violations`):

* every community has exactly one published version;
* an import leaves either nothing or one complete draft (every grid of the file; the draft is
  written in one transaction, so a draft is either all there or absent — a complete draft left by
  an import killed after its commit is an ordinary draft: it can be published or left alone);
* a publish leaves either the versions exactly as before or the switch complete (the old version
  retired at the instant the draft became published);
* on SpatiaLite ``PRAGMA integrity_check`` is ``ok``, and the next import and publish succeed.

Exit status 0 when no trial broke the rule.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drills._common import ENGINES, WEIWANG, Database, community_geojson, isolated_env, seeded_database

COMMUNITY = "510116004001"  # 三根松社区: 90 grids in the sample layer
EXPECTED_GRIDS = 90

#: The environment of the commands a drill runs (:func:`bench.drills._common.isolated_env`).
_ENV: dict[str, str] | None = None

#: (number, state, valid_from, valid_to, grids) of one version
VersionRow = tuple[int, str, Any, Any, int]


@dataclass
class Trial:
    engine: str
    command: str  # import | publish
    mode: str  # delay | in_tx | blocked
    delay_s: float = 0.0
    killed: bool = False  # the process was still running when SIGKILL came
    in_tx: bool = False  # the kill landed inside the command's write transaction
    outcome: str = ""  # unchanged | draft_added | published
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


# -- the state of the database ------------------------------------------------------------------


def versions_by_community(url: str) -> dict[str, list[VersionRow]]:
    """Every version of every community with its grid count, read on a fresh engine."""
    from sqlalchemy import func, select

    from store import db
    from store.models import grids, layer_versions

    engine = db.make_engine(url, files=False)
    try:
        with db.read(engine) as conn:
            counts = dict(
                conn.execute(select(grids.c.version_id, func.count()).group_by(grids.c.version_id)).all()
            )
            rows = conn.execute(
                select(
                    layer_versions.c.id,
                    layer_versions.c.community_code,
                    layer_versions.c.number,
                    layer_versions.c.state,
                    layer_versions.c.valid_from,
                    layer_versions.c.valid_to,
                ).order_by(layer_versions.c.community_code, layer_versions.c.number)
            ).all()
    finally:
        engine.dispose()
    out: dict[str, list[VersionRow]] = {}
    for vid, code, number, state, vf, vt in rows:
        out.setdefault(code, []).append((number, state, vf, vt, counts.get(vid, 0)))
    return out


def integrity(url: str) -> str:
    """``PRAGMA integrity_check`` of a SpatiaLite file (``ok``); ``ok`` for PostgreSQL."""
    if not url.startswith("sqlite"):
        return "ok"
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def violations(
    command: str, before: dict[str, list[VersionRow]], after: dict[str, list[VersionRow]]
) -> tuple[str, list[str]]:
    """(outcome, problems) of one killed ``command``: the rule in the module docstring."""
    problems = []
    for code, rows in after.items():
        published = [r for r in rows if r[1] == "published"]
        if len(published) != 1:
            problems.append(f"{code}: {len(published)} published versions")
    for code in set(before) - {COMMUNITY}:
        if after.get(code) != before[code]:
            problems.append(f"{code}: another community changed")
    old, new = before.get(COMMUNITY, []), after.get(COMMUNITY, [])
    if new == old:
        return "unchanged", problems
    if command == "import":
        if new[:-1] == old and len(new) == len(old) + 1:
            number, state, vf, vt, n = new[-1]
            if state != "draft" or vf is not None or vt is not None:
                problems.append(f"new version {number} is {state} ({vf}–{vt}), not a draft")
            if n != EXPECTED_GRIDS:
                problems.append(f"new draft {number} has {n} of {EXPECTED_GRIDS} grids (half-written)")
            return "draft_added", problems
        problems.append(f"versions changed otherwise than by one draft: {old} → {new}")
        return "changed", problems
    # publish: the old published version retired at t and exactly one draft published from t
    # (the draft may be numbered below the version it replaces: an older draft published later)
    changed = [(o, n) for o, n in zip(old, new, strict=False) if o != n]
    if len(old) == len(new) and len(changed) == 2:
        (o1, n1), (o2, n2) = sorted(changed, key=lambda pair: pair[0][1] != "published")
        if (
            o1[1] == "published"
            and n1[1] == "retired"
            and o2[1] == "draft"
            and n2[1] == "published"
            and n1[3] is not None
            and n1[3] == n2[2]
            and n1[4] == o1[4]
            and n2[4] == o2[4]
        ):
            return "published", problems
    problems.append(f"a publish left a mixed state: {old} → {new}")
    return "changed", problems


# -- the commands -------------------------------------------------------------------------------


def _with_app_name(url: str, name: str) -> str:
    if url.startswith("sqlite"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def import_cmd(url: str, path: Path) -> list[str]:
    return [WEIWANG, "import", str(path), "--community", COMMUNITY, "--commit", "--url", url]


def publish_cmd(url: str, number: int) -> list[str]:
    return [WEIWANG, "publish", "--community", COMMUNITY, "--version", str(number), "--url", url]


def newest_draft(url: str) -> int | None:
    rows = versions_by_community(url).get(COMMUNITY, [])
    drafts = [r[0] for r in rows if r[1] == "draft"]
    return max(drafts) if drafts else None


def _run_whole(cmd: list[str], problems: list[str]) -> None:
    """Run a command nobody kills; a non-zero exit (a crash included) is a problem of the drill."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_ENV)
    if done.returncode != 0:
        problems.append(f"{cmd[1]} exited {done.returncode} when not killed: {done.stderr[-300:]!r}")


def _writer_lock_held(pid: int, lock_file: Path) -> bool:
    """True while ``pid`` holds the flock on the SpatiaLite file's writer lock (``/proc/locks``)."""
    try:
        ino = str(os.stat(lock_file).st_ino)
        text = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter, not a holder)
        if (
            len(parts) >= 6
            and parts[1] == "FLOCK"
            and parts[2] != "->"
            and parts[4] == str(pid)
            and parts[5].rsplit(":", 1)[-1] == ino
        ):
            return True
    return False


class _PgWatch:
    """A superuser connection watching one application_name in ``pg_stat_activity``."""

    def __init__(self, db_: Database, app_name: str) -> None:
        import psycopg

        self.conn = psycopg.connect(db_.server.dsn(), autocommit=True)
        self.app = app_name

    def state(self) -> tuple[bool, bool] | None:
        """(has written in its transaction, waiting on a lock), or None when no such backend."""
        row = self.conn.execute(
            "SELECT backend_xid IS NOT NULL, wait_event_type = 'Lock' FROM pg_stat_activity "
            "WHERE application_name = %s",
            (self.app,),
        ).fetchone()
        return (bool(row[0]), bool(row[1])) if row else None

    def wait_gone(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.state() is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"backend of {self.app} still there after {timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        self.conn.close()


def run_trial(db_: Database, command: str, mode: str, delay_s: float, layer_file: Path) -> Trial:
    """One killed command and the check that follows it."""
    trial = Trial(db_.kind, command, mode, delay_s)
    if command == "publish" and newest_draft(db_.url) is None:
        _run_whole(import_cmd(db_.url, layer_file), trial.problems)
    before = versions_by_community(db_.url)
    app = f"drill_{uuid.uuid4().hex[:8]}"
    url = _with_app_name(db_.url, app)
    if command == "import":
        cmd = import_cmd(url, layer_file)
    else:
        number = newest_draft(db_.url)
        assert number is not None
        cmd = publish_cmd(url, number)
    watch = _PgWatch(db_, app) if db_.kind == "postgis" else None
    blocker = None
    if mode == "blocked":
        import psycopg

        blocker = psycopg.connect(db_.server.dsn(db_.url.rsplit("/", 1)[1]))  # type: ignore[union-attr]
        blocker.execute(
            "SELECT id FROM layer_versions WHERE community_code = %s AND number = %s FOR UPDATE",
            (COMMUNITY, number),
        )
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV)
    try:
        deadline = t0 + (delay_s if mode == "delay" else 120)
        lock_file = Path(f"{db_.sqlite_path}-writer") if db_.kind == "spatialite" else None
        while proc.poll() is None and time.monotonic() < deadline:
            if mode == "in_tx" and lock_file is not None and _writer_lock_held(proc.pid, lock_file):
                trial.in_tx = True
                break
            if mode in ("in_tx", "blocked") and watch is not None:
                st = watch.state()
                if st is not None and st[0] and (mode == "in_tx" or st[1]):
                    trial.in_tx = True
                    break
            if mode == "delay":
                time.sleep(0.005)
        if proc.poll() is None:
            proc.kill()
            trial.killed = True
        proc.wait(timeout=30)
        trial.seconds = time.monotonic() - t0
        if trial.killed and mode == "delay" and db_.kind == "spatialite":
            trial.in_tx = False  # unknown: not observed
    finally:
        if blocker is not None:
            blocker.rollback()
            blocker.close()
        if watch is not None:
            watch.wait_gone()
            watch.close()
    after = versions_by_community(db_.url)
    trial.outcome, trial.problems = violations(command, before, after)
    if (check := integrity(db_.url)) != "ok":
        trial.problems.append(f"integrity_check: {check[:200]}")
    return trial


def drill(db_: Database, trials: int, seed: int = 14) -> list[Trial]:
    """``trials`` kills of each mode for import and publish on one database, then one import and
    one publish that must run to the end."""
    rng = random.Random(seed)
    results: list[Trial] = []
    global _ENV
    with tempfile.TemporaryDirectory(prefix="weiwang-drill-") as tmp:
        _ENV = isolated_env(Path(tmp))
        layer = Path(tmp) / "sangensong.geojson"
        layer.write_bytes(community_geojson(COMMUNITY))
        # How long each command runs when nobody kills it: the random delays cover that span.
        spans = {}
        setup = Trial(db_.kind, "import+publish", "setup")
        results.append(setup)
        for command in ("import", "publish"):
            t = time.monotonic()
            if command == "publish":
                number = newest_draft(db_.url)
                assert number is not None
                _run_whole(publish_cmd(db_.url, number), setup.problems)
            else:
                _run_whole(import_cmd(db_.url, layer), setup.problems)
            spans[command] = time.monotonic() - t
        modes = ["delay", "in_tx"] + (["blocked"] if db_.kind == "postgis" else [])
        for command in ("import", "publish"):
            for mode in modes:
                if mode == "blocked" and command != "publish":
                    continue
                for _ in range(trials):
                    delay = rng.uniform(0.2, 1.1) * spans[command] if mode == "delay" else 0.0
                    results.append(run_trial(db_, command, mode, delay, layer))
        # Afterwards the database still works: an import and a publish run to the end.
        for command in ("import", "publish"):
            final = Trial(db_.kind, command, "after", 0.0)
            cmd = (
                import_cmd(db_.url, layer)
                if command == "import"
                else publish_cmd(db_.url, newest_draft(db_.url) or 0)
            )
            before = versions_by_community(db_.url)
            crashed: list[str] = []
            _run_whole(cmd, crashed)
            final.outcome, final.problems = violations(command, before, versions_by_community(db_.url))
            final.problems += crashed
            if final.outcome != ("draft_added" if command == "import" else "published"):
                final.problems.append(f"{command} after the drill did not complete: {final.outcome}")
            results.append(final)
    return results


def table(results: list[Trial]) -> str:
    """Markdown table: trials per (engine, command, mode), kills, kills inside the transaction,
    outcomes, problems."""
    groups: dict[tuple[str, str, str], list[Trial]] = {}
    for t in results:
        groups.setdefault((t.engine, t.command, t.mode), []).append(t)
    lines = [
        "| engine | command | kill point | trials | killed running | killed in write tx | outcomes "
        "| problems |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for (engine, command, mode), ts in groups.items():
        outcomes: dict[str, int] = {}
        for t in ts:
            outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
        lines.append(
            f"| {engine} | {command} | {mode} | {len(ts)} | {sum(t.killed for t in ts)} | "
            f"{sum(t.in_tx for t in ts)} | {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))} | "
            f"{sum(len(t.problems) for t in ts)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="kill -9 during import and publish / 导入、发布时强杀")
    ap.add_argument("--trials", type=int, default=5, help="kills per command, kill point and engine")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args(argv)
    print(f"负载 / load average: {os.getloadavg()}", flush=True)
    results: list[Trial] = []
    for kind in args.engines.split(","):
        with seeded_database(kind) as db_:
            results += drill(db_, args.trials, args.seed)
    print(table(results))
    bad = [t for t in results if t.problems]
    for t in bad:
        print(f"BROKEN {t.engine} {t.command} {t.mode} delay={t.delay_s:.2f}s: {'; '.join(t.problems)}")
    print(f"负载 / load average: {os.getloadavg()}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
