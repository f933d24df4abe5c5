"""``weiwang`` commands for the database: ``db upgrade|seed``, ``import``, ``publish``, ``versions``,
``export``, ``time-limits``. Thin shells over :mod:`api.ops`: parse, call, print.

Every command takes ``--url`` (else ``WEIWANG_DATABASE_URL``, else ``data/weiwang.sqlite`` under
the current directory) and brings the schema to the latest migration when it is behind. Only
``db seed`` loads data. Errors a user can cause print the Chinese message, then the English one,
and exit with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from geo.errors import WeiwangError

URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"
FORMATS = ("geojson", "gpkg", "shp", "kml", "csv")


def _fail(err: WeiwangError) -> None:
    click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
    sys.exit(2)


def _when(value: datetime | None) -> str:
    from geo.times import beijing_text

    return beijing_text(value)


def _parse_at(text: str | None) -> datetime | None:
    """ISO date or date-time; without a zone it is Beijing time (:mod:`geo.times`)."""
    if text is None:
        return None
    from geo.times import as_instant

    try:
        return as_instant(date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text))
    except ValueError:
        raise click.BadParameter(
            f"时间格式无效 invalid time {text!r} (use 2026-03-01 or 2026-03-01T08:00)"
        ) from None


@contextmanager
def _bars(enabled: bool) -> Iterator[tuple[Callable[[int, int], None], Callable[[int], None]]]:
    """Progress bars for reading (done, total) and writing (n more rows); hidden when not a TTY."""
    from tqdm import tqdm

    read_bar = tqdm(desc="读取 reading", unit="要素", disable=None if enabled else True, leave=False)
    write_bar = tqdm(desc="写入 writing", unit="行", disable=None if enabled else True, leave=False)

    def on_read(done: int, total: int) -> None:
        read_bar.total = total
        read_bar.n = done
        read_bar.refresh()

    try:
        yield on_read, write_bar.update
    finally:
        read_bar.close()
        write_bar.close()


@click.group("db")
def db() -> None:
    """数据库 — database schema and sample data."""


@db.command("upgrade")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--revision", default="head", show_default=True, help="Alembic revision")
def db_upgrade(url: str | None, revision: str) -> None:
    """升级数据库结构 — apply the migrations (creates the SpatiaLite file if needed)."""
    from store.db import current_revision, make_engine, upgrade

    try:
        engine = make_engine(url)
        upgrade(engine, revision)
        click.echo(
            f"数据库已升级到 {current_revision(engine)} (database at revision {current_revision(engine)})"
        )
    except WeiwangError as err:
        _fail(err)


@db.command("seed")
@click.option("--url", default=None, help=URL_HELP)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="样例数据目录 sample data folder [default: WEIWANG_DATA_DIR, the repository's data/boundaries]",
)
def db_seed(url: str | None, data_dir: Path | None) -> None:
    """载入样例社区 — load the sample communities into an empty database (no-op otherwise)."""
    from api.ops.service import open_service
    from api.settings import Settings
    from store.seed import ensure_seeded

    data_dir = data_dir or Settings().data_dir

    try:
        with open_service(url=url) as service:
            done = ensure_seeded(service.engine, data_dir)
    except WeiwangError as err:
        _fail(err)
        return
    click.echo("已载入样例数据 (seeded)" if done else "数据库已有数据，未重复载入 (already seeded)")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--community",
    "community_codes",
    multiple=True,
    help="社区编码 community code (12 digits); repeat it for several communities of one file",
)
@click.option(
    "--all-communities",
    is_flag=True,
    help="文件中的每个社区各成一个草稿 every community of the file, one draft each (a city), read once",
)
@click.option("--commit", is_flag=True, help="写入草稿版本（默认只试运行）write a draft (default: dry run)")
@click.option("--crs", default=None, help="文件无坐标系时使用 CRS for files without one (e.g. EPSG:4544)")
@click.option("--layer", default=None, help="图层名（多图层文件）layer name in a multi-layer file")
@click.option("--elements", "elements_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code-field", default=None, help="编码字段 column holding the grid code")
@click.option("--name-field", default=None, help="名称字段 column holding the name")
@click.option("--level-field", default=None, help="层级字段 column holding the level")
@click.option("--parent-field", default=None, help="上级编码字段 column holding the parent code")
@click.option("--households-field", default=None, help="户数字段 column holding households")
@click.option("--author", default="", help="作者 author recorded with the draft")
@click.option("--note", default="", help="备注 note recorded with the draft")
@click.option(
    "--drop-elements",
    is_flag=True,
    help="文件不含要素时不沿用上一版要素 let the draft lose the governance elements (default: keep them)",
)
@click.option("--url", default=None, help=URL_HELP)
@click.option(
    "--max-features",
    type=click.IntRange(1),
    default=None,
    help="要素数上限 feature limit for this file (default WEIWANG_MAX_FEATURES, 20000)",
)
def import_cmd(
    path: Path,
    community_codes: tuple[str, ...],
    all_communities: bool,
    commit: bool,
    crs: str | None,
    layer: str | None,
    elements_path: Path | None,
    code_field: str | None,
    name_field: str | None,
    level_field: str | None,
    parent_field: str | None,
    households_field: str | None,
    author: str,
    note: str,
    drop_elements: bool,
    url: str | None,
    max_features: int | None,
) -> None:
    """导入网格图层为草稿 — import a grid layer as a draft version (dry run unless --commit).

    The published version is never touched: publish the draft with ``weiwang publish``. The
    validation findings are printed and stored with the draft. On any error nothing is written.
    Several communities (--community repeated, or --all-communities) are read once and written
    one draft each, each in its own transaction.
    """
    from api.ops.layers import import_many
    from api.ops.service import open_service
    from store.files.columns import ColumnMapping

    fields = {
        "code": code_field,
        "name": name_field,
        "level": level_field,
        "parent": parent_field,
        "households": households_field,
    }
    mapping = ColumnMapping(**fields) if any(fields.values()) else None
    over = {} if max_features is None else {"max_features": max_features}
    if bool(community_codes) == all_communities:
        raise click.UsageError("give --community CODE (once or more) or --all-communities")
    try:
        with open_service(url=url) as service, _bars(enabled=True) as (on_read, on_write):
            results = import_many(
                service,
                path,
                None if all_communities else list(community_codes),
                commit=commit,
                crs=crs,
                mapping=mapping,
                layer=layer,
                elements_path=elements_path,
                author=author,
                note=note,
                drop_elements=drop_elements,
                read_progress=on_read,
                write_progress=on_write,
                limits=service.settings.layer_limits(**over),
            )
    except WeiwangError as err:
        _fail(err)
        return
    for result in results:
        _print_import(result)


def _print_import(result: Any) -> None:
    """What ``weiwang import`` says about one community's import (an ImportResult)."""
    lv = result.grids_by_level
    click.echo(
        f"社区 {result.community_name} {result.community_code}  来源 {result.source} ({result.source_crs})"
    )
    click.echo(
        f"网格：总网格 {lv.get('community', 0)}，一般网格 {lv.get('general', 0)}，"
        f"微网格 {lv.get('micro', 0)}；要素 {result.elements}"
    )
    for w in result.warnings:
        click.echo(f"提示 warning: {w}")
    s = result.summary
    click.echo(
        f"校验：{s['errors']} 个错误，{s['warnings']} 个警告 "
        f"(validation: {s['errors']} errors, {s['warnings']} warnings)"
    )
    for f in result.findings[:20]:
        click.echo(f"  [{f.get('severity')}] {f.get('code')}: {f.get('message_zh', '')}")
    if len(result.findings) > 20:
        click.echo(f"  … 另有 {len(result.findings) - 20} 条 (more)")
    if result.committed:
        click.echo(
            f"已写入草稿：第 {result.version_number} 版 (draft version {result.version_number} written)"
        )
    else:
        click.echo(
            f"试运行，未写入；加 --commit 将创建第 {result.version_number} 版草稿 "
            f"(dry run: --commit would write draft version {result.version_number})"
        )


