"""Shared test fixtures: databases on both engines, and the CI guard against skipped storage tests.

Database fixtures (every storage test runs once on SpatiaLite and once on PostGIS):

* ``db_template`` (session, parametrized ``spatialite`` / ``postgis``): a migrated empty database and
  a migrated, seeded one, made once per engine; ``fresh(seeded=...)`` clones one in milliseconds
  (a file copy for SpatiaLite, ``CREATE DATABASE … TEMPLATE`` for PostgreSQL).
* ``db_url``: a fresh, migrated, empty database for one test; ``engine``: an engine on it.
* ``seeded_engine``: a fresh database holding the sample communities (version 1 published).
  For a test that builds the app (``app`` fixture) the clone comes from a third template that also
  holds the demo accounts, made once per engine by ``prepare_database`` itself: the app's own
  ``prepare_database`` then finds them and skips five Argon2 hashes (~1.1 s CPU) per test.
* ``pg_server``: the throwaway PostgreSQL + PostGIS cluster (``tests/pgserver.py``), started on
  first use and removed at the end of the session.

``WEIWANG_TEST_POSTGIS=skip`` skips the PostGIS half (local development only). With ``CI`` set, a
skipped PostGIS, storage, browser or sample-data test fails the run ("TESTS SKIPPED, FAILING"):
marked ``postgis``, under ``tests/store/`` or ``tests/browser/``, or skipped for want of sample data
or Chromium (:func:`must_not_skip`). Missing Chromium must not leave CI green.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# STACK.md: GDAL must be loaded before mod_spatialite in this process.
import pyogrio  # noqa: F401
import pytest
from sqlalchemy import Engine

pytest_plugins = ["tests.api_fixtures"]

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "boundaries"
ENGINES = ["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)]

# Locators the tests' services build are stored in a throwaway folder, not the repository's
# data/locators (store/files/locatorfile.py); removed when the test process ends.
if not os.environ.get("WEIWANG_LOCATOR_DIR"):
    import atexit
    import tempfile

    _locators = tempfile.mkdtemp(prefix="weiwang-test-locators-")
    os.environ["WEIWANG_LOCATOR_DIR"] = _locators
    atexit.register(shutil.rmtree, _locators, ignore_errors=True)


# -- CI guard ------------------------------------------------------------------------------------

_skipped_storage: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


#: Skip reasons CI never accepts: the sample data or the browser is missing.
_MUST_RUN_REASON = re.compile(r"sample data|not generated|chromium|playwright|browser", re.IGNORECASE)


def must_not_skip(nodeid: str, keywords: Iterable[str], reason: str) -> bool:
    """True for a test CI must run: PostGIS, storage, browser, or skipped for want of sample data."""
    path = nodeid.replace("\\", "/")
    return (
        "postgis" in keywords
        or path.startswith(("tests/store/", "tests/browser/"))
        or bool(_MUST_RUN_REASON.search(reason))
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
    if must_not_skip(report.nodeid, report.keywords, reason):
        _skipped_storage.append(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _skipped_storage and _in_ci():
        terminalreporter.section("TESTS SKIPPED, FAILING", sep="!", red=True)
        for nodeid in _skipped_storage:
            terminalreporter.line(f"skipped PostGIS/storage/browser/sample-data test in CI: {nodeid}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_storage and _in_ci() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.pgserver import for_test

    with for_test() as server:
        yield server


# -- databases -----------------------------------------------------------------------------------


@dataclass
class DbTemplate:
    """Migrated template databases of one engine, cloned per test."""

    kind: str
    root: Path
    server: object | None = None
    _made: dict[str, str] = field(default_factory=dict)
    _clones: list[str] = field(default_factory=list)

    def _template(self, content: str) -> str:
        """Name (PostgreSQL) or file path (SpatiaLite) of the template holding ``content``
        (``empty``, ``seeded``, or ``accounts``: seeded plus the demo accounts), made on first use."""
        if content in self._made:
            return self._made[content]
        from store.db import make_engine, upgrade
        from store.seed import ensure_seeded

        name = f"weiwang_tpl_{content}"
        if self.kind == "spatialite":
            target = str(self.root / f"{name}.sqlite")
            url = f"sqlite:///{target}"
        else:
            target = name
            url = self.server.create_database(name)  # type: ignore[attr-defined]
        if content == "accounts":
            from api.ops.accounts import prepare_database
            from api.settings import Settings

            # Exactly what the app's own prepare_database writes into the seeded clone.
            assert prepare_database(Settings(database_url=url, secret_key="template", data_dir=SAMPLE_DIR))
        else:
            engine = make_engine(url)
            try:
                upgrade(engine)
                if content == "seeded":
                    assert ensure_seeded(engine, SAMPLE_DIR)
            finally:
                engine.dispose()
        self._made[content] = target
        return target

    def fresh(self, *, seeded: bool = False, accounts: bool = False) -> str:
        """URL of a new database cloned from the empty, seeded, or seeded-with-accounts template."""
        tpl = self._template("accounts" if accounts else "seeded" if seeded else "empty")
        name = f"weiwang_t_{uuid.uuid4().hex[:12]}"
        if self.kind == "spatialite":
            path = self.root / f"{name}.sqlite"
            shutil.copyfile(tpl, path)
            return f"sqlite:///{path}"
        self._clones.append(name)
        return self.server.create_database(name, template=tpl)  # type: ignore[attr-defined]

    def drop(self, url: str) -> None:
        if self.kind == "spatialite":
            path = Path(url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            self.server.drop_database(url.rsplit("/", 1)[1])  # type: ignore[attr-defined]


#: One DbTemplate per engine and test process. pytest finalises a parametrized session fixture when
#: the next test wants the other engine, and sets it up again later: under pytest-xdist, which sends
#: a worker the tests file by file, that happens at every file. The templates it made stay (the
#: PostGIS server lives all session), so a new instance must not make them again.
_TEMPLATES: dict[str, DbTemplate] = {}


@pytest.fixture(scope="session", params=ENGINES)
def db_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DbTemplate:
    kind = request.param
    if kind not in _TEMPLATES:
        server = request.getfixturevalue("pg_server") if kind == "postgis" else None
        _TEMPLATES[kind] = DbTemplate(kind, tmp_path_factory.mktemp(f"db-{kind}"), server)
    return _TEMPLATES[kind]


@pytest.fixture
def db_kind(db_template: DbTemplate) -> str:
    """``"spatialite"`` or ``"postgis"``."""
    return db_template.kind


@pytest.fixture
def db_url(db_template: DbTemplate) -> Iterator[str]:
    """A fresh, migrated, empty database for this test."""
    url = db_template.fresh()
    yield url
    db_template.drop(url)


def _engine_on(url: str) -> Iterator[Engine]:
    from store.db import make_engine

    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated, empty database."""
    yield from _engine_on(db_url)


@pytest.fixture
def seeded_url(db_template: DbTemplate, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database holding the sample communities (version 1 published, 2026-01-01); with the
    demo accounts already in it when the test builds the app on it (see the module docstring)."""
    url = db_template.fresh(seeded=True, accounts="app" in request.fixturenames)
    yield url
    db_template.drop(url)


@pytest.fixture
def seeded_engine(seeded_url: str) -> Iterator[Engine]:
    yield from _engine_on(seeded_url)
