"""Planners redraw a draft over HTTP: new draft, split, a refused merge, diff, impact, undo; the grids
route shows each change at once (no stale layer cache); bad input is a 4xx naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api_fixtures import Api

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "grids.geojson"
C = "510116004001"
G1 = C + "001"
M1, M2, M3 = G1 + "001", G1 + "002", G1 + "003"
BASE = f"/api/v1/communities/{C}"


def split_wkt() -> str:
    fc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    (f,) = [f for f in fc["features"] if f["properties"]["code"] == M1]
    xs = [p[0] for p in f["geometry"]["coordinates"][0]]
    ys = [p[1] for p in f["geometry"]["coordinates"][0]]
    mid = (min(xs) + max(xs)) / 2
    return f"LINESTRING ({mid} {min(ys) - 0.001}, {mid} {max(ys) + 0.001})"


def codes(api: Api, version: int) -> set[str]:
    r = api.get(f"{BASE}/grids?version={version}&level=micro", "planner")
    assert r.status_code == 200, r.text
    return {f["properties"]["code"] for f in r.json()["features"]}


def test_new_split_diff_impact_undo(api: Api) -> None:
    r = api.post(f"{BASE}/drafts/new", "planner", json={"note": "拆分试验"})
    assert r.status_code == 200, r.text
    assert r.json()["draft"]["number"] == 2 and r.json()["grids_by_level"]["micro"] == 83
    assert M1 in codes(api, 2)

    r = api.post(f"{BASE}/drafts/2/split", "planner", json={"grid": M1, "line": split_wkt()})
    assert r.status_code == 200, r.text
    op = r.json()["operation"]
    assert op["added"] == [G1 + "012", G1 + "013"] and op["removed"] == [M1] and op["author"] == "planner"
    assert r.json()["draft"]["validation"]["errors"] == 0
    assert {G1 + "012", G1 + "013"} <= codes(api, 2) and M1 not in codes(api, 2)
    assert M1 in codes(api, 1)  # the published version is untouched

    r = api.get(f"{BASE}/diff?from=1&to=2", "planner")
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == {"added": 2, "removed": 1, "changed": 0}

    r = api.get(f"{BASE}/drafts/2/impact", "planner")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grids_removed"] == [M1] and body["counts"]["households_removed"] == 46
    assert {p["grid_code"] for p in body["posts"]} == {M1}

    r = api.get(f"{BASE}/drafts/2", "planner")
    assert [o["operation"] for o in r.json()["operations"]] == ["split"]

    r = api.post(f"{BASE}/drafts/2/undo", "planner")
    assert r.status_code == 200, r.text
    assert r.json()["undone"]["seq"] == 1
    assert M1 in codes(api, 2) and G1 + "012" not in codes(api, 2)
    r = api.get(f"{BASE}/drafts", "planner")
    assert [d["number"] for d in r.json()] == [2]


def test_refusals_and_bad_input_are_4xx_naming_the_field(api: Api) -> None:
    assert api.post(f"{BASE}/drafts/new", "planner").status_code == 200
    r = api.post(f"{BASE}/drafts/2/merge", "planner", json={"grids": [M1, M3]})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "redraw_refused" and "不相邻" in err["message_zh"]
    assert err["detail"] == {"not_adjacent": [M3]}

    r = api.post(f"{BASE}/drafts/2/split", "planner", json={"grid": M1, "line": "LINESTRING (1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "line"
    r = api.post(
        f"{BASE}/drafts/2/split",
        "planner",
        json={"grid": M1, "line": "LINESTRING (500 1, 501 2)"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("line")
    r = api.post(
        f"{BASE}/drafts/2/split",
        "planner",
        json={"grid": M1, "line": split_wkt(), "crs": "nope"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_crs"
    r = api.post(f"{BASE}/drafts/2/rename", "planner", json={"grid": M1, "name": "x", "extra": 1})
    assert r.status_code == 422
    r = api.post(f"{BASE}/drafts/1/rename", "planner", json={"grid": M1, "name": "新名"})
    assert r.status_code == 409 and "只能修改草稿" in r.json()["error"]["message_zh"]
    r = api.post(f"{BASE}/drafts/2/undo", "planner")
    assert r.status_code == 409
    r = api.post(f"{BASE}/drafts/2/fix", "planner")  # the sample is clean: nothing to fix
    assert r.status_code == 422 and r.json()["error"]["code"] == "redraw_refused"
    r = api.post(f"{BASE}/drafts/2/merge", "viewer", json={"grids": [M1, M2]})
    assert r.status_code == 403


def test_planner_page_is_for_planners_and_offline(api: Api) -> None:
    r = api.get(f"/maps/plan/{C}", "planner")
    assert r.status_code == 200 and "规划编辑" in r.text and "由现行版本新建草稿" in r.text
    assert "https://" not in r.text.replace("https://leafletjs.com", "")
    r = api.client.get(f"/maps/plan/{C}", headers={**api.as_("viewer"), "Accept": "text/html"})
    assert r.status_code == 403
    r = api.client.get(f"/maps/plan/{C}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/maps/login")


def test_household_bands_over_http(api: Api) -> None:
    assert api.get(f"{BASE}/household-bands", "planner").json() == {"micro": [30, 100]}
    r = api.client.put(f"{BASE}/household-bands", headers=api.as_("planner"), json={"micro": [40, 90]})
    assert r.status_code == 200 and r.json() == {"micro": [40, 90]}
    r = api.client.put(f"{BASE}/household-bands", headers=api.as_("planner"), json={"micro": [90, 40]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "micro"
    r = api.client.put(f"{BASE}/household-bands", headers=api.as_("planner"), json={"micro": [0, 2**63]})
    assert r.status_code == 422
    r = api.client.put(
        "/api/v1/communities/510116004999/household-bands", headers=api.as_("planner"), json={}
    )
    assert r.status_code == 404
    r = api.client.put(f"{BASE}/household-bands", headers=api.as_("viewer"), json={"reset": True})
    assert r.status_code == 403
