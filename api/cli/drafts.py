"""``weiwang draft …`` and ``weiwang diff``: planners redraw a draft and compare versions.

Thin shells over :mod:`api.ops.drafts`: parse, call one operation, print. Lines and polygons are WKT
in lon/lat WGS84 unless ``--crs`` says otherwise. A refused operation prints what it would break
(Chinese first) and exits with status 2; ``--json`` prints the operation's full answer.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Any

import click

from api.cli.store import URL_HELP, _fail
from geo.errors import WeiwangError


def _author() -> str:
    try:
        return getpass.getuser()[:100]
    except (OSError, KeyError):
        return ""


def _run(url: str | None, fn: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    from api.ops.service import open_service

    try:
        with open_service(url=url, files=False) as service:
            return fn(service)
    except WeiwangError as err:
        if err.detail.get("findings"):
            for f in err.detail["findings"]:
                click.echo(f"  - {f['message_zh']}", err=True)
        _fail(err)
        raise AssertionError("unreachable") from err


def _echo_json(body: Any) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _echo_result(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _echo_json(body)
        return
    op = body.get("operation") or body.get("undone") or {}
    d = body["draft"]
    if op:
        verb = "已撤销" if body.get("undone") else "已完成"
        click.echo(f"{verb}：{op['summary_zh']}")
        if op.get("added"):
            click.echo(f"  新编码 new codes: {', '.join(op['added'])}")
        if op.get("removed"):
            click.echo(f"  停用编码 retired codes: {', '.join(op['removed'])}")
        if op.get("elements_moved"):
            click.echo(f"  要素重新分配 elements re-assigned: {op['elements_moved']}")
    s = d.get("validation") or {}
    b = body["balance"]
    click.echo(
        f"草稿 draft {d['community_code']} 第 {d['number']} 版：错误 {s.get('errors', 0)}，"
        f"警告 {s.get('warnings', 0)}；户数 {b['band'][0]}–{b['band'][1]} 之外的微网格 "
        f"{len(b['below']) + len(b['above'])} 个"
    )


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--url", default=None, help=URL_HELP)(f)
    f = click.option("--json", "as_json", is_flag=True, help="输出 JSON")(f)
    f = click.option("--version", "number", required=True, type=click.IntRange(1), help="草稿版本号 draft")(f)
    f = click.option("--community", required=True, help="社区编码 community code")(f)
    return f


def _apply(
    community: str,
    number: int,
    operation: str,
    params: dict[str, Any],
    crs: str | None,
    url: str | None,
    as_json: bool,
) -> None:
    from api.ops import drafts

    body = _run(
        url,
        lambda s: drafts.apply(s, community, number, operation, params, crs=crs, author=_author()),
    )
    _echo_result(body, as_json)


@click.group("draft")
def draft_cmd() -> None:
    """草稿编辑 — start a draft and redraw its grids (split, merge, move-boundary, reparent, add,
    remove, rename, undo)."""


@draft_cmd.command("new")
@click.option("--community", required=True, help="社区编码 community code")
@click.option("--note", default="", help="说明 note")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option("--url", default=None, help=URL_HELP)
def draft_new(community: str, note: str, as_json: bool, url: str | None) -> None:
    """由现行版本新建草稿 — a new draft from the published version (grids, elements; posts by code)."""
    from api.ops import drafts

    body = _run(url, lambda s: drafts.new(s, community, author=_author(), note=note))
    _echo_result(body, as_json)


@draft_cmd.command("list")
@click.option("--community", required=True, help="社区编码 community code")
@click.option("--url", default=None, help=URL_HELP)
def draft_list(community: str, url: str | None) -> None:
    """草稿列表 — the community's drafts, newest first."""
    from api.ops import drafts

    rows = _run(url, lambda s: {"rows": drafts.list_drafts(s, community)})["rows"]
    if not rows:
        click.echo(f"社区 {community} 没有草稿 (no drafts)")
    for v in rows:
        s = v.get("validation") or {}
        click.echo(
            f"第 {v['number']} 版 草稿  错误 {s.get('errors', 0)} 警告 {s.get('warnings', 0)}  {v['note']}"
        )


