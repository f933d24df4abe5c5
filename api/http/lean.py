"""The hot ``GET /api/v1/locate`` answered before the app's middleware, router and Request objects.

Phones and dispatch consoles call it on every tap, and under load the ASGI stack around the one
route (error middleware, :class:`~api.http.limits.BodyLimits`, the exception middleware, the exit
stack, the router, Request and Response objects) cost more CPU than locating the point.
:class:`LocateFirst` (the app's class) looks first: a plain request — ``GET`` on the exact path, ``lon`` and
``lat`` plain decimal numbers, a short ``crs`` of plain characters, no percent or plus escapes, no
control character, a bearer token already verified (:func:`api.ops.locating.locate_caller`), the
published locator built and prepared — is answered here with two ``send`` calls (pre-built headers,
the body of :func:`api.ops.locating.point_json`). Anything else — a missing or odd parameter, a
token seen for the first time or refused, a cookie instead of a header, a point refused, a locator
not built yet, another method or path — goes to the full app unchanged, so its answers, error
bodies and statuses are exactly those of the app (:mod:`api.http.routes_locate`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.ops.locating import locate_caller, point_json
from api.ops.service import Service

PATH = "/api/v1/locate"
_RAW_PATH = PATH.encode()
#: What the lean path reads as a number; anything else (exponents, spaces, nan) goes to the app.
_PLAIN_NUMBER = re.compile(rb"-?[0-9]{1,12}(?:\.[0-9]{1,20})?")
#: A ``crs`` the lean path passes on (the CRS itself is checked by ``parse_crs``).
_PLAIN_CRS = re.compile(rb"[A-Za-z0-9:_.\-]{1,64}")
#: Raw control characters (percent escapes are left to the app as a whole).
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
#: A bearer token as sent: printable, no whitespace (what the app's ``partition``/``strip`` keeps).
_TOKEN = re.compile(rb"[\x21-\x7e]{1,1000}")
_DEFAULT_CRS = b"wgs84"
_JSON = (b"content-type", b"application/json")


def plain_query(qs: bytes) -> tuple[float, float, str] | None:
    """``lon``, ``lat``, ``crs`` of a raw query string when it is plain (no escapes, no control
    characters, plain numbers, a short plain ``crs``), read as Starlette reads it (``&``-separated,
    the last value wins, other names ignored); None otherwise."""
    if b"%" in qs or b"+" in qs or _CONTROL.search(qs) is not None:
        return None
    lon = lat = None
    crs = _DEFAULT_CRS
    for pair in qs.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"lon":
            lon = value
        elif name == b"lat":
            lat = value
        elif name == b"crs":
            crs = value
    if lon is None or lat is None or _PLAIN_NUMBER.fullmatch(lon) is None:
        return None
    if _PLAIN_NUMBER.fullmatch(lat) is None or _PLAIN_CRS.fullmatch(crs) is None:
        return None
    return float(lon), float(lat), crs.decode("ascii")


def bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of the first ``Authorization`` header when it is ``Bearer <token>`` as sent by
    clients (no cookie, no odd spacing); None otherwise, and the app answers the request, reading
    the header with :func:`api.http.deps.bearer_of` (which gives the same token for any this takes)."""
    for name, value in headers:
        if name == b"authorization":
            if value.startswith(b"Bearer ") and _TOKEN.fullmatch(value, 7) is not None:
                return value[7:].decode("latin-1")
            return None
    return None


def answer(service: Service, scope: Scope) -> bytes | None:
    """The JSON body for a plain request, or None to let the app answer (and refuse) it."""
    query = plain_query(scope["query_string"])
    if query is None:
        return None
    token = bearer(scope["headers"])
    if token is None:
        return None
    try:
        locate_caller(service, token)
        view = service.layers.ready()
        if view is None:
            return None
        return point_json(view, *query)
    except Exception:  # refused (token, point, CRS) or failed: the app answers as it always has
        return None


#: ``(service, scope, receive, send, app)`` answering ``POST /api/v1/incidents`` first (set by
#: :func:`api.http.app.create_app`: :func:`api.http.routes_incidents.answer_first`).
IntakeFirst = Callable[[Service, Scope, Receive, Send, ASGIApp], Awaitable[None]]
_INTAKE_PATH = "/api/v1/incidents"
_RAW_INTAKE_PATH = _INTAKE_PATH.encode()


class LocateFirst(FastAPI):
    """The FastAPI app, answering a plain ``GET /api/v1/locate`` before anything else runs (see the
    module), and handing ``POST /api/v1/incidents`` on its exact path to :attr:`intake_first`;
    everything else is :meth:`FastAPI.__call__` unchanged. A subclass rather than a wrapper, so the
    app stays the FastAPI object everyone holds (``app.state``, routes, OpenAPI)."""

    intake_first: IntakeFirst | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path") or self.root_path:
            await super().__call__(scope, receive, send)
            return
        if (
            scope["method"] == "POST"
            and self.intake_first is not None
            and scope["path"] == _INTAKE_PATH
            and scope.get("raw_path") == _RAW_INTAKE_PATH
        ):
            await self.intake_first(self.state.service, scope, receive, send, super().__call__)
            return
        if scope["path"] == PATH and scope["method"] == "GET" and scope.get("raw_path") == _RAW_PATH:
            body = answer(self.state.service, scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", str(len(body)).encode()), _JSON],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)
