"""OGC API – Features Part 4 (create, replace, update, delete) on draft grid versions only, through
the planner's draft operations (:func:`api.ops.drafts.apply`), with optimistic locking by ETag.

* The target is a grid collection with ``?version=N`` naming a draft; the published (or a retired)
  version is read-only: :class:`ReadOnly` (405) saying to edit a draft.
* POST a Feature (Polygon, ``name``, ``parent_code``) → the draft operation ``add``; DELETE →
  ``remove``; PUT/PATCH change ``name`` (``rename``) and ``parent_code`` (``reparent``). A new
  geometry for an existing grid is refused (use split, merge or move boundary), as the redraw rules
  give a changed area a new code. Every write runs the draft operation's checks and, when it would
  break the partition, answers its :class:`geo.redraw.RedrawRefused` with the findings (4xx).
* Every feature has an ETag (a hash of its id, geometry and properties, as served); PUT, PATCH and
  DELETE need ``If-Match`` with the current one (428 without, 412 when it changed meanwhile), so two
  editors cannot silently overwrite each other.
* Only planners and admins edit, as with the draft operations elsewhere.

The check and the write are two steps (the draft operation opens its own transaction); within one
process they run under one lock, so of two writes carrying the same ETag exactly one succeeds and
the other gets 412. Across ``weiwang serve`` workers two such writes can still both pass the check
in the moment between (each is still one whole draft operation that keeps the partition); closing
that needs the check inside :func:`api.ops.drafts.apply`'s transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import shapely
from shapely.geometry import shape

from api.ops import drafts
from api.ops.access import User, require_role
from api.ops.ogc import (
    GRID_KINDS,
    CollectionId,
    Features,
    InvalidParameter,
    item,
    parse_collection_id,
    parse_ogc_crs,
)
from api.ops.service import Service
from api.ops.tokens import Unauthorized
from dispatch import AppRole
from dispatch.errors import InvalidInput
from geo.errors import WeiwangError
from store.models import DRAFT

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


_P = ParamSpec("_P")
_T = TypeVar("_T")
#: Check-then-write of every edit in this process, one at a time (see the module docstring).
_WRITES = threading.Lock()


def _serialised(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with _WRITES:
            return fn(*args, **kwargs)

    return run


#: HTTP status of this module's errors (the face maps them).
STATUS = {"read_only": 405, "precondition_required": 428, "precondition_failed": 412}


def etag(feature: Mapping[str, Any]) -> str:
    """The strong ETag of a feature as served: its id, geometry and properties."""
    core = {k: feature.get(k) for k in ("id", "geometry", "properties")}
    digest = hashlib.sha256(json.dumps(core, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f'"{digest[:32]}"'


def read_item(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    feature_id: str,
    params: Mapping[str, str],
) -> Features:
    """:func:`api.ops.ogc.item` with its ``ETag`` header."""
    answer = item(service, user, base, collection_id, feature_id, params)
    if parse_collection_id(collection_id).kind in GRID_KINDS:
        answer.headers["ETag"] = etag(answer.body)
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
    view = service.layers.version(cid.community, number)
    if view.state != DRAFT:
        raise ReadOnly(
            f"第{number}版为{view.state_label}，只读：请在草稿上编辑",
            f"version {number} is {view.state}, read-only: edit a draft",
            field="version",
        )
    return cid, number


def _check_match(current: Features, if_match: str | None) -> None:
    if not if_match:
        raise PreconditionRequired(
            "修改或删除需要 If-Match（先读取要素取得 ETag）",
            "replace, update and delete need If-Match (read the feature for its ETag)",
            field="If-Match",
        )
    tags = {t.strip() for t in if_match.split(",")}
    if "*" not in tags and current.headers["ETag"] not in tags:
        raise PreconditionFailed(
            "要素已被他人修改，请重新读取后再改",
            "the feature changed meanwhile; read it again and retry",
            field="If-Match",
            detail={"etag": current.headers["ETag"]},
        )


def _wkt_in(geometry: Any, content_crs: str | None) -> tuple[str, str]:
    """A GeoJSON Polygon in ``Content-Crs`` (axis order of that CRS) as lon/lat-ordered WKT and the
    CRS name :mod:`geo.crs` knows."""
    crs = parse_ogc_crs((content_crs or "").strip("<> ") or None, "Content-Crs")
    try:
        geom = shape(geometry)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        raise InvalidInput(
            "geometry 不是有效的 GeoJSON 几何", "geometry is not valid GeoJSON", field="geometry"
        ) from None
    if crs.swap:
        geom = shapely.transform(geom, lambda c: c[:, ::-1])
    return geom.wkt, crs.geo_name


def _feature_in(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidInput("请求体应为 GeoJSON Feature", "the body must be a GeoJSON Feature", field="body")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("properties 应为对象", "properties must be an object", field="properties")
    return body


@_serialised
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


@_serialised
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
    """PUT (``replace``) or PATCH (merge patch): rename and/or reparent one grid of the draft."""
    cid, number = _draft(service, user, collection_id, params)
    assert user is not None
    version = {"version": str(number)}
    current = read_item(service, user, base, collection_id, feature_id, version)
    _check_match(current, if_match)
    if replace:
        feature = _feature_in(body)
    elif isinstance(body, dict):
        feature = body
    else:
        raise InvalidInput("请求体应为 JSON 对象", "the body must be a JSON object", field="body")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("properties 应为对象", "properties must be an object", field="properties")
    if feature.get("geometry") is not None:
        wkt, crs = _wkt_in(feature["geometry"], content_crs)
        now = shape(current.body["geometry"])
        given = shapely.from_wkt(wkt) if crs == "wgs84" else None
        if given is None or not given.equals_exact(now, 1e-9):
            raise InvalidInput(
                "不能直接替换网格范围：请用拆分、合并或移动边界",
                "a grid's area cannot be replaced directly: use split, merge or move boundary",
                field="geometry",
            )
    old = current.body["properties"]
    code = current.body["id"]
    ops: list[dict[str, Any]] = []
    name = props.get("name")
    if name is not None and name != old["name"]:
        ops.append(
            drafts.apply(
                service, cid.community, number, "rename", {"grid": code, "name": name}, author=user.username
            )["operation"]
        )
    parent = props.get("parent_code")
    if parent is not None and parent != old["parent_code"]:
        op = drafts.apply(
            service, cid.community, number, "reparent", {"grid": code, "to": parent}, author=user.username
        )["operation"]
        ops.append(op)
        code = next((c for c in op["added"]), code)
    out = read_item(service, user, base, collection_id, code, version)
    out.body["operations"] = ops
    return out


@_serialised
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
    current = read_item(service, user, base, collection_id, feature_id, {"version": str(number)})
    _check_match(current, if_match)
    return drafts.apply(
        service, cid.community, number, "remove", {"grid": current.body["id"]}, author=user.username
    )["operation"]
