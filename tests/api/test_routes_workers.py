"""Two ``weiwang serve`` workers on PostGIS agree on the published grid version after a publish.

Each worker caches the published layers and polls for a new version every ``version_poll_s``
(0.5 s). The test publishes version 2 of 三根松社区 (one micro-grid with a new code and name) while
the server runs, then checks that from 1 s after the publish commit every request — each on a fresh
connection, and answered by both workers (the worker is found from the server-side socket's owner
in /proc) — locates the point with the new version.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from geo.hierarchy import Level
from tests.served import served

SANGENSONG = "510116004001"
REQUESTS = 40

pytestmark = [pytest.mark.postgis, pytest.mark.parametrize("db_template", ["postgis"], indirect=True)]


def _owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process holding the server side of the loopback TCP connection from ``client_port``."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == local and f[2] == remote:
            inode = f[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data[:500]
        return json.loads(data)
    finally:
        conn.close()


def _locate_on_fresh_connection(
    port: int, token: str, lon: float, lat: float, workers: list[int]
) -> tuple[dict, int | None]:
    """GET /api/v1/locate on a new connection; returns the answer and the worker pid that served it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "GET", f"/api/v1/locate?lon={lon!r}&lat={lat!r}", headers={"Authorization": f"Bearer {token}"}
        )
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data[:500]
        assert conn.sock is not None
        served_by = _owner(port, conn.sock.getsockname()[1], workers)
        return json.loads(data), served_by
    finally:
        conn.close()


@pytest.fixture
def server(seeded_url: str) -> Iterator[tuple[int, list[int]]]:
    """``weiwang serve --workers 2`` on the fresh seeded PostGIS database: (port, worker pids)."""
    with served(seeded_url, workers=2, env={"WEIWANG_VERSION_POLL_S": "0.5"}) as srv:
        yield srv.port, srv.workers(2, timeout=60)


@pytest.mark.serial
def test_both_workers_serve_the_new_version_within_a_second(
    seeded_url: str, server: tuple[int, list[int]]
) -> None:
    from store import db
    from store.grids import load_grids
    from store.importing import import_grids
    from store.versions import publish, published_version

    port, workers = server
    assert len(workers) == 2
    token = _call(
        port, "POST", "/api/v1/auth/login", {"username": "dispatcher", "password": "dispatch-demo"}
    )["access_token"]
    engine = db.make_engine(seeded_url)
    try:
        with db.read(engine) as conn:
            v1 = published_version(conn, SANGENSONG)
            assert v1 is not None
            grids = load_grids(conn, v1.id)
        micro = [g for g in grids if g.level is Level.MICRO]
        target = micro[0]
        pt = target.geometry.representative_point()
        lon, lat = float(pt.x), float(pt.y)
        taken = {g.code for g in grids}
        new_code = next(
            f"{target.parent_code}{n:03d}"
            for n in range(999, 0, -1)
            if f"{target.parent_code}{n:03d}" not in taken
        )
        new_name = f"{target.name}（调整）"

        before, _ = _locate_on_fresh_connection(port, token, lon, lat, workers)
        assert (before["micro_code"], before["version"]["number"]) == (target.code, v1.number)

        changed = [dataclasses.replace(g, code=new_code, name=new_name) if g is target else g for g in grids]
        draft = import_grids(engine, changed, SANGENSONG, commit=True, source="test_api_workers")
        assert draft.committed and draft.version_number == v1.number + 1
        with db.write(engine) as conn:
            publish(conn, SANGENSONG, draft.version_number)
        committed = time.monotonic()
    finally:
        engine.dispose()

    time.sleep(max(0.0, committed + 1.0 - time.monotonic()))
    # Concurrent connections, so that both workers take some: the kernel hands sequential
    # connections to whichever worker wakes first, often the same one every time.
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: _locate_on_fresh_connection(port, token, lon, lat, workers), range(REQUESTS))
        )
    seen = {(a["version"]["number"], a["micro_code"], a["micro_name"]) for a, _ in answers}
    assert seen == {(draft.version_number, new_code, new_name)}
    served_by = {pid for _, pid in answers}
    assert served_by == set(workers), f"requests were answered by {served_by}, workers are {workers}"
