"""The FastAPI application: the HTTP face of :mod:`api.ops`.

``create_app(settings)`` wires settings → engine → :class:`~api.ops.service.Service` → routes.
:func:`api.ops.accounts.prepare_database` migrates and, on an empty database, loads the sample
communities and the demo accounts; ``weiwang serve`` runs it once before starting workers, so
workers never race on migrations.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from api.http import errors
from api.http.lean import LocateFirst
from api.http.limits import BodyLimits
from api.ops.accounts import prepare_database
from api.ops.service import Service
from api.settings import Settings
from store import db

log = logging.getLogger("weiwang")

DESCRIPTION = """
微网实格 weiwang：网格定位、事件上报与办理（上报 → 研判 → 交办 → 处置 → 反馈 → 核查 → 结案）、督办与考核指标。

Errors always have the body `{"error": {"code", "message_zh", "message_en", "field"?}}`.
Log in at `/api/v1/auth/login` and send `Authorization: Bearer <token>`.
"""


def create_app(
    settings: Settings | None = None, *, prepare: bool = False, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """Build the app. ``prepare`` runs :func:`prepare_database` first (tests, single process)."""
    settings = settings or Settings()
    if prepare:
        prepare_database(settings)
    engine = db.make_engine(settings.database_url)
    app = LocateFirst(  # a FastAPI answering the hot GET /api/v1/locate first (api.http.lean)
        title="weiwang 微网实格",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = Service(settings, engine, clock)
    errors.install(app)
    _include_standards(app)

    from api.http import routes_auth, routes_grids, routes_incidents, routes_layers, routes_locate

    for module in (routes_auth, routes_locate, routes_incidents, routes_grids, routes_layers):
        app.include_router(module.router)
    # the hot routes, matched first: GET /api/v1/locate, then POST /api/v1/incidents (the lean intake;
    # the same object stays in routes_incidents.router behind it, never reached for a POST it answers)
    app.router.routes.insert(0, routes_incidents.LEAN_ROUTE)
    app.intake_first = routes_incidents.answer_first  # a plain report, before the middleware
    app.router.routes.insert(0, routes_locate.LEAN_ROUTE)
    _include_maps(app)
    _offline_docs(app)
    from api.http import routes_roster, routes_users

    app.include_router(routes_users.router)
    app.include_router(routes_roster.router)
    from api.http import routes_drafts

    app.include_router(routes_drafts.router)
    app.include_router(routes_drafts.page_router)
    from api.http import routes_plan

    app.include_router(routes_plan.router)
    app.include_router(routes_plan.page_router)
    from api.http import routes_tiles

    app.include_router(routes_tiles.router)

    @app.get("/health", tags=["运维 ops"], summary="健康检查 health")
    def health() -> dict:
        with db.read(engine) as conn:
            from store.versions import fingerprint

            published = fingerprint(conn)
        return {"status": "ok", "database": engine.dialect.name, "published_versions": list(published)}

    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_upload_bytes=settings.max_upload_bytes,
    )
    return app


def create_served_app() -> FastAPI:
    """The app as ``weiwang serve`` runs it in each worker: :func:`create_app` from the environment,
    whose caches are filled at start-up, after which the garbage collector is told to leave every
    object alive by then alone (:func:`gc.freeze`). Without that, each full collection walked the
    grids, locators and libraries (~170,000 objects, ~100 ms) and put the pause on a request."""
    app = create_app()
    app.state.service.warm()
    app.router.lifespan_context = _served_lifespan
    gc.collect()
    gc.freeze()
    return app


@asynccontextmanager
async def _served_lifespan(app: Any) -> AsyncIterator[None]:
    """At shutdown the worker's watcher thread stops before the process ends (it would poll on
    while the database goes away, logging each failure)."""
    try:
        yield
    finally:
        await asyncio.to_thread(app.state.service.stop_watching)


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI served by the app itself (no CDN: the service works offline).

    Swagger UI 5 from the PyPI package ``fastapi-offline`` (the one of ``swagger-ui-bundle`` is 3.x,
    which cannot read OpenAPI 3.1 and showed "Unable to render this definition")."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/swagger", StaticFiles(directory=static), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="weiwang 微网实格 API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )


def _include_maps(app: FastAPI) -> None:
    """Web maps (with their static assets) and printable maps."""
    from api.http import routes_maps, routes_print, routes_workspace

    routes_maps.install(app)
    app.include_router(routes_print.router)
    app.include_router(routes_workspace.router)


def _include_standards(app: FastAPI) -> None:
    """Standard interfaces: OGC API – Features (``/ogc``), Open311 GeoReport v2 (``/open311/v2``) and
    the incident export (CSV / GeoJSON)."""
    from api.http import routes_export, routes_ogc, routes_open311

    app.include_router(routes_ogc.router)
    app.include_router(routes_open311.router)
    # before routes_incidents, whose /incidents/{id} would otherwise take "export" for an id
    app.include_router(routes_export.router)
