"""``weiwang incidents export``: the incidents an account may see over a period, as CSV (UTF-8 with
BOM, for Excel) or GeoJSON — the same :func:`api.ops.export.export_incidents` as
``GET /api/v1/incidents/export``, with the account's visibility and masking (``--as``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.errors import WeiwangError

URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"


@click.group("incidents")
def incidents_cmd() -> None:
    """事件 — incidents (export)."""


@incidents_cmd.command("export")
@click.option(
    "--as", "username", required=True, help="以该账号导出（其可见范围与号码脱敏适用） export as this account"
)
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True)
@click.option("--from", "start", default=None, help="起始日期或时间（含），如 2026-11-01")
@click.option("--to", "end", default=None, help="结束日期（含当日）或时间")
@click.option("--community", default=None, help="社区编码 community code (default: all)")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="输出文件（默认标准输出）",
)
@click.option("--url", default=None, help=URL_HELP)
def export_cmd(
    username: str,
    fmt: str,
    start: str | None,
    end: str | None,
    community: str | None,
    output: Path | None,
    url: str | None,
) -> None:
    """导出事件 — export incidents as CSV or GeoJSON."""
    from api.ops.access import user_named
    from api.ops.export import export_incidents
    from api.ops.service import open_service

    try:
        with open_service(url=url, files=False) as service:
            out = export_incidents(
                service, user_named(service, username), fmt, start=start, end=end, community=community
            )
    except WeiwangError as err:
        click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
        sys.exit(2)
    if output is None:
        sys.stdout.buffer.write(out.content)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(out.content)
        click.echo(f"已导出 {out.count} 条事件 → {output}", err=True)
