"""``weiwang print``: the printable 微网格分布图 of a community or one general grid, as PDF or PNG.

The data comes from the database through :func:`api.ops.printing.sheet_data` (the published version
unless ``--version``), or from a sample-layout folder with ``--data``; the drawing is
:func:`api.ops.printing.render`, shared with HTTP. Printing never seeds data or creates accounts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from geo.errors import WeiwangError


class _Progress:
    """Progress of a multi-page sheet on stderr: a click progress bar on a terminal, else one line per
    page (``打印进度 3/7 页``). Single-page output stays quiet."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if total <= 1:
            return
        stream = sys.stderr
        if stream.isatty():
            if self.bar is None:
                self.bar = click.progressbar(length=total, label="打印 printing", file=stream)
                self.bar.__enter__()
            self.bar.update(done - self.shown)
        elif done > 0:
            click.echo(f"打印进度 {done}/{total} 页 (page {done} of {total})", err=True)
        self.shown = done

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("print")
@click.option(
    "--community",
    default=None,
    help="社区/村代码 community code (12 digits); required unless --overview (then: every community)",
)
@click.option("--grid", "general_code", default=None, help="只打印一个一般网格 one general grid (15 digits)")
@click.option(
    "--version",
    "version",
    type=click.IntRange(1),
    default=None,
    help="图层版本号 layer version (default: published)",
)
@click.option("--paper", default="A3", show_default=True, help="纸张 A4 | A3")
@click.option(
    "--orientation",
    type=click.Choice(["portrait", "landscape", "auto"]),
    default="auto",
    show_default=True,
    help="方向 (auto: landscape when the area is wider than tall)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "png"]), default=None, help="pdf | png (default: from --out)"
)
@click.option("--dpi", default=300, show_default=True, type=click.IntRange(20, 1200), help="PNG 分辨率")
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出文件"
)
@click.option("--show-phones", is_flag=True, help="显示完整电话（默认脱敏） print phones unmasked")
@click.option("--all-pages", is_flag=True, help="多页 PDF：总图 + 每个一般网格一页 multi-page PDF")
@click.option("--party", is_flag=True, help="绘制党组织范围（两网融合）draw the party organisations")
@click.option(
    "--overview",
    is_flag=True,
    help="总览图：一般网格填色、微网格只画边界、过小不标注（无 --community 时为全部社区）"
    " overview sheet of many grids (all communities without --community)",
)
@click.option(
    "--data",
    "data_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="从样例目录而非数据库读取 read a sample-layout folder instead of the database",
)
@click.option(
    "--url", default=None, help="数据库 database URL (default: WEIWANG_DATABASE_URL or data/weiwang.sqlite)"
)
def print_cmd(
    community: str | None,
    general_code: str | None,
    version: int | None,
    paper: str,
    orientation: str,
    fmt: str | None,
    dpi: int,
    out_path: Path,
    show_phones: bool,
    all_pages: bool,
    party: bool,
    overview: bool,
    data_dir: Path | None,
    url: str | None,
) -> None:
    """打印微网格分布图 — print the micro-grid map of a community (or one general grid) as PDF/PNG."""
    from api.ops.printing import city_sheet_data, folder_sheet_data, render, render_overview, sheet_data
    from api.ops.service import open_service

    if community is None and not overview:
        raise click.UsageError(
            "需要 --community（或 --overview 打印全部社区）: give --community, or --overview"
        )
    if overview and (general_code is not None or all_pages or party):
        raise click.UsageError(
            "--overview 不能与 --grid、--all-pages、--party 同用 (an overview is one sheet)"
        )

    if fmt is None:
        fmt = out_path.suffix.lower().lstrip(".")
        if fmt not in ("pdf", "png"):
            raise click.ClickException("请用 --format 指定 pdf 或 png (give --format pdf|png)")
    if all_pages and fmt != "pdf":
        raise click.ClickException("--all-pages 仅支持 PDF (multi-page output is PDF only)")
    if not out_path.parent.exists() or not out_path.parent.is_dir():
        raise click.ClickException(f"输出目录不存在：{out_path.parent} (no such folder)")
    try:
        if data_dir is not None:
            sheet = folder_sheet_data(data_dir)
        else:
            with open_service(url=url, files=False) as service:
                if community is None:
                    sheet = city_sheet_data(service)
                else:
                    sheet = sheet_data(service, community, version)
        with _Progress() as progress:
            if overview:
                data = render_overview(
                    sheet,
                    None if community is None else [community],
                    paper=paper,
                    orientation=orientation,
                    fmt=fmt,
                    dpi=dpi,
                    progress=progress,
                )
            else:
                assert community is not None
                data = render(
                    sheet,
                    community,
                    general_code=general_code,
                    paper=paper,
                    orientation=orientation,
                    fmt=fmt,
                    dpi=dpi,
                    show_phones=show_phones,
                    multipage=all_pages,
                    party=party,
                    progress=progress,
                )
    except WeiwangError as err:
        raise click.ClickException(f"{err.zh}\nerror: {err.en}") from None
    try:
        out_path.write_bytes(data)
    except OSError as err:
        raise click.ClickException(f"无法写入 {out_path}：{err.strerror} (cannot write output)") from None
    click.echo(f"已生成 {out_path}（{len(data) / 1024:.0f} KB）", err=True)