@click.command("publish")
@click.option("--community", "community_code", required=True, help="社区编码 community code")
@click.option("--version", "number", required=True, type=int, help="草稿版本号 draft version number")
@click.option("--at", "at_text", default=None, help="生效时间 valid from (ISO; no zone = UTC+8; default now)")
@click.option(
    "--force", is_flag=True, help="旧选项：越过阻断性问题须用 --override-reason (kept; needs a reason)"
)
@click.option(
    "--override-reason",
    default=None,
    help="越过阻断性问题发布的原因，随版本记录 reason for publishing over blocking findings (recorded)",
)
@click.option("--url", default=None, help=URL_HELP)
def publish(
    community_code: str,
    number: int,
    at_text: str | None,
    force: bool,
    override_reason: str | None,
    url: str | None,
) -> None:
    """发布草稿版本 — publish a draft: it takes effect at --at, the old version retires then.

    Blocking findings refuse it (exit 1, the findings named) unless --override-reason is given.
    Open incidents not yet 处置中 are re-routed under the new map, each with an event."""
    from api.ops.publishing import default_publisher
    from api.ops.publishing import publish as do_publish
    from api.ops.service import open_service

    at = _parse_at(at_text)
    try:
        # files=True: publishing builds the new map's locator, which the shared locator files
        # (store.files.locatorfile) hold; GDAL must be loaded before SpatiaLite for that.
        with open_service(url=url, files=True) as service:
            done = do_publish(
                service,
                community_code,
                number,
                at=at,
                force=force,
                override_reason=override_reason,
                by=default_publisher(),
            )
    except WeiwangError as err:
        _fail(err)
        return
    v = done.version
    click.echo(f"已发布：{community_code} 第 {v.number} 版，自 {_when(v.valid_from)} 起生效 (published)")
    if v.override_reason is not None:
        click.echo(
            f"越过 {len(v.override_findings or [])} 个阻断性问题，原因：{v.override_reason} "
            f"(override by {v.published_by})"
        )
    click.echo(f"重新路由事件 {len(done.rerouted)} 件 (incidents re-routed)")
    for r in done.rerouted:
        click.echo(
            f"  {r.incident_id} [{r.state.value}] {r.from_micro or '—'} → {r.to_micro or '—'}  "
            f"承办人 {r.from_assignee or '—'} → {r.to_assignee or '—'}"
        )


