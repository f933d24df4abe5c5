"""Incident export: ``GET /api/v1/incidents/export`` and ``weiwang incidents export`` give the same
incidents as CSV (UTF-8 with BOM, Chinese headers, Beijing times, formula cells defused) or GeoJSON,
filtered by period and community, under the API's visibility and masking."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from api.cli.incidents import incidents_cmd
from tests.api.test_routes_incidents import MICRO, inside_point, micro_worker, report
from tests.api_fixtures import Api

URL = "/api/v1/incidents/export"
OTHER = "510116004001001001"  # another micro-grid of 三根松
WAYAO = "510116004002001001"  # a micro-grid of 瓦窑村


def _csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _seed(api: Api) -> dict[str, str]:
    """Four incidents on three days in two communities; returns name → id."""
    made = {
        "oct20": report(
            api,
            *inside_point(api, MICRO),
            reported_at="2026-10-20T09:30:00",
            description="=HYPERLINK(1)",
            reporter={"name": "王女士", "phone": "13912345678"},
        ),
        "nov01": report(api, *inside_point(api, MICRO), reported_at="2026-11-01T23:59:00"),
        "other": report(api, *inside_point(api, OTHER), reported_at="2026-11-01T08:00:00"),
        "wayao": report(api, *inside_point(api, WAYAO), reported_at="2026-11-02T08:00:00"),
    }
    for r in made.values():
        assert r.status_code == 201, r.text
    return {k: r.json()["id"] for k, r in made.items()}


def test_csv_and_geojson_with_period_community_and_access(api: Api) -> None:
    ids = _seed(api)
    r = api.get(URL, params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv(r.content)
    assert {row["事件编号"] for row in rows} == set(ids.values())
    first = next(row for row in rows if row["事件编号"] == ids["oct20"])
    assert first["上报时间"] == "2026-10-20 09:30:00"  # Beijing time, as entered
    assert first["微网格编码"] == MICRO and first["社区"] == "三根松社区" and first["事件类别"] == "安全隐患"
    assert first["事件描述"] == "'=HYPERLINK(1)"  # not run as a formula by Excel
    assert first["反映人电话"] == "13912345678" and first["紧急"] == "否"

    # period: dates are Beijing dates and "to" includes its whole day
    r = api.get(URL, params={"format": "csv", "from": "2026-10-21", "to": "2026-11-01"})
    assert {row["事件编号"] for row in _csv(r.content)} == {ids["nov01"], ids["other"]}
    r = api.get(URL, params={"format": "geojson", "from": "2026-11-01", "community": "510116004001"})
    body = r.json()
    assert r.headers["content-type"].startswith("application/geo+json")
    assert {f["id"] for f in body["features"]} == {ids["nov01"], ids["other"]}
    assert all(f["geometry"]["type"] == "Point" for f in body["features"])
    assert body["features"][0]["properties"]["community_name"] == "三根松社区"

    # visibility and masking are the API's
    worker = micro_worker(api, MICRO)
    mine = {row["事件编号"] for row in _csv(api.get(URL, worker).content)}
    assert mine == {ids["oct20"], ids["nov01"]}
    masked = next(row for row in _csv(api.get(URL, "viewer").content) if row["事件编号"] == ids["oct20"])
    assert masked["反映人电话"] == "139****5678" and "****" in masked["承办人电话"]

    # bad input names the field; no token is 401; "export" is not taken for an incident id
    assert api.get(URL, params={"format": "xlsx"}).json()["error"]["field"] == "format"
    assert api.get(URL, params={"from": "last week"}).json()["error"]["field"] == "from"
    assert api.get(URL, params={"from": "2026-11-02", "to": "2026-11-01"}).status_code == 422
    assert api.client.get(URL).status_code == 401


def test_cli_exports_what_the_api_exports(api: Api, seeded_url: str, tmp_path: Path) -> None:
    ids = _seed(api)
    worker = micro_worker(api, MICRO)
    out = tmp_path / "mine.csv"
    args = ["export", "--as", worker, "--url", seeded_url, "--from", "2026-10-01", "-o", str(out)]
    result = CliRunner().invoke(incidents_cmd, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    via_api = _csv(api.get(URL, worker, params={"from": "2026-10-01"}).content)

    def timeless(rows: list[dict[str, str]]) -> list[dict[str, str]]:  # 超期 depends on each clock
        return [{k: v for k, v in row.items() if k != "超期"} for row in rows]

    assert timeless(_csv(out.read_bytes())) == timeless(via_api)
    assert {row["事件编号"] for row in _csv(out.read_bytes())} == {ids["oct20"], ids["nov01"]}
    args = ["export", "--as", "dispatcher", "--url", seeded_url, "--format", "geojson", "--to", "2026-10-31"]
    result = CliRunner().invoke(incidents_cmd, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [f["id"] for f in json.loads(result.stdout_bytes)["features"]] == [ids["oct20"]]
    result = CliRunner().invoke(incidents_cmd, ["export", "--as", "nobody", "--url", seeded_url])
    assert result.exit_code == 2 and "账号不存在" in result.output