@draft_cmd.command("show")
@_common
def draft_show(community: str, number: int, as_json: bool, url: str | None) -> None:
    """查看草稿 — findings, balance and the operations so far."""
    from api.ops import drafts

    body = _run(url, lambda s: drafts.show(s, community, number))
    _echo_result(body, as_json)
    if not as_json:
        for op in body["operations"]:
            mark = "（已撤销）" if op["undone_at"] else ""
            click.echo(f"  {op['seq']}. {op['summary_zh']}{mark}")


@draft_cmd.command("split")
@_common
@click.option("--grid", required=True, help="微网格编码 micro-grid code")
@click.option("--line", required=True, help="分割线 WKT LINESTRING")
@click.option("--crs", default=None, help="坐标系 CRS of the line (default wgs84)")
def draft_split(
    community: str, number: int, as_json: bool, url: str | None, grid: str, line: str, crs: str | None
) -> None:
    """沿线分割微网格 — split a micro-grid along a line drawn across it."""
    _apply(community, number, "split", {"grid": grid, "line": line}, crs, url, as_json)


@draft_cmd.command("merge")
@_common
@click.option("--grids", required=True, help="相邻微网格 A,B adjacent micro-grids")
@click.option("--name", default=None, help="合并后名称 name of the merged grid")
def draft_merge(
    community: str, number: int, as_json: bool, url: str | None, grids: str, name: str | None
) -> None:
    """合并相邻微网格 — merge adjacent micro-grids (refused when they do not share an edge)."""
    _apply(community, number, "merge", {"grids": grids, "name": name}, None, url, as_json)


@draft_cmd.command("move-boundary")
@_common
@click.option("--grids", required=True, help="相邻微网格 A,B")
@click.option("--line", required=True, help="新边界 WKT LINESTRING")
@click.option("--crs", default=None, help="坐标系 CRS of the line (default wgs84)")
def draft_move(
    community: str, number: int, as_json: bool, url: str | None, grids: str, line: str, crs: str | None
) -> None:
    """移动共用边界 — move the boundary two neighbours share onto a line; nothing else changes."""
    _apply(community, number, "move_boundary", {"grids": grids, "line": line}, crs, url, as_json)


@draft_cmd.command("reparent")
@_common
@click.option("--grid", required=True, help="微网格编码 micro-grid code")
@click.option("--to", "to", required=True, help="新的一般网格 the new general grid")
def draft_reparent(community: str, number: int, as_json: bool, url: str | None, grid: str, to: str) -> None:
    """调整上级 — move a micro-grid to a neighbouring general grid."""
    _apply(community, number, "reparent", {"grid": grid, "to": to}, None, url, as_json)


@draft_cmd.command("add")
@_common
@click.option("--parent", required=True, help="一般网格编码 general grid")
@click.option("--polygon", required=True, help="范围 WKT POLYGON")
@click.option("--name", required=True, help="名称 name")
@click.option("--crs", default=None, help="坐标系 CRS of the polygon (default wgs84)")
def draft_add(
    community: str,
    number: int,
    as_json: bool,
    url: str | None,
    parent: str,
    polygon: str,
    name: str,
    crs: str | None,
) -> None:
    """新增微网格 — add a micro-grid; it takes its area from the grids it covers."""
    _apply(community, number, "add", {"parent": parent, "polygon": polygon, "name": name}, crs, url, as_json)


@draft_cmd.command("remove")
@_common
@click.option("--grid", required=True, help="微网格编码 micro-grid code")
def draft_remove(community: str, number: int, as_json: bool, url: str | None, grid: str) -> None:
    """删除微网格 — its area joins the neighbour sharing its longest edge."""
    _apply(community, number, "remove", {"grid": grid}, None, url, as_json)


@draft_cmd.command("rename")
@_common
@click.option("--grid", required=True, help="网格编码 grid code")
@click.option("--name", required=True, help="新名称 new name")
def draft_rename(community: str, number: int, as_json: bool, url: str | None, grid: str, name: str) -> None:
    """更名 — rename a grid (its code and area stay)."""
    _apply(community, number, "rename", {"grid": grid, "name": name}, None, url, as_json)


