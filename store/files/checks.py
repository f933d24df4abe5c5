"""Checks on untrusted feature values, run before GEOS, GDAL or the database can choke on them.

Shared by the GeoJSON and KML pre-scans (on the raw structure) and by :mod:`store.files.layerfile`
(on what GDAL read from GeoPackage, Shapefile and CSV). Each refusal is a :class:`BadValue` naming
the feature (1-based, in file order) and, when known, its grid code, in zh-CN and English.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from store.files.errors import BadValue

#: C0 controls except tab, newline and carriage return, and DEL: a NUL truncates text in SQLite
#: and is refused by PostgreSQL; the others are invisible in every page and PDF.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: No projected CRS in use has coordinates beyond ±10⁸ m; anything larger is garbage, not a place.
MAX_ABS_COORD = 1e8


def feature_label(index: int, code: str | None = None) -> tuple[str, str]:
    """How a feature is named in messages: its 1-based position and, if known, its code."""
    if code:
        return f"第 {index} 个要素（编码 {code}）", f"feature {index} (code {code})"
    return f"第 {index} 个要素", f"feature {index}"


def bad_feature(index: int, code: str | None, zh: str, en: str, *, field: str = "geometry") -> BadValue:
    """A :class:`BadValue` naming the feature, its code and the field."""
    at_zh, at_en = feature_label(index, code)
    detail: dict[str, Any] = {"feature": index}
    if code:
        detail["code"] = code
    return BadValue(f"{at_zh}：{zh}", f"{at_en}: {en}", field=field, detail=detail)


def control_char(value: str) -> str | None:
    """The first control character in ``value`` as ``U+XXXX``, or None."""
    m = CONTROL.search(value)
    return f"U+{ord(m.group()):04X}" if m else None


def check_text(value: str, *, index: int, code: str | None, field: str) -> None:
    """Refuse a string holding a NUL or another control character (it would be cut or refused)."""
    bad = control_char(value)
    if bad is not None:
        raise bad_feature(
            index,
            code,
            f"“{field[:50]}”含控制字符 {bad}",
            f"{field[:50]!r} holds the control character {bad}",
            field=field[:50],
        )


def check_number(value: float, *, index: int, code: str | None) -> None:
    """A coordinate must be finite and within ±:data:`MAX_ABS_COORD`."""
    if not math.isfinite(value) or abs(value) > MAX_ABS_COORD:
        shown = "非有限数" if not math.isfinite(value) else "超出范围"
        raise bad_feature(
            index,
            code,
            f"坐标{shown}（应为绝对值不超过 1e8 的有限数）",
            "a coordinate is not a finite number within ±1e8",
        )


def check_position(pos: Any, *, index: int, code: str | None) -> None:
    """A GeoJSON position: a list of 2 to 4 numbers (``true`` is not a number), each finite and in range."""
    if not isinstance(pos, list) or not 2 <= len(pos) <= 4:
        raise bad_feature(index, code, "坐标不是 2–4 个数的数组", "a position is not an array of 2-4 numbers")
    for v in pos:
        if type(v) not in (int, float):
            raise bad_feature(
                index,
                code,
                "坐标含非数值（如 true 或字符串）",
                "a coordinate is not a number (e.g. true or a string)",
            )
        check_number(float(v), index=index, code=code)


def check_ring(ring: Sequence[Sequence[float]], *, index: int, code: str | None) -> None:
    """A polygon ring: at least 4 positions, the last equal to the first (x and y)."""
    check_ring_ends(len(ring), ring[0] if ring else None, ring[-1] if ring else None, index=index, code=code)


def check_ring_ends(
    n: int, first: Sequence[float] | None, last: Sequence[float] | None, *, index: int, code: str | None
) -> None:
    """:func:`check_ring` from the ring's size and its end positions (for streamed rings)."""
    if n < 4 or first is None or last is None:
        raise bad_feature(
            index,
            code,
            f"面的环只有 {n} 个点（至少 4 个，首尾相同）",
            f"a polygon ring has {n} positions (at least 4, first equal to last)",
        )
    if list(first[:2]) != list(last[:2]):
        raise bad_feature(
            index,
            code,
            "面的环未闭合（首尾坐标不同）",
            "a polygon ring is not closed (first and last positions differ)",
        )
