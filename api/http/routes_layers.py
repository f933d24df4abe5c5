"""Planners over HTTP: upload a grid layer as a draft (dry run unless ``commit``), publish a draft.

Uploads are bounded (``max_upload_bytes``) before they are read; the file then goes through the
same operation as ``weiwang import`` (:func:`api.ops.layers.import_file`): every limit, the CRS and
encoding handling, the archive and XML checks, validation stored with the draft, and one
transaction — a refused or failing file leaves every stored version untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from pydantic import Field

from api.http.deps import require, service_of
from api.http.schemas import Strict
from api.ops import layers as ops
from api.ops import publishing
from api.ops.access import User
from dispatch import AppRole
from dispatch.errors import InvalidInput

router = APIRouter(prefix="/api/v1/communities", tags=["网格 grids"])
require_planner = require(AppRole.PLANNER, AppRole.ADMIN)
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".kml", ".kmz")


#: Longest file name accepted (most file systems' limit).
MAX_FILENAME_CHARS = 255


def _community(code: str) -> str:
    """A community code from the path: at most 32 printable characters (a NUL would reach the
    database, which PostgreSQL refuses with an error), refused by name rather than cut."""
    if not code.isprintable() or len(code) > 32:
        raise InvalidInput(
            "社区编码无效：最多 32 个字符，且不能含控制字符",
            "invalid community code: at most 32 characters, without control characters",
            field="code",
        )
    return code


def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    raw = upload.filename or "upload"
    if len(raw) > MAX_FILENAME_CHARS or not raw.isprintable():
        raise InvalidInput(
            f"文件名须不超过 {MAX_FILENAME_CHARS} 个字符且不含控制字符（收到 {len(raw)} 个字符）",
            f"the file name must be at most {MAX_FILENAME_CHARS} characters without control characters "
            f"(got {len(raw)})",
            field="file",
        )
    name = Path(raw).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型：{suffix[:16] or '无扩展名'}（可用 {'、'.join(SUFFIXES)}）",
            f"unsupported file type {suffix[:16] or '(none)'}; use one of {', '.join(SUFFIXES)}",
            field="file",
        )
    target = folder / name  # messages and the draft's source name the file as the user knows it
    size = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    f"文件超过上传上限 {limit // 2**20} MB",
                    f"file exceeds the upload limit of {limit} bytes",
                    field="file",
                )
            out.write(chunk)
    return target


@router.post("/{code}/drafts", summary="上传图层为草稿 upload a layer as a draft")
async def upload_draft(
    code: str,
    request: Request,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ")],
    commit: Annotated[bool, Form()] = False,
    crs: Annotated[str | None, Form(max_length=64)] = None,
    note: Annotated[str, Form(max_length=500)] = "",
    drop_elements: Annotated[
        bool, Form(description="允许新版本不含治理要素 let the draft lose the governance elements")
    ] = False,
    user: User = Depends(require_planner),
) -> dict:
    """Dry run by default (what would be imported and its validation); ``commit=true`` stores a
    draft version. The published version is never touched. A file without elements keeps the
    previous version's elements unless ``drop_elements=true``."""
    service = service_of(request)
    folder = Path(tempfile.mkdtemp(prefix="weiwang-upload-"))
    try:
        path = _save(file, folder, service.settings.max_upload_bytes)
        result = await ops.import_file_job(
            service,
            path,
            _community(code),
            commit=commit,
            crs=crs,
            author=user.username,
            note=note,
            drop_elements=drop_elements,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ops.upload_summary(result)


class PublishIn(Strict):
    """The optional body of a publish: the reason for publishing over blocking findings."""

    override_reason: str | None = Field(default=None, max_length=publishing.MAX_REASON)


@router.post("/{code}/versions/{number}/publish", summary="发布草稿 publish a draft")
def publish_draft(
    code: str,
    number: int,
    request: Request,
    force: Annotated[
        bool, Query(description="旧参数：越过须填写 override_reason (kept; needs a reason)")
    ] = False,
    body: Annotated[PublishIn | None, Body()] = None,
    user: User = Depends(require_planner),
) -> dict:
    """Publish draft ``number``: refused (409, the blocking findings named) unless it has none or
    ``override_reason`` is given, which is stored with the version (who, when, why). Open incidents
    not yet 处置中 are re-routed under the new map in the same transaction (``rerouted``)."""
    done = publishing.publish(
        service_of(request),
        _community(code),
        number,
        force=force,
        override_reason=body.override_reason if body is not None else None,
        by=user.username,
    )
    return done.to_dict()
