"""Planners upload a layer over HTTP as a draft, see its validation, publish it; bad or hostile
files get a 4xx and leave every stored version as it was."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.api_fixtures import Api

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "grids.geojson"
WY = "510116004002"


def wayao_geojson(rename: str | None = None) -> bytes:
    fc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    fc["features"] = [f for f in fc["features"] if f["properties"]["community_code"] == WY]
    if rename:
        for f in fc["features"]:
            if f["properties"]["level"] == "micro":
                f["properties"]["name"] = rename
                break
    return json.dumps(fc, ensure_ascii=False).encode()


def versions(api: Api) -> list[dict]:
    return api.get(f"/api/v1/communities/{WY}/versions").json()["items"]


def upload(api: Api, data: bytes, name: str = "wy.geojson", user: str = "planner", **form: str):
    return api.post(f"/api/v1/communities/{WY}/drafts", user, files={"file": (name, data)}, data=form)


def test_dry_run_then_commit_then_publish(api: Api) -> None:
    before = versions(api)
    r = upload(api, wayao_geojson("新名字微网格"))
    assert r.status_code == 200, r.text
    assert r.json()["committed"] is False and r.json()["grids_by_level"]["micro"] == 21
    assert versions(api) == before
    r = upload(api, wayao_geojson("新名字微网格"), commit="true")
    assert r.json()["committed"] is True and r.json()["version_number"] == 2
    assert {v["number"]: v["state"] for v in versions(api)} == {1: "published", 2: "draft"}
    r = api.post(f"/api/v1/communities/{WY}/versions/2/publish", "planner")
    assert r.status_code == 200, r.text
    names = {f["properties"]["name"] for f in api.get(f"/api/v1/communities/{WY}/grids").json()["features"]}
    assert "新名字微网格" in names


def test_only_planners_upload(api: Api) -> None:
    assert upload(api, wayao_geojson(), user="dispatcher").status_code == 403
    assert upload(api, wayao_geojson(), user="viewer").status_code == 403


def test_bad_and_hostile_files_change_nothing(api: Api) -> None:
    before = versions(api)
    assert upload(api, b"{not json", commit="true").status_code in (400, 422)
    assert upload(api, b"hello", name="x.exe", commit="true").status_code == 422
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil.shp", b"x")
    r = upload(api, buf.getvalue(), name="evil.zip", commit="true")
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"] == "unsafe_archive"
    kml = b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml>&x;</kml>'
    assert 400 <= upload(api, kml, name="x.kml", commit="true").status_code < 500
    assert versions(api) == before


def test_upload_size_limit(api: Api) -> None:
    api.client.app.state.service.settings.max_upload_bytes = 1000
    r = upload(api, b" " * 5000 + wayao_geojson(), commit="true")
    assert r.status_code == 422 and r.json()["error"]["field"] == "file"


def test_feature_limit_is_a_setting(api: Api) -> None:
    """WEIWANG_MAX_FEATURES bounds an upload: Wayao's layer has 31 features (1 + 9 + 21)."""
    settings = api.client.app.state.service.settings
    before = versions(api)
    settings.max_features = 30
    r = upload(api, wayao_geojson(), commit="true")
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["field"] == "max_features"
    assert "max_features" in err["message_zh"] and "要素数" in err["message_zh"]
    assert err["detail"] == {"limit": "max_features", "value": 31, "maximum": 30}
    assert versions(api) == before
    settings.max_features = 31  # equal passes
    r = upload(api, wayao_geojson())
    assert r.status_code == 200, r.text
    assert r.json()["grids_by_level"]["micro"] == 21
