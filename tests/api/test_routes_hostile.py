"""Hostile request bodies and uploads over HTTP: a named 4xx in zh-CN and English, never a 500, a
stack trace, SQL or a server path, and stored data byte-identical afterwards (both databases)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_routes_incidents import MICRO, inside_point
from tests.api.test_routes_layers import WY, upload, wayao_geojson
from tests.api_fixtures import Api, Clock
from tests.store.files.test_hostile_files import HOSTILE
from tests.store.store_fixtures import snapshot

GOOD = {"category": "群众诉求", "description": "路灯不亮", "crs": "wgs84"}
LEAKS = ("Traceback", "SELECT ", "sqlite3", "psycopg", "/tmp/", "/work/", 'File "')


def stored(api: Api) -> dict[str, Any]:
    """Every stored row, after the logins the test makes (a login is recorded)."""
    for user in ("dispatcher", "planner"):
        api.token(user)
    return snapshot(api.client.app.state.service.engine)


def assert_refused(r: Any, field: str, statuses: tuple[int, ...] = (400, 413, 415, 422)) -> dict[str, Any]:
    """A 4xx whose error names ``field`` in zh and en and leaks no internals."""
    assert r.status_code in statuses, r.text
    err = r.json()["error"]
    assert err["message_zh"] and err["message_en"]
    assert any("\u4e00" <= c <= "\u9fff" for c in err["message_zh"])
    named = json.dumps(err, ensure_ascii=False)
    assert field in named, named
    for leak in LEAKS:
        assert leak not in r.text, r.text
    return err


def post_raw(api: Api, raw: str | bytes) -> Any:
    return api.client.post(
        "/api/v1/incidents",
        content=raw,
        headers={**api.as_("dispatcher"), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("path", ["%00", "a%00b", "%01", "x%7f"])
def test_control_characters_in_an_incident_id_are_not_found(api: Api, path: str) -> None:
    for suffix in ("", "/events"):
        r = api.get(f"/api/v1/incidents/{path}{suffix}")
        assert r.status_code in (404, 422), r.text
        assert r.json()["error"]["message_zh"]
    before = stored(api)
    r = api.post(f"/api/v1/incidents/{path}/actions", json={"action": "void", "reason": "x"})
    assert r.status_code in (404, 422), r.text
    assert stored(api) == before


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"reported_at": "EPOCH"}, "reported_at"),
        ({"reported_at": "EPOCH.5"}, "reported_at"),
        ({"lat": True}, "lat"),
        ({"lon": False}, "lon"),
        ({"lat": "30.6"}, "lat"),
        ({"crs": "GCJ02 "}, "crs"),
        ({"crs": " wgs84"}, "crs"),
        ({"crs": "wgs84\n"}, "crs"),
        ({"description": "路灯\u0000不亮"}, "description"),
        ({"address": "一\u0007号"}, "address"),
        ({"urgent": 1}, "urgent"),
    ],
)
def test_loose_values_are_refused_by_name(api: Api, clock: Clock, patch: dict, field: str) -> None:
    lon, lat = inside_point(api, MICRO)
    if str(patch.get("reported_at", "")).startswith("EPOCH"):  # an hour ago, as a number: not a date
        epoch = clock().timestamp() - 3600
        patch = {"reported_at": int(epoch) if patch["reported_at"] == "EPOCH" else epoch + 0.5}
    before = stored(api)
    r = api.post("/api/v1/incidents", json={"lon": lon, "lat": lat, **GOOD, **patch})
    assert assert_refused(r, field, (422,))["code"] == "invalid_input"
    assert stored(api) == before
    iso = api.post("/api/v1/incidents", json={"lon": lon, "lat": lat, **GOOD})
    assert iso.status_code in (200, 201), iso.text  # the same body without the bad value is taken


def test_iso_strings_null_and_spaced_crs_names_are_taken(api: Api, clock: Clock) -> None:
    lon, lat = inside_point(api, MICRO)
    an_hour_ago = clock().timestamp() - 3600
    iso = datetime.fromtimestamp(an_hour_ago, UTC).isoformat()
    for value in (None, iso):
        r = api.post("/api/v1/incidents", json={"lon": lon, "lat": lat, **GOOD, "reported_at": value})
        assert r.status_code in (200, 201), r.text
    r = api.post("/api/v1/incidents", json={"lon": lon, "lat": lat, **GOOD, "crs": "WGS 84"})
    assert r.status_code in (200, 201), r.text  # a name with an inner space is still a name


def test_a_5000_digit_latitude_is_named(api: Api) -> None:
    lon, _ = inside_point(api, MICRO)
    before = stored(api)
    raw = f'{{"lon": {lon!r}, "lat": {"3" * 5000}, "category": "群众诉求", "description": "x"}}'
    err = assert_refused(post_raw(api, raw.encode()), "lat", (413, 422))
    assert "4300" in err["message_en"] or "digits" in err["message_en"]
    raw = f'{{"lon": {lon!r}, "lat": 3.{"0" * 5000}, "category": "群众诉求", "description": "x"}}'
    r = post_raw(api, raw.encode())
    assert r.status_code == 422, r.text  # 3.000… = latitude 3: outside every grid of Chengdu
    assert stored(api) == before


def test_a_bare_infinity_in_a_body_is_refused(api: Api) -> None:
    before = stored(api)
    r = post_raw(api, '{"lon": Infinity, "lat": 30.6, "category": "群众诉求", "description": "x"}')
    assert_refused(r, "lon", (422,))
    assert stored(api) == before


def test_a_10000_character_filename_is_named(api: Api) -> None:
    before = stored(api)
    for n in (1_000, 10_000):  # read by our route, and refused by the form parser first
        r = upload(api, wayao_geojson(), name="a" * n + ".geojson", commit="true")
        err = assert_refused(r, "file", (400, 413, 422))
        assert "255" in err["message_en"]
    boundary = "hostile-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="commit"\r\n\r\ntrue\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="wy\x01.geojson"\r\n'
            "Content-Type: application/geo+json\r\n\r\n"
        ).encode()
        + wayao_geojson()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = api.client.post(
        f"/api/v1/communities/{WY}/drafts",
        content=body,
        headers={**api.as_("planner"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_refused(r, "file", (400, 422))
    assert stored(api) == before


def test_upload_crs_must_match_exactly(api: Api) -> None:
    before = stored(api)
    r = upload(api, wayao_geojson(), crs="GCJ02 ", commit="true")
    assert_refused(r, "crs", (422,))
    assert stored(api) == before
    assert upload(api, wayao_geojson(), crs="wgs84").status_code == 200


def _wayao_kml_gbk() -> bytes:
    """Wayao's layer as a KML declaring GBK (as some Chinese desktop tools write it)."""
    from xml.sax.saxutils import escape

    marks = []
    for f in json.loads(wayao_geojson())["features"]:
        p = f["properties"]
        data = "".join(
            f'<Data name="{k}"><value>{escape(str(p[k]))}</value></Data>'
            for k in ("code", "level", "parent_code", "kind", "households")
            if p.get(k) is not None
        )
        rings = f["geometry"]["coordinates"]
        outer = " ".join(f"{x},{y}" for x, y in rings[0])
        inner = "".join(
            "<innerBoundaryIs><LinearRing><coordinates>"
            + " ".join(f"{x},{y}" for x, y in r)
            + "</coordinates></LinearRing></innerBoundaryIs>"
            for r in rings[1:]
        )
        marks.append(
            f"<Placemark><name>{escape(p['name'])}</name><ExtendedData>{data}</ExtendedData><Polygon>"
            f"<outerBoundaryIs><LinearRing><coordinates>{outer}</coordinates></LinearRing></outerBoundaryIs>"
            f"{inner}</Polygon></Placemark>"
        )
    doc = (
        '<?xml version="1.0" encoding="GBK"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        + "".join(marks)
        + "</Document></kml>"
    )
    return doc.encode("gb18030")


