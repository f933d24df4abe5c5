"""A real ``weiwang serve`` subprocess for tests that need the served process (workers, signals,
the command's own start-up): :func:`served` starts it on a free loopback port, waits for
``/health``, and stops it — SIGTERM to its process group, then SIGKILL — however the test ends.
Its stderr is kept for the failure message when it dies before answering."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIWANG = str(Path(sys.executable).parent / "weiwang")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes: children of ``pid`` started by multiprocessing's spawn (not its
    resource tracker)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
                    continue
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                out.append(int(entry))
    return out


@dataclass
class Server:
    """A running ``weiwang serve``: where it listens, its process and the environment it got."""

    port: int
    proc: subprocess.Popen
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self, count: int, timeout: float) -> list[int]:
        """The worker pids, once ``count`` are up (what was found if ``timeout`` passes first)."""
        deadline = time.monotonic() + timeout
        found: list[int] = []
        while len(found) < count and time.monotonic() < deadline:
            found = worker_pids(self.proc.pid)
            time.sleep(0.05)
        return found


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/health")
        r = conn.getresponse()
        return r.status == 200 and json.loads(r.read())["status"] == "ok"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def stop(proc: subprocess.Popen, grace_s: float | None = 15) -> None:
    """Stop ``proc``'s process group: SIGTERM, then SIGKILL after ``grace_s`` (at once if None)."""
    if proc.poll() is None:
        if grace_s is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def served(
    db_url: str,
    *,
    workers: int | None = 1,
    env: Mapping[str, str] | None = None,
    seed: bool = True,
    host: str | None = "127.0.0.1",
    start_timeout: float = 60,
    grace_s: float | None = 15,
) -> Iterator[Server]:
    """``weiwang serve`` on ``db_url`` with a fresh secret key, answering ``/health``.

    ``workers=None`` and ``host=None`` leave the flag off (the command's default); ``seed=False``
    turns sample seeding off; ``env`` adds to the environment. On exit the server gets SIGTERM and,
    after ``grace_s`` (or at once if None), SIGKILL."""
    port = free_port()
    full_env = dict(os.environ, WEIWANG_DATABASE_URL=db_url, WEIWANG_SECRET_KEY=secrets.token_urlsafe(32))
    if not seed:
        full_env["WEIWANG_SEED_SAMPLE"] = "false"
    full_env.update(env or {})
    cmd = [WEIWANG, "serve"]
    if host is not None:
        cmd += ["--host", host]
    cmd += ["--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(
        cmd, env=full_env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(port):
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, (
                f"weiwang serve did not answer /health within {start_timeout:g} s"
            )
            time.sleep(0.1)
        yield Server(port, proc, full_env)
    finally:
        stop(proc, grace_s)
        if proc.stderr is not None:
            proc.stderr.close()
