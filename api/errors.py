"""Domain errors → HTTP, in one table. Clients get a stable code and zh-CN + English messages;
the log gets the detail; no stack trace, SQL or path ever reaches a client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
}

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


async def _domain(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, WeiwangError)
    headers = {"WWW-Authenticate": "Bearer"} if err.code == "unauthorized" else None
    return JSONResponse({"error": err.to_dict()}, status_code=status_for(err), headers=headers)


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    errors = err.errors()
    fields = [_field_of(tuple(e.get("loc", ()))) for e in errors]
    first = errors[0] if errors else {}
    msg = str(first.get("msg", "invalid"))[:200]
    return JSONResponse(
        error_body(
            "invalid_input",
            f"请求参数无效：{', '.join(dict.fromkeys(fields))}",
            f"invalid input: {', '.join(dict.fromkeys(fields))}: {msg}",
            field=fields[0] if fields else None,
            fields=[
                {"field": f, "problem": str(e.get("type", ""))} for f, e in zip(fields, errors, strict=True)
            ],
        ),
        status_code=422,
    )


async def _http(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    zh, en = _HTTP_MESSAGES.get(err.status_code, ("请求错误", "request error"))
    return JSONResponse(
        error_body(f"http_{err.status_code}", zh, en), status_code=err.status_code, headers=err.headers
    )


async def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal", "服务器内部错误", "internal server error"), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(WeiwangError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
