"""Grid codes for redrawn grids: DB11/T 2157 ordering, never a code reused for a different area.

A grid's code is its parent's code plus a 3-digit sequence. New grids are numbered **west → east,
north → south** within their parent (DB11/T 2157-2023; CJ/T 349-2010 "left to right, top to bottom"):
grids are read in rows from the north (by north edge), a grid joining the current row when its
representative point lies within the north–south extent of the row's first grid or the other way
round, and each row west to east.

Codes are never reused: a new grid takes sequence numbers above every number ever used under its
parent in the community's history (``used``), so a retired code keeps meaning its old area in as-of
queries, printed sheets and incident histories. Grids whose geometry did not change keep their codes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import WeiwangError

#: Digits of the sequence a level adds to its parent's code.
SEQ_DIGITS = 3
_MAX_SEQ = 10**SEQ_DIGITS - 1


class CodesExhausted(WeiwangError):
    """Every 3-digit sequence under a parent has been used (999 grids in one parent's history)."""

    code = "codes_exhausted"


def reading_order(geoms: Sequence[BaseGeometry]) -> list[int]:
    """Indices of ``geoms`` (lon/lat) in reading order: rows north → south, each row west → east."""
    if not geoms:
        return []
    pts = [shapely.get_coordinates(g.representative_point())[0] for g in geoms]
    bounds = [g.bounds for g in geoms]
    left = sorted(range(len(geoms)), key=lambda i: (-bounds[i][3], pts[i][0], i))
    rows: list[list[int]] = []
    while left:
        head = left[0]
        lo, hi, y = bounds[head][1], bounds[head][3], pts[head][1]
        row = [i for i in left if lo <= pts[i][1] <= hi or bounds[i][1] <= y <= bounds[i][3]]
        rows.append(sorted(row, key=lambda i: (pts[i][0], -pts[i][1], i)))
        left = [i for i in left if i not in row]
    return [i for row in rows for i in row]


def max_seq(parent_code: str, used: Collection[str]) -> int:
    """The highest sequence ever used directly under ``parent_code`` (0 when none)."""
    n = len(parent_code) + SEQ_DIGITS
    seqs = [int(c[-SEQ_DIGITS:]) for c in used if len(c) == n and c.startswith(parent_code) and c.isdigit()]
    return max(seqs, default=0)


def new_codes(parent_code: str, geoms: Sequence[BaseGeometry], used: Collection[str]) -> list[str]:
    """Fresh codes for new grids under ``parent_code``, in the order of ``geoms``: numbered in reading
    order from one above the highest sequence ever used there."""
    start = max_seq(parent_code, used) + 1
    if start + len(geoms) - 1 > _MAX_SEQ:
        raise CodesExhausted(
            f"上级网格 {parent_code} 下的 {SEQ_DIGITS} 位序号已用完（编码不可重复使用）",
            f"no {SEQ_DIGITS}-digit sequence left under {parent_code} (codes are never reused)",
            field="code",
        )
    out = [""] * len(geoms)
    for k, i in enumerate(reading_order(geoms)):
        out[i] = f"{parent_code}{start + k:0{SEQ_DIGITS}d}"
    return out
