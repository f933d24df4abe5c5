"""Planners redraw drafts: start one from the published version, split, merge, move a shared boundary,
reparent, add, remove, rename, undo; compare two versions and preview what a publish would move.

Each operation is :mod:`geo.redraw` on the draft's grids (it keeps the draft a partition or refuses
naming what it would break), written by :func:`store.drafts.record` with its undo row in one write
transaction. Lines and polygons arrive as WKT in any CRS :func:`geo.crs.parse_crs` knows (lon/lat
WGS84 by default) and are converted to WGS84 once, here. Afterwards this process drops the layer
views built from the draft (:func:`store.drafts.forget_built`) so maps and ``?version=N`` show it
as it now is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from api.ops.access import User
from api.ops.service import Service
from dispatch.errors import InvalidInput
from geo.crs import parse_crs, reproject_geometry, validate_lonlat
from geo.diff import diff_layers, summarize_diff
from geo.hierarchy import Grid, Level
from store import db

if TYPE_CHECKING:
    from store.drafts import Draft

#: The operations :func:`apply` knows, with the parameters each needs.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "split": ("grid", "line"),
    "merge": ("grids",),
    "move_boundary": ("grids", "line"),
    "reparent": ("grid", "to"),
    "add": ("parent", "polygon", "name"),
    "remove": ("grid",),
    "rename": ("grid", "name"),
    "reshape": ("grid", "polygon", "name"),
    "fix": (),
}
#: Geometry parameters and the shapes they must have.
_SHAPES = {"line": ("LineString", "MultiLineString"), "polygon": ("Polygon",)}
_MAX_WKT = 200_000


def geometry_in(text: str | None, crs: str | None, field: str) -> BaseGeometry:
    """WKT in ``crs`` (default WGS84 lon/lat) → a checked WGS84 geometry of the kind ``field`` needs."""
    if not text or not text.strip():
        raise InvalidInput(f"缺少参数 {field}（WKT）", f"{field} (WKT) is required", field=field)
    if len(text) > _MAX_WKT:
        raise InvalidInput(f"{field} 过长", f"{field} is too long", field=field)
    try:
        geom = shapely.from_wkt(text.strip())
    except shapely.errors.GEOSException:
        raise InvalidInput(
            f"{field} 不是有效的 WKT：{text[:60]}", f"{field} is not valid WKT: {text[:60]!r}", field=field
        ) from None
    want = _SHAPES[field]
    if geom is None or geom.is_empty or geom.geom_type not in want:
        raise InvalidInput(
            f"{field} 应为 {'/'.join(w.upper() for w in want)}",
            f"{field} must be a {'/'.join(w.upper() for w in want)}",
            field=field,
        )
    spec = parse_crs(crs or "wgs84")
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        raise InvalidInput(f"{field} 含非有限坐标", f"{field} has non-finite coordinates", field=field)
    if spec.is_geographic:
        validate_lonlat(xy[:, 0], xy[:, 1], field_prefix=f"{field}.")
    wgs = reproject_geometry(geom, spec, "wgs84")
    w = shapely.get_coordinates(wgs)
    validate_lonlat(w[:, 0], w[:, 1], field_prefix=f"{field}.")
    if field == "polygon" and not wgs.is_valid:
        raise InvalidInput(
            f"polygon 几何无效：{shapely.is_valid_reason(wgs)}", "polygon is invalid", field="polygon"
        )
    return wgs


def _codes(value: Any, field: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    codes = [str(c).strip() for c in items if str(c).strip()]
    if len(codes) < 2:
        raise InvalidInput(
            f"{field} 需要两个网格编码（如 A,B）", f"{field} needs two grid codes (A,B)", field=field
        )
    return codes


def _text(value: Any, field: str, limit: int = 200) -> str:
    s = str(value or "").strip()
    if not s:
        raise InvalidInput(f"缺少参数 {field}", f"{field} is required", field=field)
    if len(s) > limit:
        raise InvalidInput(f"{field} 超过 {limit} 个字符", f"{field} exceeds {limit} characters", field=field)
    return s


def _run(operation: str, grids: list[Grid], used: set[str], p: dict[str, Any], crs: str | None) -> Any:
    from geo import redraw

    if operation == "split":
        return redraw.split(
            grids, _text(p.get("grid"), "grid"), geometry_in(p.get("line"), crs, "line"), used
        )
    if operation == "merge":
        return redraw.merge(grids, _codes(p.get("grids"), "grids"), used, name=p.get("name") or None)
    if operation == "move_boundary":
        codes = _codes(p.get("grids"), "grids")
        return redraw.move_boundary(grids, codes, geometry_in(p.get("line"), crs, "line"), used)
    if operation == "reparent":
        return redraw.reparent(grids, _text(p.get("grid"), "grid"), _text(p.get("to"), "to"), used)
    if operation == "add":
        poly = geometry_in(p.get("polygon"), crs, "polygon")
        return redraw.add(grids, _text(p.get("parent"), "parent"), poly, _text(p.get("name"), "name"), used)
    if operation == "remove":
        return redraw.remove(grids, _text(p.get("grid"), "grid"), used)
    if operation == "fix":
        return redraw.fix(grids, used)
    if operation == "reshape":
        poly = geometry_in(p.get("polygon"), crs, "polygon")
        return redraw.reshape(grids, _text(p.get("grid"), "grid"), poly, used, name=p.get("name") or None)
    if operation == "rename":
        return redraw.rename(grids, _text(p.get("grid"), "grid"), _text(p.get("name"), "name"))
    raise InvalidInput(
        f"未知操作：{operation[:32]}（可用 {'、'.join(OPERATIONS)}）",
        f"unknown operation {operation[:32]!r}; use one of {', '.join(OPERATIONS)}",
        field="operation",
    )


def _balance(grids: Sequence[Grid], band: tuple[int, int] = (30, 100)) -> dict[str, Any]:
    """Households per micro-grid against the band: counts and the grids outside it."""
    lo, hi = band
    micro = [g for g in grids if g.level is Level.MICRO]
    low = [g for g in micro if g.households is not None and g.households < lo]
    high = [g for g in micro if g.households is not None and g.households > hi]
    return {
        "band": [lo, hi],
        "micro_grids": len(micro),
        "below": [{"code": g.code, "name": g.name, "households": g.households} for g in low],
        "above": [{"code": g.code, "name": g.name, "households": g.households} for g in high],
        "in_band": len(micro) - len(low) - len(high),
    }


def _band(conn: Any, community: str) -> tuple[int, int]:
    from store.drafts import bands_of

    return bands_of(conn, community)["micro"]


def _draft_body(version: Any, grids: Sequence[Grid], band: tuple[int, int] = (30, 100)) -> dict[str, Any]:
    v = version.to_dict()
    v["findings"] = ((version.validation or {}).get("findings") or [])[:200]
    return {"draft": v, "balance": _balance(grids, band)}


def new(service: Service, community: str, *, author: str = "", note: str = "") -> dict[str, Any]:
    """Start a draft from the community's published version (grids, elements; posts by code)."""
    from store.drafts import new_draft
    from store.grids import count_grids, load_grids

    with db.write(service.engine) as conn:
        v = new_draft(conn, community, author=author, note=note)
        counts = count_grids(conn, v.id)
        grids = load_grids(conn, v.id)
        band = _band(conn, community)
    service.layers.refresh()
    body = _draft_body(v, grids, band)
    body["grids_by_level"] = counts
    return body


