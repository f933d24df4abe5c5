"""Intake (上报): convert → locate → route → store, in one function, :func:`report_incident`.

The point is converted to WGS84 (checked once), located on the grid versions in force at
``reported_at`` (:meth:`store.inforce.LayersInForce.at`), routed (微网格员 → 微网格长 → 一般网格员 →
总网格长, :func:`dispatch.route`) and stored with its first events in one transaction: 上报 by the
reporter, then — when a handler was found — 受理 and 交办 by the system, which starts the deadline
clock. A point outside every grid but within ``queue_radius_m`` (settings) of a community stays
已上报 in that community's 总网格 queue for 研判.

:func:`prepare_report` does everything but the write (pure CPU and cached reads), so the HTTP face
can store on the event loop (:func:`store_report_on_loop`) without a thread hop.

A report's instant is read once, when intake receives it (``received_at``, from the service clock),
unless it names an earlier ``reported_at``. It is located against the versions in force at that
instant and stored with exactly those: the write re-checks them against the committed version
table (:func:`store.inforce.check_located`), and when a publish switched the map meanwhile it is
located again for the same instant (:func:`store_report`). So during a publish no report is lost
and none is placed on a version that was not in force when the server received it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from api.ops.access import User, actor_for
from api.ops.locating import checked_wgs84
from api.ops.service import Service
from api.ops.timelimits import time_limits_for
from dispatch import Action, Actor, AppRole, Category, Event, apply, report, route, to_record
from dispatch.errors import InvalidInput
from geo.crs import parse_crs
from geo.errors import InvalidCoordinates, NotFound
from geo.nearest import is_cheap as nearest_is_cheap
from geo.nearest import nearest_community
from geo.times import CST, as_instant, beijing_date
from store import db
from store.incidents import get_incident, insert_incident
from store.inforce import LayersChanged, check_located

SYSTEM = Actor("system", AppRole.ADMIN)
#: How long a report retries on the event loop while another writer holds the SpatiaLite file
#: before it waits in a thread instead (a planner's large import may hold it for seconds).
RETRY_ON_LOOP_S = 2.0
#: How often a report is located again when publishes keep switching the map under it.
MAX_RELOCATE = 5


def new_incident_id(at: datetime) -> str:
    """``SJ`` + report date (Beijing) + 16 random hex digits: sortable by day, unguessable. 64 bits:
    with 8 digits (32 bits) two reports of one day shared an id after ~77,000 of them (half of the
    time; a bench at 500/s got there in minutes) and the second was refused as a duplicate."""
    return f"SJ{at.astimezone(CST):%Y%m%d}{secrets.token_hex(8).upper()}"


@dataclass(frozen=True)
class Report:
    """A report converted, located and routed: the incident row and its first events, to store."""

    id: str
    record: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    #: The instant the report was located at (its receipt, or the reported_at it named).
    at: datetime | None = None
    #: The versions of the view it was located on (checked again when it is written).
    version_ids: tuple[int, ...] = ()
    #: Locate it again for the same instant (after a publish switched the map meanwhile).
    redo: Callable[[], Report] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Located:
    """A report's point checked and located: what :func:`prepare_report` builds the report from."""

    category: Category
    now: datetime
    at: datetime
    crs: str
    wlon: float
    wlat: float
    view: Any  # store.inforce.LayerView
    loc: Any  # geo.locator.Location


def _checked(
    service: Service, body: dict[str, Any], now: datetime
) -> tuple[Category, datetime, str, float, float]:
    """Category, instant, CRS and WGS84 point of a report; raises what a bad report gets."""
    category = Category.parse(body["category"])
    at = as_instant(body.get("reported_at") or now)
    if at > now + timedelta(minutes=service.settings.future_slack_min):
        raise InvalidInput("上报时间不能晚于当前时间", "reported_at lies in the future", field="reported_at")
    crs = body.get("crs") or "wgs84"
    wlon, wlat = checked_wgs84(body["lon"], body["lat"], crs)
    return category, at, crs, wlon, wlat


