"""``/maps/…``: the web maps (dispatcher, coverage, assignment), their login page and static files.

Routes only parse, fetch data through ``request.app.state.maps`` (a :class:`MapData`) and call
:mod:`layers.webmap`. Pages need a login: the ``weiwang_token`` cookie set by ``/maps/login`` (or a
bearer header); without one the browser is sent to ``/maps/login?next=…``. Viewers (查看者) get
phones masked. Static files: ``/static/leaflet`` (xstatic-leaflet) and ``/static/weiwang``
(``layers/static``), so no page asset comes from anywhere else. Every page carries a
Content-Security-Policy allowing only this origin (plus the configured basemap's tile host).

:func:`install` adds all this to an app; when ``app.state.maps`` is not set it installs
:class:`ContextMapData`, the implementation on the app's :class:`~api.context.Context`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from geo.errors import WeiwangError
from geo.hierarchy import Hierarchy
from geo.roles import Post, Role
from geo.validate import Finding
from layers.offline import LEAFLET_DIR, STATIC_DIR, basemap
from layers.webmap import assignment_page, coverage_page, dispatch_page, index_page, login_page

router = APIRouter(tags=["地图 maps"])

API_BASE = "/api/v1"
STATIC_BASE = "/static"
TOKEN_COOKIE = "weiwang_token"  # noqa: S105 (a cookie name)
_CODE = Annotated[str, Path(max_length=32, description="社区编码 community code")]


class MapData(Protocol):
    """What the map routes need from the service (the lead wires it in ``create_app``)."""

    basemap: str
    tianditu_key: str

    def hierarchy(self, community: str, version: int | None = None) -> tuple[Hierarchy, str]:
        """The grids of ``community`` (published when ``version`` is None) and a zh label such as
        ``第2版（已发布）``. Raises ``NotFound``."""
        ...

    def posts(self, community: str) -> list[Post]:
        """The roster of the community (all dates; the page keeps the posts valid today)."""
        ...

    def findings(self, community: str, version: int | None = None) -> list[Finding]:
        """Validation findings of that version (draft or published)."""
        ...

    def assignment(self, community: str) -> tuple[dict[str, int], list[dict], dict[str, float | None]]:
        """(open incidents per micro-grid, workload per handler, 按期结案率 per general grid)."""
        ...

    def can_view(self, token: str | None) -> tuple[Any, bool]:
        """(user, mask_phones) for a token; raises ``Unauthorized`` when missing or invalid."""
        ...

    def communities(self) -> list[dict[str, Any]]:
        """Communities with a published version: code, name, counts, ``version`` (its number)."""
        ...


def _maps(request: Request) -> MapData:
    return request.app.state.maps


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(TOKEN_COOKIE)


def _csp(tile_hosts: tuple[str, ...] = ()) -> str:
    img = " ".join(["'self'", "data:", *(f"https://{h}" for h in tile_hosts)])
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self'; form-action 'self'"
    )


def _html(page: str, tile_hosts: tuple[str, ...] = ()) -> HTMLResponse:
    return HTMLResponse(
        page,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": _csp(tile_hosts),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/maps/login?next={quote(target, safe='/')}", status_code=303)


def _viewer(request: Request) -> tuple[Any, bool] | None:
    try:
        return _maps(request).can_view(_token(request))
    except WeiwangError as err:
        if err.code == "unauthorized":
            return None
        raise


def _hosts(data: MapData) -> tuple[str, ...]:
    return basemap(data.basemap, tianditu_key=data.tianditu_key).hosts


@router.get("/maps/login", response_class=HTMLResponse, summary="地图登录页 map login page")
def maps_login(next: Annotated[str, Query(max_length=500)] = "/maps/") -> Response:
    safe = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/maps/"
    return _html(login_page(api_base=API_BASE, static_base=STATIC_BASE, next_url=safe))


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/maps/", status_code=307)


@router.get("/maps/", response_class=HTMLResponse, summary="地图首页 map index")
def maps_index(request: Request) -> Response:
    """Every community with a published grid version, linking its three maps and printable sheets."""
    if _viewer(request) is None:
        return _login_redirect(request)
    return _html(index_page(_maps(request).communities(), static_base=STATIC_BASE))


@router.get("/maps/dispatch/{community}", response_class=HTMLResponse, summary="事件调度地图 dispatcher map")
def maps_dispatch(community: _CODE, request: Request) -> Response:
    who = _viewer(request)
    if who is None:
        return _login_redirect(request)
    _user, mask = who
    data = _maps(request)
    h, _label = data.hierarchy(community)
    page = dispatch_page(
        h,
        community,
        posts=data.posts(community),
        mask_phones=mask,
        api_base=API_BASE,
        static_base=STATIC_BASE,
        basemap=data.basemap,
        tianditu_key=data.tianditu_key,
    )
    return _html(page, _hosts(data))


@router.get("/maps/coverage/{community}", response_class=HTMLResponse, summary="覆盖核查地图 coverage map")
def maps_coverage(
    community: _CODE, request: Request, version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
) -> Response:
    if _viewer(request) is None:
        return _login_redirect(request)
    data = _maps(request)
    h, label = data.hierarchy(community, version)
    page = coverage_page(
        h,
        community,
        data.findings(community, version),
        version_label=label,
        static_base=STATIC_BASE,
        basemap=data.basemap,
        tianditu_key=data.tianditu_key,
    )
    return _html(page, _hosts(data))


@router.get("/maps/assignment/{community}", response_class=HTMLResponse, summary="交办态势 assignment map")
def maps_assignment(community: _CODE, request: Request) -> Response:
    if _viewer(request) is None:
        return _login_redirect(request)
    data = _maps(request)
    h, _label = data.hierarchy(community)
    open_by_micro, workload, ontime = data.assignment(community)
    page = assignment_page(
        h,
        community,
        open_by_micro=open_by_micro,
        workload=workload,
        ontime_by_general=ontime,
        static_base=STATIC_BASE,
        basemap=data.basemap,
        tianditu_key=data.tianditu_key,
    )
    return _html(page, _hosts(data))


def install(app: FastAPI) -> None:
    """Add the map routes and static mounts; default ``app.state.maps`` to :class:`ContextMapData`."""
    app.include_router(router)
    app.mount(f"{STATIC_BASE}/leaflet", StaticFiles(directory=LEAFLET_DIR), name="static-leaflet")
    app.mount(f"{STATIC_BASE}/weiwang", StaticFiles(directory=STATIC_DIR), name="static-weiwang")
    if getattr(app.state, "maps", None) is None and getattr(app.state, "ctx", None) is not None:
        app.state.maps = ContextMapData(app.state.ctx)


# -- the implementation on the service's Context -------------------------------------------------

_FINAL = ("已结案", "已合并", "无效")
_STATE_ZH = {"draft": "草稿", "published": "已发布", "retired": "已停用"}


class ContextMapData:
    """:class:`MapData` from the running service (database, caches, dispatch indicators)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.basemap = ctx.settings.basemap
        self.tianditu_key = ctx.settings.tianditu_key

    def _version(self, community: str, version: int | None) -> tuple[Hierarchy, list, str]:
        from store import db
        from store.grids import load_elements, load_hierarchy
        from store.versions import get_version

        with db.read(self.ctx.engine) as conn:
            v = get_version(conn, community, version)
            h = load_hierarchy(conn, v.id)
            elements = load_elements(conn, v.id)
        return h, elements, f"第{v.number}版（{_STATE_ZH.get(v.state, v.state)}）"

    def hierarchy(self, community: str, version: int | None = None) -> tuple[Hierarchy, str]:
        if version is None:
            pub = self.ctx.published().get(community)
            if pub is not None:
                return pub.hierarchy, f"第{pub.version_number}版（已发布）"
        h, _elements, label = self._version(community, version)
        return h, label

    def posts(self, community: str) -> list[Post]:
        return self.ctx.posts(community)

    def communities(self) -> list[dict[str, Any]]:
        from api.summary import summarize_grids

        out = []
        for code, pub in sorted(self.ctx.published().items()):
            for row in summarize_grids(pub.hierarchy.subset(code)):
                out.append(
                    {
                        "code": row["community_code"],
                        "name": row["community_name"],
                        "general": row["general"],
                        "general_kind": row["general_kind"],
                        "micro": row["micro"],
                        "version": pub.version_number,
                    }
                )
        return out

    def findings(self, community: str, version: int | None = None) -> list[Finding]:
        from geo.validate import validate

        h, elements, _label = self._version(community, version)
        today = self.ctx.clock().date()
        staffed = {
            p.grid_code
            for p in self.posts(community)
            if p.role is Role.MICRO_WORKER
            and (p.valid_from is None or p.valid_from <= today)
            and (p.valid_to is None or today < p.valid_to)
        }
        return validate(h, elements=elements, staffed_micro=staffed)

    def assignment(self, community: str) -> tuple[dict[str, int], list[dict], dict[str, float | None]]:
        from api import incidents as ops
        from api.access import Scope

        ctx = self.ctx
        now: datetime = ctx.clock()
        today = now.astimezone(ops.CST).date()
        period = {"start": today - timedelta(days=30), "end": today + timedelta(days=1), "now": now}
        rows = ops.visible_rows(ctx, Scope(True), community_code=community, limit=1_000_000)
        open_by_micro = dict(
            Counter(r["micro_code"] for r in rows if r.get("micro_code") and r["state"] not in _FINAL)
        )
        people = {p.person_id: p for p in ctx.posts()}
        workload = []
        for s in ops.stats(ctx, Scope(True), community=community, group_by="handler", **period):
            if not s.get("key") or not (s["open"] or s["overdue"]):
                continue
            p = people.get(s["key"])
            workload.append(
                {
                    "person_id": s["key"],
                    "name": p.name if p else s["key"],
                    "role": p.role.value if p else "",
                    "grid_code": p.grid_code if p else "",
                    "open": s["open"],
                    "overdue": s["overdue"],
                }
            )
        workload.sort(key=lambda w: (-w["overdue"], -w["open"], w["person_id"]))
        ontime: dict[str, float | None] = {
            s["key"]: s["on_time_rate"]
            for s in ops.stats(ctx, Scope(True), community=community, group_by="general", **period)
            if s.get("key")
        }
        return open_by_micro, workload, ontime

    def can_view(self, token: str | None) -> tuple[Any, bool]:
        from api.tokens import Unauthorized, read_token
        from dispatch import AppRole
        from store import db
        from store.models import users

        if not token:
            raise Unauthorized("需要登录", "authentication required")
        claims = read_token(self.ctx.settings.secret_key, token)
        with db.read(self.ctx.engine) as conn:
            row = conn.execute(users.select().where(users.c.id == claims.user_id)).first()
        if row is None or not row.active:
            raise Unauthorized("账号不存在或已停用", "account unknown or disabled")
        return row, AppRole(row.app_role) is AppRole.VIEWER
