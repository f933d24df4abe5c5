"""A throwaway PostgreSQL + PostGIS server for the tests, on 127.0.0.1 and a free port.

``initdb`` refuses to run as root, so as root the server binaries run as ``postgres`` through
``runuser``. The cluster lives in a fresh ``/tmp/weiwang-pg-*`` folder with ``fsync=off`` (tests
only; ``start(durable=True)`` turns it on for benchmarks) and is removed by
:meth:`PgServer.stop`. Missing binaries are installed once with ``scripts/install-system.sh`` (apt).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("WEIWANG_PG_BIN", "/usr/lib/postgresql/15/bin"))
REPO = Path(__file__).resolve().parent.parent
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> None:
    """Install PostgreSQL + PostGIS with the project's script if the binaries are missing."""
    if (PG_BIN / "postgres").exists() and POSTGIS_CONTROL.exists():
        return
    subprocess.run(["bash", str(REPO / "scripts" / "install-system.sh")], check=True)


@dataclass
class PgServer:
    """A running cluster: connect as the ``postgres`` superuser over TCP (trust auth)."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    #: fsync and synchronous commit on (benchmarks of durable writes); tests run without.
    durable: bool = False

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement in autocommit (CREATE/DROP DATABASE need it)."""
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str, *, template: str | None = None, postgis: bool = True) -> str:
        """Create a database (as a copy of ``template`` if given) and return its SQLAlchemy URL."""
        tpl = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{tpl}")
        if postgis and template is None:
            self.execute("CREATE EXTENSION IF NOT EXISTS postgis", database=name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def wait_ready(self, timeout: float = 30) -> None:
        """Return once the server accepts connections; RuntimeError (with the log's tail) if it
        exits or is not ready within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start:\n{tail}") from None
                time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop the server (fast shutdown: open transactions are rolled back, committed ones kept)
        but keep the cluster, so that :meth:`restart_server` brings it back on the same port."""
        self._stop_process()

    def restart_server(self) -> None:
        """Start the server again after :meth:`shutdown` (same data, same port); returns when it
        accepts connections."""
        self.process = _launch(self.root, self.port, durable=self.durable)
        self.wait_ready()

    def stop(self) -> None:
        """Fast shutdown, then remove the cluster folder."""
        self._stop_process()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop_process(self) -> None:
        pid_file = self.root / "data" / "postmaster.pid"
        if self.process.poll() is None:
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGINT)
            except (OSError, ValueError, IndexError):
                self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(*, durable: bool = False) -> PgServer:
    """initdb + start a server; returns once it accepts connections (about 1-2 s).
    ``durable``: fsync, synchronous_commit and full_page_writes on (for benchmarks)."""
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="weiwang-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = _free_port()
    server = PgServer(root, port, _launch(root, port, durable=durable), durable)
    try:
        server.wait_ready()
    except RuntimeError:
        server.stop()
        raise
    return server


@contextmanager
def for_test() -> Iterator[PgServer]:
    """:func:`start` for a test or fixture, stopped when it is done; the test is skipped when
    ``WEIWANG_TEST_POSTGIS=skip`` (local development only; fails in CI)."""
    if os.environ.get("WEIWANG_TEST_POSTGIS", "").lower() == "skip":
        import pytest

        pytest.skip("WEIWANG_TEST_POSTGIS=skip (local development only; fails in CI)")
    server = start()
    try:
        yield server
    finally:
        server.stop()


def _launch(root: Path, port: int, *, durable: bool = False) -> subprocess.Popen[bytes]:
    """Start ``postgres`` on the cluster in ``root`` (log appended to ``server.log``)."""
    data = root / "data"
    on = "on" if durable else "off"
    log = open(root / "server.log", "ab")  # noqa: SIM115  (owned by the server's lifetime)
    process = subprocess.Popen(
        _as_postgres(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={root}",
                "-c",
                f"fsync={on}",
                "-c",
                f"synchronous_commit={on}",
                "-c",
                f"full_page_writes={on}",
                "-c",
                "max_connections=100",
            ]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process
