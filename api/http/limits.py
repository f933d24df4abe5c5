"""Request limits enforced before any route runs: body size and JSON nesting depth."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import error_body


def json_depth_ok(body: bytes, max_depth: int) -> bool:
    """True when the JSON text nests at most ``max_depth`` deep (counted without parsing it)."""
    depth = 0
    in_str = False
    esc = False
    for ch in body.decode("utf-8", errors="replace"):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


#: A control character in a URL, raw or percent-encoded (%00–%1F, %7F): never a valid code or id,
#: and PostgreSQL refuses NUL in text (a 500 before this check).
_CONTROL = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])|[\x00-\x1f\x7f]")


class BodyLimits:
    """ASGI middleware: 413 for bodies over ``max_bytes``, 422 for JSON nested over ``max_depth``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int, max_upload_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_upload_bytes = max(max_upload_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for part, raw in (
                ("path", scope.get("raw_path") or b""),
                ("query", scope.get("query_string") or b""),
            ):
                if _CONTROL.search(raw):
                    await self._refuse(
                        send,
                        422,
                        "invalid_input",
                        "地址中不能含控制字符（如 %00）",
                        f"the URL {part} contains a control character (such as %00)",
                        field=part,
                    )
                    return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"")
        multipart = ctype.startswith(b"multipart/form-data")
        limit = self.max_upload_bytes + 65536 if multipart else self.max_bytes  # + the form's own fields
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, 413, "payload_too_large", "请求体过大", "request body too large")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, 413, "payload_too_large", "请求体过大", "request body too large")
                return
            chunks.append(chunk)
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in ctype and not json_depth_ok(body, self.max_depth):
            await self._refuse(send, 422, "invalid_input", "JSON 嵌套过深", "JSON nested too deeply")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, zh: str, en: str, field: str | None = None) -> None:
        extra = {"field": field} if field else {}
        payload = json.dumps(error_body(code, zh, en, **extra), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
