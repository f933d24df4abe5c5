"""Drill: PostgreSQL restarted under incident load.
``python -m bench.drills.pg_restart [--rate 20] [--down 3] [--after 8] [--workers 2]``.

``weiwang serve`` runs on a seeded PostGIS database (the throwaway cluster of ``tests/pgserver.py``);
client threads post incident reports at a steady rate. Part-way through, PostgreSQL is stopped (fast
shutdown), kept down for ``--down`` seconds and started again on the same port. The drill holds when:

* while PostgreSQL is down every answer is 201 or 503 ``database_unavailable`` (zh-CN + en, with
  ``Retry-After``), never a 500 or a hang;
* the service recovers within 5 s of PostgreSQL accepting connections again, and no request sent
  after that instant gets a 5xx (``pool_pre_ping`` replaces the connections the restart cut);
* every report answered 201 is in the database afterwards (read on a fresh connection).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench.drills._common import login, request, seeded_database, served

#: A point inside micro-grid 510116004001003012 of 三根松社区 (sample data), WGS84.
COMMUNITY = "510116004001"
RECOVERY_LIMIT_S = 5.0


@dataclass
class Sent:
    t_sent: float
    t_done: float
    status: int  # 0: no answer (connection error or timeout)
    code: str = ""
    incident_id: str | None = None
    retry_after: str | None = None
    message_zh: str = ""


@dataclass
class Result:
    sent: list[Sent] = field(default_factory=list)
    t_down: float = 0.0  # shutdown asked
    t_stopped: float = 0.0  # PostgreSQL gone
    t_back: float = 0.0  # PostgreSQL accepts connections again
    missing: list[str] = field(default_factory=list)  # 201 ids not in the database

    def during(self) -> list[Sent]:
        """Requests sent between the shutdown and PostgreSQL's return."""
        return [s for s in self.sent if self.t_down <= s.t_sent < self.t_back]

    def after(self) -> list[Sent]:
        return [s for s in self.sent if s.t_sent >= self.t_back]

    def recovery_s(self) -> float:
        """From PostgreSQL back to the first request after which every answer was 201 (0 when
        the first request sent after it was already answered 201)."""
        after = self.after()
        bad = [i for i, s in enumerate(after) if s.status != 201]
        if not bad:
            return 0.0
        if bad[-1] + 1 >= len(after):
            return float("inf")
        return after[bad[-1] + 1].t_sent - self.t_back

    def problems(self) -> list[str]:
        out = []
        wrong = [
            s
            for s in self.during()
            if not (s.status == 201 or (s.status == 503 and s.code == "database_unavailable"))
        ]
        if wrong:
            kinds = sorted({(s.status, s.code) for s in wrong})
            out.append(f"{len(wrong)} answers while down were neither 201 nor 503: {kinds}")
        no_retry = [s for s in self.sent if s.status == 503 and not s.retry_after]
        if no_retry:
            out.append(f"{len(no_retry)} 503 answers without Retry-After")
        if any(s.status == 503 and not s.message_zh for s in self.sent):
            out.append("a 503 without a Chinese message")
        after5xx = [s for s in self.after() if s.status >= 500 or s.status == 0]
        if after5xx:
            out.append(f"{len(after5xx)} requests sent after PostgreSQL was back got 5xx/no answer")
        if self.recovery_s() > RECOVERY_LIMIT_S:
            out.append(f"recovery took {self.recovery_s():.1f} s (limit {RECOVERY_LIMIT_S} s)")
        if len(self.after()) < 10:
            out.append(f"only {len(self.after())} requests after PostgreSQL was back")
        if self.missing:
            out.append(f"{len(self.missing)} reports answered 201 are not stored: {self.missing[:5]}")
        return out

    def summary(self) -> str:
        def count(group: list[Sent]) -> str:
            by: dict[str, int] = {}
            for s in group:
                key = f"{s.status}" + (f" {s.code}" if s.code and s.status != 201 else "")
                by[key] = by.get(key, 0) + 1
            return ", ".join(f"{k}: {v}" for k, v in sorted(by.items())) or "none"

        before = [s for s in self.sent if s.t_sent < self.t_down]
        return "\n".join(
            [
                f"reports sent: {len(self.sent)}; PostgreSQL down {self.t_back - self.t_stopped:.1f} s "
                f"(shutdown took {self.t_stopped - self.t_down:.1f} s)",
                f"  before the shutdown: {count(before)}",
                f"  while down:          {count(self.during())}",
                f"  after it was back:   {count(self.after())}",
                f"recovery after PostgreSQL was back: {self.recovery_s():.2f} s",
                f"accepted (201) reports missing from the database: {len(self.missing)}",
            ]
        )


