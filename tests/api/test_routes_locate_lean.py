"""The lean ``GET /api/v1/locate`` answers exactly what the plain FastAPI route answered: the same
JSON as :func:`api.ops.locating.locate_point` for good points, the same statuses and bodies for bad
input (checked against a reference app declaring the route the FastAPI way, on the same service),
and its remembered tokens still expire and still lose a disabled account."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.http import errors
from api.http.deps import current_user, service_of
from api.http.lean import answer
from api.ops.access import User
from api.ops.locating import locate_point
from api.ops.tokens import issue_token
from geo.crs import from_wgs84
from store import db
from store.models import users
from tests.api_fixtures import Api

SGS = "510116004001"


def reference_app(service: object) -> FastAPI:
    """The route as it was declared before the lean path: FastAPI query validation, dependency."""
    ref = FastAPI()
    ref.state.service = service
    errors.install(ref)

    @ref.get("/api/v1/locate")
    def locate_one(
        request: Request,
        lon: Annotated[float, Query(allow_inf_nan=False)],
        lat: Annotated[float, Query(allow_inf_nan=False)],
        crs: Annotated[str, Query(max_length=64)] = "wgs84",
        _user: User = Depends(current_user),
    ) -> dict:
        return locate_point(service_of(request), lon, lat, crs)

    return ref


def points(api: Api) -> list[dict[str, object]]:
    """Inside, on a shared vertex, just outside (snapped), far outside, GCJ-02, BD-09, projected."""
    view = api.client.app.state.service.layers.current()
    micro = [g for g in view.hierarchy.micro if g.community_code == SGS]
    inner = micro[0].geometry.representative_point()
    vx, vy = micro[0].geometry.exterior.coords[1]
    _, miny, maxx, maxy = view.hierarchy.get(SGS).geometry.bounds
    glon, glat = from_wgs84(inner.x, inner.y, "gcj02")
    blon, blat = from_wgs84(inner.x, inner.y, "bd09")
    px, py = from_wgs84(inner.x, inner.y, "EPSG:4544")
    return [
        {"lon": inner.x, "lat": inner.y},
        {"lon": vx, "lat": vy},
        {"lon": maxx + 0.0001, "lat": (miny + maxy) / 2},
        {"lon": maxx + 0.05, "lat": maxy + 0.05},
        {"lon": float(glon), "lat": float(glat), "crs": "gcj02"},
        {"lon": float(blon), "lat": float(blat), "crs": "BD-09"},
        {"lon": float(px), "lat": float(py), "crs": "EPSG:4544"},
        {"lon": 104.08, "lat": 30.41, "crs": "cgcs2000"},
        {"lon": "104.08", "lat": " 30.41 "},  # text the fast path leaves to pydantic
        {"lon": "1.0408e2", "lat": "30.41"},
    ]


def test_plain_requests_take_the_lean_path(api: Api) -> None:
    """Plain requests are answered by :func:`api.http.lean.answer` itself (not handed to the app),
    with the body the app sends; odd ones are handed over (None)."""
    from urllib.parse import urlencode

    service = api.client.app.state.service
    headers = [(b"authorization", api.as_("dispatcher")["Authorization"].encode())]
    api.get("/api/v1/locate", params={"lon": 104.08, "lat": 30.41})  # the token is verified once
    for q in points(api)[:8]:
        qs = "&".join(f"{k}={v!r}" for k, v in q.items()).replace("'", "")
        body = answer(service, {"query_string": qs.encode(), "headers": headers})
        assert body is not None, qs
        assert body == api.get(f"/api/v1/locate?{qs}").content, qs
    for q in BAD[:-1]:  # the last one is plain: an unknown name is ignored
        qs = urlencode(q)
        assert answer(service, {"query_string": qs.encode(), "headers": headers}) is None, qs
    plain = b"lon=104.08&lat=30.41"
    assert answer(service, {"query_string": plain, "headers": []}) is None  # no token: the app says 401
    cookie = [(b"cookie", b"weiwang_token=" + headers[0][1][7:])]
    assert answer(service, {"query_string": plain, "headers": cookie}) is None


def test_answers_equal_locate_point(api: Api) -> None:
    service = api.client.app.state.service
    for q in points(api):
        r = api.get("/api/v1/locate", params=q)
        assert r.status_code == 200, (q, r.text)
        assert r.headers["content-type"] == "application/json"
        lon, lat = float(str(q["lon"])), float(str(q["lat"]))
        want = jsonable_encoder(locate_point(service, lon, lat, str(q.get("crs", "wgs84"))))
        assert r.json() == want, q
    first = api.get("/api/v1/locate", params=points(api)[0]).json()
    assert first["micro_code"] and first["version"]["number"] == 1


BAD = [
    {"lon": 30.41, "lat": 104.08},  # swapped
    {"lon": 104.08, "lat": 30.41, "crs": "mars"},  # unknown CRS
    {"lon": 104.08, "lat": 30.41, "crs": "EPSG:0"},
    {"lon": "nan", "lat": 30.4},
    {"lon": "NaN", "lat": "inf"},
    {"lon": "-Infinity", "lat": 30.4},
    {"lon": "abc", "lat": 30.4},
    {"lon": "", "lat": 30.4},
    {"lat": 30.4},
    {},
    {"lon": 104.08, "lat": 30.41, "crs": "x" * 65},
    {"lon": "1e999", "lat": 30.41},
    {"lon": 200, "lat": 30.41},
    {"lon": 104.08, "lat": 30.41, "crs": "gcj02", "extra": "ignored"},
]


def test_bad_input_gets_the_same_status_and_body(api: Api) -> None:
    ref = TestClient(reference_app(api.client.app.state.service))
    headers = api.as_("dispatcher")
    for q in BAD:
        lean = api.client.get("/api/v1/locate", params=q, headers=headers)
        old = ref.get("/api/v1/locate", params=q, headers=headers)
        assert (lean.status_code, lean.json()) == (old.status_code, old.json()), q
    assert api.client.get("/api/v1/locate", params=BAD[0], headers=headers).status_code == 422
    # repeated parameters: the last one wins, as FastAPI reads them
    qs = "/api/v1/locate?lon=1&lon=104.08&lat=30.41&lat=30.41"
    lean, old = api.client.get(qs, headers=headers), ref.get(qs, headers=headers)
    assert lean.status_code == 200 and lean.json() == old.json()
    # percent-encoded and plus-encoded values
    qs = "/api/v1/locate?lon=%20104.08&lat=30.41&crs=EPSG%3A4326"
    lean, old = api.client.get(qs, headers=headers), ref.get(qs, headers=headers)
    assert lean.status_code == 200 and lean.json() == old.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}],
)
def test_unauthenticated_is_refused_alike(api: Api, headers: dict[str, str]) -> None:
    ref = TestClient(reference_app(api.client.app.state.service))
    q = {"lon": 104.08, "lat": 30.41}
    lean, old = (
        api.client.get("/api/v1/locate", params=q, headers=headers),
        ref.get("/api/v1/locate", params=q, headers=headers),
    )
    assert lean.status_code == old.status_code == 401
    assert lean.json() == old.json()
    assert lean.headers.get("www-authenticate") == "Bearer"


def test_cookie_works_for_the_get(api: Api) -> None:
    token = api.token("viewer")
    q = {"lon": 104.08, "lat": 30.41}
    r = api.client.get("/api/v1/locate", params=q, headers={"Cookie": f"weiwang_token={token}"})
    assert r.status_code == 200
    r = api.client.get("/api/v1/locate", params=q, headers={"Cookie": "weiwang_token=forged"})
    assert r.status_code == 401


def test_remembered_token_expires_and_disabled_account_is_refused(api: Api) -> None:
    service = api.client.app.state.service
    q = {"lon": 104.08, "lat": 30.41}
    secret = service.settings.secret_key
    uid = api.client.get("/api/v1/auth/me", headers=api.as_("planner")).json()["id"]
    past = issue_token(secret, uid, "planner", 60, now=0)  # expired in 1970
    r = api.client.get("/api/v1/locate", params=q, headers={"Authorization": f"Bearer {past}"})
    assert r.status_code == 401 and r.json()["error"]["message_en"] == "token expired"
    good = {"Authorization": f"Bearer {issue_token(secret, uid, 'planner', 3600)}"}
    assert api.client.get("/api/v1/locate", params=q, headers=good).status_code == 200
    assert api.client.get("/api/v1/locate", params=q, headers=good).status_code == 200  # remembered
    with db.write(service.engine) as conn:
        conn.execute(update(users).where(users.c.id == uid).values(active=False))
    service.forget(("account", uid))
    r = api.client.get("/api/v1/locate", params=q, headers=good)
    assert r.status_code == 401 and "disabled" in r.json()["error"]["message_en"]


def test_openapi_still_describes_the_get(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    get = spec["paths"]["/api/v1/locate"]["get"]
    assert [p["name"] for p in get["parameters"]] == ["lon", "lat", "crs"]
    assert all(p["required"] for p in get["parameters"][:2])
    assert "post" in spec["paths"]["/api/v1/locate"]
