"""``weiwang publish --override-reason`` and ``weiwang versions`` (both databases): blocking findings
refuse a publish (exit ≠ 0, the findings named) unless a reason is given, which ``versions`` shows
with who and when; ``weiwang import --drop-elements`` lets a grids-only file lose the elements."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from api.ops.service import Service
from api.settings import Settings
from store import db
from tests.api.cli.test_store_cli import GRIDS_FILE, SGS, cli
from tests.api.ops.test_publishing import M1, overlapping_draft


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def blocked(seeded_url: str) -> Iterator[int]:
    """A draft of 三根松 with an overlap (a blocking finding)."""
    engine = db.make_engine(seeded_url)
    try:
        yield overlapping_draft(Service(Settings(database_url=seeded_url, version_poll_s=0.0), engine))
    finally:
        engine.dispose()


def test_publish_needs_a_reason_over_blocking_findings(seeded_url: str, blocked: int) -> None:
    n = str(blocked)
    for extra in ([], ["--force"]):
        r = invoke("publish", "--community", SGS, "--version", n, *extra, "--url", seeded_url)
        assert r.exit_code != 0
        assert (
            "阻断性问题" in r.output
            and "overlap" in r.output
            and M1 in r.output
            and "--override-reason" in r.output
        )
    assert "越过发布" not in invoke("versions", "--community", SGS, "--url", seeded_url).output

    r = invoke(
        "publish",
        "--community",
        SGS,
        "--version",
        n,
        "--override-reason",
        "勘界争议，先行启用",
        "--url",
        seeded_url,
    )
    assert r.exit_code == 0, r.output
    assert "已发布" in r.output and "原因：勘界争议，先行启用" in r.output
    out = invoke("versions", "--community", SGS, "--url", seeded_url).output
    line = next(x for x in out.splitlines() if "越过发布" in x)
    assert "勘界争议，先行启用" in line and "cli:" in line and "个阻断性问题" in line


def test_import_drop_elements(seeded_url: str) -> None:
    kept = invoke("import", GRIDS_FILE, "--community", SGS, "--url", seeded_url)
    assert kept.exit_code == 0, kept.output
    assert "沿用第 1 版" in kept.output and "要素 0" not in kept.output
    dropped = invoke("import", GRIDS_FILE, "--community", SGS, "--drop-elements", "--url", seeded_url)
    assert dropped.exit_code == 0, dropped.output
    assert "沿用" not in dropped.output and "要素 0" in dropped.output
