"""``GET /api/v1/incidents/export``: the incidents the caller may see over a period, as CSV (UTF-8
with BOM, for Excel) or GeoJSON — one call into :func:`api.ops.export.export_incidents`.

Registered before ``/api/v1/incidents/{id}`` (see :func:`api.http.app._include_standards`), so
``export`` is never read as an incident id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.http.deps import current_user, service_of
from api.ops.access import User
from api.ops.export import export_incidents

router = APIRouter(prefix="/api/v1", tags=["事件 incidents"])


@router.get("/incidents/export", summary="导出事件 export incidents (CSV / GeoJSON)")
def export(
    request: Request,
    format: Annotated[str, Query(max_length=10, description="csv | geojson")] = "csv",
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, description="起始日期或时间（含）")
    ] = None,
    to: Annotated[str | None, Query(max_length=40, description="结束日期（含当日）或时间")] = None,
    community: Annotated[str | None, Query(max_length=32, description="社区编码")] = None,
    user: User = Depends(current_user),
) -> Response:
    out = export_incidents(service_of(request), user, format, start=from_, end=to, community=community)
    return Response(
        out.content,
        media_type=out.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"',
            "X-Total-Count": str(out.count),
        },
    )
