"""Input limits of the incident loop and the helpers that enforce them.

Every helper returns the cleaned value or raises :class:`~dispatch.errors.InvalidInput` whose
``field`` is the name given, so the API can point at the input (422).
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from dispatch.errors import InvalidInput

#: Whitespace as ``str.isspace`` defines it (``\s`` of a str pattern is the same class).
_SPACE = re.compile(r"\s")

#: Longest incident description (characters, after stripping surrounding whitespace).
DESCRIPTION_MAX = 2000
#: Longest handler feedback / verifier / dispatcher note.
NOTE_MAX = 2000
#: Longest reason (void, defer, failed verification).
REASON_MAX = 500
#: Longest free-text address.
ADDRESS_MAX = 200
#: Longest identifier (incident id, person id, grid code).
ID_MAX = 64
#: Longest time limit that may be set for one incident or category (one year).
LIMIT_HOURS_MAX = 24 * 365


def check_text(field: str, value: object, max_len: int, *, required: bool = True) -> str:
    """Strip ``value``; refuse non-strings, NUL, empty-when-required and more than ``max_len`` chars.

    >>> check_text("note", "  ok ", 10)
    'ok'
    >>> check_text("note", None, 10, required=False)
    ''
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} 必须是文本", f"{field} must be text", field=field)
    text = value.strip()
    if "\x00" in text:
        raise InvalidInput(f"{field} 含有非法字符", f"{field} contains a NUL character", field=field)
    if required and not text:
        raise InvalidInput(f"{field} 不能为空", f"{field} is required", field=field)
    if len(text) > max_len:
        raise InvalidInput(
            f"{field} 过长：{len(text)} 字，最多 {max_len} 字",
            f"{field} is too long: {len(text)} characters, at most {max_len}",
            field=field,
            detail={"max": max_len, "length": len(text)},
        )
    return text


def check_id(field: str, value: object, *, required: bool = True) -> str | None:
    """A non-empty identifier of at most :data:`ID_MAX` characters without whitespace or controls.

    ``None`` is returned for a missing optional identifier.
    """
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{field} 不能为空", f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} 必须是文本", f"{field} must be text", field=field)
    if len(value) > ID_MAX or not value.isprintable() or _SPACE.search(value) is not None:
        raise InvalidInput(
            f"{field} 无效（最多 {ID_MAX} 个字符，不含空白）",
            f"{field} is invalid (at most {ID_MAX} characters, no whitespace)",
            field=field,
        )
    return value


def check_aware(field: str, value: object) -> datetime:
    """A timezone-aware datetime (naive datetimes are refused: the loop compares instants)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} 必须是时间", f"{field} must be a datetime", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} 缺少时区", f"{field} must be timezone-aware", field=field)
    return value


def check_hours(field: str, value: object) -> float:
    """A finite number of hours in (0, :data:`LIMIT_HOURS_MAX`]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} 必须是数字（小时）", f"{field} must be a number of hours", field=field)
    hours = float(value)
    if not math.isfinite(hours) or hours <= 0 or hours > LIMIT_HOURS_MAX:
        raise InvalidInput(
            f"{field} 超出范围：应在 0 到 {LIMIT_HOURS_MAX} 小时之间",
            f"{field} out of range: expected 0 < hours ≤ {LIMIT_HOURS_MAX}",
            field=field,
        )
    return hours


def check_lonlat(lon: object, lat: object) -> tuple[float | None, float | None]:
    """Both ``None`` (no point) or finite WGS84 lon ∈ [-180, 180], lat ∈ [-90, 90]."""
    if lon is None and lat is None:
        return None, None
    out: list[float] = []
    for field, value, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{field} 必须是数字", f"{field} must be a number", field=field)
        v = float(value)
        if not math.isfinite(v) or abs(v) > bound:
            raise InvalidInput(f"{field} 超出范围", f"{field} out of range", field=field)
        out.append(v)
    return out[0], out[1]
