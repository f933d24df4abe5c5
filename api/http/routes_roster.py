"""``/api/v1/roster``: 定人定区 over HTTP — the posts in force on a date or their history, import
a roster file (dry run unless ``commit``), assign and vacate posts, and the change log.

Planners and admins change the roster; dispatchers may read it. Every change is recorded with the
caller as its author. Dates are ISO strings (``2026-03-01``); numbers are refused.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, StrictBool, StrictStr

from api.http.deps import require, service_of
from api.http.schemas import Strict
from api.ops import roster as ops
from api.ops.access import User
from dispatch import AppRole
from dispatch.errors import InvalidInput

router = APIRouter(prefix="/api/v1/roster", tags=["定人定区 roster"])
require_editor = require(AppRole.PLANNER, AppRole.ADMIN)
require_reader = require(AppRole.PLANNER, AppRole.ADMIN, AppRole.DISPATCHER)
MAX_ROSTER_BYTES = 10 * 2**20
Day = Annotated[StrictStr, Field(min_length=10, max_length=10, description="ISO 日期 2026-03-01")]


class AssignIn(Strict):
    person_id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=16, description="总网格长 | 一般网格员 | 微网格长 | 微网格员")
    grid_code: str = Field(min_length=1, max_length=32)
    valid_from: Day | None = None
    valid_to: Day | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    replace: StrictBool = False
    note: str = Field(default="", max_length=500)


class VacateIn(Strict):
    valid_to: Day | None = Field(
        default=None, description="结束日期（不含）end date, exclusive; default today"
    )


@router.get("", summary="花名册 the roster on a date")
def list_roster(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    person: Annotated[str | None, Query(max_length=64)] = None,
    grid: Annotated[str | None, Query(max_length=32)] = None,
    on: Annotated[str | None, Query(max_length=10, description="ISO 日期")] = None,
    history: bool = False,
    _user: User = Depends(require_reader),
) -> dict:
    return ops.roster(
        service_of(request), community=community, person_id=person, grid_code=grid, on=on, history=history
    )


@router.post("/import", summary="导入花名册 import people and posts (CSV/XLSX)")
async def import_roster(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV or XLSX with Chinese headers")],
    commit: Annotated[bool, Form()] = False,
    start: Annotated[str | None, Form(max_length=10)] = None,
    user: User = Depends(require_editor),
) -> dict:
    service = service_of(request)
    day = ops.parse_day(start, "start") if start else None
    name = Path(file.filename or "roster").name
    suffix = Path(name).suffix.lower()
    if suffix not in ops.IMPORT_SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型：{suffix[:16] or '无扩展名'}（可用 .csv、.xlsx）",
            f"unsupported file type {suffix[:16] or '(none)'}; use .csv or .xlsx",
            field="file",
        )
    folder = Path(tempfile.mkdtemp(prefix="weiwang-roster-"))
    try:
        target = folder / f"roster{suffix}"
        size = 0
        with target.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > MAX_ROSTER_BYTES:
                    raise InvalidInput(
                        f"文件超过上限 {MAX_ROSTER_BYTES // 2**20} MB",
                        f"file exceeds {MAX_ROSTER_BYTES} bytes",
                        field="file",
                    )
                out.write(chunk)
        summary = await run_in_threadpool(
            ops.import_roster, service, target, start=day, commit=commit, by=user.actor_id
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return summary.to_dict()


@router.post("/posts", status_code=201, summary="任命岗位 assign a post")
def assign(body: AssignIn, request: Request, user: User = Depends(require_editor)) -> dict:
    return ops.assign(
        service_of(request),
        body.person_id,
        body.role,
        body.grid_code,
        body.valid_from,
        name=body.name,
        phone=body.phone,
        end=body.valid_to,
        replace=body.replace,
        note=body.note,
        by=user.actor_id,
    )


@router.post("/posts/{post_id}/vacate", summary="免去岗位 end a post")
def vacate(
    post_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    body: VacateIn,
    request: Request,
    user: User = Depends(require_editor),
) -> dict:
    return ops.vacate(service_of(request), post_id, body.valid_to, by=user.actor_id)


@router.get("/log", summary="修改记录 who changed people, posts and accounts")
def change_log(
    request: Request,
    entity: Literal["person", "post", "user"] | None = None,
    id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    _user: User = Depends(require_editor),
) -> dict:
    return {"items": ops.audit(service_of(request), entity=entity, entity_id=id, limit=limit)}
