"""The privacy table (README "隐私策略", :data:`api.ops.privacy.POLICY`) on every surface that
shows an incident or a handler: the native API (one, list, live feed, my to-do), the CSV and
GeoJSON export, Open311, OGC API – Features, the map pages and the printed PDF — for every role,
on both databases.

Each surface's whole answer is searched as text: a field the policy masks never appears in full, a
field it hides appears neither in full nor masked (the ceiling); and a role the policy lets see a
field does find it, in full or masked as the table says, on the surfaces that carry that field (the
floor, so the test cannot pass on an empty answer)."""

from __future__ import annotations

import subprocess
import urllib.parse

from shapely.geometry import shape

from api.ops.privacy import POLICY, Show, mask_address, mask_name
from dispatch import AppRole
from geo.roles import mask_phone
from tests.api_fixtures import Api

SGS = "510116004001"
NAME, PHONE, ADDRESS = "欧阳小明", "13912345678", "三根松路12号3栋2单元"
ROLES = {
    "admin": AppRole.ADMIN,
    "dispatcher": AppRole.DISPATCHER,
    "planner": AppRole.PLANNER,
    "viewer": AppRole.VIEWER,
    "worker": AppRole.GRID_WORKER,
}
#: surface → the personal fields it carries (the floor is checked for these).
CARRIES: dict[str, set[str]] = {
    "api one": {"resident_name", "resident_phone", "address", "handler_phone"},
    "api list": {"resident_name", "resident_phone", "address", "handler_phone"},
    "export csv": {"resident_name", "resident_phone", "address", "handler_phone"},
    "export geojson": {"resident_name", "resident_phone", "address", "handler_phone"},
    "open311 one": {"address"},
    "ogc item": {"resident_phone", "handler_phone"},
    "dispatch page": {"handler_phone"},
    "print pdf": {"handler_phone"},
}


def _report(api: Api) -> tuple[str, str, str]:
    """A resident's report; returns (incident id, handler person id, handler phone)."""
    feats = api.get(f"/api/v1/communities/{SGS}/grids?level=micro").json()["features"]
    pt = shape(feats[0]["geometry"]).representative_point()
    body = {
        "lon": pt.x,
        "lat": pt.y,
        "category": "群众诉求",
        "description": "路灯不亮",
        "address": ADDRESS,
        "reporter": {"name": NAME, "phone": PHONE},
    }
    r = api.post("/api/v1/incidents", "dispatcher", json=body)
    assert r.status_code == 201, r.text
    one = r.json()
    assignee = one["assignee"]
    assert assignee and assignee["phone"] and "*" not in assignee["phone"], one
    return one["id"], assignee["person_id"], assignee["phone"]


def _surfaces(api: Api, user: str, incident_id: str) -> dict[str, str | None]:
    """Each surface's answer as text for ``user`` (None where the role may not open it)."""
    headers = api.as_(user)
    c = api.client

    def text(url: str) -> str | None:
        r = c.get(url, headers=headers)
        if r.status_code in (403, 404):
            return None
        assert r.status_code == 200, (user, url, r.status_code, r.text[:300])
        return urllib.parse.unquote(r.content.decode("utf-8"))

    out = {
        "api one": text(f"/api/v1/incidents/{incident_id}"),
        "api list": text("/api/v1/incidents?limit=500"),
        "feed": text("/api/v1/feed/incidents"),
        "my todo": text("/api/v1/my/todo"),
        "export csv": text("/api/v1/incidents/export?format=csv"),
        "export geojson": text("/api/v1/incidents/export?format=geojson"),
        "open311 one": None,
        "open311 list": None,
        "ogc item": text(f"/ogc/collections/{SGS}-incidents/items/{incident_id}"),
        "ogc items": text(f"/ogc/collections/{SGS}-incidents/items?limit=500"),
        "dispatch page": text(f"/maps/dispatch/{SGS}"),
        "assignment page": text(f"/maps/assignment/{SGS}"),
        "print pdf": None,
    }
    key = api.token(user)
    r = c.get(f"/open311/v2/requests/{incident_id}.json", params={"api_key": key})
    out["open311 one"] = r.text if r.status_code == 200 else None
    r = c.get("/open311/v2/requests.json", params={"api_key": key})
    out["open311 list"] = r.text if r.status_code == 200 else None
    r = c.get(f"/maps/print/{SGS}.pdf", params={"show_phones": "true"}, headers=headers)
    if r.status_code == 200:
        out["print pdf"] = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=r.content, capture_output=True, check=True
        ).stdout.decode()
    return out


def _forms(field: str, value: str) -> tuple[str, str]:
    masker = {"resident_name": mask_name, "resident_phone": mask_phone, "address": mask_address}
    return value, masker.get(field, mask_phone)(value)


def test_the_privacy_table_holds_on_every_surface(api: Api) -> None:
    incident_id, handler, handler_phone = _report(api)
    values = {
        "resident_name": NAME,
        "resident_phone": PHONE,
        "address": ADDRESS,
        "handler_phone": handler_phone,
    }
    opened: dict[str, set[str]] = {}
    for user, role in ROLES.items():
        login = handler if user == "worker" else user
        surfaces = _surfaces(api, login, incident_id)
        opened[user] = {s for s, t in surfaces.items() if t is not None}
        for surface, body in surfaces.items():
            if body is None:
                continue
            for field, value in values.items():
                full, masked = _forms(field, value)
                rule = POLICY[role][field]
                where = (user, surface, field, rule.value)
                if rule is not Show.FULL:
                    assert full not in body, where  # the ceiling: never more than the table allows
                if rule is Show.HIDDEN and masked != full:
                    assert masked not in body, where
                if field in CARRIES.get(surface, set()) and rule is not Show.HIDDEN:
                    assert (full if rule is Show.FULL else masked) in body, where  # the floor
            if surface.startswith(("api", "export", "ogc item", "open311 one")):
                assert incident_id in body, (user, surface)  # the incident really is on it
    # Every surface was opened by someone allowed to, and the viewer really saw the incident
    # through each of its faces (so the ceiling above was checked against real answers).
    assert {s for s in CARRIES} <= set().union(*opened.values())
    assert {"api one", "export csv", "ogc item", "dispatch page"} <= opened["viewer"]
    assert {"api one", "export csv", "ogc item", "open311 one"} <= opened["worker"]