@draft_cmd.command("fix")
@_common
def draft_fix(community: str, number: int, as_json: bool, url: str | None) -> None:
    """自动修复 — give each gap and sliver to the micro-grid sharing its longest edge."""
    _apply(community, number, "fix", {}, None, url, as_json)


@draft_cmd.command("undo")
@_common
def draft_undo(community: str, number: int, as_json: bool, url: str | None) -> None:
    """撤销上一步 — undo the draft's last operation."""
    from api.ops import drafts

    body = _run(url, lambda s: drafts.undo(s, community, number))
    _echo_result(body, as_json)


@draft_cmd.command("impact")
@_common
def draft_impact(community: str, number: int, as_json: bool, url: str | None) -> None:
    """发布影响预览 — which elements, posts and open incidents publishing would move."""
    from api.ops import drafts

    body = _run(url, lambda s: drafts.impact(s, community, number))
    if as_json:
        _echo_json(body)
        return
    c = body["counts"]
    click.echo(
        f"发布第 {body['to']['number']} 版将影响：要素 {c['elements']} 个改变微网格"
        f"（{c['elements_lost']} 个丢失），岗位 {c['posts']} 个失去网格，"
        f"未办结事件 {c['incidents']} 件改变网格；"
        f"停用微网格 {len(body['grids_removed'])} 个（{c['households_removed']} 户），"
        f"新增 {len(body['grids_added'])} 个（{c['households_added']} 户）"
    )
    for p in body["posts"]:
        click.echo(f"  岗位 post: {p['name']}（{p['role']}）{p['grid_code']}")
    for i in body["incidents"]:
        click.echo(f"  事件 incident {i['id']}: {i['from']} → {i['to'] or '无 none'}")


def _range(text: str | None, field: str) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        lo, hi = (int(v) for v in text.replace("–", "-").split("-", 1))
    except ValueError:
        raise click.BadParameter(
            f"应为 下限-上限，如 30-100 (expected LO-HI, got {text!r})", param_hint=field
        ) from None
    return lo, hi


@draft_cmd.command("bands")
@click.option("--community", required=True, help="社区编码 community code")
@click.option("--micro", default=None, help="微网格户数范围 households per micro-grid, e.g. 30-100")
@click.option("--general", default=None, help="一般网格户数范围 households per general grid, e.g. 300-1200")
@click.option("--reset", is_flag=True, help="恢复默认 back to the default (30-100 per micro-grid)")
@click.option("--url", default=None, help=URL_HELP)
def draft_bands(community: str, micro: str | None, general: str | None, reset: bool, url: str | None) -> None:
    """户数均衡范围 — show or set the households bands a community plans for, per level."""
    from api.ops import drafts

    m, g = _range(micro, "--micro"), _range(general, "--general")
    found = _run(url, lambda s: drafts.bands(s, community, micro=m, general=g, reset=reset))
    for level, zh in (("micro", "微网格"), ("general", "一般网格")):
        band = found.get(level)
        click.echo(f"{zh}：{band[0]}–{band[1]} 户" if band else f"{zh}：不检查 (not checked)")


@click.command("diff")
@click.option("--community", required=True, help="社区编码 community code")
@click.option("--from", "before", type=click.IntRange(1), default=None, help="原版本 (default: published)")
@click.option("--to", "after", type=click.IntRange(1), default=None, help="新版本 (default: newest draft)")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option("--url", default=None, help=URL_HELP)
def diff_cmd(community: str, before: int | None, after: int | None, as_json: bool, url: str | None) -> None:
    """版本对比 — grid by grid: added, removed, changed, with the area change in m²."""
    from api.ops import drafts

    body = _run(url, lambda s: drafts.diff(s, community, before, after))
    if as_json:
        _echo_json(body)
        return
    s = body["summary"]
    click.echo(
        f"{community} 第 {body['from']['number']} 版 → 第 {body['to']['number']} 版："
        f"新增 {s['added']}，停用 {s['removed']}，变更 {s['changed']}"
    )
    labels = {"added": "新增", "removed": "停用", "changed": "变更"}
    for g in body["grids"]:
        click.echo(
            f"  {labels[g['change']]} {g['code']} {g['name']}  面积变化 {g['area_change_m2']:+.1f} 平方米"
            f"  易手 {g['moved_m2']:.1f} 平方米"
        )
