"""``weiwang roster``: import a roster with Chinese headers (dry run, then --commit), assign with
--replace from a date, vacate by person and grid, list on a date and with history, and the log."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from api.cli.roster import roster_cmd

SGS = "510116004001"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(roster_cmd, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _json(url: str, *args: str) -> str:
    out = CliRunner().invoke(roster_cmd, ["list", "--json", "--url", url, *args], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_import_assign_vacate_list_and_log(seeded_url: str, tmp_path: Path) -> None:
    items = json.loads(_json(seeded_url, "--community", SGS, "--on", "2026-06-01"))["items"]
    old = next(p for p in items if p["role"] == "微网格员")
    grid = old["grid_code"]
    roster_csv = tmp_path / "花名册.csv"
    roster_csv.write_text(
        f"人员编号,姓名,岗位,网格编码,开始日期\nP9501,周九,微网格长,{grid},2026-06-01\n", encoding="utf-8-sig"
    )

    assert "试运行" in run("import", roster_csv, "--url", seeded_url)
    assert json.loads(_json(seeded_url, "--person", "P9501", "--history"))["items"] == []
    assert "岗位 新增 1" in run("import", roster_csv, "--commit", "--by", "李主任", "--url", seeded_url)

    out = run(
        "assign",
        "--person",
        "P9502",
        "--name",
        "吴十",
        "--role",
        "微网格员",
        "--grid",
        grid,
        "--start",
        "2026-07-01",
        "--replace",
        "--url",
        seeded_url,
    )
    assert "吴十" in out and "2026-07-01" in out
    june = json.loads(_json(seeded_url, "--grid", grid, "--on", "2026-06-30"))["items"]
    july = json.loads(_json(seeded_url, "--grid", grid, "--on", "2026-07-01"))["items"]
    assert {p["person_id"] for p in june} >= {old["person_id"], "P9501"} and "P9502" not in {
        p["person_id"] for p in june
    }
    assert {p["person_id"] for p in july if p["role"] == "微网格员"} == {"P9502"}

    assert "至 2026-08-01 止" in run(
        "vacate", "--person", "P9502", "--grid", grid, "--end", "2026-08-01", "--url", seeded_url
    )
    assert "未在网格" in run(
        "vacate", "--person", "P9502", "--grid", grid, "--end", "2026-09-01", "--url", seeded_url, code=2
    )
    history = json.loads(_json(seeded_url, "--grid", grid, "--history", "--on", "2026-08-01"))["items"]
    assert [
        (p["person_id"], p["valid_from"], p["valid_to"]) for p in history if p["person_id"] == "P9502"
    ] == [("P9502", "2026-07-01", "2026-08-01")]
    log = [json.loads(line) for line in run("log", "--entity", "post", "--url", seeded_url).splitlines()]
    assert [e["action"] for e in log][:3] == ["post.vacate", "post.assign", "post.vacate"]
    assert any(e["actor"] == "李主任" and e["action"] == "post.assign" for e in log)
    assert "未知岗位" in run(
        "assign", "--person", "P9502", "--role", "王", "--grid", grid, "--url", seeded_url, code=2
    )


def test_a_roster_before_the_first_layer_does_not_name_the_community(db_url: str, tmp_path: Path) -> None:
    """A new site may load its roster first: the posts are kept by grid code, and the community
    takes its name from the layer uploaded later."""
    from api.ops import layers
    from api.ops.service import open_service
    from store import db
    from store.versions import list_communities
    from tests.conftest import SAMPLE_DIR

    grid = f"{SGS}001001"
    roster_csv = tmp_path / "r.csv"
    roster_csv.write_text(
        f"人员编号,姓名,岗位,网格编码,开始日期\nP1,甲,微网格员,{grid},2026-01-01\n", encoding="utf-8"
    )
    assert "岗位 新增 1" in run("import", roster_csv, "--commit", "--url", db_url)

    fc = json.loads((SAMPLE_DIR / "grids.geojson").read_text(encoding="utf-8"))
    fc["features"] = [f for f in fc["features"] if f["properties"]["community_code"] == SGS]
    layer = tmp_path / "sgs.geojson"
    layer.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    with open_service(url=db_url) as service:
        result = layers.import_file(service, layer, SGS, commit=True)
        layers.publish(service, SGS, result.version_number)
        with db.read(service.engine) as conn:
            assert [(c["code"], c["name"]) for c in list_communities(conn)] == [(SGS, "三根松社区")]
    items = json.loads(_json(db_url, "--community", SGS, "--on", "2026-06-01"))["items"]
    assert [(p["person_id"], p["grid_code"]) for p in items] == [("P1", grid)]
