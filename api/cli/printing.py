"""``weiwang print``: the printable 微网格分布图 of a community or one general grid, as PDF or PNG.

The data comes from the database through :func:`api.ops.printing.sheet_data` (the published version
unless ``--version``), or from a sample-layout folder with ``--data``; the drawing is
:func:`api.ops.printing.render`, shared with HTTP. Printing never seeds data or creates accounts.
"""

from __future__ import annotations

from pathlib import Path

import click

from geo.errors import WeiwangError


@click.command("print")
@click.option("--community", required=True, help="社区/村代码 community code (12 digits)")
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
    community: str,
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
    data_dir: Path | None,
    url: str | None,
) -> None:
    """打印微网格分布图 — print the micro-grid map of a community (or one general grid) as PDF/PNG."""
    from api.ops.printing import folder_sheet_data, render, sheet_data
    from api.ops.service import open_service

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
                sheet = sheet_data(service, community, version)
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
        )
    except WeiwangError as err:
        raise click.ClickException(f"{err.zh}\nerror: {err.en}") from None
    try:
        out_path.write_bytes(data)
    except OSError as err:
        raise click.ClickException(f"无法写入 {out_path}：{err.strerror} (cannot write output)") from None
    click.echo(f"已生成 {out_path}（{len(data) / 1024:.0f} KB）", err=True)