def _view_at(service: Service, at: datetime) -> Any:
    """The view in force at ``at``; :class:`InvalidCoordinates` when no version was."""
    try:
        view = service.layers.at(None, at)
    except NotFound:
        view = None
    if view is None or not view.versions:
        if not any(v.valid_from is not None for v in service.layers.versions()):
            raise InvalidCoordinates(
                "尚无已发布的网格版本，无法定位：请先上传并发布图层",
                "no grid version is published yet: upload and publish a layer first",
                field="lon",
            )
        raise InvalidCoordinates(
            "上报时间早于首个网格版本，无法定位",
            "no grid version was in force at reported_at",
            field="reported_at",
        )
    return view


def prepare_report(
    service: Service, user: User, body: dict[str, Any], *, received_at: datetime | None = None
) -> Report:
    """Check, convert, locate and route a report; raises the domain errors a bad report gets.

    ``body``: lon, lat, crs (default wgs84), category, description, and optionally reported_at
    (a naive time is Beijing time, :mod:`geo.times`), urgent, address, reporter {name, phone}.
    ``received_at``: the receipt instant when the report is located again (default: the clock,
    read once here)."""
    now = received_at if received_at is not None else service.clock()
    category, at, crs, wlon, wlat = _checked(service, body, now)
    view = _view_at(service, at)
    loc = view.locator.locate_one(wlon, wlat)
    return _routed(service, user, body, _Located(category, now, at, crs, wlon, wlat, view, loc))


def _routed(service: Service, user: User, body: dict[str, Any], p: _Located) -> Report:
    """The located report routed, with its first events (see :func:`prepare_report`)."""
    at, view, wlon, wlat = p.at, p.view, p.wlon, p.wlat
    loc = p.loc.to_dict()
    community = loc.get("community_code")
    if community is None:
        radius = service.settings.queue_radius_m
        near = nearest_community(view.hierarchy, wlon, wlat, radius)
        if near is None:
            raise InvalidCoordinates(
                f"该点距任何社区（村）都超过 {radius:.0f} 米，无法受理",
                f"the point lies more than {radius:.0f} m from every community",
                field="lon",
            )
        community = near.code
    version = view.versions.get(community)
    day = beijing_date(at)
    reporter = actor_for(service, user, day)
    resident = body.get("reporter") or {}
    inc, first = report(
        new_incident_id(at),
        p.category.value,
        body["description"],
        reporter,
        at,
        community_code=community,
        general_code=loc.get("general_code"),
        micro_code=loc.get("micro_code"),
        lon=wlon,
        lat=wlat,
        address=body.get("address") or "",
        urgent=bool(body.get("urgent", False)),
    )
    events: list[Event] = []
    routed = routed_to(service, loc.get("micro_code"), loc.get("general_code"), community, day)
    if not routed.queue and routed.person_id is not None:
        inc, ev = apply(inc, Action.ACCEPT, SYSTEM, at, note="自动受理：已定位到微网格")
        events.append(ev)
        inc, ev = apply(
            inc,
            Action.ASSIGN,
            SYSTEM,
            at,
            limits=time_limits_for(service, community),
            assignee_id=routed.person_id,
            assignee_role=routed.role.value,
            grid_code=routed.grid_code,
            note="按网格自动交办",
        )
        events.append(ev)
    record = to_record(inc) | {
        "raw_lon": float(body["lon"]),
        "raw_lat": float(body["lat"]),
        "raw_crs": parse_crs(p.crs).name,
        "layer_version_id": version.id if version else None,
        "on_boundary": bool(loc.get("on_boundary")),
        "snapped": bool(loc.get("snapped")),
        "distance_m": loc.get("distance_m"),
        "resident_name": resident.get("name"),
        "resident_phone": resident.get("phone"),
    }
    record["seq"] = first.seq + len(events)
    return Report(
        inc.id,
        record,
        (first.to_dict(), *(ev.to_dict() for ev in events)),
        at=at,
        version_ids=view.version_ids,
        redo=partial(prepare_report, service, user, body, received_at=p.now),
    )


#: Routes kept per roster (:meth:`Service.posts` returns the same list until it reloads it).
_ROUTES_MAX = 4096


