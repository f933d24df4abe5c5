"""``weiwang roster import|assign|vacate|list|log``: 定人定区 from the command line.

Thin shells over :mod:`api.ops.roster`. Changes are recorded in the audit log as ``cli`` (or
``--by NAME``); a running service picks them up within ``roster_ttl_s``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geo.errors import WeiwangError

URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"
BY_HELP = "记录为谁所做的修改 who makes the change (audit log)"


def _fail(err: WeiwangError) -> None:
    click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
    sys.exit(2)


def _service(url: str | None):  # type: ignore[no-untyped-def]
    from api.ops.service import open_service

    return open_service(url=url, files=False)


@click.group("roster")
def roster_cmd() -> None:
    """定人定区 — the roster: import people and posts, assign, vacate, list, change log."""


@roster_cmd.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--start", default=None, help="无开始日期的行从该日起生效 start date for rows without one (default today)"
)
@click.option("--commit", is_flag=True, help="写入数据库（默认仅试运行）write (default: dry run)")
@click.option("--by", default="cli", show_default=True, help=BY_HELP)
@click.option("--url", default=None, help=URL_HELP)
def import_cmd(path: Path, start: str | None, commit: bool, by: str, url: str | None) -> None:
    """导入花名册 — import people and posts from CSV/XLSX (人员编号, 姓名, 岗位, 网格编码, 开始日期…)."""
    from api.ops import roster

    try:
        with _service(url) as service:
            day = roster.parse_day(start, "start") if start else None
            s = roster.import_roster(service, path, start=day, commit=commit, by=by).to_dict()
    except WeiwangError as err:
        _fail(err)
        return
    head = "已导入" if s["committed"] else "试运行（加 --commit 写入）"
    click.echo(
        f"{head}：{s['rows']} 行；人员 新增 {s['people']['added']}、更新 {s['people']['updated']}；"
        f"岗位 新增 {s['posts']['added']}、不变 {s['posts']['same']}"
    )


@roster_cmd.command("assign")
@click.option("--person", "person_id", required=True, help="人员编号 person id")
@click.option("--role", required=True, help="岗位 总网格长 | 一般网格员 | 微网格长 | 微网格员")
@click.option("--grid", "grid_code", required=True, help="网格编码 grid code")
@click.option("--start", default=None, help="开始日期 start date (default today)")
@click.option("--end", default=None, help="结束日期（不含）end date, exclusive")
@click.option("--name", default=None, help="新人员的姓名 name (for a new person)")
@click.option("--phone", default=None, help="电话 phone")
@click.option("--replace", is_flag=True, help="同时结束该网格该岗位的其他人 end the other holders on --start")
@click.option("--by", default="cli", show_default=True, help=BY_HELP)
@click.option("--url", default=None, help=URL_HELP)
def assign_cmd(
    person_id: str,
    role: str,
    grid_code: str,
    start: str | None,
    end: str | None,
    name: str | None,
    phone: str | None,
    replace: bool,
    by: str,
    url: str | None,
) -> None:
    """任命岗位 — give a person a post from a start date."""
    from api.ops import roster

    try:
        with _service(url) as service:
            p = roster.assign(
                service,
                person_id,
                role,
                grid_code,
                start,
                name=name,
                phone=phone,
                end=end,
                replace=replace,
                by=by,
            )
    except WeiwangError as err:
        _fail(err)
        return
    click.echo(f"岗位 {p['id']}：{p['name']} {p['role']} {p['grid_code']} 自 {p['valid_from']}")


@roster_cmd.command("vacate")
@click.option("--id", "post_id", type=int, default=None, help="岗位编号 post id (see roster list)")
@click.option("--person", "person_id", default=None, help="人员编号 person id (with --grid)")
@click.option("--grid", "grid_code", default=None, help="网格编码 grid code")
@click.option("--role", default=None, help="岗位 role (when the person holds several on the grid)")
@click.option(
    "--end", default=None, help="结束日期（不含，该日起不再任职）end date, exclusive (default today)"
)
@click.option("--by", default="cli", show_default=True, help=BY_HELP)
@click.option("--url", default=None, help=URL_HELP)
def vacate_cmd(
    post_id: int | None,
    person_id: str | None,
    grid_code: str | None,
    role: str | None,
    end: str | None,
    by: str,
    url: str | None,
) -> None:
    """免去岗位 — end a post (it stays in the history)."""
    if post_id is None and (person_id is None or grid_code is None):
        raise click.UsageError("give --id, or --person and --grid")
    from api.ops import roster

    try:
        with _service(url) as service:
            if post_id is None:
                assert person_id is not None and grid_code is not None
                post_id = roster.find_post(service, person_id, grid_code, role, end)
            p = roster.vacate(service, post_id, end, by=by)
    except WeiwangError as err:
        _fail(err)
        return
    click.echo(f"岗位 {p['id']}：{p['name']} {p['role']} {p['grid_code']} 至 {p['valid_to']} 止")


@roster_cmd.command("list")
@click.option("--community", default=None, help="社区编码 community code")
@click.option("--person", "person_id", default=None, help="人员编号 person id")
@click.option("--grid", "grid_code", default=None, help="网格编码 grid code")
@click.option("--on", default=None, help="该日在岗 posts in force on this date (default today)")
@click.option("--history", is_flag=True, help="含历史岗位 every post of every date")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--url", default=None, help=URL_HELP)
def list_cmd(
    community: str | None,
    person_id: str | None,
    grid_code: str | None,
    on: str | None,
    history: bool,
    as_json: bool,
    url: str | None,
) -> None:
    """花名册 — the posts in force on a date, or the history."""
    from api.ops import roster

    try:
        with _service(url) as service:
            out = roster.roster(
                service, community=community, person_id=person_id, grid_code=grid_code, on=on, history=history
            )
    except WeiwangError as err:
        _fail(err)
        return
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    for p in out["items"]:
        span = f"{p['valid_from'] or '…'} – {p['valid_to'] or '…'}"
        mark = "" if p["in_force"] else "  (不在岗)"
        click.echo(f"{p['id']}\t{p['grid_code']}\t{p['role']}\t{p['person_id']} {p['name']}\t{span}{mark}")
    click.echo(f"{out['on']}：共 {len(out['items'])} 个岗位", err=True)


@roster_cmd.command("log")
@click.option("--entity", type=click.Choice(["person", "post", "user"]), default=None)
@click.option("--id", "entity_id", default=None, help="对象编号 entity id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--url", default=None, help=URL_HELP)
def log_cmd(entity: str | None, entity_id: str | None, limit: int, url: str | None) -> None:
    """修改记录 — who changed people, posts and accounts, newest first (JSON lines)."""
    from api.ops import roster

    try:
        with _service(url) as service:
            rows = roster.audit(service, entity=entity, entity_id=entity_id, limit=limit)
    except WeiwangError as err:
        _fail(err)
        return
    for r in rows:
        click.echo(json.dumps(r, ensure_ascii=False, default=str))
