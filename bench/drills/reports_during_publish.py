"""Drill: reports arriving while a new grid map is published, against ``weiwang serve``.
``python -m bench.drills.reports_during_publish [--reports 1500] [--rate 150] [--workers 2]
[--engines spatialite,postgis]``.

On a fresh seeded database a planner starts a draft of 三根松社区 and splits one micro-grid
(``SPLIT``) in it. Then reports are sent at a steady rate over HTTP (no ``reported_at``: the server
stamps each at receipt) to points in that micro-grid and in a neighbour, and once half of them are
answered the planner publishes the draft over HTTP (a loaded server answers behind the schedule;
the rate it achieved is printed). Afterwards the drill reads every stored report from the
database and checks the rule of :mod:`store.inforce`:

* none lost: every report was answered 201 and is stored once;
* none on a mixed version: each report's ``layer_version_id`` is the version in force at its
  ``reported_at`` (its receipt) in the final version table, and the micro-grid it was located in
  (its 上报 event; the publish may re-route it later, with its own event) is a grid of that version.

It prints the counts, the reports closest to the switch on each side and the publish's own time,
and exits 0 when the rule held for every report.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.drills._common import ENGINES, SAMPLE_DIR, login, request, seeded_database, served

COMMUNITY = "510116004001"  # 三根松社区
SPLIT = "510116004001001001"  # split in the draft (the sample's first micro-grid)
NEIGHBOUR = "510116004001001002"
TAG = "publish drill"


def _feature(code: str) -> dict[str, Any]:
    fc = json.loads((Path(SAMPLE_DIR) / "grids.geojson").read_text(encoding="utf-8"))
    return next(f for f in fc["features"] if f["properties"]["code"] == code)


def split_line() -> str:
    """A north–south line through the middle of ``SPLIT`` (lon/lat WKT), crossing it side to side."""
    ring = _feature(SPLIT)["geometry"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    mid = (min(xs) + max(xs)) / 2
    return f"LINESTRING ({mid} {min(ys) - 0.001}, {mid} {max(ys) + 0.001})"


def report_points() -> list[tuple[float, float]]:
    """Points well inside the west and east halves of ``SPLIT`` and inside ``NEIGHBOUR``."""
    from shapely.geometry import box, shape

    split = shape(_feature(SPLIT)["geometry"])
    x0, y0, x1, y1 = split.bounds
    mid = (x0 + x1) / 2
    west = split.intersection(box(x0, y0, mid, y1)).buffer(-0.00005).representative_point()
    east = split.intersection(box(mid, y0, x1, y1)).buffer(-0.00005).representative_point()
    near = shape(_feature(NEIGHBOUR)["geometry"]).buffer(-0.00005).representative_point()
    return [(p.x, p.y) for p in (west, east, near)]


@dataclass
class Outcome:
    """What one run found."""

    engine: str
    sent: int = 0
    answered_201: int = 0
    errors: list[str] = field(default_factory=list)
    stored: int = 0
    wrong_version: list[str] = field(default_factory=list)
    wrong_grid: list[str] = field(default_factory=list)
    before: int = 0
    after: int = 0
    closest_before_ms: float | None = None
    closest_after_ms: float | None = None
    publish_ms: float = 0.0
    send_s: float = 0.0
    rerouted: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.stored

    @property
    def held(self) -> bool:
        return (
            self.sent > 0
            and self.lost == 0
            and self.answered_201 == self.sent
            and not self.wrong_version
            and not self.wrong_grid
            and self.before > 0
            and self.after > 0
        )

    def lines(self) -> list[str]:
        return [
            f"[{self.engine}] sent {self.sent} reports in {self.send_s:.1f} s "
            f"({self.sent / max(self.send_s, 1e-9):.0f}/s achieved); 201: {self.answered_201}; "
            f"stored: {self.stored}; lost: {self.lost}",
            f"[{self.engine}] on the old version (received before the switch): {self.before}; on the new: "
            f"{self.after}; closest to the switch: {_ms(self.closest_before_ms)} before, "
            f"{_ms(self.closest_after_ms)} after",
            f"[{self.engine}] on a version not in force at receipt: {len(self.wrong_version)}; "
            f"micro-grid not of its version: {len(self.wrong_grid)}; publish took {self.publish_ms:.0f} ms "
            f"(re-routed {self.rerouted} open incidents)",
            *[f"[{self.engine}]   {e}" for e in (self.errors + self.wrong_version + self.wrong_grid)[:10]],
            f"[{self.engine}] {'none lost, none on a mixed version' if self.held else 'RULE BROKEN'}",
        ]


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} ms"


class _Sender(threading.Thread):
    """Takes (index, due time) from the queue, waits until due, POSTs one report on a kept
    connection (reconnecting once on a dropped one)."""

    def __init__(
        self, port: int, token: str, jobs: queue.Queue, points: list[tuple[float, float]], out: Outcome
    ):
        super().__init__(daemon=True)
        self.port, self.token, self.jobs, self.points, self.out = port, token, jobs, points, out
        self.lock = threading.Lock()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while True:
            item = self.jobs.get()
            if item is None:
                break
            i, due = item
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lon, lat = self.points[i % len(self.points)]
            body = json.dumps(
                {"lon": lon, "lat": lat, "category": "安全隐患", "description": f"{TAG} #{i}"}
            ).encode()
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
            for attempt in (1, 2):
                try:
                    conn.request("POST", "/api/v1/incidents", body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    with self.lock:
                        if r.status == 201:
                            self.out.answered_201 += 1
                        else:
                            self.out.errors.append(f"report #{i}: HTTP {r.status} {data[:200]!r}")
                    break
                except (OSError, http.client.HTTPException) as err:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    if attempt == 2:
                        with self.lock:
                            self.out.errors.append(f"report #{i}: {err!r}")
        conn.close()


def _check(url: str, out: Outcome) -> None:
    """Read every drill report and the version table; fill in the rule's counts."""
    import pyogrio  # noqa: F401  (GDAL before mod_spatialite, STACK.md)
    from sqlalchemy import select

    from store import db
    from store.grids import load_grids
    from store.inforce import in_force
    from store.models import incident_events, incidents
    from store.versions import list_versions

    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            versions = list_versions(conn, COMMUNITY)
            codes = {v.id: {g.code for g in load_grids(conn, v.id)} for v in versions if v.valid_from}
            rows = conn.execute(
                select(
                    incidents.c.id,
                    incidents.c.reported_at,
                    incidents.c.layer_version_id,
                    incidents.c.micro_code,
                ).where(incidents.c.description.like(f"{TAG} #%"))
            ).all()
            # where each was located at receipt: its 上报 event (a publish may re-route it later)
            first = {
                i: p or {}
                for i, p in conn.execute(
                    select(incident_events.c.incident_id, incident_events.c.payload)
                    .join(incidents, incidents.c.id == incident_events.c.incident_id)
                    .where(incidents.c.description.like(f"{TAG} #%"), incident_events.c.seq == 1)
                ).all()
            }
    finally:
        engine.dispose()
    out.stored = len({r.id for r in rows})
    new = next(v for v in versions if v.state == "published")
    switch: datetime = new.valid_from  # type: ignore[assignment]
    for r in rows:
        want = next((v for v in versions if in_force(v, r.reported_at)), None)
        if want is None or r.layer_version_id != want.id:
            out.wrong_version.append(
                f"{r.id} received {r.reported_at.isoformat()} stored on version id {r.layer_version_id}, "
                f"in force then: {want.id if want else None}"
            )
        elif first.get(r.id, {}).get("micro_code") not in codes.get(r.layer_version_id, set()):
            out.wrong_grid.append(
                f"{r.id} located in {first.get(r.id, {}).get('micro_code')}, "
                f"not a grid of version id {r.layer_version_id}"
            )
        gap_ms = (r.reported_at - switch).total_seconds() * 1000
        if gap_ms < 0:
            out.before += 1
            out.closest_before_ms = min(-gap_ms, out.closest_before_ms or float("inf"))
        else:
            out.after += 1
            out.closest_after_ms = min(gap_ms, out.closest_after_ms or float("inf"))


