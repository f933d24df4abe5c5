"""The ``weiwang`` command line: the CLI face of :mod:`api.ops`.

Every command parses, makes one call into the operations layer and prints. Commands on stored
data read the database (``--url``, else ``WEIWANG_DATABASE_URL``, else ``data/weiwang.sqlite``);
``locate`` and ``grids`` read a layer file instead only with ``--layer``. Heavy libraries are
imported inside the commands, so a command starts fast. Errors a user can cause end with a
Chinese + English message on stderr and a non-zero exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from geo.errors import WeiwangError

CRS_HELP = "输入坐标系 input CRS: wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:n"
LAYER_HELP = (
    "从图层文件或样例目录读取，而非数据库的现行版本 "
    "read a layer file or sample folder instead of the database's published version"
)
URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"


def fail(err: WeiwangError, exit_code: int = 2) -> None:
    """Print a domain error for a person and exit."""
    click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
    sys.exit(exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="weiwang")
def main() -> None:
    """微网实格 weiwang: micro-grid governance maps — locate, validate, dispatch, print."""


def _snap_default() -> float:
    from api.settings import Settings

    return float(Settings.model_fields["snap_tolerance_m"].default)


@main.command()
@click.option("--lon", type=float, help="经度 longitude (one point)")
@click.option("--lat", type=float, help="纬度 latitude (one point)")
@click.option("--crs", default="wgs84", show_default=True, help=CRS_HELP)
@click.option(
    "--in",
    "in_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="点文件 points: .csv (lon,lat columns) | .parquet | .gpkg (point geometry)",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出 output: .csv | .parquet | .gpkg (by suffix; written whole or not at all)",
)
@click.option("--lon-col", default=None, help="longitude column (default: lon/lng/longitude/x/经度)")
@click.option("--lat-col", default=None, help="latitude column (default: lat/latitude/y/纬度)")
@click.option("--layer", "layer_path", default=None, help=LAYER_HELP)
@click.option("--at", "at_text", default=None, help="按该时刻生效的版本定位 the versions in force then (ISO)")
@click.option(
    "--snap-m",
    type=float,
    default=None,
    help="吸附容差（米）snap tolerance in metres (default: WEIWANG_SNAP_TOLERANCE_M, 30)",
)
@click.option("--url", default=None, help=URL_HELP)
def locate(
    lon: float | None,
    lat: float | None,
    crs: str,
    in_path: Path | None,
    out_path: Path | None,
    lon_col: str | None,
    lat_col: str | None,
    layer_path: str | None,
    at_text: str | None,
    snap_m: float | None,
    url: str | None,
) -> None:
    """定位：点落在哪个微网格 — locate one point (--lon/--lat, prints JSON) or a file (--in/--out).

    Answers from the database's published versions (the same as GET /api/v1/locate), or from
    the versions in force at --at, or from a file with --layer; the answer's "version" (the CSV's
    layer_version column) says which. Coordinates are converted from --crs to WGS84 first
    (GCJ-02 from Amap/WeChat, BD-09 from Baidu are hundreds of metres off). Points on a shared
    edge go to one grid by a fixed rule; points just outside (≤ --snap-m) are snapped and flagged.
    """
    if in_path is not None and out_path is None:
        raise click.UsageError("--in needs --out")
    if in_path is None and (lon is None or lat is None):
        raise click.UsageError("give --lon and --lat, or --in and --out")
    if layer_path is not None and at_text is not None:
        raise click.UsageError("--at reads stored versions; it cannot be used with --layer")
    from api.ops import locating

    try:
        with _layer_view(layer_path, at_text, snap_m, url) as view:
            if in_path is not None:
                assert out_path is not None
                n = locating.locate_csv(
                    view, in_path, out_path, crs=crs, lon_col=lon_col, lat_col=lat_col, progress=True
                )
                click.echo(f"已定位 {n} 个点 → {out_path}  (located {n} points)", err=True)
                return
            assert lon is not None and lat is not None
            result = locating.point_answer(view, lon, lat, crs)
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    except WeiwangError as err:
        fail(err)


@contextmanager
def _layer_view(
    layer_path: str | None, at_text: str | None, snap_m: float | None, url: str | None
) -> Iterator[Any]:
    """The grids a command answers from: a file (--layer) or the store (published, or at --at)."""
    from api.ops.locating import file_layer

    if layer_path is not None:
        yield file_layer(layer_path, snap_m if snap_m is not None else _snap_default())
        return
    from api.cli.store import _parse_at
    from api.ops.service import open_service
    from api.settings import Settings

    settings = Settings(database_url=url) if url else Settings()
    if snap_m is not None:
        settings.snap_tolerance_m = snap_m
    with open_service(settings, files=False) as service:
        if at_text is not None:
            yield service.layers.at(None, _parse_at(at_text))
        else:
            yield service.layers.current()


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print findings as JSON")
@click.option("--crs", default=None, help="CRS for files that carry none: " + CRS_HELP)
@click.option("--min-households", default=30, show_default=True, help="户数下限 per micro-grid")
@click.option("--max-households", default=100, show_default=True, help="户数上限 per micro-grid")
@click.option(
    "--max-features",
    type=click.IntRange(1),
    default=None,
    help="要素数上限 feature limit for this file (default WEIWANG_MAX_FEATURES, 20000)",
)
def validate(
    path: Path,
    as_json: bool,
    crs: str | None,
    min_households: int,
    max_households: int,
    max_features: int | None,
) -> None:
    """校验图层 — validate a grid layer file or sample folder.

    Exit 0 when clean, 1 when there are findings, 2 when the input cannot be read.
    """
    from api.ops.sources import load_source
    from api.settings import Settings
    from geo.validate import ValidationOptions, summarize
    from geo.validate import validate as run_validate

    try:
        if not path.exists():
            raise WeiwangError(f"文件不存在：{path}", f"no such file: {path}")
        over = {} if max_features is None else {"max_features": max_features}
        src = load_source(path, crs=crs, limits=Settings().layer_limits(**over))
        staffed = None
        if src.posts is not None:
            staffed = {p.grid_code for p in src.posts if p.role.value == "微网格员"}
        findings = run_validate(
            src.hierarchy,
            elements=src.elements,
            staffed_micro=staffed,
            options=ValidationOptions(households_band=(min_households, max_households)),
        )
    except WeiwangError as err:
        fail(err, 2)
        return
    summary = summarize(findings)
    if as_json:
        click.echo(
            json.dumps(
                {"summary": summary, "findings": [f.to_dict() for f in findings]},
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        for f in findings:
            click.echo(f"[{f.severity}] {f.code}: {f.message_zh}")
        n_grids = len(src.hierarchy)
        if findings:
            click.echo(f"{n_grids} 个网格，发现 {len(findings)} 个问题 ({len(findings)} findings)")
        else:
            click.echo(f"{n_grids} 个网格，校验通过 (clean)")
    sys.exit(1 if findings else 0)


@main.command()
@click.option("--layer", "layer_path", default=None, help=LAYER_HELP)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--url", default=None, help=URL_HELP)
def grids(layer_path: str | None, as_json: bool, url: str | None) -> None:
    """网格概况 — per community: grids per level, areas (km²), households, version."""
    from api.ops.summary import summarize_grids

    try:
        with _layer_view(layer_path, None, None, url) as view:
            rows = summarize_grids(view.hierarchy)
            for r in rows:
                r["version"] = view.source(r["community_code"])
    except WeiwangError as err:
        fail(err)
        return
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        v = r["version"] or {}
        origin = f"第 {v['number']} 版" if "number" in v else v.get("file", "")
        click.echo(
            f"{r['community_name']} {r['community_code']}: "
            f"{r['general']} 个{r['general_kind']} → {r['micro']} 个微网格；"
            f"面积 {r['area_km2']:.2f} km²；{r['households']} 户  ({origin})"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--database-url", default=None, help="overrides WEIWANG_DATABASE_URL")
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="log every request (costs CPU under load; errors are always logged)",
)
def serve(host: str, port: int, workers: int, database_url: str | None, access_log: bool) -> None:
    """启动服务 — run the HTTP service (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    if database_url:
        os.environ["WEIWANG_DATABASE_URL"] = database_url
    from api.ops.accounts import prepare_database
    from api.settings import Settings

    prepare_database()
    click.echo(f"weiwang: http://{host}:{port}/  (docs: /docs)", err=True)
    uvicorn.run(
        "api.http.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        # A request still running after the grace is cancelled, which kills its job (api.ops.jobs).
        timeout_graceful_shutdown=Settings().shutdown_grace_s,
    )


def _register_optional() -> None:
    """Attach the commands that live in their own modules."""
    from api.cli.loop import act_cmd, report_cmd, stats_cmd
    from api.cli.printing import print_cmd
    from api.cli.store import db, export_cmd, import_cmd, publish, time_limits_cmd, versions

    for cmd in (print_cmd, db, import_cmd, export_cmd, publish, versions, time_limits_cmd):
        main.add_command(cmd)
    for cmd in (report_cmd, act_cmd, stats_cmd):
        main.add_command(cmd)
    from api.cli.incidents import incidents_cmd

    main.add_command(incidents_cmd)
    from api.cli.roster import roster_cmd
    from api.cli.users import users_cmd

    main.add_command(users_cmd)
    main.add_command(roster_cmd)
    from api.cli.drafts import diff_cmd, draft_cmd

    main.add_command(draft_cmd)
    main.add_command(diff_cmd)


_register_optional()
