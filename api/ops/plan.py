"""The planner's page as data: a draft's state after each operation, the boundary two neighbours
share (to drag), publishing from the page, and the before/after diff map.

:func:`state` is what ``/maps/plan/{community}`` embeds and what its script fetches after each
operation (``GET /api/v1/communities/{code}/drafts/{n}/plan``): the grids drawn as on the other
maps (:func:`layers.webmap.grid_features`, in the basemap's overlay CRS), the findings, the balance
table (households per micro-grid against the community's band) and the party coverage (which
党小组 covers each micro-grid). Publishing goes through :func:`api.ops.layers.publish`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import shapely
from shapely.geometry import LineString, mapping

from api.ops.access import User
from api.ops.service import Service
from dispatch.errors import InvalidInput
from geo.crs import to_local_metric
from geo.hierarchy import Grid, Hierarchy, Level
from store import db

#: Findings a page lists at most (the counts are always complete).
MAX_FINDINGS = 200


def balance_table(grids: Sequence[Grid], band: tuple[int, int]) -> dict[str, Any]:
    """Households per micro-grid against ``band``: one row per micro-grid (outside the band first,
    then by code) with ``status`` ``below`` / ``above`` / ``ok`` / ``unknown`` and the counts."""
    lo, hi = band
    rows = []
    for g in grids:
        if g.level is not Level.MICRO:
            continue
        n = g.households
        status = "unknown" if n is None else "below" if n < lo else "above" if n > hi else "ok"
        rows.append(
            {"code": g.code, "name": g.name, "general": g.parent_code, "households": n, "status": status}
        )
    order: dict[Any, int] = {"below": 0, "above": 0, "unknown": 1, "ok": 2}
    rows.sort(key=lambda r: (order[r["status"]], r["code"]))
    count = {k: sum(1 for r in rows if r["status"] == k) for k in ("below", "above", "ok", "unknown")}
    return {"band": [lo, hi], "micro_grids": len(rows), "in_band": count["ok"], "counts": count, "rows": rows}


def party_coverage(grids: Sequence[Grid], orgs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Which 党小组 covers each micro-grid (by the grid codes each names, a general grid covering
    its micro-grids, as :mod:`geo.validate` checks it): the groups with their micro-grids, and the
    micro-grids covered by none or by several."""
    groups = [o for o in orgs if "党小组" in str(o.get("type") or "")]
    micro = [g for g in grids if g.level is Level.MICRO]
    by_grid: dict[str, list[str]] = defaultdict(list)
    for o in groups:
        for c in o.get("grid_codes") or []:
            by_grid[str(c)].append(str(o["code"]))
    covered: dict[str, list[str]] = {}
    for g in micro:
        covered[g.code] = sorted(set(by_grid.get(g.code, [])) | set(by_grid.get(g.parent_code or "", [])))
    members: dict[str, list[str]] = defaultdict(list)
    for code, mine in covered.items():
        for org in mine:
            members[org].append(code)
    return {
        "groups": [
            {
                "code": str(o["code"]),
                "name": str(o.get("name") or ""),
                "micro": sorted(members[str(o["code"])]),
            }
            for o in groups
        ],
        "uncovered": sorted(c for c, mine in covered.items() if not mine),
        "overlap": sorted(c for c, mine in covered.items() if len(mine) > 1),
        "micro_grids": len(micro),
    }


def _findings_block(version: Any) -> dict[str, Any]:
    found = list((version.validation or {}).get("findings") or [])
    n_err = sum(1 for f in found if f.get("severity") == "error")
    slim = [{k: f.get(k) for k in ("code", "severity", "grids", "message_zh", "message_en")} for f in found]
    return {
        "findings": slim[:MAX_FINDINGS],
        "errors": n_err,
        "warnings": len(found) - n_err,
        "total": len(found),
    }


