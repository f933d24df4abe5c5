"""Party organisations over the grids (两网融合): their kind and the area each covers.

A party organisation (``code``, ``name``, ``type``, ``parent_code``, ``grid_codes`` — as
:func:`store.people.party_orgs_of` returns them) names the grids it covers by code; its area in a
layer version is the union of those grids (general or micro) in that version. Codes missing from the
version add nothing; an organisation none of whose grids is in the version has no area (``None``).

Kinds, from the organisation's ``type`` (the sample uses 网格党支部, 专属网格党支部, 网格党小组,
微网格党小组, 企业党组织): 党总支 ``general_branch`` → 党支部 ``branch`` → 党小组 ``group``, and
企业党组织 ``enterprise`` (an enterprise's own organisation, drawn on its grid).

>>> party_kind("网格党支部"), party_kind("微网格党小组"), party_kind("企业党组织"), party_kind("党总支")
('branch', 'group', 'enterprise', 'general_branch')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.hierarchy import Hierarchy

#: Kinds in drawing and legend order (widest first), with their zh-CN names.
PARTY_KINDS: tuple[tuple[str, str], ...] = (
    ("general_branch", "党总支"),
    ("branch", "党支部"),
    ("group", "党小组"),
    ("enterprise", "企业党组织"),
    ("other", "其他党组织"),
)
_RANK = {k: i for i, (k, _) in enumerate(PARTY_KINDS)}


def party_kind(type_: str | None) -> str:
    """The kind of a party organisation from its ``type`` text (see the module doc)."""
    t = type_ or ""
    if "企业" in t:
        return "enterprise"
    if "总支" in t:
        return "general_branch"
    if "小组" in t:
        return "group"
    if "支部" in t or "党委" in t:
        return "branch"
    return "other"


@dataclass(frozen=True)
class PartyArea:
    """One party organisation and the area it covers in a layer version (None: no grid of it there)."""

    code: str
    name: str
    type: str
    kind: str
    community_code: str | None
    parent_code: str | None
    element_id: str | None
    grid_codes: tuple[str, ...]
    geometry: BaseGeometry | None

    @property
    def rank(self) -> int:
        return _RANK.get(self.kind, len(_RANK))


def party_areas(h: Hierarchy, orgs: Iterable[Mapping[str, Any]]) -> list[PartyArea]:
    """Each organisation with the union of its grids in ``h``, widest kind first, then by code."""
    out = []
    for o in orgs:
        codes = tuple(str(c) for c in (o.get("grid_codes") or ()))
        parts = [h.get(c).geometry for c in codes if c in h and h.get(c).geometry is not None]
        geom = shapely.union_all(parts) if parts else None
        if geom is not None and geom.is_empty:
            geom = None
        t = str(o.get("type") or "")
        out.append(
            PartyArea(
                code=str(o["code"]),
                name=str(o.get("name") or o["code"]),
                type=t,
                kind=party_kind(t),
                community_code=o.get("community_code"),
                parent_code=o.get("parent_code"),
                element_id=o.get("element_id"),
                grid_codes=codes,
                geometry=geom,
            )
        )
    return sorted(out, key=lambda a: (a.rank, a.code))


def party_types(areas: Sequence[PartyArea]) -> list[tuple[str, str, int]]:
    """The legend rows: ``(type, kind, count)`` of each type present, widest kind first."""
    counts: dict[tuple[int, str, str], int] = {}
    for a in areas:
        key = (a.rank, a.type, a.kind)
        counts[key] = counts.get(key, 0) + 1
    return [(t, k, n) for (_, t, k), n in sorted(counts.items())]
