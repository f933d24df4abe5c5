"""``/api/v1/incidents``, ``/supervision``, ``/stats``: the 上报 + 反馈 loop over HTTP.

Each route parses, makes one call into :mod:`api.ops`, and returns what it got.

``POST /api/v1/incidents`` (intake, hundreds a second) is served by a lean ASGI route,
:data:`LEAN_ROUTE`, matched before the FastAPI route of the same path: the JSON body parsed by
orjson and validated by the same model (:class:`~api.http.schemas.IncidentIn`, python mode as
FastAPI validates it), the token verified once per expiry (:func:`api.ops.locating.locate_caller`,
the account still checked on every call), and the answer serialised by orjson. Anything it does
not take on itself — another content type, a body orjson or the model refuses — is handed, body
replayed, to the FastAPI route, which answers exactly as before (the same error bodies). The
FastAPI route also describes the operation in the OpenAPI document.

A plain intake — exactly this path, no query, a JSON body within the size and depth limits, a
bearer token as clients send it — is taken even earlier, before the app's middleware
(:func:`answer_first`, called by :class:`api.http.lean.LocateFirst`): the middleware and router cost
a report ~0.25 ms of CPU. Until the report is stored, anything it does not take (a body the model
refuses, a token refused, a point refused) is replayed to the whole app, which answers exactly as
before; once a write was attempted, its error is answered here from the same table
(:func:`api.http.errors.status_for`), never replayed (it would store the report twice).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.deps import bearer_of, current_user, require, service_of
from api.http.errors import RETRY_AFTER_S, error_body, status_for
from api.http.lean import bearer as lean_bearer
from api.http.limits import json_depth_ok
from api.http.schemas import ActionIn, IncidentIn
from api.ops import incidents as ops
from api.ops import intake, privacy
from api.ops.access import User, require_role
from api.ops.intake_batch import store_report_batched
from api.ops.locating import locate_caller
from api.ops.service import Service
from dispatch import AppRole
from geo.errors import WeiwangError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["事件 incidents"])

REPORTERS = (AppRole.GRID_WORKER, AppRole.DISPATCHER, AppRole.ADMIN)
require_reporter = require(*REPORTERS)


@router.post("/incidents", status_code=201, summary="上报事件 report an incident")
async def create_incident(
    body: IncidentIn, request: Request, response: Response, user: User = Depends(require_reporter)
) -> dict:
    """Convert, locate (grid version in force at ``reported_at``), route to the micro-grid's
    微网格员 (falling back up the roles) and store, with every step as an event."""
    # On the event loop, not in the thread pool: a report is ~1 ms of CPU and one short write
    # transaction, and the hop to a thread plus the GIL handovers cost more than that (see
    # bench/README.md). Building layers goes to a thread (prepare_report_on_loop); the write
    # never blocks the loop on another writer (store_report_on_loop).
    answer = await _intake(service_of(request), user, body.model_dump())
    response.headers["Location"] = f"/api/v1/incidents/{answer['id']}"
    return answer


async def _intake(service: Service, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """Prepare, store (answered only after its commit) and present one report."""
    return await _stored(service, user, await intake.prepare_report_on_loop(service, user, body))


async def _stored(service: Service, user: User, report_: intake.Report) -> dict[str, Any]:
    """Store a prepared report (answered only after its commit) and present it."""
    if service.settings.intake_batch:  # group commit: answered once its batch has committed
        row = await store_report_batched(service, report_)
    else:
        row = await intake.store_report_on_loop(service, report_)
    return _present(service, user, row)


def _present(service: Service, user: User, row: dict[str, Any]) -> dict[str, Any]:
    """:func:`api.ops.incidents.present_rows` for one row, with the person-id map of the roster
    built once per roster (``present_rows`` builds it from every post on each call)."""
    people = service.per_roster("people_of", ops.people_of)
    shown = ops.present(row, people=people, names=ops.names_of(service), mask=False, now=service.clock())
    return privacy.apply(user.role, shown)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(raw: bytes) -> Receive:
    """A ``receive`` that hands out ``raw`` as the whole body, then a disconnect."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return {"type": "http.disconnect"}

    return replay


def _plain_intake(scope: Scope, max_bytes: int) -> str | None:
    """The bearer token of a request :func:`answer_first` may take; None to leave it to the app."""
    if scope["query_string"] or not _is_json(scope):
        return None
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit() or int(value) > max_bytes:
                return None
            break
    else:
        return None  # chunked: the app's limits read it
    return lean_bearer(scope["headers"])


