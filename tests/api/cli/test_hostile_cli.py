"""``weiwang validate`` and ``weiwang import`` on hostile files: exit 2 ("unreadable", not 1 "findings"),
the error in Chinese then English, no traceback, and nothing written (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from store.db import make_engine
from tests.store.files.test_hostile_files import HOSTILE
from tests.store.store_fixtures import COMMUNITY, snapshot


def invoke(*args: str) -> tuple[int, str]:
    """Run a command; an exception escaping the command fails the test (it would be a traceback)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validate_exits_2_on_a_hostile_file(tmp_path: Path, case: str) -> None:
    build, _, needle = HOSTILE[case]
    rc, out = invoke("validate", str(build(tmp_path)))
    assert rc == 2, out
    assert "错误：" in out and "error: " in out and needle in out
    assert "Traceback" not in out


def test_import_exits_2_and_writes_nothing(seeded_url: str, tmp_path: Path) -> None:
    engine = make_engine(seeded_url)
    try:
        before = snapshot(engine)
    finally:
        engine.dispose()
    for case, (build, _, needle) in sorted(HOSTILE.items()):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        rc, out = invoke(
            "import", str(build(folder)), "--community", COMMUNITY, "--commit", "--url", seeded_url
        )
        assert rc == 2, (case, out)
        assert "错误：" in out and needle in out and "Traceback" not in out, (case, out)
    engine = make_engine(seeded_url)
    try:
        assert snapshot(engine) == before
    finally:
        engine.dispose()


@pytest.mark.parametrize("label", ["GCJ02 ", " wgs84", "gcj02\t"])
def test_locate_crs_must_match_exactly(label: str) -> None:
    """``weiwang locate --crs`` refuses a label with surrounding spaces (exit 2, the label named)."""
    sample = Path(__file__).resolve().parents[3] / "data" / "boundaries" / "grids.geojson"
    rc, out = invoke("locate", "--lon", "104.08", "--lat", "30.41", "--crs", label, "--layer", str(sample))
    shown = label.encode("unicode_escape").decode("ascii")
    assert rc != 0 and "错误：" in out and shown in out and "Traceback" not in out, out
    rc, out = invoke(
        "locate", "--lon", "104.08", "--lat", "30.41", "--crs", label.strip(), "--layer", str(sample)
    )
    assert rc == 0, out
