"""In CI a skipped storage/PostGIS test fails the run (geopandas' "TESTS SKIPPED, FAILING")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

TARGET = "tests/store/test_store_migrations.py::test_upgrade_twice_is_a_no_op"


def _pytest(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "WEIWANG_TEST_POSTGIS")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TARGET],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_skipping_postgis_fails_in_ci_but_not_locally() -> None:
    local = _pytest({"WEIWANG_TEST_POSTGIS": "skip"})
    assert local.returncode == 0, local.stdout
    assert "1 passed, 1 skipped" in local.stdout
    ci = _pytest({"WEIWANG_TEST_POSTGIS": "skip", "CI": "true"})
    assert ci.returncode == 1, ci.stdout
    assert "TESTS SKIPPED, FAILING" in ci.stdout