async def answer_first(service: Service, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    """``POST /api/v1/incidents`` before the middleware when it is plain, else ``app`` (see the
    module docstring); the caller checked the method and the exact path."""
    settings = service.settings
    token = _plain_intake(scope, settings.max_body_bytes)
    if token is None:
        await app(scope, receive, send)
        return
    raw = await _read_body(receive)
    if raw is None:  # the client went away
        return
    try:
        depth = settings.max_json_depth
        if raw.count(b"{") + raw.count(b"[") > depth and not json_depth_ok(raw, depth):
            raise ValueError("nested too deeply")  # the app's BodyLimits refuses it
        parsed = IncidentIn.model_validate(orjson.loads(raw))
        user = require_role(locate_caller(service, token), *REPORTERS)
        report_ = await intake.prepare_report_on_loop(service, user, parsed.model_dump())
    except Exception:  # nothing stored: the app answers it, refusals and all
        await app(scope, _replaying(raw), send)
        return
    try:
        answer = await _stored(service, user, report_)
    except WeiwangError as err:
        await _send_json(send, status_for(err), {"error": err.to_dict()}, _error_headers(err))
        return
    except Exception:
        log.exception("unexpected error on POST %s", PATH)
        await _send_json(send, 500, error_body("internal", "服务器内部错误", "internal server error"))
        return
    await _send_json(send, 201, answer, [(b"location", f"{PATH}/{answer['id']}".encode())])


def _error_headers(err: WeiwangError) -> list[tuple[bytes, bytes]]:
    """The headers :func:`api.http.errors` adds to an error's answer."""
    if err.code == "database_unavailable":
        return [(b"retry-after", str(RETRY_AFTER_S).encode())]
    if err.code == "unauthorized":
        return [(b"www-authenticate", b"Bearer")]
    return []


async def _send_json(
    send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _LeanIntake:
    """``POST /api/v1/incidents`` as a plain ASGI app (see the module docstring)."""

    def __init__(self) -> None:
        self._described: APIRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        if raw is None:  # the client went away
            return
        parsed: Any = None
        if _is_json(scope):
            try:
                parsed = IncidentIn.model_validate(orjson.loads(raw))
            except (orjson.JSONDecodeError, ValidationError):
                parsed = None
        if parsed is None:  # FastAPI answers it, errors and all
            await self._full_route(scope, raw, send)
            return
        service: Service = scope["app"].state.service
        user = require_role(locate_caller(service, bearer_of(scope["headers"])), *REPORTERS)
        answer = await _intake(service, user, parsed.model_dump())
        await _send_json(send, 201, answer, [(b"location", f"{PATH}/{answer['id']}".encode())])

    async def _full_route(self, scope: Scope, raw: bytes, send: Send) -> None:
        """The FastAPI route of :data:`router` (the described one), with the body already read
        replayed to it."""
        if self._described is None:
            self._described = next(
                r for r in router.routes if isinstance(r, APIRoute) and r.path == PATH and "POST" in r.methods
            )
        match, child = self._described.matches(scope)
        if match is not Match.FULL:  # pragma: no cover - the same path and method
            raise RuntimeError("the described intake route does not match")
        await self._described.handle({**scope, **child}, _replaying(raw), send)


PATH = f"{router.prefix}/incidents"
#: The lean intake route: included with :data:`router`, before the FastAPI route of the same path
#: (the app may also put it first among its routes, like ``routes_locate.LEAN_ROUTE``).
LEAN_ROUTE = Route(PATH, _LeanIntake(), methods=["POST"], include_in_schema=False)
router.routes.insert(0, LEAN_ROUTE)


@router.get("/incidents", summary="事件列表 list incidents")
def list_incidents(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[str | None, Query(max_length=200, description="已上报,处置中 … or keys")] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    user: User = Depends(current_user),
) -> dict:
    return ops.list_for(
        service_of(request), user, community=community, states=state, categories=category, limit=limit
    )


@router.get("/incidents/{incident_id}", summary="事件详情 one incident")
def get_incident(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    return ops.get_one(service_of(request), user, incident_id)


@router.get("/incidents/{incident_id}/events", summary="事件过程 the incident's events")
def incident_events(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    return {"items": ops.events_of(service_of(request), user, incident_id)}


@router.post("/incidents/{incident_id}/actions", summary="办理 act on an incident")
def act(incident_id: str, body: ActionIn, request: Request, user: User = Depends(current_user)) -> dict:
    """Actions: accept, reclassify, merge, void, assign, start, feedback, verify_pass, verify_fail,
    defer, resume. An action not allowed in the incident's state answers 409 naming the allowed ones."""
    return ops.act(service_of(request), user, incident_id, body.action, body.params())


@router.get("/supervision", summary="督办清单 overdue incidents")
def supervision(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    user: User = Depends(current_user),
) -> dict:
    return ops.supervision(service_of(request), user, community)


@router.get("/stats", summary="考核指标 indicators")
def stats(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    group_by: Annotated[str, Query(pattern="^(community|general|micro|handler)$")] = "community",
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    user: User = Depends(current_user),
) -> dict:
    """结案率 = 结案数 / (应结案数 − 缓办数); 按期结案率 = 按期结案数 / (应结案数 − 缓办数); 返工,
    median handling time, open and overdue counts — for ``[from, to)`` (Beijing dates; default the
    last 30 days)."""
    return ops.stats(service_of(request), user, community=community, group_by=group_by, start=start, end=end)
