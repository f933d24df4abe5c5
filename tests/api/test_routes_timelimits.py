"""办理时限 per community over HTTP: defaults, who may change them, validation, and the deadline a
later 交办 gets from them (both databases)."""

from __future__ import annotations

from datetime import datetime

from tests.api.test_routes_incidents import MICRO, inside_point, report
from tests.api_fixtures import Api, Clock

SGS = "510116004001"
URL = f"/api/v1/communities/{SGS}/time-limits"


def _deadline_hours(inc: dict) -> float:
    return (
        datetime.fromisoformat(inc["deadline"]) - datetime.fromisoformat(inc["reported_at"])
    ).total_seconds() / 3600


def test_defaults_until_configured(api: Api) -> None:
    got = api.get(URL, "viewer").json()
    assert got["configured"] == {}
    assert got["hours"]["矛盾纠纷"] == 72 and got["hours"]["应急管理风险隐患"] == 4
    assert got["urgent_hours"] == got["default_urgent_hours"] == 4
    assert api.get("/api/v1/communities/999999999999/time-limits").status_code == 404


def test_only_dispatchers_and_admins_set_them(api: Api) -> None:
    body = {"hours": {"安全隐患": 12}}
    for user in ("viewer", "planner"):
        assert api.client.put(URL, json=body, headers=api.as_(user)).status_code == 403
    assert api.client.put(URL, json=body).status_code == 401
    assert api.get(URL).json()["configured"] == {}


def test_set_limits_give_later_deadlines(api: Api, clock: Clock) -> None:
    r = api.client.put(
        URL,
        json={"hours": {"safety": 12, "矛盾纠纷": 48}, "urgent_hours": 2},
        headers=api.as_("dispatcher"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["configured"] == {"安全隐患": 12, "矛盾纠纷": 48, "urgent": 2}
    assert r.json()["hours"]["安全隐患"] == 12 and r.json()["hours"]["群众诉求"] == 120
    lon, lat = inside_point(api, MICRO)
    safety = report(api, lon, lat).json()
    assert safety["state"] == "已交办" and _deadline_hours(safety) == 12
    urgent = report(api, lon, lat, category="矛盾纠纷", urgent=True).json()
    assert _deadline_hours(urgent) == 2
    # back to the defaults: an empty body; deadlines already set stay
    assert api.client.put(URL, json={}, headers=api.as_("admin")).json()["configured"] == {}
    clock.advance(minutes=1)
    again = report(api, lon, lat).json()
    assert _deadline_hours(again) == 24
    assert api.get(f"/api/v1/incidents/{safety['id']}").json()["deadline"] == safety["deadline"]


def test_bad_limits_are_refused_naming_the_field(api: Api) -> None:
    headers = api.as_("dispatcher")
    cases = [
        ({"hours": {"打架": 5}}, "category"),
        ({"hours": {"安全隐患": 0}}, "hours.安全隐患"),
        ({"hours": {"安全隐患": 1.5}}, "hours.安全隐患"),
        ({"urgent_hours": 100000}, "urgent_hours"),
        ({"hours": {}, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = api.client.put(URL, json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.json())
    assert api.get(URL).json()["configured"] == {}
