"""``weiwang draft …`` and ``weiwang diff`` end to end on the seeded sample (三根松 version 1 published):
a draft, one split, a refused merge, diff and impact, undo."""

from __future__ import annotations

import json

from click.testing import CliRunner

from api.cli import main
from store import db
from store.grids import load_grids
from store.versions import get_version

C = "510116004001"
G1 = C + "001"
M1, M3 = G1 + "001", G1 + "003"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _split_wkt(url: str) -> str:
    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            g = next(g for g in load_grids(conn, get_version(conn, C).id) if g.code == M1)
    finally:
        engine.dispose()
    x0, y0, x1, y1 = g.geometry.bounds
    mid = (x0 + x1) / 2
    return f"LINESTRING ({mid} {y0 - 0.001}, {mid} {y1 + 0.001})"


def test_draft_split_diff_impact_undo(seeded_url: str) -> None:
    out = run("draft", "new", "--community", C, "--url", seeded_url)
    assert "第 2 版" in out and "错误 0" in out
    line = _split_wkt(seeded_url)
    out = run(
        "draft",
        "split",
        "--community",
        C,
        "--version",
        "2",
        "--grid",
        M1,
        "--line",
        line,
        "--url",
        seeded_url,
    )
    assert "已完成：微网格 510116004001001001 分为 2 块" in out
    assert f"新编码 new codes: {G1}012, {G1}013" in out

    body = json.loads(run("diff", "--community", C, "--json", "--url", seeded_url))
    assert body["summary"] == {"added": 2, "removed": 1, "changed": 0}
    areas = {g["code"]: g for g in body["grids"]}
    assert areas[M1]["change"] == "removed"
    total = areas[G1 + "012"]["area_after_m2"] + areas[G1 + "013"]["area_after_m2"]
    assert abs(total - areas[M1]["area_before_m2"]) <= 1.0

    impact = json.loads(
        run("draft", "impact", "--community", C, "--version", "2", "--json", "--url", seeded_url)
    )
    assert impact["grids_removed"] == [M1] and impact["grids_added"] == [G1 + "012", G1 + "013"]
    assert impact["counts"]["posts"] >= 1  # the 微网格员 of 001001 loses the grid
    assert all(p["grid_code"] == M1 for p in impact["posts"])
    assert impact["counts"]["elements"] >= 1 and impact["counts"]["households_removed"] == 46

    out = run("draft", "undo", "--community", C, "--version", "2", "--url", seeded_url)
    assert "已撤销" in out
    body = json.loads(
        run("diff", "--community", C, "--from", "1", "--to", "2", "--json", "--url", seeded_url)
    )
    assert body["summary"] == {"added": 0, "removed": 0, "changed": 0}


def test_refusals_exit_2_naming_what_would_break(seeded_url: str) -> None:
    run("draft", "new", "--community", C, "--url", seeded_url)
    result = CliRunner().invoke(
        main,
        ["draft", "merge", "--community", C, "--version", "2", "--grids", f"{M1},{M3}", "--url", seeded_url],
    )
    assert result.exit_code == 2
    assert "不相邻" in result.output and "not adjacent" in result.output
    result = CliRunner().invoke(
        main,
        [
            "draft",
            "split",
            "--community",
            C,
            "--version",
            "2",
            "--grid",
            M1,
            "--line",
            "LINESTRING (1",
            "--url",
            seeded_url,
        ],
    )
    assert result.exit_code == 2 and "line 不是有效的 WKT" in result.output
    result = CliRunner().invoke(
        main,
        [
            "draft",
            "rename",
            "--community",
            C,
            "--version",
            "1",
            "--grid",
            M1,
            "--name",
            "x",
            "--url",
            seeded_url,
        ],
    )
    assert result.exit_code == 2 and "只能修改草稿" in result.output


def test_bands_show_set_reset(seeded_url: str) -> None:
    assert "微网格：30–100 户" in run("draft", "bands", "--community", C, "--url", seeded_url)
    out = run(
        "draft", "bands", "--community", C, "--micro", "40-90", "--general", "300-1200", "--url", seeded_url
    )
    assert "微网格：40–90 户" in out and "一般网格：300–1200 户" in out
    body = json.loads(run("draft", "new", "--community", C, "--json", "--url", seeded_url))
    assert body["balance"]["band"] == [40, 90]
    assert "一般网格：不检查" in run("draft", "bands", "--community", C, "--reset", "--url", seeded_url)
    bad = CliRunner().invoke(
        main, ["draft", "bands", "--community", C, "--micro", "90-40", "--url", seeded_url]
    )
    assert bad.exit_code == 2 and "户数范围无效" in bad.output
    huge = CliRunner().invoke(
        main, ["draft", "bands", "--community", C, "--micro", f"1-{2**70}", "--url", seeded_url]
    )
    assert huge.exit_code == 2 and "户数范围无效" in huge.output
