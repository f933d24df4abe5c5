"""``weiwang report``, ``weiwang act``, ``weiwang stats``: the 上报 + 反馈 loop from the command line.

Each runs as an existing account (``--as USERNAME``) with that account's role and grids, calls the
same operation as the HTTP API (:mod:`api.ops.intake`, :mod:`api.ops.incidents`) and prints the
same JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import click

from geo.errors import WeiwangError

URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"
AS_HELP = "以该账号办理 act as this account (its role and grids apply)"


def _fail(err: WeiwangError) -> None:
    click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
    sys.exit(2)


def _print(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1, default=str))


@click.command("report")
@click.option("--as", "username", required=True, help=AS_HELP)
@click.option("--lon", type=float, required=True, help="经度 longitude")
@click.option("--lat", type=float, required=True, help="纬度 latitude")
@click.option("--crs", default="wgs84", show_default=True, help="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:n")
@click.option(
    "--category", required=True, help="综合维稳 | 矛盾纠纷 | 安全隐患 | 应急管理风险隐患 | 群众诉求"
)
@click.option("--description", required=True, help="事件描述 description")
@click.option("--at", "at_text", default=None, help="上报时间 reported at (ISO; no zone = Beijing time)")
@click.option("--urgent", is_flag=True, help="紧急 urgent")
@click.option("--address", default="", help="地址或地标 address or landmark")
@click.option("--url", default=None, help=URL_HELP)
def report_cmd(
    username: str,
    lon: float,
    lat: float,
    crs: str,
    category: str,
    description: str,
    at_text: str | None,
    urgent: bool,
    address: str,
    url: str | None,
) -> None:
    """上报事件 — report an incident: converted, located, routed and stored like POST /api/v1/incidents."""
    from api.cli.store import _parse_at
    from api.ops import incidents, intake
    from api.ops.access import user_named
    from api.ops.service import open_service

    body = {
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "category": category,
        "description": description,
        "reported_at": _parse_at(at_text),
        "urgent": urgent,
        "address": address,
    }
    try:
        with open_service(url=url, files=False) as service:
            user = user_named(service, username)
            row = intake.report_incident(service, user, body)
            _print(incidents.present_rows(service, user, [row])[0])
    except WeiwangError as err:
        _fail(err)


@click.command("act")
@click.argument("incident_id")
@click.argument("action")
@click.option("--as", "username", required=True, help=AS_HELP)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="名=值",
    help="动作参数，可重复 action parameter, repeatable: assignee_id=P0107, note=…, reason=…, into=…",
)
@click.option("--url", default=None, help=URL_HELP)
def act_cmd(incident_id: str, action: str, username: str, params: tuple[str, ...], url: str | None) -> None:
    """办理事件 — apply one action (accept, assign, start, feedback, verify_pass, verify_fail, defer,
    resume, merge, void, reclassify) as POST /api/v1/incidents/{id}/actions does."""
    from api.ops import incidents
    from api.ops.access import user_named
    from api.ops.service import open_service

    payload: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"应为 名=值 expected NAME=VALUE: {item!r}", param_hint="--param")
        payload[key.strip()] = value
    try:
        with open_service(url=url, files=False) as service:
            _print(incidents.act(service, user_named(service, username), incident_id, action, payload))
    except WeiwangError as err:
        _fail(err)


@click.command("stats")
@click.option("--as", "username", required=True, help=AS_HELP)
@click.option("--community", default=None, help="社区编码 community code")
@click.option(
    "--group-by",
    type=click.Choice(["community", "general", "micro", "handler"]),
    default="community",
    show_default=True,
)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="起始日期 (含)")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="截止日期 (不含)")
@click.option("--url", default=None, help=URL_HELP)
def stats_cmd(
    username: str, community: str | None, group_by: str, start: Any, end: Any, url: str | None
) -> None:
    """考核指标 — 结案率, 按期结案率, 返工 … as GET /api/v1/stats (Beijing dates, [from, to))."""
    from api.ops import incidents
    from api.ops.access import user_named
    from api.ops.service import open_service

    def day(v: Any) -> date | None:
        return v.date() if v is not None else None

    try:
        with open_service(url=url, files=False) as service:
            user = user_named(service, username)
            _print(
                incidents.stats(
                    service, user, community=community, group_by=group_by, start=day(start), end=day(end)
                )
            )
    except WeiwangError as err:
        _fail(err)
