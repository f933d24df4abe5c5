"""Open311 GeoReport v2 (``/open311/v2``): services and service requests over the incident loop,
framework-free (lists of dicts, plus their JSON or XML rendering).

* services — the five categories; ``service_code`` is the category's English key;
* requests — incidents; the extended states map to ``open`` / ``closed`` (已结案, 已合并, 无效 are
  closed) with the Chinese state and its detail in ``status_notes``;
* a POST reports through :func:`api.ops.intake.report_incident`, so converting, locating, routing
  and storing are the native API's; ``api_key`` is a bearer token, and the roles that may report
  are the API's;
* every read applies :func:`api.ops.access.scope_of` and the phone masking of
  :func:`api.ops.incidents.present_rows`: a grid worker's key sees only their grids' requests.

``jurisdiction_id`` (optional) is a community code. Errors are GeoReport's list of ``{code,
description}``, with ``message_zh``/``message_en``/``field`` as in the native API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from api.ops.access import User, authenticate, hidden, require_role, scope_of
from api.ops.incidents import present_rows, visible_rows
from api.ops.intake import report_incident
from api.ops.ogc import InvalidParameter, filter_incident_rows, parse_interval
from api.ops.service import Service
from dispatch import AppRole, Category, State
from dispatch.errors import InvalidInput
from geo.errors import NotFound, WeiwangError
from geo.times import CST
from store import db
from store.incidents import get_incident_or_none

#: Who may create a request: the roles that may report through the native API.
REPORTERS = (AppRole.GRID_WORKER, AppRole.DISPATCHER, AppRole.ADMIN)
CLOSED_STATES = frozenset({State.CLOSED.value, State.MERGED.value, State.VOID.value})
#: GeoReport's defaults for a GET without dates: the last 90 days, at most 1000 requests.
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
REQUEST_PARAMS = frozenset(
    {"api_key", "jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status"}
)

_DESCRIPTIONS = {
    Category.STABILITY: "影响社会稳定的苗头性、倾向性问题",
    Category.DISPUTE: "邻里、物业、家庭等矛盾纠纷",
    Category.SAFETY: "消防、燃气、建筑、交通等安全隐患",
    Category.EMERGENCY: "自然灾害、事故灾难等应急管理风险隐患",
    Category.REQUEST: "群众反映的诉求与建议",
}


def parse_format(fmt: str) -> str:
    """``json`` or ``xml`` (the extension of the path); 404 for anything else."""
    if fmt not in ("json", "xml"):
        raise NotFound(
            f"不支持的格式：{fmt[:10]}（json 或 xml）", f"unknown format {fmt[:10]!r}", field="format"
        )
    return fmt


def caller(service: Service, api_key: str | None, bearer: str | None) -> User:
    """The user an ``api_key`` (or a bearer header) names: a token of the native API."""
    return authenticate(service, api_key or bearer)


def services() -> list[dict[str, Any]]:
    """GET services: the five categories."""
    return [
        {
            "service_code": c.key,
            "service_name": c.value,
            "description": _DESCRIPTIONS.get(c, c.value),
            "metadata": False,
            "type": "realtime",
            "keywords": f"{c.value},{c.key}",
            "group": "网格事件",
        }
        for c in Category
    ]


def status_of(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def _utc(v: str | None) -> str | None:
    if not v:
        return None
    return datetime.fromisoformat(v).astimezone(UTC).isoformat().replace("+00:00", "Z")


def status_notes(shown: Mapping[str, Any]) -> str:
    """The extended state in words: 已交办给 whom until when, why 缓办/无效, into which it merged."""
    state = shown["state"]
    assignee = shown.get("assignee") or {}
    parts = [state]
    if state == State.MERGED.value and shown.get("merged_into"):
        parts.append(f"合并到 {shown['merged_into']}")
    elif state == State.VOID.value and shown.get("void_reason"):
        parts.append(shown["void_reason"])
    elif state == State.DEFERRED.value and shown.get("defer_reason"):
        parts.append(shown["defer_reason"])
    elif state == State.CLOSED.value and shown.get("feedback_note"):
        parts.append(shown["feedback_note"])
    elif assignee.get("role"):
        parts.append(f"承办：{assignee['role']} {assignee.get('name') or ''}".rstrip())
        if shown.get("deadline"):
            due = datetime.fromisoformat(shown["deadline"]).astimezone(CST)
            parts.append(f"期限 {due:%Y-%m-%d %H:%M}（北京时间）")
    if shown.get("overdue"):
        parts.append("已超期")
    return "；".join(parts)


def as_request(shown: Mapping[str, Any]) -> dict[str, Any]:
    """One incident (as :func:`api.ops.incidents.present` shows it) as a GeoReport service request."""
    grid = shown.get("grid") or {}
    category = Category.parse(shown["category"])
    agency = grid.get("micro_name") or grid.get("general_name") or grid.get("community_name")
    return {
        "service_request_id": shown["id"],
        "status": status_of(shown["state"]),
        "status_notes": status_notes(shown),
        "service_name": category.value,
        "service_code": category.key,
        "description": shown["description"],
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _utc(shown.get("reported_at")),
        "updated_datetime": _utc(shown.get("updated_at")),
        "expected_datetime": _utc(shown.get("deadline")),
        "address": shown.get("address") or None,
        "address_id": None,
        "zipcode": None,
        "lat": shown.get("lat"),
        "long": shown.get("lon"),
        "media_url": None,
        "jurisdiction_id": shown.get("community_code"),
        "state": shown["state"],
    }


def list_requests(service: Service, user: User, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET requests: the requests ``user`` may see, newest first, filtered by id(s), service_code,
    status (open/closed), start_date/end_date (default the last 90 days) and jurisdiction_id."""
    unknown = sorted(set(params) - REQUEST_PARAMS)
    if unknown:
        raise InvalidParameter(
            f"不支持的参数：{', '.join(unknown)[:100]}",
            f"unknown parameter(s): {', '.join(unknown)[:100]}",
            field=unknown[0][:64],
        )
    ids = [i.strip()[:64] for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    categories = None
    if params.get("service_code"):
        categories = [Category.parse(c.strip()).value for c in params["service_code"].split(",")]
    statuses = {s.strip() for s in (params.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise InvalidParameter(
            "status 只能是 open 或 closed", "status must be open or closed", field="status"
        )
    start, end = params.get("start_date"), params.get("end_date")
    if ids:
        period = None
    elif start or end:
        period = parse_interval(f"{start or '..'}/{end or '..'}")
    else:
        period = (service.clock() - timedelta(days=DEFAULT_DAYS), None)
    rows = visible_rows(
        service,
        scope_of(service, user),
        community_code=(params.get("jurisdiction_id") or None),
        categories=categories,
        limit=10_000_000,
    )
    rows = filter_incident_rows(rows, period)
    if ids:
        wanted = set(ids)
        rows = [r for r in rows if r["id"] in wanted]
    if statuses:
        rows = [r for r in rows if status_of(r["state"]) in statuses]
    return [as_request(s) for s in present_rows(service, user, rows[:MAX_REQUESTS])]


def get_request(service: Service, user: User, request_id: str) -> list[dict[str, Any]]:
    """GET requests/{id}: a list of one request; 404 when absent or not visible to ``user``."""
    rid = request_id[:64]
    with db.read(service.engine) as conn:
        row = get_incident_or_none(conn, rid, scope_of(service, user))
    if row is None:
        raise hidden("服务请求", rid)
    return [as_request(present_rows(service, user, [row])[0])]


def _float(form: Mapping[str, str], name: str) -> float:
    try:
        return float(form[name])
    except KeyError:
        raise InvalidInput(f"缺少 {name}", f"{name} is required", field=name) from None
    except ValueError:
        raise InvalidInput(f"{name} 不是数字", f"{name} is not a number", field=name) from None


def create_request(service: Service, user: User, form: Mapping[str, str]) -> list[dict[str, Any]]:
    """POST requests: report through the native intake (WGS84 ``lat``/``long``); returns GeoReport's
    ``[{service_request_id, service_notice, account_id}]``."""
    require_role(user, *REPORTERS)
    if not form.get("service_code"):
        raise InvalidInput("缺少 service_code", "service_code is required", field="service_code")
    try:
        category = Category.parse(form["service_code"])
    except WeiwangError as exc:
        exc.field = "service_code"
        raise
    description = (form.get("description") or "").strip()
    if not description:
        raise InvalidInput("缺少 description（事件描述）", "description is required", field="description")
    name = "".join(p for p in (form.get("last_name"), form.get("first_name")) if p) or None
    body: dict[str, Any] = {
        "lon": _float(form, "long"),
        "lat": _float(form, "lat"),
        "crs": "wgs84",
        "category": category.value,
        "description": description[:2000],
        "address": (form.get("address_string") or "")[:200],
        "reporter": {"name": name, "phone": form.get("phone") or None} if name or form.get("phone") else None,
    }
    row = report_incident(service, user, body)
    shown = present_rows(service, user, [row])[0]
    return [{"service_request_id": row["id"], "service_notice": status_notes(shown), "account_id": None}]


def error_items(err: WeiwangError, status: int) -> list[dict[str, Any]]:
    """GeoReport's error list for a domain error (zh-CN first in ``description``)."""
    item: dict[str, Any] = {
        "code": status,
        "description": f"{err.zh} / {err.en}",
        "message_zh": err.zh,
        "message_en": err.en,
    }
    if err.field:
        item["field"] = err.field
    return [item]


#: XML element names: the list's root and each item's.
XML_NAMES = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def render(items: Sequence[Mapping[str, Any]], kind: str, fmt: str) -> tuple[bytes, str]:
    """The list as GeoReport JSON or XML (UTF-8): (body, media type)."""
    if fmt == "json":
        return json.dumps(list(items), ensure_ascii=False).encode(), "application/json"
    root_name, item_name = XML_NAMES[kind]
    root = ET.Element(root_name)
    for it in items:
        el = ET.SubElement(root, item_name)
        for k, v in it.items():
            child = ET.SubElement(el, k)
            if v is not None:
                child.text = str(v).lower() if isinstance(v, bool) else str(v)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), "text/xml; charset=utf-8"
