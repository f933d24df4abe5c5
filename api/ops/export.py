"""Incident export (事件导出) for dispatchers and leaders: CSV for Excel and GeoJSON for GIS, over
a period, under exactly the API's visibility (:func:`api.ops.access.scope_of`) and phone masking
(:func:`api.ops.incidents.present_rows`). The HTTP route and ``weiwang incidents export`` both call
:func:`export_incidents`.

CSV is UTF-8 with a byte-order mark (Excel then reads Chinese correctly), Chinese column headers,
times in Beijing time, and cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@`` first) prefixed with ``'``. GeoJSON is WGS84 (RFC 7946) with ISO times.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from api.ops.access import User, scope_of
from api.ops.incidents import present_rows, visible_rows
from api.ops.ogc import filter_incident_rows, incident_features, incident_properties, parse_ogc_crs
from api.ops.service import Service
from dispatch.errors import InvalidInput
from geo.times import CST, as_instant, beijing_midnight

FORMATS = ("csv", "geojson")

#: CSV columns: property of :func:`api.ops.ogc.incident_properties` → Chinese header.
CSV_COLUMNS: dict[str, str] = {
    "id": "事件编号",
    "category": "事件类别",
    "state": "状态",
    "urgent": "紧急",
    "overdue": "超期",
    "description": "事件描述",
    "address": "地址",
    "community_code": "社区编码",
    "community_name": "社区",
    "general_code": "一般网格编码",
    "general_name": "一般网格",
    "micro_code": "微网格编码",
    "micro_name": "微网格",
    "assignee_name": "承办人",
    "assignee_role": "承办人角色",
    "assignee_phone": "承办人电话",
    "resident_name": "反映人",
    "resident_phone": "反映人电话",
    "reported_at": "上报时间",
    "assigned_at": "交办时间",
    "deadline": "办理期限",
    "closed_at": "结案时间",
    "updated_at": "最后更新",
    "lon": "经度",
    "lat": "纬度",
}
_TIMES = ("reported_at", "assigned_at", "deadline", "closed_at", "updated_at")


@dataclass(frozen=True)
class Export:
    """An export file: its bytes, media type and a suggested file name."""

    content: bytes
    media_type: str
    filename: str
    count: int


def _bound(text: str | None, name: str, *, end: bool) -> datetime | None:
    """A period bound: a date (Beijing; ``to`` includes that whole day) or an ISO time."""
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return (
                beijing_midnight(d + timedelta(days=1)) - timedelta(microseconds=1)
                if end
                else beijing_midnight(d)
            )
        return as_instant(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidInput(
            f"{name} 不是日期或时间：{text[:40]}（如 2026-11-01）",
            f"{name} is not a date or time: {text[:40]!r} (e.g. 2026-11-01)",
            field=name,
        ) from None


def _cell(value: Any, key: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in _TIMES and isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_incidents(
    service: Service,
    user: User,
    fmt: str = "csv",
    *,
    start: str | None = None,
    end: str | None = None,
    community: str | None = None,
) -> Export:
    """The incidents ``user`` may see, reported within [``start``, ``end``] (dates or ISO times;
    open when absent) in ``community`` (all when None), newest first, as CSV or GeoJSON."""
    if fmt not in FORMATS:
        raise InvalidInput("format 只能是 csv 或 geojson", "format must be csv or geojson", field="format")
    lo, hi = _bound(start, "from", end=False), _bound(end, "to", end=True)
    if lo and hi and lo > hi:
        raise InvalidInput("起始时间晚于结束时间", "from lies after to", field="from")
    rows = visible_rows(service, scope_of(service, user), community_code=community or None, limit=10_000_000)
    rows = filter_incident_rows(rows, (lo, hi) if lo or hi else None)
    shown = present_rows(service, user, rows)
    stamp = service.clock().astimezone(CST).strftime("%Y%m%d-%H%M")
    name = f"incidents-{community or 'all'}-{stamp}"
    if fmt == "geojson":
        crs = parse_ogc_crs(None)
        body = {
            "type": "FeatureCollection",
            "name": name,
            "period": {"from": lo.isoformat() if lo else None, "to": hi.isoformat() if hi else None},
            "exported_at": service.clock().isoformat(),
            "features": incident_features(shown, crs),
        }
        content = json.dumps(body, ensure_ascii=False).encode()
        return Export(content, "application/geo+json", f"{name}.geojson", len(shown))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS.values())
    for s in shown:
        props = incident_properties(s)
        writer.writerow(_cell(props.get(k), k) for k in CSV_COLUMNS)
    return Export(buf.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", f"{name}.csv", len(shown))