def apply(
    service: Service,
    community: str,
    number: int,
    operation: str,
    params: dict[str, Any],
    *,
    crs: str | None = None,
    author: str = "",
) -> dict[str, Any]:
    """Run one redraw operation on draft ``number`` and store it (undoable)."""
    out = apply_steps(
        service, community, number, lambda _draft: [(operation, params)], crs=crs, author=author
    )
    return {"operation": out.pop("operations")[0], **out}


#: Decides, inside the write transaction, what to run on the draft as it is stored then (and may
#: refuse, e.g. an ETag that no longer matches): a list of (operation, parameters).
Plan = Callable[["Draft"], Sequence[tuple[str, dict[str, Any]]]]


def apply_steps(
    service: Service,
    community: str,
    number: int,
    plan: Plan,
    *,
    crs: str | None = None,
    author: str = "",
) -> dict[str, Any]:
    """Run the operations ``plan`` asks for on draft ``number`` in one write transaction, each stored
    as its own undoable operation; ``plan`` sees the draft read under the draft's lock
    (:func:`store.drafts.load_draft` with ``lock``), so a compare-and-set it makes (an ETag against
    the stored grid) holds until the write commits, across processes. All or nothing."""
    from api.ops.publishing import note_draft_stamp
    from store.drafts import draft_stamp, forget_built, load_draft, record_draft, used_codes
    from store.versions import get_version_by_id

    ops: list[dict[str, Any]] = []
    with db.write(service.engine) as conn:
        draft = load_draft(conn, community, number, lock=True)
        steps = list(plan(draft))
        for operation, params in steps:
            operation = operation.replace("-", "_")
            if operation not in OPERATIONS:
                _run(operation, [], set(), params, crs)  # raises naming the known operations
        grids = draft.grids
        for operation, params in steps:
            operation = operation.replace("-", "_")
            result = _run(operation, draft.grids, used_codes(conn, community), params, crs)
            stored = {kk: params.get(kk) for kk in OPERATIONS[operation]} | ({"crs": crs} if crs else {})
            op, draft = record_draft(conn, draft, result, params=stored, author=author)
            ops.append(op)
            grids = list(result.grids)
        version = get_version_by_id(conn, draft.version.id)
        band = _band(conn, community)
        stamp = draft_stamp(conn, version.id)
    if ops:
        forget_built(service.layers, draft.version.id)
        # the draft as just written, for the impact preview the page asks next (no second read)
        note_draft_stamp(service, version.id, stamp, version=version, draft=(draft.grids, draft.elements))
    return {"operations": ops, **_draft_body(version, grids, band)}