def state(service: Service, community: str, number: int | None, *, impact: bool = False) -> dict[str, Any]:
    """Everything the planner's page shows of draft ``number`` (None: the published version, no
    draft yet): grids as the page draws them, findings, balance table, party coverage, operations;
    with ``impact`` also :func:`api.ops.drafts.impact` (what publishing it would move), so the page
    needs one request after each operation."""
    from api.ops.maps import basemap_options
    from layers.offline import basemap
    from layers.plan import plan_features
    from store.drafts import bands_of, operations
    from store.grids import load_grids
    from store.people import party_orgs_of
    from store.versions import get_version

    opts = basemap_options(service)
    crs = basemap(opts["basemap"], tianditu_key=opts["tianditu_key"]).overlay_crs
    with db.read(service.engine) as conn:
        band = bands_of(conn, community)["micro"]
        orgs = party_orgs_of(conn, community)
        if number is None:
            version = service.layers.current(community).version
            ops: list[dict[str, Any]] = []
        else:
            version = get_version(conn, community, number)
            ops = operations(conn, version.id)
        grids = list(load_grids(conn, version.id))
    body = {
        "draft": number,
        "version": version.to_dict(),
        "grids": plan_features(Hierarchy(grids), community, crs=crs),
        **_findings_block(version),
        "balance": balance_table(grids, band),
        "party": party_coverage(grids, orgs),
        "operations": ops,
    }
    if impact and number is not None:
        from api.ops.drafts import impact as impact_of

        body["impact"] = impact_of(service, community, number)
    return body


def shared_boundary(service: Service, community: str, number: int, codes: Sequence[str]) -> dict[str, Any]:
    """The boundary micro-grids ``codes`` (two) share in draft ``number``, as one WGS84 line (the
    longest piece when they share several), for the page to drag and send back to move-boundary."""
    from store.drafts import load_draft

    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput("需要两个微网格编码", "two micro-grid codes are needed", field="grids")
    with db.read(service.engine) as conn:
        draft = load_draft(conn, community, number)
    found = {g.code: g for g in draft.grids if g.level is Level.MICRO}
    for c in codes:
        if c not in found:
            raise InvalidInput(f"草稿中没有微网格 {c}", f"no micro-grid {c} in the draft", field="grids")
    a, b = found[codes[0]], found[codes[1]]
    common = shapely.line_merge(shapely.intersection(a.geometry.boundary, b.geometry.boundary))
    lines = [p for p in shapely.get_parts(common) if isinstance(p, LineString) and not p.is_empty]
    if not lines:
        raise InvalidInput(
            f"微网格 {a.code} 与 {b.code} 不相邻（没有共用边界）",
            f"micro-grids {a.code} and {b.code} share no boundary",
            field="grids",
        )
    line = max(lines, key=lambda p: p.length)
    return {
        "grids": [a.code, b.code],
        "line": mapping(line),
        "length_m": round(float(shapely.length(to_local_metric(line))), 1),
    }


def publish(
    service: Service,
    community: str,
    number: int,
    *,
    override: bool = False,
    reason: str = "",
    author: str = "",
) -> dict[str, Any]:
    """Publish draft ``number`` from the planner's page through the operations layer's publish
    (:func:`api.ops.publishing.publish`, which :func:`api.ops.layers.publish` wraps; it answers the
    incidents re-routed too). With blocking findings only with ``override`` and its reason, which
    is recorded with the version (who, when, why)."""
    from api.ops.publishing import publish as publish_draft

    if override and not (reason or "").strip():
        raise InvalidInput("强制发布须填写理由", "an override needs a reason", field="override_reason")
    done = publish_draft(
        service, community, number, override_reason=reason if override else None, by=author or None
    )
    return {
        "version": done.version.to_dict(),
        "previous_number": done.previous,
        "rerouted": [r.to_dict() for r in done.rerouted],
    }


def diff_page(
    service: Service, community: str, before: int | None, after: int | None, user: User | None = None
) -> tuple[str, tuple[str, ...]]:
    """The before/after map from version ``before`` (default: published) to ``after`` (default: the
    newest draft) and the basemap hosts its CSP must allow; ``user`` is shown in the header."""
    from api.ops.drafts import diff
    from api.ops.maps import STATIC_BASE, basemap_options, tile_hosts, user_info
    from layers.plandiff import diff_page as draw

    body = diff(service, community, before, after)
    a = service.layers.version(community, int(body["from"]["number"]))
    b = service.layers.version(community, int(body["to"]["number"]))

    from api.ops.layers import versions

    states = {v.number: v.state for v in versions(service, community)}  # read now, not as built

    def label(v: Mapping[str, Any]) -> str:
        n = int(v["number"])
        state = {"draft": "草稿", "published": "现行", "retired": "已停用"}.get(states.get(n, ""), "")
        return f"第{n}版" + (f"（{state}）" if state else "")

    page = draw(
        a.hierarchy,
        b.hierarchy,
        community,
        body["grids"],
        before_label=label(body["from"]),
        after_label=label(body["to"]),
        static_base=STATIC_BASE,
        user=user_info(service, user) if user is not None else None,
        **basemap_options(service),
    )
    return page, tile_hosts(service)
