"""A synthetic city of several communities (bench/citygen.py) imports through ``weiwang import
--all-communities``: read once, one draft per community, every grid stored with its geodesic area
and bounding box. The test city has 10,000 micro-grids (``WEIWANG_TEST_CITY_N`` to change it);
the 50,000-grid city is timed by ``python -m bench`` (bench/bench_import.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from api.cli.store import import_cmd
from bench.citygen import write_city
from geo.crs import area_m2
from geo.hierarchy import Level
from store import db
from store.grids import load_grids
from store.versions import list_versions

N = int(os.environ.get("WEIWANG_TEST_CITY_N", "10000"))


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("city") / "city.gpkg"
    return path, write_city(str(path), N, communities=5)


def test_city_imports_through_the_cli(db_url: str, city: tuple[Path, list[str]], monkeypatch) -> None:
    path, codes = city
    monkeypatch.setenv("WEIWANG_MAX_FEATURES", str(N + 1000))
    monkeypatch.setenv("WEIWANG_MAX_VERTICES", str(20 * N))
    result = CliRunner().invoke(import_cmd, [str(path), "--all-communities", "--commit", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert result.output.count("已写入草稿：第 1 版") == 5
    assert "0 个错误" in result.output and "个错误" in result.output
    engine = db.make_engine(db_url)
    try:
        micro = 0
        with db.read(engine) as conn:
            for code in codes:
                (v,) = list_versions(conn, code)
                grids = load_grids(conn, v.id)
                levels = [g.level for g in grids]
                assert levels.count(Level.COMMUNITY) == 1 and levels.count(Level.GENERAL) >= 1
                micro += levels.count(Level.MICRO)
                sample = grids[:: max(1, len(grids) // 50)]
                stored = np.array([g.extra["area_m2"] for g in sample])
                assert np.allclose(stored, [area_m2(g.geometry) for g in sample], rtol=1e-12, atol=0)
    finally:
        engine.dispose()
    assert micro == N


def test_one_community_of_the_city_and_neither_flag(db_url: str, city: tuple[Path, list[str]]) -> None:
    path, codes = city
    runner = CliRunner()
    result = runner.invoke(import_cmd, [str(path), "--url", db_url])
    assert result.exit_code != 0 and "--all-communities" in result.output
    result = runner.invoke(import_cmd, [str(path), "--community", codes[1], "--url", db_url])
    assert result.exit_code == 0, result.output
    assert codes[1] in result.output and "试运行" in result.output and result.output.count("来源 ") == 1
