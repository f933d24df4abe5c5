"""Governance elements (治理要素): compounds, enterprises, shops, parks, greenways, roads.

"横向到边、纵向到底": every element must lie in a grid. Elements are data only; which micro-grid holds
an element is decided by :mod:`geo.locator` / checked by :mod:`geo.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

#: Element types used in files (Chinese, as planners write them).
ELEMENT_TYPES = ("小区", "院落", "企业", "商铺", "学校", "市场", "公园", "绿道", "主干道", "次干道", "水系")
#: Linear elements cross grids by nature (roads run along grid edges): they must lie within the
#: community cover, not inside one micro-grid.
LINEAR_TYPES = ("绿道", "主干道", "次干道", "水系")


@dataclass(frozen=True, slots=True)
class Element:
    """One governance element in WGS84 lon/lat."""

    id: str
    type: str
    name: str
    geometry: BaseGeometry
    households: int = 0
    community_code: str | None = None
    micro_code: str | None = None

    @property
    def linear(self) -> bool:
        return self.type in LINEAR_TYPES

    @classmethod
    def from_properties(cls, props: Mapping[str, Any], geometry: BaseGeometry) -> Element:
        """Build from a property mapping (keys as in ``data/boundaries/elements.geojson``)."""
        hh = props.get("households")
        return cls(
            id=str(props.get("id") or ""),
            type=str(props.get("type") or ""),
            name=str(props.get("name") or ""),
            geometry=geometry,
            households=int(hh) if hh not in (None, "") else 0,
            community_code=(str(props["community_code"]) if props.get("community_code") else None),
            micro_code=(str(props["micro_code"]) if props.get("micro_code") else None),
        )
