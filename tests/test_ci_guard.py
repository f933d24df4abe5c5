"""The CI guard (tests/conftest.py): with ``CI`` set, a skipped PostGIS, storage, browser or
sample-data test fails the run; other skips, and any skip outside CI, do not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import must_not_skip

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("nodeid", "keywords", "reason"),
    [
        ("tests/api/test_x.py::t[postgis]", {"postgis"}, "WEIWANG_TEST_POSTGIS=skip"),
        ("tests/store/test_x.py::t", set(), "anything"),
        ("tests/browser/test_x.py::t", set(), "anything"),
        ("tests/api/test_x.py::t", set(), "Skipped: Debian chromium is not installed"),
        ("tests/geo/test_x.py::t", set(), "Skipped: sample data not generated yet"),
        ("tests/dispatch/test_x.py::t", set(), "Skipped: no sample data yet"),
    ],
)
def test_ci_must_run(nodeid: str, keywords: set[str], reason: str) -> None:
    assert must_not_skip(nodeid, keywords, reason)


def test_other_skips_are_allowed() -> None:
    assert not must_not_skip("tests/test_x.py::t", set(), "Skipped: the network guard is tested on Linux")


def _run(tmp_path: Path, reason: str, ci: str, *args: str) -> int:
    test = tmp_path / "test_skipping.py"
    test.write_text(f"import pytest\n\ndef test_it():\n    pytest.skip({reason!r})\n", encoding="utf-8")
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.conftest",
        *args,
        str(test),
    ]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=120).returncode


@pytest.mark.parametrize(
    ("reason", "ci", "exit_code"),
    [
        ("Debian chromium is not installed", "1", pytest.ExitCode.TESTS_FAILED),
        ("sample data not generated yet", "1", pytest.ExitCode.TESTS_FAILED),
        ("sample data not generated yet", "", pytest.ExitCode.OK),
    ],
)
def test_a_skipped_browser_or_sample_test_fails_ci(
    tmp_path: Path, reason: str, ci: str, exit_code: int
) -> None:
    assert _run(tmp_path, reason, ci) == exit_code


def test_the_guard_holds_in_the_parallel_phase(tmp_path: Path) -> None:
    """scripts/test.sh runs the suite under pytest-xdist: the workers' skips reach the guard."""
    assert _run(tmp_path, "Debian chromium is not installed", "1", "-n", "2") == pytest.ExitCode.TESTS_FAILED
    assert _run(tmp_path, "Debian chromium is not installed", "", "-n", "2") == pytest.ExitCode.OK
