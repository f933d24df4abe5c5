"""What the drills share: a seeded database on either engine, ``weiwang serve`` as a subprocess,
the ``weiwang`` script next to this interpreter, and plain HTTP on 127.0.0.1.

Not a drill (the runner skips modules starting with ``_``). The tests of the drills use it too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "data" / "boundaries"
WEIWANG = str(Path(sys.executable).parent / "weiwang")
ENGINES = ("spatialite", "postgis")


def isolated_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment for a drill's ``weiwang`` subprocesses: the shared locator files in
    ``folder`` (not the checkout's ``data/locators``, which other runs of other code share)."""
    return dict(os.environ, WEIWANG_LOCATOR_DIR=str(folder / "locators"), **extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Database:
    """A migrated, seeded database (the sample communities, version 1 published)."""

    kind: str
    url: str
    server: Any | None = None  # tests.pgserver.PgServer for PostGIS

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))


def seed(url: str) -> None:
    """Migrate and seed the database at ``url`` with the sample data."""
    import pyogrio  # noqa: F401  (GDAL before mod_spatialite, STACK.md)

    from store.db import make_engine, upgrade
    from store.seed import ensure_seeded

    engine = make_engine(url)
    try:
        upgrade(engine)
        ensure_seeded(engine, SAMPLE_DIR)
    finally:
        engine.dispose()


@contextmanager
def seeded_database(kind: str, *, server: Any | None = None) -> Iterator[Database]:
    """A fresh seeded database of ``kind`` for one drill, removed afterwards. For PostGIS the
    throwaway cluster of ``tests/pgserver.py`` is started unless ``server`` is given."""
    if kind == "spatialite":
        root = Path(tempfile.mkdtemp(prefix="weiwang-drill-"))
        try:
            url = f"sqlite:///{root / 'drill.sqlite'}"
            seed(url)
            yield Database(kind, url)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    from tests.pgserver import start

    own = server is None
    pg = start() if own else server
    name = f"weiwang_drill_{uuid.uuid4().hex[:10]}"
    try:
        url = pg.create_database(name)
        seed(url)
        yield Database(kind, url, pg)
    finally:
        if own:
            pg.stop()
        else:
            with contextlib.suppress(Exception):  # a cluster the drill left stopped
                pg.drop_database(name)


def request(
    port: int, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 30
) -> tuple[int, dict[str, Any], bytes]:
    """One HTTP request on a fresh connection: (status, headers, body)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def login(port: int, username: str, password: str) -> str:
    status, _, body = request(
        port, "POST", "/api/v1/auth/login", {"username": username, "password": password}
    )
    if status != 200:
        raise RuntimeError(f"login as {username} answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


@contextmanager
def served(
    url: str, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[int, subprocess.Popen]]:
    """``weiwang serve`` on ``url`` and a free port of 127.0.0.1; yields (port, process) once
    ``/health`` answers, and kills the process group afterwards."""
    port = free_port()
    locators = Path(tempfile.mkdtemp(prefix="weiwang-drill-loc-"))
    full_env = isolated_env(locators, WEIWANG_DATABASE_URL=url, WEIWANG_SECRET_KEY=secrets.token_urlsafe(32))
    full_env.update(env or {})
    cmd = [WEIWANG, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        cmd, env=full_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"weiwang serve exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                if request(port, "GET", "/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("weiwang serve did not answer /health within 90 s")
            time.sleep(0.1)
        yield port, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(locators, ignore_errors=True)


def community_geojson(code: str) -> bytes:
    """The sample layer's features of one community (a file ``weiwang import`` reads)."""
    fc = json.loads((SAMPLE_DIR / "grids.geojson").read_text(encoding="utf-8"))
    fc["features"] = [f for f in fc["features"] if f["properties"]["community_code"] == code]
    return json.dumps(fc, ensure_ascii=False).encode()
