"""Printing the 微网格分布图: one function behind ``weiwang print`` and ``/maps/print/{community}``.

The grids come from :class:`~store.inforce.LayersInForce` (the published version unless a number is
asked for), the roster is the posts in force today (Beijing date), and the sheet says which version
it shows. Drawing is :func:`layers.printmap.render_sheet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.ops.service import Service
from dispatch.routing import posts_on
from geo.elements import Element
from geo.hierarchy import Hierarchy
from geo.roles import Post
from geo.times import beijing_text

#: The note a sheet of the synthetic sample data carries.
SAMPLE_NOTE = "示意数据（合成）"


@dataclass
class SheetData:
    """Everything :func:`layers.printmap.render_sheet` needs besides layout options."""

    hierarchy: Hierarchy
    elements: list[Element]
    posts: list[Post]
    version_label: str
    data_note: str
    #: Party organisations (dicts with ``grid_codes``), for ``party=True`` sheets.
    party_orgs: list[dict[str, Any]] = field(default_factory=list)


def sheet_data(service: Service, community: str, version: int | None = None) -> SheetData:
    """The community's grids of ``version`` (the published one by default), its elements, and the
    roster in force today."""
    from api.ops.accounts import holds_only_sample
    from store import db

    view = service.layers.version(community, version)
    roster = posts_on(service.posts(community), service.today())
    with db.read(service.engine) as conn:
        synthetic = holds_only_sample(conn)
    since = beijing_text(view.valid_from, "%Y-%m-%d") if view.valid_from else "未发布"
    label = f"第 {view.number} 版（{view.state_label}，{since} 起）"
    from api.ops.party import party_orgs

    return SheetData(
        view.hierarchy,
        view.elements,
        roster,
        label,
        SAMPLE_NOTE if synthetic else "",
        party_orgs(service, community),
    )


def folder_sheet_data(path: str | Path) -> SheetData:
    """The sheet's data from a sample-layout folder or layer file (``weiwang print --data``)."""
    from api.ops.sources import load_source
    from store.seed import read_sample

    src = load_source(path)
    note = SAMPLE_NOTE if src.synthetic else ""
    folder = Path(path)
    orgs = list(read_sample(folder)["party_orgs"]) if (folder / "party_orgs.json").is_file() else []
    return SheetData(src.hierarchy, src.elements, list(src.posts or []), "", note, orgs)


def render(
    data: SheetData, community: str, *, show_phones: bool = False, party: bool = False, **layout: Any
) -> bytes:
    """The sheet as PDF or PNG bytes (``layout``: general_code, paper, orientation, fmt, dpi,
    multipage); ``party`` draws the party organisations (两网融合) with their legend."""
    from geo.party import party_areas
    from layers.printmap import render_sheet

    areas = party_areas(data.hierarchy, data.party_orgs) if party else []
    return render_sheet(
        data.hierarchy,
        community,
        elements=data.elements,
        posts=data.posts,
        version_label=data.version_label,
        data_note=data.data_note,
        show_phones=show_phones,
        party=areas,
        **layout,
    )


def city_sheet_data(service: Service) -> SheetData:
    """Every community's published grids, for a city overview (``weiwang print --overview``)."""
    from api.ops.accounts import holds_only_sample
    from store import db

    view = service.layers.current()
    with db.read(service.engine) as conn:
        synthetic = holds_only_sample(conn)
    label = "、".join(f"{code} 第 {v.number} 版" for code, v in sorted(view.versions.items())[:3])
    if len(view.versions) > 3:
        label += f" 等 {len(view.versions)} 个社区的现行版本"
    return SheetData(view.hierarchy, [], [], label, SAMPLE_NOTE if synthetic else "")


def render_overview(data: SheetData, communities: list[str] | None = None, **layout: Any) -> bytes:
    """The overview sheet (general grids filled, micro-grids as lines, labels only where legible) of
    ``communities`` (every community in ``data`` when None); ``layout``: paper, orientation, fmt,
    dpi, progress."""
    from layers.printmap import render_overview as draw

    return draw(
        data.hierarchy,
        communities,
        version_label=data.version_label,
        data_note=data.data_note,
        **layout,
    )


def print_sheet(
    service: Service, community: str, version: int | None = None, *, show_phones: bool = False, **layout: Any
) -> bytes:
    """:func:`sheet_data` then :func:`render`."""
    return render(sheet_data(service, community, version), community, show_phones=show_phones, **layout)
