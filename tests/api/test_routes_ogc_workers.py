"""OGC API – Features Part 4 optimistic locking across processes: against ``weiwang serve --workers 2``
(SpatiaLite and PostGIS), two editors send a PATCH with the same ``If-Match`` at the same moment,
each on its own connection; exactly one gets 200 and the other 412, also when the two requests are
answered by different workers (the worker is found from the server-side socket's owner in /proc).
Then every worker serves the winner's draft (no worker keeps the draft it built before)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.api.test_routes_incidents import MICRO
from tests.api.test_routes_workers import _free_port, _owner, _workers

REPO = Path(__file__).resolve().parents[2]
SANGENSONG = "510116004001"
ROUNDS = 12  # rounds of two concurrent writers; enough that some pairs land on different workers


def _request(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    workers: list[int] | None = None,
    barrier: threading.Barrier | None = None,
) -> tuple[int, dict[str, str], dict, int | None]:
    """One request on a fresh connection: status, headers, JSON body and the worker that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            h["Content-Type"] = "application/json"
        conn.connect()
        if barrier is not None:
            barrier.wait(timeout=30)
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        data = r.read()
        assert conn.sock is not None
        served_by = _owner(port, conn.sock.getsockname()[1], workers) if workers else None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data or b"null"), served_by
    finally:
        conn.close()


@pytest.fixture
def two_workers(seeded_url: str) -> Iterator[tuple[int, list[int]]]:
    """``weiwang serve --workers 2`` on the fresh seeded database: (port, worker pids)."""
    port = _free_port()
    env = dict(os.environ, WEIWANG_DATABASE_URL=seeded_url, WEIWANG_SECRET_KEY=secrets.token_urlsafe(32))
    weiwang = str(Path(sys.executable).parent / "weiwang")
    cmd = [weiwang, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]  # type: ignore[union-attr]
            try:
                if _request(port, "GET", "/health")[2]["status"] == "ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "weiwang serve did not answer /health within 90 s"
            time.sleep(0.1)
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _workers(proc.pid)
            time.sleep(0.05)
        yield port, workers
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_two_writers_with_one_etag_on_two_workers_exactly_one_wins(
    two_workers: tuple[int, list[int]],
) -> None:
    port, workers = two_workers
    assert len(workers) == 2
    status, _, login, _ = _request(
        port, "POST", "/api/v1/auth/login", body={"username": "planner", "password": "planner-demo"}
    )
    assert status == 200, login
    token = login["access_token"]
    status, _, made, _ = _request(port, "POST", f"/api/v1/communities/{SANGENSONG}/drafts/new", token)
    assert status in (200, 201), made
    number = made["draft"]["number"]
    url = f"/ogc/collections/{SANGENSONG}-micro/items/{MICRO}?version={number}"

    across = 0
    for k in range(ROUNDS):
        status, headers, before, _ = _request(port, "GET", url, token)
        assert status == 200, before
        tag = headers["etag"]
        barrier = threading.Barrier(2)
        names = [f"第{k}轮甲", f"第{k}轮乙"]

        def patch(name: str, tag: str = tag, barrier: threading.Barrier = barrier):
            body = {"properties": {"name": name}}
            return _request(port, "PATCH", url, token, body, {"If-Match": tag}, workers, barrier)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(patch, names))
        codes = sorted(a[0] for a in answers)
        assert codes == [200, 412], [(a[0], a[2]) for a in answers]
        loser = next(a for a in answers if a[0] == 412)
        assert (
            loser[2]["error"]["code"] == "precondition_failed" and loser[2]["error"]["detail"]["etag"] != tag
        )
        winner = next(a for a in answers if a[0] == 200)[2]["properties"]["name"]
        if {a[3] for a in answers} == set(workers):
            across += 1
        # whichever worker answers next serves the winner's draft, with the ETag the loser was told
        for _ in range(4):
            status, headers, now, _ = _request(port, "GET", url, token)
            assert status == 200 and now["properties"]["name"] == winner
            assert headers["etag"] == loser[2]["error"]["detail"]["etag"]
    assert across > 0, "no round had its two writers answered by different workers"
