"""The roster table of a printed sheet: micro-grid code → name, 微网格长, 微网格员.

Rows are grouped under their general grid (with its 一般网格员). Phones are masked with
:func:`geo.roles.mask_phone` unless asked otherwise. The table is set in as many columns as give the
largest font within its box; :func:`fit_roster` says ``None`` when even the smallest font does not fit
(the caller then moves the roster to a page of its own).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from geo.hierarchy import Grid
from geo.roles import Post, Role, mask_phone
from layers.labels import text_width_em
from layers.styles import INK
from layers.textrun import add_text_run

MM_PER_PT = 25.4 / 72.0
HEADER = ("微网格编码", "名称", "微网格长", "微网格员")
ROW_PITCH = 1.5  # least row height as a multiple of the font size
ROW_PITCH_MAX = 2.0  # rows are stretched up to this to fill the box
COL_GAP_EM = 1.2
BLOCK_GAP_MM = 4.0
MAX_STRETCH = 1.5  # columns are widened up to this to fill the box
VACANT = "（空缺）"


@dataclass(frozen=True, slots=True)
class RosterRow:
    """A table row: ``group`` rows carry one cell spanning the table and a fill colour."""

    kind: Literal["group", "row"]
    cells: tuple[str, ...]
    fill: str | None = None


@dataclass(frozen=True, slots=True)
class RosterFit:
    font_pt: float
    columns: int
    col_em: tuple[float, ...]
    pitch_mm: float


def short_name(name: str, drop_prefix: str = "") -> str:
    """A grid name without the redundant trailing 微网格 (and an optional leading prefix).

    >>> short_name("麓溪苑1-2栋微网格"), short_name("瓦窑村溪西片专属网格", "瓦窑村")
    ('麓溪苑1-2栋', '溪西片专属网格')
    """
    out = name[: -len("微网格")] if name.endswith("微网格") and len(name) > 3 else name
    if drop_prefix and out.startswith(drop_prefix) and len(out) > len(drop_prefix):
        out = out[len(drop_prefix) :]
    return out


def _people(posts: Sequence[Post], role: Role, show_phones: bool) -> str:
    names = []
    for p in posts:
        if p.role is not role:
            continue
        phone = (p.phone or "") if show_phones else mask_phone(p.phone)
        names.append(f"{p.name} {phone}".strip())
    return "；".join(names) if names else VACANT


def roster_rows(
    generals: Sequence[Grid],
    micros_by_general: Mapping[str, Sequence[Grid]],
    posts: Sequence[Post],
    *,
    show_phones: bool = False,
    fills: Mapping[str, str] | None = None,
) -> list[RosterRow]:
    """Group rows (general grid, its 一般网格员) each followed by its micro-grids in code order."""
    by_grid: dict[str, list[Post]] = {}
    for p in posts:
        by_grid.setdefault(p.grid_code, []).append(p)
    rows: list[RosterRow] = []
    for g in generals:
        workers = [p.name for p in by_grid.get(g.code, ()) if p.role is Role.GENERAL_WORKER]
        head = f"{g.name}  {g.code}"
        if workers:
            head += f"    一般网格员：{'、'.join(workers)}"
        rows.append(RosterRow("group", (head,), (fills or {}).get(g.code)))
        for m in sorted(micros_by_general.get(g.code, ()), key=lambda m: m.code):
            mine = by_grid.get(m.code, ())
            rows.append(
                RosterRow(
                    "row",
                    (
                        m.code,
                        short_name(m.name),
                        _people(mine, Role.MICRO_HEAD, show_phones),
                        _people(mine, Role.MICRO_WORKER, show_phones),
                    ),
                )
            )
    return rows


def _col_em(rows: Sequence[RosterRow]) -> tuple[tuple[float, ...], float]:
    cols = [text_width_em(h, "bold") for h in HEADER]
    group = 0.0
    for r in rows:
        if r.kind == "group":
            group = max(group, text_width_em(r.cells[0], "bold"))
            continue
        for i, c in enumerate(r.cells):
            cols[i] = max(cols[i], text_width_em(c))
    return tuple(c + COL_GAP_EM for c in cols), group + COL_GAP_EM


def fit_roster(
    rows: Sequence[RosterRow], width_mm: float, height_mm: float, *, max_pt: float = 7.0, min_pt: float = 4.5
) -> RosterFit | None:
    """The largest font (≤ ``max_pt``) and column count that fit the rows in the box, or ``None``."""
    if not rows:
        return None
    col_em, group_em = _col_em(rows)
    table_em = max(sum(col_em), group_em)
    best: RosterFit | None = None
    for ncol in range(1, 5):
        per_col = math.ceil(len(rows) / ncol) + 1  # + header
        font_h = height_mm / (per_col * ROW_PITCH * MM_PER_PT)
        font_w = (width_mm - (ncol - 1) * BLOCK_GAP_MM) / ncol / (table_em * MM_PER_PT)
        font = math.floor(min(font_h, font_w, max_pt) * 4) / 4
        if font >= min_pt and (best is None or font > best.font_pt):
            fill_em = (width_mm - (ncol - 1) * BLOCK_GAP_MM) / ncol / (font * MM_PER_PT)
            scale = max(1.0, group_em / sum(col_em), min(MAX_STRETCH, fill_em / sum(col_em)))
            pitch = min(height_mm / per_col, font * ROW_PITCH_MAX * MM_PER_PT)
            best = RosterFit(font, ncol, tuple(c * scale for c in col_em), pitch)
    return best


def draw_roster(
    ax: Axes, rows: Sequence[RosterRow], x: float, y_top: float, width_mm: float, fit: RosterFit
) -> float:
    """Draw the table in an axes whose data units are millimetres (y up); returns the bottom y."""
    f = fit.font_pt
    pitch = fit.pitch_mm
    em = f * MM_PER_PT
    block_w = sum(fit.col_em) * em
    per_col = math.ceil(len(rows) / fit.columns)
    rules: list[list[tuple[float, float]]] = []
    # cells by (weight, colour): each set drawn as one TextRun (see layers.textrun)
    cells: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    bottom = y_top
    for b in range(fit.columns):
        chunk = rows[b * per_col : (b + 1) * per_col]
        if not chunk:
            break
        bx = x + b * (block_w + BLOCK_GAP_MM)
        y = y_top
        ax.add_patch(
            Rectangle((bx, y - pitch), block_w, pitch, facecolor="#e6e6e6", edgecolor="none", zorder=1)
        )
        cx = bx
        for h, w in zip(HEADER, fit.col_em, strict=True):
            cells.setdefault(("bold", INK), []).append((cx + 0.4 * em, y - pitch / 2, h))
            cx += w * em
        y -= pitch
        rules.append([(bx, y), (bx + block_w, y)])
        for r in chunk:
            if r.kind == "group":
                ax.add_patch(
                    Rectangle(
                        (bx, y - pitch),
                        block_w,
                        pitch,
                        facecolor=r.fill or "#f0f0f0",
                        alpha=0.55,
                        edgecolor="none",
                        zorder=1,
                    )
                )
                cells.setdefault(("bold", INK), []).append((bx + 0.4 * em, y - pitch / 2, r.cells[0]))
            else:
                cx = bx
                for c, w in zip(r.cells, fit.col_em, strict=True):
                    color = "#a00000" if c == VACANT else INK
                    cells.setdefault(("normal", color), []).append((cx + 0.4 * em, y - pitch / 2, c))
                    cx += w * em
            y -= pitch
            rules.append([(bx, y), (bx + block_w, y)])
        ax.add_patch(Rectangle((bx, y), block_w, y_top - y, facecolor="none", edgecolor=INK, linewidth=0.6))
        bottom = min(bottom, y)
    ax.add_collection(LineCollection(rules, colors="#bdbdbd", linewidths=0.3))
    for (weight, color), run in cells.items():
        # held by the figure, in the axes' data units: axes texts get a clip path each, not needed here
        add_text_run(
            ax.figure,  # type: ignore[arg-type]
            run,
            transform=ax.transData,
            fontsize=f,
            fontweight=weight,
            va="center",
            ha="left",
            color=color,
        )
    return bottom
