"""The ``weiwang`` CLI on the sample data: locate (one point, bulk CSV), validate exit codes, grids.

``locate`` and ``grids`` answer from the database's published versions (``--url``, a seeded database
here) and from a file only with ``--layer``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import shape

from api.cli import main
from geo.crs import from_wgs84

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "boundaries"


def micro_grids() -> dict[str, object]:
    fc = json.loads((SAMPLE / "grids.geojson").read_text(encoding="utf-8"))
    return {
        f["properties"]["code"]: shape(f["geometry"])
        for f in fc["features"]
        if f["properties"]["level"] == "micro"
    }


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_locate_one_gcj02_point(seeded_url: str) -> None:
    code, geom = next(iter(sorted(micro_grids().items())))
    p = geom.representative_point()
    glon, glat = from_wgs84(p.x, p.y, "gcj02")
    rc, out = run("locate", "--lon", str(glon), "--lat", str(glat), "--crs", "gcj02", "--url", seeded_url)
    assert rc == 0, out
    ans = json.loads(out)
    assert ans["micro_code"] == code
    assert ans["general_code"] == code[:15] and ans["community_code"] == code[:12]
    assert ans["on_boundary"] is False and ans["snapped"] is False
    assert ans["version"]["number"] == 1 and ans["version"]["state"] == "published"


def test_locate_with_layer_names_the_file() -> None:
    code, geom = next(iter(sorted(micro_grids().items())))
    p = geom.representative_point()
    rc, out = run("locate", "--lon", str(p.x), "--lat", str(p.y), "--layer", str(SAMPLE))
    assert rc == 0, out
    ans = json.loads(out)
    assert ans["micro_code"] == code and ans["version"]["file"] == str(SAMPLE)


def test_locate_refuses_swapped_and_unknown_crs() -> None:
    rc, out = run("locate", "--lon", "30.41", "--lat", "104.08", "--layer", str(SAMPLE))
    assert rc == 2 and "颠倒" in out
    rc, out = run("locate", "--lon", "104.08", "--lat", "30.41", "--crs", "EPSG:0", "--layer", str(SAMPLE))
    assert rc == 2 and "坐标系" in out


def test_bulk_csv_agrees_with_shapely_covers(tmp_path: Path, seeded_url: str) -> None:
    grids = micro_grids()
    codes = sorted(grids)
    minx, miny, maxx, maxy = shapely.total_bounds(list(grids.values()))
    rng = np.random.default_rng(7)
    n = 5000
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    src = pd.DataFrame({"id": range(n), "经度": lon.astype(str), "纬度": lat})
    src.loc[3, "经度"] = "abc"
    src.to_csv(tmp_path / "in.csv", index=False)
    rc, out = run(
        "locate", "--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"), "--url", seeded_url
    )
    assert rc == 0, out
    res = pd.read_csv(tmp_path / "out.csv", dtype={"micro_code": str})
    assert len(res) == n
    assert isinstance(res.loc[3, "error"], str)
    assert set(res.loc[res["micro_code"].notna(), "layer_version"]) == {1}
    polys = [grids[c] for c in codes]
    for i in range(0, n, 7):
        if i == 3:
            continue
        pt = shapely.Point(lon[i], lat[i])
        covering = [c for c, g in zip(codes, polys, strict=True) if g.covers(pt)]
        got = res.loc[i, "micro_code"]
        if len(covering) == 1:
            assert got == covering[0]
        elif not covering:
            assert pd.isna(got) or bool(res.loc[i, "snapped"])


def test_validate_exit_codes(tmp_path: Path) -> None:
    rc, out = run("validate", str(SAMPLE))
    assert rc == 0, out
    assert "校验通过" in out
    # plant a gap: drop one micro-grid from a copy of the sample
    fc = json.loads((SAMPLE / "grids.geojson").read_text(encoding="utf-8"))
    dropped = next(f for f in fc["features"] if f["properties"]["level"] == "micro")
    fc["features"].remove(dropped)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "grids.geojson").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    rc, out = run("validate", str(bad), "--json")
    assert rc == 1
    findings = json.loads(out)["findings"]
    assert any(f["code"] == "gap" and dropped["properties"]["parent_code"] in f["grids"] for f in findings)
    (tmp_path / "junk.geojson").write_text("{not json", encoding="utf-8")
    rc, _ = run("validate", str(tmp_path / "junk.geojson"))
    assert rc == 2


def test_validate_feature_limit_setting_and_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate reads a file under the same limits as import: 121 features over WEIWANG_MAX_FEATURES=120
    exit 2 naming max_features; --max-features 121 admits the file."""
    monkeypatch.setenv("WEIWANG_MAX_FEATURES", "120")
    rc, out = run("validate", str(SAMPLE / "grids.geojson"))
    assert rc == 2 and "max_features" in out and "要素数" in out and "121 > 120" in out, out
    rc, out = run("validate", str(SAMPLE / "grids.geojson"), "--max-features", "121")
    assert rc in (0, 1) and "121 个网格" in out, out


@pytest.mark.parametrize("source", ["database", "layer"])
def test_grids_summary_counts(source: str, seeded_url: str) -> None:
    where = ["--url", seeded_url] if source == "database" else ["--layer", str(SAMPLE)]
    rc, out = run("grids", "--json", *where)
    assert rc == 0, out
    rows = {r["community_name"]: r for r in json.loads(out)}
    assert (rows["三根松社区"]["general"], rows["三根松社区"]["micro"]) == (6, 83)
    assert (rows["瓦窑村"]["general"], rows["瓦窑村"]["micro"]) == (9, 21)
    assert rows["瓦窑村"]["general_kind"] == "专属网格"
    assert 2.0 < rows["三根松社区"]["area_km2"] < 4.0


def test_console_script_is_installed() -> None:
    """The ``weiwang`` script next to this interpreter runs (whatever the current directory)."""
    script = Path(sys.executable).parent / "weiwang"
    assert script.is_file()
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0 and "serve" in out.stdout, out.stderr[-2000:]
