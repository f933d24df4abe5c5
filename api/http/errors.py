"""Domain errors → HTTP, in one table. Clients get a stable code and zh-CN + English messages;
the log gets the detail; no stack trace, SQL or path ever reaches a client.

A browser opening a map page (``/maps/…`` with ``text/html`` in ``Accept``) gets the same status
and messages as a small Chinese HTML page instead of JSON, with a link back to the map list."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import WeiwangError

log = logging.getLogger("weiwang.api")

#: error code → HTTP status. Codes not listed are 400 (the caller's input was refused).
STATUS_BY_CODE: dict[str, int] = {
    "invalid_coordinates": 422,
    "unknown_crs": 422,
    "invalid_hierarchy": 422,
    "invalid_input": 422,
    "not_found": 404,
    "illegal_transition": 409,
    "conflict": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "throttled": 429,
    "payload_too_large": 413,
    "limit_exceeded": 413,
    "unsupported_format": 415,
    "redraw_refused": 422,
    "codes_exhausted": 409,
    "invalid_tile": 400,  # geo.tiles.InvalidTile: z/x/y off the grid or outside the layer's zooms
    "database_unavailable": 503,
}

#: Seconds a client is asked to wait (``Retry-After``) when the database is unavailable.
RETRY_AFTER_S = 1

_HTTP_MESSAGES = {
    401: ("需要登录", "authentication required"),
    403: ("无权访问", "forbidden"),
    404: ("资源不存在", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    413: ("请求体过大", "request body too large"),
    415: ("不支持的内容类型", "unsupported media type"),
}


def error_body(code: str, zh: str, en: str, **extra: object) -> dict:
    return {"error": {"code": code, "message_zh": zh, "message_en": en, **extra}}


def status_for(err: WeiwangError) -> int:
    return STATUS_BY_CODE.get(err.code, 400)


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/maps/") and "text/html" in request.headers.get("accept", "")


def _user_bar(request: Request) -> str:
    """The shared header (who is logged in, 退出登录: :func:`layers.header.user_bar`) for a caller
    who is logged in — a refused page then shows whose account was refused and how to switch —
    or nothing (not logged in, or the check itself fails: an error page must always render)."""
    from api.http.deps import service_of, token_of
    from api.ops.access import authenticate
    from api.ops.maps import user_info
    from layers.header import user_bar

    try:
        service = service_of(request)
        return user_bar(user_info(service, authenticate(service, token_of(request))))
    except Exception:  # not logged in, or anything else: the error page still renders, bare
        return ""


def _error_page(error: Mapping[str, object], bar: str = "") -> str:
    zh = html.escape(str(error.get("message_zh", "")))
    en = html.escape(str(error.get("message_en", "")))
    code = html.escape(str(error.get("code", "")))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>出错了 · 微网实格</title>'
        "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}"
        "p.en{color:#666}code{color:#999}.ww-userbar{font-size:13px;border-bottom:1px solid #ddd;"
        "padding-bottom:6px}.ww-userbar a{margin-left:8px}</style></head><body>"
        f'{bar}<h1>出错了</h1><p class="zh">{zh}</p><p class="en">{en}</p><p><code>{code}</code></p>'
        '<p><a href="/maps/">返回地图列表</a></p></body></html>'
    )


def _respond(request: Request, body: dict, status: int, headers: Mapping[str, str] | None = None) -> Response:
    if _wants_html(request):
        code = body["error"].get("code")
        bar = "" if code in ("unauthorized", "database_unavailable") else _user_bar(request)
        page = _error_page(body["error"], bar)
        return HTMLResponse(page, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain(request: Request, err: Exception) -> Response:
    assert isinstance(err, WeiwangError)
    headers = {"WWW-Authenticate": "Bearer"} if err.code == "unauthorized" else None
    if err.code == "database_unavailable":
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return _respond(request, {"error": err.to_dict()}, status_for(err), headers)


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(request: Request, err: Exception) -> Response:
    assert isinstance(err, RequestValidationError)
    errors = err.errors()
    fields = [_field_of(tuple(e.get("loc", ()))) for e in errors]
    first = errors[0] if errors else {}
    msg = str(first.get("msg", "invalid"))[:200]
    zh = f"请求参数无效：{', '.join(dict.fromkeys(fields))}"
    limit = (first.get("ctx") or {}).get("max_length")
    if first.get("type") == "string_too_long" and limit is not None:
        zh = f"{fields[0]} 过长：最多 {limit} 个字符（不会自动截断）"  # the limit named, never cut silently
    return _respond(
        request,
        error_body(
            "invalid_input",
            zh,
            f"invalid input: {', '.join(dict.fromkeys(fields))}: {msg}",
            field=fields[0] if fields else None,
            fields=[
                {"field": f, "problem": str(e.get("type", ""))} for f, e in zip(fields, errors, strict=True)
            ],
        ),
        422,
    )


#: A member whose value is an integer too long for Python's JSON reader (4300 digits).
_LONG_NUMBER = re.compile(rb'"([A-Za-z_][A-Za-z0-9_]{0,63})"\s*:\s*-?[0-9]{4301}')


async def _unparsable(request: Request, err: StarletteHTTPException) -> Response | None:
    """A named 422 for the bodies FastAPI and Starlette refuse with a bare 400: an integer too long
    to read (the field found in the body), or a multipart form it cannot read (a file name too long)."""
    if err.status_code != 400:
        return None
    if "multipart" in str(err.detail).lower():
        return _respond(
            request,
            error_body(
                "invalid_input",
                "上传表单无法解析：文件名最多 255 个字符，且不能含控制字符",
                "invalid input: file: the upload form cannot be read (file names are at most 255 "
                "characters, without control characters)",
                field="file",
            ),
            422,
        )
    if isinstance(err.__cause__, ValueError) and "digits" in str(err.__cause__):
        found = _LONG_NUMBER.search(getattr(request, "_body", b"") or b"")
        field = found.group(1).decode() if found else "body"
        return _respond(
            request,
            error_body(
                "invalid_input",
                f"请求参数无效：{field}（数字超过 4300 位）",
                f"invalid input: {field}: a number of more than 4300 digits",
                field=field,
            ),
            422,
        )
    return None


async def _http(request: Request, err: Exception) -> Response:
    assert isinstance(err, StarletteHTTPException)
    if (named := await _unparsable(request, err)) is not None:
        return named
    zh, en = _HTTP_MESSAGES.get(err.status_code, ("请求错误", "request error"))
    return _respond(request, error_body(f"http_{err.status_code}", zh, en), err.status_code, err.headers)


async def _unexpected(request: Request, err: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _respond(request, error_body("internal", "服务器内部错误", "internal server error"), 500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(WeiwangError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