def run(
    url: str,
    engine_kind: str,
    *,
    reports: int = 1500,
    rate: float = 150.0,
    workers: int = 2,
    senders: int = 8,
) -> Outcome:
    """One drill on the seeded database at ``url``: serve, draft and split, send ``reports`` at
    ``rate`` per second while publishing half-way, then check the rule."""
    out = Outcome(engine_kind)
    points = report_points()
    with served(url, workers=workers) as (port, _proc):
        planner = login(port, "planner", "planner-demo")
        dispatcher = login(port, "dispatcher", "dispatch-demo")
        base = f"/api/v1/communities/{COMMUNITY}"
        status, _, body = request(port, "POST", f"{base}/drafts/new", {}, planner)
        if status != 200:
            raise RuntimeError(f"new draft: HTTP {status} {body[:300]!r}")
        number = json.loads(body)["draft"]["number"]
        status, _, body = request(
            port, "POST", f"{base}/drafts/{number}/split", {"grid": SPLIT, "line": split_line()}, planner
        )
        if status != 200:
            raise RuntimeError(f"split: HTTP {status} {body[:300]!r}")
        # warm both versions' locators in every worker before the clock starts
        for lon, lat in points:
            request(port, "GET", f"/api/v1/locate?lon={lon}&lat={lat}", None, dispatcher)
        jobs: queue.Queue = queue.Queue()
        threads = [_Sender(port, dispatcher, jobs, points, out) for _ in range(senders)]
        for t in threads:
            t.start()
        t0 = time.monotonic() + 0.2
        for i in range(reports):
            jobs.put((i, t0 + i / rate))
        out.sent = reports
        for _ in threads:
            jobs.put(None)
        # publish half-way through the stream as the server answers it (a loaded server answers
        # behind the schedule; publishing by the clock alone would land early in the stream)
        time.sleep(max(0.0, t0 + reports / rate / 2 - time.monotonic()))
        while out.answered_201 + len(out.errors) < reports // 2 and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        started = time.perf_counter()
        status, _, body = request(
            port, "POST", f"{base}/versions/{number}/publish", None, planner, timeout=120
        )
        out.publish_ms = (time.perf_counter() - started) * 1000
        if status != 200:
            out.errors.append(f"publish: HTTP {status} {body[:300]!r}")
        else:
            out.rerouted = len(json.loads(body).get("rerouted", []))
        for t in threads:
            t.join(timeout=600)
        out.send_s = time.monotonic() - t0
    _check(url, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="上报与发布并发演练 / reports during a publish")
    ap.add_argument("--reports", type=int, default=1500)
    ap.add_argument("--rate", type=float, default=150.0, help="reports per second (steady)")
    ap.add_argument("--workers", type=int, default=2, help="weiwang serve workers")
    ap.add_argument("--engines", default=",".join(ENGINES))
    args = ap.parse_args(argv)
    ok = True
    for kind in args.engines.split(","):
        with seeded_database(kind) as database:
            out = run(database.url, kind, reports=args.reports, rate=args.rate, workers=args.workers)
        print("\n".join(out.lines()), flush=True)
        ok = ok and out.held
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
