"""geo.nearest: the community nearest a stray point, within a radius, ties to the lower code; and
when that answer is cheap enough for an event loop (outlines projected once per hierarchy)."""

from __future__ import annotations

import pytest

from geo import nearest
from geo.hierarchy import Hierarchy, Level
from geo.nearest import is_cheap, nearest_community
from tests.fixtures_geo import grid, local_box, lonlat

WEST, EAST = "510116004001", "510116004002"


def two_communities() -> Hierarchy:
    """WEST covers 0..100 m, EAST 300..400 m (east of the origin); both 0..100 m north."""
    return Hierarchy(
        [
            grid(WEST, Level.COMMUNITY, local_box(0, 0, 100, 100)),
            grid(EAST, Level.COMMUNITY, local_box(300, 0, 400, 100)),
        ]
    )


@pytest.mark.parametrize(
    ("x", "radius", "expected"),
    [
        (50, 1, WEST),  # inside: distance 0
        (140, 50, WEST),  # 40 m from WEST, 160 m from EAST
        (260, 50, EAST),
        (200, 150, WEST),  # 100 m from both: the lower code
        (200, 99, None),  # farther than the radius from both
    ],
)
def test_nearest_community(x: float, radius: float, expected: str | None) -> None:
    found = nearest_community(two_communities(), *lonlat(x, 50), radius)
    assert (found.code if found else None) == expected


def test_cheap_once_projected_and_small(monkeypatch: pytest.MonkeyPatch) -> None:
    h = two_communities()
    assert not is_cheap(h)  # nothing projected yet: the first stray point goes to a thread
    nearest_community(h, *lonlat(140, 50), 50)
    assert is_cheap(h)
    big = two_communities()
    monkeypatch.setattr(nearest, "CHEAP_VERTICES", 9)  # two boxes: 10 coordinates
    nearest_community(big, *lonlat(140, 50), 50)
    assert not is_cheap(big)
    assert nearest_community(big, *lonlat(260, 50), 50).code == EAST  # type: ignore[union-attr]