def test_a_gbk_kml_upload_is_decoded_by_us(api: Api) -> None:
    """A KML declaring GBK (GDAL: "multi-byte encodings are not supported", a 500) is decoded by us:
    committed as a draft whose Chinese names are exactly the file's."""
    data = _wayao_kml_gbk()
    assert "瓦窑村".encode("gb18030") in data and "瓦窑村".encode() not in data
    r = upload(api, data, name="瓦窑村.kml", commit="true")
    assert r.status_code == 200, r.text
    number = r.json()["version_number"]
    assert r.json()["committed"] is True and r.json()["grids_by_level"]["micro"] == 21
    got = api.get(f"/api/v1/communities/{WY}/grids?version={number}").json()["features"]
    want = {f["properties"]["code"]: f["properties"]["name"] for f in json.loads(wayao_geojson())["features"]}
    assert {f["properties"]["code"]: f["properties"]["name"] for f in got} == want


# (A control character such as %09 never reaches the route: any URL holding one is a 422 first.)
@pytest.mark.parametrize("raw", ["GCJ02%20", "%20wgs84", "EPSG:4544+", "%E3%80%80gcj02"])
def test_locate_crs_must_match_exactly(api: Api, raw: str) -> None:
    """``/api/v1/locate`` (the lean route parses its own query) refuses a CRS label with surrounding
    spaces or control characters, naming the label, instead of trimming it."""
    lon, lat = inside_point(api, MICRO)
    r = api.get(f"/api/v1/locate?lon={lon}&lat={lat}&crs={raw}")
    err = assert_refused(r, "crs", (422,))
    assert err["code"] in ("unknown_crs", "invalid_input")
    assert err["code"] == "invalid_input" or "完全一致" in err["message_zh"]
    ok = api.get(f"/api/v1/locate?lon={lon}&lat={lat}&crs=wgs84")
    assert ok.status_code == 200 and MICRO in ok.text, ok.text


