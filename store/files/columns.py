"""Which attribute column holds what: defaults for common English and Chinese names, overridable.

Column names match case-insensitively, ignoring surrounding spaces. The first candidate found wins,
in the order listed in :data:`GRID_COLUMNS`. Shapefile field names are at most 10 characters, so the
truncated forms GDAL makes (``parent_cod``, ``community_``) and the short names
:func:`store.files.layerfile.write_layer` uses in shapefiles (``parent``, ``comm_code``) are listed too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from geo.elements import ELEMENT_TYPES
from geo.hierarchy import Level
from store.files.errors import BadValue, MissingColumn


@dataclass(frozen=True)
class ColumnMapping:
    """Column names to use for each grid attribute; ``None`` → auto-detect from :data:`GRID_COLUMNS`."""

    code: str | None = None
    name: str | None = None
    level: str | None = None
    parent: str | None = None
    households: str | None = None
    kind: str | None = None
    community: str | None = None


#: Candidate column names per grid attribute, in order of preference.
GRID_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "grid_code", "gridcode", "编码", "网格编码", "网格代码", "代码"),
    "name": ("name", "grid_name", "gridname", "名称", "网格名称", "网格名"),
    "level": ("level", "grid_level", "层级", "网格层级", "级别"),
    "parent": ("parent_code", "parent_cod", "parent", "parentcode", "上级编码", "父级编码", "上级网格编码"),
    "households": ("households", "household", "户数", "住户数"),
    "kind": ("kind", "类型", "网格类型"),
    "community": ("community_code", "community_", "comm_code", "社区编码", "所属社区编码"),
}

#: Candidate column names per element attribute.
ELEMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("element_id", "id", "编号", "要素编号"),
    "type": ("type", "要素类型", "类型"),
    "name": ("name", "名称", "要素名称"),
    "households": ("households", "household", "户数", "住户数"),
    "community_code": ("community_code", "community_", "comm_code", "社区编码", "所属社区编码"),
    "micro_code": ("micro_code", "微网格编码", "所属微网格编码"),
}

#: Level values as written in files → (level, kind implied by the value or None).
LEVEL_VALUES: dict[str, tuple[Level, str | None]] = {
    "community": (Level.COMMUNITY, None),
    "总网格": (Level.COMMUNITY, None),
    "社区": (Level.COMMUNITY, "社区"),
    "村": (Level.COMMUNITY, "村"),
    "general": (Level.GENERAL, None),
    "一般网格": (Level.GENERAL, "一般网格"),
    "专属网格": (Level.GENERAL, "专属网格"),
    "micro": (Level.MICRO, None),
    "微网格": (Level.MICRO, "微网格"),
}


def _find(fields_found: Sequence[str], candidates: Sequence[str]) -> str | None:
    by_key = {f.strip().lower(): f for f in reversed(fields_found)}
    for cand in candidates:
        hit = by_key.get(cand.lower())
        if hit is not None:
            return hit
    return None


def _missing(what: str, wanted: str, fields_found: Sequence[str]) -> MissingColumn:
    found = "、".join(fields_found) or "（无）"
    return MissingColumn(
        f"缺少{what}列（{wanted}）；文件中的列：{found}",
        f"missing {what} column ({wanted}); columns found: {', '.join(fields_found) or '(none)'}",
        field=what,
        detail={"columns_found": list(fields_found)},
    )


def resolve_grid_columns(fields_found: Sequence[str], mapping: ColumnMapping | None) -> dict[str, str | None]:
    """Map each grid attribute to a column of the file (or None when optional and absent).

    ``code`` and ``level`` are required: :class:`MissingColumn` names the columns found. A column
    named in ``mapping`` must exist (exactly, or else case-insensitively).
    """
    mapping = mapping or ColumnMapping()
    out: dict[str, str | None] = {}
    for f in fields(ColumnMapping):
        asked = getattr(mapping, f.name)
        if asked is not None:
            col = _find(fields_found, (asked,))
            if col is None:
                raise _missing(f.name, asked, fields_found)
        else:
            col = _find(fields_found, GRID_COLUMNS[f.name])
        out[f.name] = col
    for required in ("code", "level"):
        if out[required] is None:
            raise _missing(required, "/".join(GRID_COLUMNS[required]), fields_found)
    return out


def resolve_element_columns(fields_found: Sequence[str]) -> dict[str, str | None]:
    """Map each element attribute to a column (``type`` must exist; others optional)."""
    out = {key: _find(fields_found, cands) for key, cands in ELEMENT_COLUMNS.items()}
    if out["type"] is None:
        raise _missing("type", "/".join(ELEMENT_COLUMNS["type"]), fields_found)
    return out


def looks_like_elements(
    fields_found: Sequence[str], columns: Mapping[str, Sequence[Any]], mapping: ColumnMapping | None
) -> bool:
    """True for an elements layer: no level column (and no mapping), a type column holding element types."""
    if mapping is not None and any(getattr(mapping, f.name) for f in fields(ColumnMapping)):
        return False
    if _find(fields_found, GRID_COLUMNS["level"]) is not None:
        return False
    type_col = _find(fields_found, ELEMENT_COLUMNS["type"])
    if type_col is None:
        return False
    return any(text(v) in ELEMENT_TYPES for v in columns[type_col])


def is_null(value: Any) -> bool:
    """None, NaN, NaT or an empty/blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return str(value) == "NaT"


def text(value: Any) -> str | None:
    """A stripped string, or None for a null. Integral floats lose their ``.0`` (codes read as numbers)."""
    if is_null(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item"):  # numpy scalar
        return text(value.item())
    return str(value).strip()


def texts(values: Any) -> list[str | None]:
    """:func:`text` of every value of a column, with a fast path for the usual columns (all
    strings, or all integers) that gives the same results without a call per value."""
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    if all(type(v) is str for v in items):
        return [None if not (t := v.strip()) or v == "NaT" else t for v in items]
    if all(type(v) is int for v in items):
        return [str(v) for v in items]
    return [text(v) for v in items]


def count(value: Any, *, row: int, column: str) -> int | None:
    """A non-negative whole number (households) or None for a null; :class:`BadValue` otherwise."""
    if is_null(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise BadValue(
            f"第 {row} 行“{column}”列的值是布尔值，不是户数：{value}",
            f"row {row}, column {column!r}: a boolean is not a count: {value}",
            field=column,
            detail={"row": row, "value": str(value)},
        )
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number.is_integer() and number >= 0):
        raise BadValue(
            f"第 {row} 行“{column}”列的值不是非负整数：{value!r}",
            f"row {row}, column {column!r}: not a non-negative integer: {value!r}",
            field=column,
            detail={"row": row, "value": str(value)},
        )
    return int(number)


def level_of(value: Any, *, row: int, column: str) -> tuple[Level, str | None]:
    """Parse a level value (community/总网格/社区/村, general/一般网格/专属网格, micro/微网格)."""
    key = text(value)
    hit = LEVEL_VALUES.get(key.lower()) if key is not None else None
    if hit is None:
        raise BadValue(
            f"第 {row} 行“{column}”列的层级无效：{value!r}（应为 community/general/micro 或 "
            "总网格/社区/村/一般网格/专属网格/微网格）",
            f"row {row}, column {column!r}: unknown level {value!r} (expected community/general/micro "
            "or 总网格/社区/村/一般网格/专属网格/微网格)",
            field=column,
            detail={"row": row, "value": str(value)},
        )
    return hit
