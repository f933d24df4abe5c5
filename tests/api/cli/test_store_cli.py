"""The storage commands end to end: import (dry run, --commit), publish, versions, export, and the
round trip import → export → import in every format (codes, parents, names, geometry ≤ 1e-9°)."""

from __future__ import annotations

import json

import click
import pytest
import shapely
from click.testing import CliRunner

from api.cli.store import db as db_group
from api.cli.store import export_cmd, import_cmd, publish, time_limits_cmd, versions
from store import db
from store.grids import load_grids
from store.versions import get_version, list_versions
from tests.conftest import SAMPLE_DIR

SGS = "510116004001"
GRIDS_FILE = SAMPLE_DIR / "grids.geojson"


@click.group()
def cli() -> None:
    """The storage commands, as ``weiwang`` registers them."""


for _cmd in (db_group, import_cmd, export_cmd, publish, versions, time_limits_cmd):
    cli.add_command(_cmd)


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def _grids(url: str, number: int) -> list:
    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            return load_grids(conn, get_version(conn, SGS, number).id)
    finally:
        engine.dispose()


def test_dry_run_then_commit_then_publish(db_url: str) -> None:
    out = run("import", GRIDS_FILE, "--community", SGS, "--url", db_url)
    assert "试运行" in out and "微网格 83" in out
    assert "没有版本" in run("versions", "--community", SGS, "--url", db_url)
    out = run("import", GRIDS_FILE, "--community", SGS, "--commit", "--author", "甲", "--url", db_url)
    assert "已写入草稿：第 1 版" in out
    out = run("publish", "--community", SGS, "--version", "1", "--at", "2026-01-01", "--url", db_url)
    assert "2026-01-01 00:00" in out
    out = run("versions", "--community", SGS, "--url", db_url)
    assert "现行" in out and "甲" in out


def test_errors_exit_non_zero_with_chinese_then_english(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["publish", "--community", SGS, "--version", "5", "--url", db_url])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("错误：") and lines[1].startswith("error: ")
    result = CliRunner().invoke(
        cli, ["import", str(GRIDS_FILE), "--community", "510116004999", "--url", db_url]
    )
    assert result.exit_code == 2 and "510116004999" in result.output
    engine = db.make_engine(db_url)
    with db.read(engine) as conn:
        assert list_versions(conn, "510116004999") == []
    engine.dispose()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "kml", "csv"])
def test_round_trip_import_export_import_keeps_codes_parents_names_geometry(db_url, tmp_path, fmt) -> None:
    run("import", GRIDS_FILE, "--community", SGS, "--commit", "--url", db_url)
    out_file = tmp_path / f"sgs.{ {'shp': 'zip'}.get(fmt, fmt) }"
    run("export", "--community", SGS, "--version", "1", "--format", fmt, "--out", out_file, "--url", db_url)
    crs = ["--crs", "wgs84"] if fmt == "csv" else []  # CSV carries no CRS: the reader asks for one
    out = run("import", out_file, "--community", SGS, "--commit", *crs, "--url", db_url)
    assert "第 2 版" in out
    first, second = _grids(db_url, 1), _grids(db_url, 2)
    assert len(first) == 90
    assert [(g.code, g.parent_code, g.name, g.level, g.kind, g.households) for g in first] == [
        (g.code, g.parent_code, g.name, g.level, g.kind, g.households) for g in second
    ]
    for a, b in zip(first, second, strict=True):
        assert shapely.equals_exact(shapely.normalize(a.geometry), shapely.normalize(b.geometry), 1e-9), (
            a.code
        )


def test_time_limits_show_set_and_reset(seeded_url: str) -> None:
    out = run("time-limits", "--community", SGS, "--url", seeded_url)
    assert "  矛盾纠纷（dispute）：72 小时" in out and "* " not in out.split("\n", 1)[1]
    out = run(
        "time-limits", "--community", SGS, "--set", "dispute=48", "--set", "urgent=2", "--url", seeded_url
    )
    assert "* 矛盾纠纷（dispute）：48 小时" in out and "* 紧急事件上限（urgent）：2 小时" in out
    out = run("time-limits", "--community", SGS, "--set", "安全隐患=12", "--url", seeded_url)
    assert "* 矛盾纠纷（dispute）：48 小时" in out and "* 安全隐患（safety）：12 小时" in out  # kept
    for bad in (["--set", "打架=3"], ["--set", "safety=x"], ["--set", "safety=0"]):
        result = CliRunner().invoke(cli, ["time-limits", "--community", SGS, *bad, "--url", seeded_url])
        assert result.exit_code == 2, (bad, result.output)
    result = CliRunner().invoke(cli, ["time-limits", "--community", "5101", "--url", seeded_url])
    assert result.exit_code == 2 and "社区不存在" in result.output
    out = run("time-limits", "--community", SGS, "--url", seeded_url)
    assert "* 安全隐患（safety）：12 小时" in out  # the refused changes changed nothing
    out = run("time-limits", "--community", SGS, "--reset", "--url", seeded_url)
    assert "* " not in out.split("\n", 1)[1] and "矛盾纠纷（dispute）：72 小时" in out


def _squares(n: int) -> str:
    """A GeoJSON of ``n`` tiny micro-grid squares (no hierarchy needed: it is refused first)."""
    feats = []
    for i in range(n):
        x, y = 104.0 + (i % 200) * 1e-4, 30.4 + (i // 200) * 1e-4
        ring = [[x, y], [x + 9e-5, y], [x + 9e-5, y + 9e-5], [x, y + 9e-5], [x, y]]
        props = {"code": str(i), "level": "micro"}
        feats.append(
            json.dumps(
                {
                    "type": "Feature",
                    "properties": props,
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
        )
    return '{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"


def test_feature_limit_default_refuses_with_its_name(db_url: str, tmp_path, monkeypatch) -> None:
    """20,001 features: refused by default (20,000) naming max_features, before anything is written."""
    monkeypatch.delenv("WEIWANG_MAX_FEATURES", raising=False)
    path = tmp_path / "many.geojson"
    path.write_text(_squares(20_001), encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(path), "--community", SGS, "--commit", "--url", db_url])
    assert result.exit_code != 0
    assert "max_features" in result.output and "要素数" in result.output and "20000" in result.output
    assert "没有版本" in run("versions", "--community", SGS, "--url", db_url)


def test_feature_limit_setting_and_flag(db_url: str, monkeypatch) -> None:
    """The sample layer has 121 features: WEIWANG_MAX_FEATURES=120 refuses it naming the limit;
    --max-features 121 on the same command admits it, as does the setting raised to 121."""
    monkeypatch.setenv("WEIWANG_MAX_FEATURES", "120")
    result = CliRunner().invoke(cli, ["import", str(GRIDS_FILE), "--community", SGS, "--url", db_url])
    assert result.exit_code != 0 and "max_features" in result.output and "121 > 120" in result.output
    out = run("import", GRIDS_FILE, "--community", SGS, "--max-features", "121", "--url", db_url)
    assert "微网格 83" in out
    monkeypatch.setenv("WEIWANG_MAX_FEATURES", "121")
    assert "微网格 83" in run("import", GRIDS_FILE, "--community", SGS, "--url", db_url)
