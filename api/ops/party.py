"""Party organisations (两网融合) as a layer: one function behind the API, the coverage map and the
printed sheet.

The organisations are stored by grid code (:func:`store.people.party_orgs_of`); their areas are the
union of those grids in the layer version asked for (:func:`geo.party.party_areas`) — the published
one, ``version=N``, or the one in force at an instant ``at`` — so an as-of query draws them on the
map of that time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shapely.geometry import mapping

from api.ops.service import Service
from dispatch.errors import InvalidInput
from geo.party import PartyArea, party_areas
from geo.times import as_instant
from store.inforce import LayerView


def party_orgs(service: Service, community: str) -> list[dict[str, Any]]:
    """The community's stored party organisations (dicts with ``grid_codes``), by code."""
    from store import db
    from store.people import party_orgs_of

    with db.read(service.engine) as conn:
        return party_orgs_of(conn, community)


def party_layer(service: Service, view: LayerView, community: str) -> list[PartyArea]:
    """The community's party organisations with their areas in ``view``."""
    return party_areas(view.hierarchy, party_orgs(service, community))


def parse_at(text: str | None) -> datetime | None:
    """``at``: an ISO 8601 date or instant (no zone = Beijing time); a 422 naming ``at`` otherwise."""
    if text is None or not text.strip():
        return None
    t = text.strip()
    try:
        parsed: datetime | date = (
            date.fromisoformat(t) if len(t) == 10 else datetime.fromisoformat(t.replace("Z", "+00:00"))
        )
    except ValueError:
        raise InvalidInput(
            f"at 不是 ISO 8601 时间：{t[:40]}", f"at is not an ISO 8601 time: {t[:40]!r}", field="at"
        ) from None
    return as_instant(parsed)


def party_geojson(
    service: Service, community: str, version: int | None = None, at: str | None = None
) -> dict[str, Any]:
    """The community's party organisations as a GeoJSON FeatureCollection in WGS84, drawn on the
    grids of the published version, of ``version``, or of the version in force at ``at``; with the
    version that answered (``version``) and ``at`` when given. Organisations none of whose grids is
    in that version have a null geometry."""
    when = parse_at(at)
    if when is not None and version is not None:
        raise InvalidInput("version 与 at 不能同时使用", "use version or at, not both", field="at")
    if when is not None:
        view = service.layers.at(community, when)
    else:
        view = service.layers.version(community, version)
    areas = party_layer(service, view, community)
    feats = [
        {
            "type": "Feature",
            "id": a.code,
            "geometry": mapping(a.geometry) if a.geometry is not None else None,
            "properties": {
                "code": a.code,
                "name": a.name,
                "type": a.type,
                "kind": a.kind,
                "community_code": a.community_code,
                "parent_code": a.parent_code,
                "element_id": a.element_id,
                "grid_codes": list(a.grid_codes),
            },
        }
        for a in areas
    ]
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "version": view.versions[community].to_dict(),
        "features": feats,
    }
    if when is not None:
        out["at"] = when.isoformat()
    return out
