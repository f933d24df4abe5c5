"""The grid hierarchy 一网三级: 总网格 (community) → 一般网格/专属网格 (general) → 微网格 (micro).

A :class:`Hierarchy` is an immutable set of :class:`Grid` objects linked by ``parent_code``. It is
pure data: building one never reads files or databases (``store/`` does that and hands us grids).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry

from geo.errors import InvalidHierarchy, NotFound


class Level(StrEnum):
    """Grid levels, top down. Values are the strings stored in files and the database."""

    COMMUNITY = "community"
    GENERAL = "general"
    MICRO = "micro"

    @property
    def zh(self) -> str:
        return {"community": "总网格", "general": "一般网格", "micro": "微网格"}[self.value]

    @property
    def depth(self) -> int:
        return {"community": 0, "general": 1, "micro": 2}[self.value]


#: Kinds: a community is a 社区 or a 村; a general grid is 一般网格 or a dedicated 专属网格.
GENERAL_KINDS = ("一般网格", "专属网格")
COMMUNITY_KINDS = ("社区", "村")
MICRO_KIND = "微网格"
#: A grid's attributes besides its geometry, as the GeoJSON faces, tiles and layer files name them.
GRID_PROPERTIES = ("code", "name", "level", "kind", "parent_code", "community_code", "households")


@dataclass(frozen=True, slots=True)
class Grid:
    """One grid polygon (WGS84 lon/lat) with its place in the hierarchy."""

    code: str
    name: str
    level: Level
    geometry: BaseGeometry
    parent_code: str | None = None
    community_code: str | None = None
    kind: str | None = None
    households: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_properties(cls, props: Mapping[str, Any], geometry: BaseGeometry) -> Grid:
        """Build from a GeoJSON-style property mapping (keys as in ``data/boundaries/grids.geojson``)."""
        try:
            level = Level(str(props["level"]))
        except (KeyError, ValueError) as exc:
            raise InvalidHierarchy(
                f"网格层级无效：{props.get('level')!r}（应为 community/general/micro）",
                f"invalid grid level {props.get('level')!r} (expected community/general/micro)",
                field="level",
            ) from exc
        households = props.get("households")
        return cls(
            code=str(props["code"]),
            name=str(props.get("name") or ""),
            level=level,
            geometry=geometry,
            parent_code=(str(props["parent_code"]) if props.get("parent_code") not in (None, "") else None),
            community_code=(
                str(props["community_code"]) if props.get("community_code") not in (None, "") else None
            ),
            kind=(str(props["kind"]) if props.get("kind") not in (None, "") else None),
            households=(int(households) if households not in (None, "") else None),
        )

    def properties(self) -> dict[str, Any]:
        """The grid's attributes as the GeoJSON faces and the undo log write them, keys named as
        :meth:`from_properties` reads them (``GRID_PROPERTIES``, in that order)."""
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level.value,
            "kind": self.kind,
            "parent_code": self.parent_code,
            "community_code": self.community_code,
            "households": self.households,
        }


class Hierarchy:
    """Grids of one or more communities, indexed by code.

    Grids are kept in the order given (codes may repeat or parents be missing: :mod:`geo.validate`
    reports those; lookups here take the first grid with a code).
    """

    def __init__(self, grids: Iterable[Grid]) -> None:
        self.grids: tuple[Grid, ...] = tuple(grids)
        self._by_code: dict[str, Grid] = {}
        for g in self.grids:
            self._by_code.setdefault(g.code, g)
        self._children: dict[str | None, list[Grid]] = {}
        for g in self.grids:
            self._children.setdefault(g.parent_code, []).append(g)

    def __len__(self) -> int:
        return len(self.grids)

    def __iter__(self) -> Iterator[Grid]:
        return iter(self.grids)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Grid:
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound(f"网格不存在：{code}", f"no grid with code {code}", field="code") from None

    def level(self, level: Level | str) -> list[Grid]:
        lv = Level(level)
        return [g for g in self.grids if g.level is lv]

    @property
    def communities(self) -> list[Grid]:
        return self.level(Level.COMMUNITY)

    @property
    def micro(self) -> list[Grid]:
        return self.level(Level.MICRO)

    def children(self, code: str) -> list[Grid]:
        return list(self._children.get(code, ()))

    def chain(self, code: str) -> list[Grid]:
        """The grid and its ancestors, bottom up: [micro, general, community]. Stops at a missing parent
        or a cycle."""
        out: list[Grid] = []
        seen: set[str] = set()
        grid: Grid | None = self.get(code)
        while grid is not None and grid.code not in seen:
            out.append(grid)
            seen.add(grid.code)
            grid = self._by_code.get(grid.parent_code) if grid.parent_code else None
        return out

    def community_of(self, code: str) -> Grid | None:
        """The community (总网格) of a grid: the top of its chain if that is a community."""
        top = self.chain(code)[-1]
        return top if top.level is Level.COMMUNITY else None

    def subset(self, community_code: str) -> Hierarchy:
        """The grids of one community (by ``community_code`` or by chain)."""
        keep = [
            g
            for g in self.grids
            if g.code == community_code
            or g.community_code == community_code
            or (g.code in self._by_code and self.chain(g.code)[-1].code == community_code)
        ]
        if not keep:
            raise NotFound(
                f"社区不存在：{community_code}", f"no community {community_code}", field="community"
            )
        return Hierarchy(keep)