@pytest.mark.parametrize("param", ["crs", "bbox-crs"])
@pytest.mark.parametrize("raw", ["EPSG:4326%20", "%20EPSG:4544", "CRS84+"])
def test_ogc_crs_must_match_exactly(api: Api, param: str, raw: str) -> None:
    """OGC API – Features: a CRS with surrounding spaces is a 400 naming the parameter, not trimmed."""
    items = "/ogc/collections/510116004001-micro/items"
    bbox = "&bbox=104.0,30.5,104.2,30.7" if param == "bbox-crs" else ""
    r = api.get(f"{items}?{param}={raw}{bbox}")
    err = assert_refused(r, param, (400,))
    assert err["field"] == param
    good = api.get(f"{items}?{param}={raw.replace('%20', '').replace('+', '')}{bbox}")
    assert good.status_code == 200 or good.json()["error"]["field"] != param, good.text


@pytest.mark.parametrize("code", ["%00", "51011600400%002", "x" * 40])
def test_control_characters_in_a_community_code_are_refused(api: Api, code: str) -> None:
    before = stored(api)
    r = api.post(
        f"/api/v1/communities/{code}/drafts", "planner", files={"file": ("wy.geojson", wayao_geojson())}
    )
    assert r.status_code in (404, 422), r.text
    r = api.post(f"/api/v1/communities/{code}/versions/1/publish", "planner")
    assert r.status_code in (404, 422), r.text
    assert stored(api) == before


def test_hostile_uploads_are_named_4xx_and_change_nothing(api: Api, tmp_path: Path) -> None:
    """Every hostile file of :data:`HOSTILE` uploaded with commit (one app, to keep the test short)."""
    before = stored(api)
    for case, (build, _, needle) in sorted(HOSTILE.items()):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        path = build(folder)
        r = upload(api, path.read_bytes(), name=path.name, commit="true")
        err = assert_refused(r, needle)
        assert err["code"] != "internal", case
    assert stored(api) == before
