"""``/maps/print/{community}.pdf`` and ``.png``: the printable 微网格分布图 over HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.http.deps import CommunityCode, current_user, service_of
from api.ops.access import User
from api.ops.printing import print_sheet as render
from dispatch.errors import InvalidInput

router = APIRouter(prefix="/maps/print", tags=["打印 print"])

MEDIA = {"pdf": "application/pdf", "png": "image/png"}

Paper = Annotated[str, Query(pattern="^(A4|A3)$", description="纸张 A4 | A3")]
Orientation = Annotated[str, Query(pattern="^(portrait|landscape|auto)$")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="图层版本号 (default: published)")]
Grid = Annotated[str | None, Query(max_length=32, description="一般网格编码 one general grid")]


@router.get("/{community}.{fmt}", summary="打印微网格分布图 print as PDF or PNG", response_class=Response)
async def print_sheet(
    community: CommunityCode,
    fmt: Annotated[Literal["pdf", "png"], Path(description="pdf | png")],
    request: Request,
    paper: Paper = "A3",
    orientation: Orientation = "auto",
    version: Version = None,
    grid: Grid = None,
    all_pages: Annotated[bool, Query(description="PDF: 总图 + 每个一般网格一页")] = False,
    dpi: Annotated[int, Query(ge=50, le=300, description="PNG 分辨率")] = 150,
    show_phones: bool = False,
    party: Annotated[
        bool, Query(description="绘制党组织范围（两网融合）draw the party organisations")
    ] = False,
    user: User = Depends(current_user),
) -> Response:
    """``/maps/print/{community}.pdf`` or ``.png``; phones stay masked for viewers."""
    if all_pages and fmt == "png":
        raise InvalidInput("多页仅支持 PDF", "all_pages is for PDF only", field="all_pages")
    body = await run_in_threadpool(
        render,
        service_of(request),
        community,
        version,
        show_phones=show_phones and not user.masks_phones,
        paper=paper,
        orientation=orientation,
        general_code=grid,
        multipage=all_pages,
        dpi=dpi,
        fmt=fmt,
        party=party,
    )
    name = f"{community}-weiwanggrid.{fmt}"
    return Response(
        body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
