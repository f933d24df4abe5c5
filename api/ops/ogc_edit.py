"""OGC API – Features Part 4 (create, replace, update, delete) on draft grid versions only, through
the planner's draft operations (:mod:`api.ops.drafts`), with optimistic locking by ETag.

* The target is a grid collection with ``?version=N`` naming a draft; the published (or a retired)
  version is read-only: :class:`ReadOnly` (405) saying to edit a draft.
* POST a Feature (Polygon, ``name``, ``parent_code``) → the draft operation ``add``; DELETE →
  ``remove``; PUT (replace) and PATCH (merge patch) change ``name`` (``rename``), ``parent_code``
  (``reparent``) and the outline of a micro-grid (``reshape``: the boundaries it shares with its
  sibling micro-grids move with it — the area it gains is taken from them, a piece it gives up goes
  to the sibling bordering it — so one replace moves a shared boundary consistently; an outline
  that would leave a gap or an overlap, or reach outside its general grid, is refused with the
  findings). A changed outline gives the grids that changed new codes (the redraw rules: a changed
  area is a new area); the answer is the new feature, its URL in ``Location``. Changing the outline
  and the general grid at once is refused (two requests). General and community grids' outlines
  follow their micro-grids and are not replaced directly.
* Every write runs the draft operation's checks and, when it would break the partition, answers
  its :class:`geo.redraw.RedrawRefused` with the findings (422).
* Every grid feature has an ETag (a hash of the stored grid: code, name, level, parent, households,
  outline); PUT, PATCH and DELETE need ``If-Match`` with the current one (428 without, 412 when it
  changed meanwhile), so two editors cannot silently overwrite each other. The compare is made in
  the same write transaction as the change, on the draft read under its lock
  (:func:`api.ops.drafts.apply_steps`): of two writes with the same ETag, from any two processes,
  exactly one succeeds and the other gets 412.
* Only planners and admins edit, as with the draft operations elsewhere.
* ``OPTIONS`` on the items and item endpoints lists the methods allowed as addressed (writes only
  on a draft) with ``Accept-Post`` / ``Accept-Patch``; a write without ``Content-Type`` is a 400,
  one in another media type a 415 (Part 4's content-type requirements).

Where this departs from Part 4 (draft 20-002): the mutable features are addressed with
``?version=N`` (the draft), not listed as collections of their own; and a replace that changes a
micro-grid's outline retires its id (the project's code rule: a changed area is a new area), so
the answer and ``Location`` name the new id and the old URL then answers 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import shape

from api.ops import drafts
from api.ops.access import User, require_role
from api.ops.ogc import (
    GRID_KINDS,
    CollectionId,
    Features,
    InvalidParameter,
    grid_properties,
    item,
    parse_collection_id,
    parse_ogc_crs,
    view_for,
)
from api.ops.service import Service
from api.ops.tokens import Unauthorized
from dispatch import AppRole
from dispatch.errors import InvalidInput
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Grid
from geo.redraw import same_area
from store.drafts import Draft
from store.models import DRAFT
from store.versions import STATE_LABELS

EDITORS = (AppRole.PLANNER, AppRole.ADMIN)


class ReadOnly(WeiwangError):
    """A write to something that is not a draft: 405."""

    code = "read_only"


class PreconditionRequired(WeiwangError):
    """A replace/update/delete without ``If-Match``: 428."""

    code = "precondition_required"


class PreconditionFailed(WeiwangError):
    """``If-Match`` names an older state of the feature: 412."""

    code = "precondition_failed"


class UnsupportedMediaType(WeiwangError):
    """A body in a media type a write does not take: 415."""

    code = "unsupported_format"


#: Media types of the bodies writes take (``Accept-Post``, ``Accept-Patch``).
POST_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = ("application/merge-patch+json", "application/geo+json", "application/json")


def check_content_type(value: str | None, accepted: tuple[str, ...]) -> None:
    """A write's ``Content-Type``: 400 when missing (Part 4 /req/…/content-type), 415 when not one of
    ``accepted``."""
    if not value or not value.strip():
        raise InvalidParameter(
            "缺少 Content-Type（如 application/geo+json）",
            "Content-Type is missing (e.g. application/geo+json)",
            field="Content-Type",
        )
    media = value.split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(
            f"不支持的内容类型：{media[:60]}（可用：{'、'.join(accepted)}）",
            f"unsupported media type {media[:60]!r}; use {', '.join(accepted)}",
            field="Content-Type",
        )


def options(
    service: Service, collection_id: str, params: Mapping[str, str], *, feature: bool
) -> dict[str, str]:
    """The headers of an OPTIONS answer (Part 4 /req/create-replace-delete/options-response): the
    methods the items (``feature=False``) or one item endpoint allows as addressed — writes only on
    a draft grid version — with ``Accept-Post`` / ``Accept-Patch``."""
    cid = parse_collection_id(collection_id)
    if not service.layers.versions(cid.community):
        raise NotFound(f"社区不存在：{cid.community}", f"no community {cid.community}", field="collectionId")
    draft = False
    raw = params.get("version")
    if cid.kind in GRID_KINDS and raw:
        try:
            number = int(raw)
        except ValueError:
            raise InvalidParameter(
                "version 应为整数", "version must be an integer", field="version"
            ) from None
        draft = service.layers.find(cid.community, number).state == DRAFT
    if not draft:
        return {"Allow": "GET, OPTIONS"}
    if not feature:
        if cid.kind != "micro":
            return {"Allow": "GET, OPTIONS"}
        return {"Allow": "GET, POST, OPTIONS", "Accept-Post": ", ".join(POST_TYPES)}
    methods = "GET, PUT, PATCH, DELETE, OPTIONS" if cid.kind == "micro" else "GET, PUT, PATCH, OPTIONS"
    return {"Allow": methods, "Accept-Patch": ", ".join(PATCH_TYPES)}


#: HTTP status of this module's errors (the face maps them).
STATUS = {"read_only": 405, "precondition_required": 428, "precondition_failed": 412}


def grid_etag(g: Grid) -> str:
    """The strong ETag of a stored grid: its code, name, level, parent, households and outline (so
    any change by any operation — a neighbour's reshape included — gives a new one)."""
    core = json.dumps(grid_properties(g), sort_keys=True, ensure_ascii=False).encode()
    digest = hashlib.sha256(core + shapely.to_wkb(g.geometry, hex=False, output_dimension=2)).hexdigest()
    return f'"{digest[:32]}"'


def read_item(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    feature_id: str,
    params: Mapping[str, str],
) -> Features:
    """:func:`api.ops.ogc.item` with its ``ETag`` header (grid collections)."""
    answer = item(service, user, base, collection_id, feature_id, params)
    cid = parse_collection_id(collection_id)
    if cid.kind in GRID_KINDS:
        view = view_for(service, user, cid.community, params)
        g = view.hierarchy.get(answer.body["id"]) if view is not None else None
        if g is not None:
            answer.headers["ETag"] = grid_etag(g)
    return answer


def _draft(
    service: Service, user: User | None, collection_id: str, params: Mapping[str, str]
) -> tuple[CollectionId, int]:
    """The collection and draft number a write targets, or why it may not."""
    if user is None:
        raise Unauthorized("编辑需要登录", "editing needs a bearer token")
    require_role(user, *EDITORS)
    cid = parse_collection_id(collection_id)
    if cid.kind not in GRID_KINDS:
        raise ReadOnly(
            f"{cid.text} 只读：只有网格集合的草稿可以编辑",
            f"{cid.text} is read-only: only grid collections' drafts can be edited",
            field="collectionId",
        )
    raw = params.get("version")
    if not raw:
        raise ReadOnly(
            "现行版本只读：请在草稿上编辑（?version=草稿版本号）",
            "the published version is read-only: edit a draft (?version=N)",
            field="version",
        )
    try:
        number = int(raw)
    except ValueError:
        raise InvalidParameter("version 应为整数", "version must be an integer", field="version") from None
    found = service.layers.find(cid.community, number)  # the row only: no grids read before a write
    if found.state != DRAFT:
        raise ReadOnly(
            f"第{number}版为{STATE_LABELS.get(found.state, found.state)}，只读：请在草稿上编辑",
            f"version {number} is {found.state}, read-only: edit a draft",
            field="version",
        )
    return cid, number


def _check_match(current: str, if_match: str | None) -> None:
    if not if_match:
        raise PreconditionRequired(
            "修改或删除需要 If-Match（先读取要素取得 ETag）",
            "replace, update and delete need If-Match (read the feature for its ETag)",
            field="If-Match",
        )
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" not in tags and current not in tags:
        raise PreconditionFailed(
            "要素已被他人修改，请重新读取后再改",
            "the feature changed meanwhile; read it again and retry",
            field="If-Match",
            detail={"etag": current},
        )


def _stored(draft: Draft, cid: CollectionId, feature_id: str) -> Grid:
    """The grid ``feature_id`` of the collection's level as the draft stores it now."""
    for g in draft.grids:
        if g.code == feature_id and g.level.value == cid.kind:
            return g
    raise NotFound(
        f"要素不存在：{feature_id[:64]}", f"no feature {feature_id[:64]} in {cid.text}", field="featureId"
    )


def _wkt_in(geometry: Any, content_crs: str | None) -> tuple[str, str]:
    """A GeoJSON Polygon in ``Content-Crs`` (axis order of that CRS) as lon/lat-ordered WKT and the
    CRS name :mod:`geo.crs` knows (a MultiPolygon of one part is taken as its Polygon)."""
    crs = parse_ogc_crs((content_crs or "").strip("<> ") or None, "Content-Crs")
    try:
        geom = shape(geometry)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        raise InvalidInput(
            "geometry 不是有效的 GeoJSON 几何", "geometry is not valid GeoJSON", field="geometry"
        ) from None
    if geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if crs.swap:
        geom = shapely.transform(geom, lambda c: c[:, ::-1])
    return shapely.to_wkt(geom, rounding_precision=-1), crs.geo_name


def _feature_in(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidInput("请求体应为 GeoJSON Feature", "the body must be a GeoJSON Feature", field="body")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("properties 应为对象", "properties must be an object", field="properties")
    return body


def create(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    params: Mapping[str, str],
    body: Any,
    content_crs: str | None = None,
) -> Features:
    """POST: a new micro-grid in the draft (``add``); the answer is the new feature."""
    cid, number = _draft(service, user, collection_id, params)
    assert user is not None
    if cid.kind != "micro":
        raise ReadOnly("只能新增微网格", "only micro-grids can be created", field="collectionId")
    feature = _feature_in(body)
    props = feature.get("properties") or {}
    wkt, crs = _wkt_in(feature.get("geometry"), content_crs)
    op = drafts.apply(
        service,
        cid.community,
        number,
        "add",
        {"parent": props.get("parent_code"), "polygon": wkt, "name": props.get("name")},
        crs=crs,
        author=user.username,
    )["operation"]
    after = service.layers.version(cid.community, number).hierarchy
    given = shapely.from_wkt(wkt)
    new = [after.get(c) for c in op["added"] if c in after]
    code = max(new, key=lambda g: (g.name == props.get("name"), g.geometry.intersection(given).area)).code
    out = read_item(service, user, base, collection_id, code, {"version": str(number)})
    out.headers["Location"] = f"{base}/ogc/collections/{cid.text}/items/{code}?version={number}"
    out.body["operation"] = op
    return out


def change(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    feature_id: str,
    params: Mapping[str, str],
    body: Any,
    if_match: str | None,
    *,
    replace: bool,
    content_crs: str | None = None,
) -> Features:
    """PUT (``replace``) or PATCH (merge patch): rename, reparent and/or reshape one grid of the
    draft, checked against ``If-Match`` in the write transaction."""
    cid, number = _draft(service, user, collection_id, params)
    assert user is not None
    if replace:
        feature = _feature_in(body)
    elif isinstance(body, dict):
        feature = body
    else:
        raise InvalidInput("请求体应为 JSON 对象", "the body must be a JSON object", field="body")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("properties 应为对象", "properties must be an object", field="properties")
    outline = None
    if feature.get("geometry") is not None:
        wkt, crs = _wkt_in(feature["geometry"], content_crs)
        outline = drafts.geometry_in(wkt, crs, "polygon")
    name, parent = props.get("name"), props.get("parent_code")
    for key, value in (("name", name), ("parent_code", parent)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{key} 应为文本", f"{key} must be a string", field=key)
    code = feature_id

    def plan(draft: Draft) -> list[tuple[str, dict[str, Any]]]:
        g = _stored(draft, cid, feature_id)
        _check_match(grid_etag(g), if_match)
        new_name = name if name is not None and name != g.name else None
        new_parent = parent if parent is not None and parent != g.parent_code else None
        if outline is not None and not same_area(outline, g.geometry):
            if new_parent is not None:
                raise InvalidInput(
                    "不能同时修改范围和上级网格：请分两次提交",
                    "change the outline and the parent grid in two requests",
                    field="parent_code",
                )
            wkt = shapely.to_wkt(outline, rounding_precision=-1)
            return [("reshape", {"grid": g.code, "polygon": wkt, "name": new_name})]
        steps: list[tuple[str, dict[str, Any]]] = []
        if new_name is not None:
            steps.append(("rename", {"grid": g.code, "name": new_name}))
        if new_parent is not None:
            steps.append(("reparent", {"grid": g.code, "to": new_parent}))
        return steps

    ops = drafts.apply_steps(service, cid.community, number, plan, author=user.username)["operations"]
    if ops and ops[-1]["operation"] == "reparent":
        code = next(iter(ops[-1]["added"]), code)
    elif ops and ops[-1]["operation"] == "reshape":
        assert outline is not None
        after = service.layers.version(cid.community, number).hierarchy
        new = [after.get(c) for c in ops[-1]["added"] if c in after]
        code = max(new, key=lambda g: g.geometry.intersection(outline).area).code
    version = {"version": str(number)}
    out = read_item(service, user, base, collection_id, code, version)
    out.body["operations"] = ops
    if code != feature_id:
        out.headers["Location"] = f"{base}/ogc/collections/{cid.text}/items/{code}?version={number}"
    return out


def delete(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    feature_id: str,
    params: Mapping[str, str],
    if_match: str | None,
) -> dict[str, Any]:
    """DELETE: remove a micro-grid from the draft (its area goes to a neighbour); the operation."""
    cid, number = _draft(service, user, collection_id, params)
    assert user is not None

    def plan(draft: Draft) -> list[tuple[str, dict[str, Any]]]:
        g = _stored(draft, cid, feature_id)
        _check_match(grid_etag(g), if_match)
        return [("remove", {"grid": g.code})]

    ops = drafts.apply_steps(service, cid.community, number, plan, author=user.username)["operations"]
    return dict(ops[0])