def routed_to(service: Service, micro: str | None, general: str | None, community: str, day: Any) -> Any:
    """:func:`dispatch.route` for these codes and day on the service's roster, remembered per roster
    (:meth:`Service.per_roster`): ``route`` is a pure function of its arguments, and scanning the
    roster for each report cost more than the rest of routing."""
    held: tuple[Any, dict[tuple[Any, ...], Any]] = service.per_roster("intake_routes", lambda p: (p, {}))
    posts, cache = held
    if len(cache) > _ROUTES_MAX:
        cache.clear()
    key = (micro, general, community, day)
    found = cache.get(key)
    if found is None:
        found = cache[key] = route(micro, general, community, posts, day)
    return found


async def prepare_report_on_loop(service: Service, user: User, body: dict[str, Any]) -> Report:
    """:func:`prepare_report` for a caller on an event loop: there when the point falls in a grid
    of layers already built (microseconds), else in a thread, where the work that grows with the
    grids happens (building the locator of a version — a late report's old one, or a freshly
    published one — or the nearest community of a stray point, unless that is cheap already:
    :func:`geo.nearest.is_cheap`); a 99,000-vertex grid no longer freezes the server. The point is
    located once: the thread is used only when it must."""
    now = service.clock()
    category, at, crs, wlon, wlat = _checked(service, body, now)  # refused input: raised at once
    if service.layers.is_built_for(None, at):
        view = _view_at(service, at)
        loc = view.locator.locate_one(wlon, wlat)
        if loc.community_code is not None or nearest_is_cheap(view.hierarchy):
            return _routed(service, user, body, _Located(category, now, at, crs, wlon, wlat, view, loc))
    return await asyncio.to_thread(prepare_report, service, user, body, received_at=now)


def _store_once(service: Service, report_: Report, *, wait: bool = True) -> dict[str, Any]:
    """One write: the located versions checked against the committed table (under the shared
    switch lock), then the incident and its events; :class:`LayersChanged` when a publish
    switched the map for the report's instant since it was located."""
    with db.write(service.engine, wait=wait) as conn:
        if report_.at is not None:
            check_located(conn, report_.at, report_.version_ids, wait=wait)
        insert_incident(conn, report_.record, *report_.events)
        return get_incident(conn, report_.id)


def _relocated(service: Service, report_: Report, attempt: int, err: LayersChanged) -> Report:
    """The report located again for its instant, after re-reading the version table."""
    if report_.redo is None or attempt >= MAX_RELOCATE:
        raise err
    service.layers.refresh()
    return report_.redo()


def store_report(service: Service, report_: Report, *, wait: bool = True) -> dict[str, Any]:
    """Write the incident and its events in one transaction; returns the stored row. When a
    publish switched the map for the report's instant meanwhile, it is located again (same
    instant) and written then (see the module docstring).

    ``wait=False``: raise :class:`store.db.WriterBusy` at once, storing nothing, when another
    writer holds the SpatiaLite file, or a publish holds the layer switch on PostgreSQL."""
    attempt = 0
    while True:
        try:
            return _store_once(service, report_, wait=wait)
        except LayersChanged as err:
            attempt += 1
            report_ = _relocated(service, report_, attempt, err)


def report_incident(service: Service, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """Intake in one call: convert → locate → route → store; returns the stored row."""
    return store_report(service, prepare_report(service, user, body))


async def store_report_on_loop(service: Service, report_: Report) -> dict[str, Any]:
    """:func:`store_report` for a caller on an event loop, which must not block on another writer:
    while the SpatiaLite file is busy it yields to the loop and retries (after 0.5 ms, doubling
    to 20 ms), and after :data:`RETRY_ON_LOOP_S` it waits in a thread. On PostgreSQL writers do
    not queue and the first try stores it, except while a publish holds the layer switch: then it
    yields and retries the same way (never blocking the loop for the length of a publish)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + RETRY_ON_LOOP_S
    delay = 0.0005
    attempt = 0
    while loop.time() < give_up:
        try:
            return _store_once(service, report_, wait=False)
        except db.WriterBusy:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
        except LayersChanged as err:  # a publish switched the map: locate again, off the loop
            attempt += 1
            report_ = await asyncio.to_thread(_relocated, service, report_, attempt, err)
    return await asyncio.to_thread(store_report, service, report_)
