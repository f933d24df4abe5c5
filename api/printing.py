"""Data for a printed sheet, from the database (one function behind ``weiwang print`` and
``/maps/print/{community}.pdf``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from api.demo import holds_only_sample
from geo.elements import Element
from geo.hierarchy import Hierarchy
from geo.roles import Post
from store import db
from store.grids import load_elements, load_hierarchy
from store.people import posts as load_posts
from store.versions import get_version

CST = timezone(timedelta(hours=8), "CST")
SAMPLE_NOTE = "示意数据（合成）"


@dataclass
class SheetData:
    """Everything :func:`layers.printmap.render_sheet` needs besides layout options."""

    hierarchy: Hierarchy
    elements: list[Element]
    posts: list[Post]
    version_label: str
    data_note: str


def sheet_data(engine: Engine, community: str, version: int | None = None) -> SheetData:
    """The community's grids of ``version`` (the published one by default), its elements, and the
    roster in force today (Beijing time)."""
    today = datetime.now(CST).date()
    with db.read(engine) as conn:
        v = get_version(conn, community, version)
        h = load_hierarchy(conn, v.id)
        elements = load_elements(conn, v.id)
        roster = load_posts(conn, community_code=community, on=today)
        synthetic = holds_only_sample(conn)
    since = v.valid_from.astimezone(CST).date().isoformat() if v.valid_from else "未发布"
    state = {"published": "现行", "draft": "草稿", "retired": "已停用"}.get(v.state, v.state)
    label = f"第 {v.number} 版（{state}，{since} 起）"
    return SheetData(h, elements, roster, label, SAMPLE_NOTE if synthetic else "")