@click.command("versions")
@click.option("--community", "community_code", required=True, help="社区编码 community code")
@click.option("--url", default=None, help=URL_HELP)
def versions(community_code: str, url: str | None) -> None:
    """版本列表 — list a community's layer versions (times in UTC+8)."""
    from api.ops.layers import versions as list_versions
    from api.ops.service import open_service
    from geo.errors import NotFound
    from store.versions import STATE_LABELS

    try:
        with open_service(url=url, files=False) as service:
            rows = list_versions(service, community_code)
    except NotFound:
        click.echo(f"社区 {community_code} 没有版本 (no versions)")
        return
    except WeiwangError as err:
        _fail(err)
        return
    click.echo("版本  状态    生效自            失效于            错误/警告  作者  备注")
    for v in rows:
        s = (v.validation or {}).get("summary") or {}
        click.echo(
            f"{v.number:>4}  {STATE_LABELS.get(v.state, v.state):<6}  "
            f"{_when(v.valid_from):<16}  {_when(v.valid_to):<16}  "
            f"{s.get('errors', '?')}/{s.get('warnings', '?'):<8}  {v.author}  {v.note}"
        )
        if v.override_reason is not None:
            click.echo(
                f"      越过发布 override: {len(v.override_findings or [])} 个阻断性问题，"
                f"{v.published_by or '—'} 于 {_when(v.published_at)}，原因：{v.override_reason}"
            )


@click.command("export")
@click.option("--community", "community_code", required=True, help="社区编码 community code")
@click.option("--version", "number", type=int, default=None, help="版本号 version (default: published)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="文件格式 file format")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--no-elements", is_flag=True, help="不导出治理要素 grids only")
@click.option("--url", default=None, help=URL_HELP)
def export_cmd(
    community_code: str, number: int | None, fmt: str, out_path: Path, no_elements: bool, url: str | None
) -> None:
    """导出网格图层 — export a version (the published one by default) to a file."""
    from api.ops.service import open_service
    from store.exporting import export_version

    try:
        with open_service(url=url) as service:
            v, n = export_version(
                service.engine, community_code, out_path, fmt, number=number, with_elements=not no_elements
            )
    except WeiwangError as err:
        _fail(err)
        return
    click.echo(f"已导出 {community_code} 第 {v.number} 版 {n} 个网格 → {out_path} (exported)")


@click.command("time-limits")
@click.option("--community", "community_code", required=True, help="社区编码 community code")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="类别=小时",
    help="设置时限，可重复；类别可用中文或英文键，urgent 为紧急事件上限 "
    "set a limit, repeatable: CATEGORY=HOURS (e.g. 矛盾纠纷=48, safety=12, urgent=2)",
)
@click.option("--reset", is_flag=True, help="恢复全部默认值 restore every default")
@click.option("--url", default=None, help=URL_HELP)
def time_limits_cmd(community_code: str, settings: tuple[str, ...], reset: bool, url: str | None) -> None:
    """办理时限 — show or set a community's time limit per incident category (whole hours).

    Without --set or --reset it shows the limits in force. --set replaces only the categories
    named; the others keep their configured value or default. New limits apply to later 交办."""
    from api.ops import timelimits
    from api.ops.service import open_service
    from dispatch import Category
    from dispatch.validation import LIMIT_HOURS_MAX
    from store.timelimits import URGENT_KEY

    changes: dict[str, int] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or not 1 <= int(value) <= LIMIT_HOURS_MAX:
            raise click.BadParameter(
                f"应为 类别=小时（1–{LIMIT_HOURS_MAX} 的整数）expected CATEGORY=HOURS: {item!r}",
                param_hint="--set",
            )
        key = key.strip()
        try:
            name = URGENT_KEY if key == URGENT_KEY else Category.parse(key).value
        except WeiwangError as err:
            _fail(err)
            return
        changes[name] = int(value)
    urgent = changes.pop(URGENT_KEY, None)
    try:
        with open_service(url=url, files=False) as service:
            if reset or changes or urgent is not None:
                shown = timelimits.set_limits(service, community_code, changes, urgent, replace=reset)
            else:
                shown = timelimits.get_time_limits(service, community_code)
    except WeiwangError as err:
        _fail(err)
        return
    rows = shown["configured"]
    limits = timelimits.limits_from_rows(rows)
    click.echo(f"{community_code} 办理时限 time limits（* 本社区设置 configured）")
    for c in Category:
        mark = "*" if c.value in rows else " "
        click.echo(f"  {mark} {c.value}（{c.key}）：{limits.hours_for(c):g} 小时 h")
    mark = "*" if URGENT_KEY in rows else " "
    click.echo(f"  {mark} 紧急事件上限（{URGENT_KEY}）：{limits.urgent_hours:g} 小时 h")