def undo(service: Service, community: str, number: int) -> dict[str, Any]:
    """Undo the draft's last operation."""
    from api.ops.publishing import note_draft_stamp
    from store.drafts import draft_stamp, forget_built, load_draft
    from store.drafts import undo as undo_op

    with db.write(service.engine) as conn:
        op = undo_op(conn, community, number)
        draft = load_draft(conn, community, number)
        band = _band(conn, community)
        stamp = draft_stamp(conn, draft.version.id)
    forget_built(service.layers, draft.version.id)
    kept = (draft.grids, draft.elements)
    note_draft_stamp(service, draft.version.id, stamp, version=draft.version, draft=kept)
    return {"undone": op, **_draft_body(draft.version, draft.grids, band)}


def show(service: Service, community: str, number: int) -> dict[str, Any]:
    """A draft: its version, findings, balance and operations (undo log)."""
    from store.drafts import load_draft, operations

    with db.read(service.engine) as conn:
        draft = load_draft(conn, community, number)
        ops = operations(conn, draft.version.id)
        band = _band(conn, community)
    return {**_draft_body(draft.version, draft.grids, band), "operations": ops}


def bands(
    service: Service,
    community: str,
    *,
    micro: tuple[int, int] | None = None,
    general: tuple[int, int] | None = None,
    reset: bool = False,
) -> dict[str, tuple[int, int]]:
    """A community's households bands by level; ``micro``/``general`` set one, ``reset`` clears
    both back to the default (30–100 per micro-grid, general grids unchecked). Drafts validated
    after a change use the new bands."""
    from store.drafts import bands_of, set_band

    with db.write(service.engine) as conn:
        if reset:
            set_band(conn, community, "micro", None)
            set_band(conn, community, "general", None)
        if micro is not None:
            set_band(conn, community, "micro", micro)
        if general is not None:
            set_band(conn, community, "general", general)
        return bands_of(conn, community)


def list_drafts(service: Service, community: str) -> list[dict[str, Any]]:
    """The community's drafts, newest first."""
    from store.drafts import drafts_of

    with db.read(service.engine) as conn:
        return [v.to_dict() for v in drafts_of(conn, community)]


# --- diff and impact ---------------------------------------------------------------------------


def diff(
    service: Service, community: str, before: int | None, after: int | None, *, geometry: bool = False
) -> dict[str, Any]:
    """Grid by grid from version ``before`` (default: published) to ``after`` (default: the newest
    draft): added, removed, changed, with area changes in m² and the area that changed hands."""
    a = service.layers.version(community, before)
    if after is None:
        from store.drafts import drafts_of

        with db.read(service.engine) as conn:
            drafts = drafts_of(conn, community)
        if not drafts:
            raise InvalidInput(
                f"社区 {community} 没有草稿，请用 --to 指定版本",
                f"community {community} has no draft; name the version with --to",
                field="to",
            )
        after = drafts[0].number
    b = service.layers.version(community, after)
    changes = diff_layers(list(a.hierarchy.grids), list(b.hierarchy.grids))
    return {
        "community_code": community,
        "from": a.version.to_dict(),
        "to": b.version.to_dict(),
        "summary": summarize_diff(changes),
        "grids": [c.to_dict(geometry=geometry) for c in changes],
    }