def _inside_point() -> tuple[float, float]:
    from shapely.geometry import shape

    from bench.drills._common import SAMPLE_DIR

    fc = json.loads((SAMPLE_DIR / "grids.geojson").read_text(encoding="utf-8"))
    for f in fc["features"]:
        if f["properties"]["level"] == "micro" and f["properties"]["community_code"] == COMMUNITY:
            p = shape(f["geometry"]).representative_point()
            return p.x, p.y
    raise RuntimeError("no micro-grid in the sample layer")


def _post_reports(
    port: int, token: str, rate: float, stop: threading.Event, out: list[Sent], lock: threading.Lock
) -> None:
    lon, lat = _inside_point()
    body = {"lon": lon, "lat": lat, "crs": "wgs84", "category": "安全隐患", "description": "演练：数据库重启"}
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            status, headers, raw = request(port, "POST", "/api/v1/incidents", body, token, timeout=30)
        except OSError:
            status, headers, raw = 0, {}, b""
        s = Sent(
            t0, time.monotonic(), status, retry_after=headers.get("retry-after") or headers.get("Retry-After")
        )
        try:
            answer: Any = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if status == 201:
            s.incident_id = answer.get("id")
        elif isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            s.code = str(answer["error"].get("code", ""))
            s.message_zh = str(answer["error"].get("message_zh", ""))
        with lock:
            out.append(s)
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


def stored_ids(url: str, ids: list[str]) -> set[str]:
    from sqlalchemy import select

    from store import db
    from store.models import incidents

    engine = db.make_engine(url, files=False)
    try:
        with db.read(engine) as conn:
            return {r[0] for r in conn.execute(select(incidents.c.id).where(incidents.c.id.in_(ids)))}
    finally:
        engine.dispose()


def drill(
    *,
    rate: float = 20,
    clients: int = 4,
    warm_s: float = 3,
    down_s: float = 3,
    after_s: float = 8,
    workers: int = 2,
) -> Result:
    """Run the drill on a cluster of its own (it is restarted) and return what happened."""
    from tests.pgserver import start

    result = Result()
    pg = start()
    try:
        with seeded_database("postgis", server=pg) as db_, served(db_.url, workers=workers) as (port, _proc):
            token = login(port, "dispatcher", "dispatch-demo")
            stop, lock = threading.Event(), threading.Lock()
            threads = [
                threading.Thread(
                    target=_post_reports,
                    args=(port, token, rate / clients, stop, result.sent, lock),
                    daemon=True,
                )
                for _ in range(clients)
            ]
            for t in threads:
                t.start()
            time.sleep(warm_s)
            result.t_down = time.monotonic()
            pg.shutdown()
            result.t_stopped = time.monotonic()
            time.sleep(down_s)
            pg.restart_server()
            result.t_back = time.monotonic()
            time.sleep(after_s)
            stop.set()
            for t in threads:
                t.join(60)
            result.sent.sort(key=lambda s: s.t_sent)
            accepted = [s.incident_id for s in result.sent if s.status == 201 and s.incident_id]
            found = stored_ids(db_.url, accepted)
            result.missing = [i for i in accepted if i not in found]
            if any(s.status == 201 and not s.incident_id for s in result.sent):
                result.missing.append("(a 201 without an id)")
    finally:
        pg.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="PostgreSQL restarted under incident load / 事件上报时重启数据库"
    )
    ap.add_argument("--rate", type=float, default=20, help="reports per second (all clients together)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--down", type=float, default=3, help="seconds PostgreSQL stays down")
    ap.add_argument("--after", type=float, default=8, help="seconds of load after it is back")
    ap.add_argument("--workers", type=int, default=2, help="weiwang serve --workers")
    args = ap.parse_args(argv)
    print(f"负载 / load average: {os.getloadavg()}", flush=True)
    result = drill(
        rate=args.rate, clients=args.clients, down_s=args.down, after_s=args.after, workers=args.workers
    )
    print(result.summary())
    problems = result.problems()
    for p in problems:
        print(f"BROKEN: {p}")
    print(f"负载 / load average: {os.getloadavg()}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
