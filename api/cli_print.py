"""``weiwang print``: the printable 微网格分布图 of a community or one general grid, as PDF or PNG.

Loads the sample files directly for now (:func:`load_sample`); the store will replace that. The
drawing is :func:`layers.printmap.render_sheet`, shared with HTTP.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
from shapely.geometry import shape

from geo.elements import Element
from geo.errors import WeiwangError
from geo.hierarchy import Grid, Hierarchy
from geo.roles import Post, Role

SAMPLE_NOTE = "示意数据（合成）"


def load_sample(data_dir: Path | str) -> tuple[Hierarchy, list[Element], list[Post]]:
    """Read ``grids.geojson`` (required), ``elements.geojson`` and ``people.csv`` (optional) of a folder."""
    d = Path(data_dir)
    grids_path = d / "grids.geojson"
    if not grids_path.is_file():
        raise WeiwangError(f"找不到网格图层：{grids_path}", f"no grid layer at {grids_path}", field="data")
    fc = json.loads(grids_path.read_text(encoding="utf-8"))
    h = Hierarchy(Grid.from_properties(f["properties"], shape(f["geometry"])) for f in fc["features"])
    elements: list[Element] = []
    el_path = d / "elements.geojson"
    if el_path.is_file():
        efc = json.loads(el_path.read_text(encoding="utf-8"))
        elements = [Element.from_properties(f["properties"], shape(f["geometry"])) for f in efc["features"]]
    posts: list[Post] = []
    people = d / "people.csv"
    if people.is_file():
        with people.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                posts.append(
                    Post(
                        person_id=row["person_id"],
                        name=row.get("name") or "",
                        role=Role(row["role"]),
                        grid_code=row["grid_code"],
                        phone=row.get("phone") or None,
                        note=row.get("note") or "",
                    )
                )
    return h, elements, posts


def sample_is_synthetic(data_dir: Path | str) -> bool:
    """True when the folder's grid layer says it is synthetic (``"synthetic": true``)."""
    try:
        fc = json.loads((Path(data_dir) / "grids.geojson").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(fc.get("synthetic"))


def _from_database(url: str | None, community: str, version: int | None):
    """The sheet's data from the database, migrated and seeded with the sample on first use."""
    from api.app import prepare_database
    from api.printing import sheet_data
    from api.settings import Settings
    from store.db import make_engine

    settings = Settings(database_url=url) if url else Settings()
    prepare_database(settings)
    engine = make_engine(settings.database_url)
    try:
        return sheet_data(engine, community, version)
    finally:
        engine.dispose()


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
    data_dir: Path | None,
    url: str | None,
) -> None:
    """打印微网格分布图 — print the micro-grid map of a community (or one general grid) as PDF/PNG."""
    from layers.printmap import render_sheet

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
            h, elements, posts = load_sample(data_dir)
            version_label, note = "", SAMPLE_NOTE if sample_is_synthetic(data_dir) else ""
        else:
            sheet = _from_database(url, community, version)
            h, elements, posts = sheet.hierarchy, sheet.elements, sheet.posts
            version_label, note = sheet.version_label, sheet.data_note
        data = render_sheet(
            h,
            community,
            elements=elements,
            posts=posts,
            general_code=general_code,
            paper=paper,
            orientation=orientation,
            fmt=fmt,
            dpi=dpi,
            version_label=version_label,
            data_note=note,
            show_phones=show_phones,
            multipage=all_pages,
        )
    except WeiwangError as err:
        raise click.ClickException(f"{err.zh}\nerror: {err.en}") from None
    try:
        out_path.write_bytes(data)
    except OSError as err:
        raise click.ClickException(f"无法写入 {out_path}：{err.strerror} (cannot write output)") from None
    click.echo(f"已生成 {out_path}（{len(data) / 1024:.0f} KB）", err=True)