def impact(service: Service, community: str, number: int) -> dict[str, Any]:
    """What publishing draft ``number`` would move, against the published version: elements that
    change micro-grid, posts whose grid would no longer exist, open incidents re-routed by the
    publish (``incidents``: not yet 处置中 and their grids change, with the new handler) and open
    incidents whose point falls in another micro-grid but keep their handler (``incidents_kept``),
    households of the grids removed and added."""
    from api.ops.publishing import preview_view, reroute_preview
    from dispatch.routing import posts_on
    from dispatch.states import State
    from store.incidents import list_incidents

    now = service.layers.current(community)
    draft, locator = preview_view(service, community, number)
    new_codes = {g.code for g in draft.hierarchy.grids}
    old_codes = {g.code for g in now.hierarchy.grids}
    # a published version's elements never change: read once per process, not on every preview
    old_el = service.cached(
        ("preview-published-elements", now.version.id), lambda: {e.id: e for e in now.elements}, float("inf")
    )
    elements = [
        {"id": e.id, "type": e.type, "name": e.name, "from": old_el[e.id].micro_code, "to": e.micro_code}
        for e in draft.elements
        if e.id in old_el and old_el[e.id].micro_code != e.micro_code
    ]
    lost = sorted(set(old_el) - {e.id for e in draft.elements})
    posts = [
        {"person_id": p.person_id, "name": p.name, "role": p.role.value, "grid_code": p.grid_code}
        for p in posts_on(service.posts(community), service.today())
        if p.grid_code in old_codes and p.grid_code not in new_codes
    ]
    # Open incidents: those a publish re-routes (not yet 处置中, grids change: exactly the list
    # api.ops.publishing.publish acts on), and those whose point moves but keep their handler.
    incidents = [
        r.to_dict() for r in reroute_preview(service, community, number, view=draft, locator=locator)
    ]
    moving = {i["id"] for i in incidents}
    open_states = [s.value for s in State if not s.is_final]
    with db.read(service.engine) as conn:
        rows = list_incidents(conn, community_code=community, states=open_states, limit=100_000)
    kept = []
    for r in rows:
        if r["id"] in moving or r.get("lon") is None or r.get("lat") is None:
            continue
        to = locator.locate_one(float(r["lon"]), float(r["lat"])).micro_code
        if to != r.get("micro_code"):
            kept.append(
                {
                    "id": r["id"],
                    "state": str(r["state"]),
                    "from": r.get("micro_code"),
                    "to": to,
                    "assignee_id": r.get("assignee_id"),
                }
            )
    removed = [g for g in now.hierarchy.micro if g.code not in new_codes]
    added = [g for g in draft.hierarchy.micro if g.code not in old_codes]
    return {
        "community_code": community,
        "from": now.version.to_dict(),
        "to": draft.version.to_dict(),
        "counts": {
            "elements": len(elements),
            "elements_lost": len(lost),
            "posts": len(posts),
            "incidents": len(incidents),
            "incidents_kept": len(kept),
            "households_removed": sum(g.households or 0 for g in removed),
            "households_added": sum(g.households or 0 for g in added),
        },
        "elements": elements,
        "elements_lost": lost,
        "posts": posts,
        "incidents": incidents,
        "incidents_kept": kept,
        "grids_removed": [g.code for g in removed],
        "grids_added": [g.code for g in added],
    }


def plan_page(
    service: Service, community: str, number: int | None = None, user: User | None = None
) -> tuple[str, tuple[str, ...]]:
    """The planner's page of draft ``number`` (default: the newest draft; the published version with
    an offer to start one when there is none) and the basemap hosts its CSP must allow; ``user``
    is shown in the shared header."""
    from api.ops.maps import STATIC_BASE, basemap_options, tile_hosts, user_info
    from api.ops.plan import state
    from layers.plan import plan_page as draw

    drafts = list_drafts(service, community)
    if number is None and drafts:
        number = int(drafts[0]["number"])
    current = service.layers.current(community)
    view = current if number is None else service.layers.version(community, number)
    page = draw(
        view.hierarchy,
        community,
        number=number,
        drafts=drafts,
        state=state(service, community, number),
        published=current.version.number,
        static_base=STATIC_BASE,
        user=user_info(service, user) if user is not None else None,
        **basemap_options(service),
    )
    return page, tile_hosts(service)
