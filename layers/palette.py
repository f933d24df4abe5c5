"""The one palette of general grids (一般网格/专属网格), on the printed sheet and on the web maps.

General grids are filled from Paul Tol's "light" qualitative palette (https://personal.sron.nl/~pault/:
told apart by colour-blind readers, carries black text on top) at :data:`FILL_ALPHA` over white, with
dark boundaries (:data:`GENERAL_EDGE_COLOR`). Which colour a grid gets is decided once, by
:func:`general_colors`, from the hierarchy's lon/lat polygons; :mod:`layers.printmap` fills the sheet
and :mod:`layers.webmap` the page's JSON (``color`` of each general grid and its micro-grids) with its
answer, so a grid has the same colour on paper and on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from shapely import dwithin
from shapely.geometry.base import BaseGeometry

from geo.hierarchy import Hierarchy, Level

#: Paul Tol "light" scheme, 9 colours, in the order they are handed out.
PALETTE: tuple[str, ...] = (
    "#77AADD",
    "#EE8866",
    "#EEDD88",
    "#FFAABB",
    "#99DDFF",
    "#44BB99",
    "#BBCC33",
    "#AAAA00",
    "#DDDDDD",
)
#: Opacity of a general grid's fill over white paper or the map background.
FILL_ALPHA = 0.45
#: Boundary of a general grid (paper and screen).
GENERAL_EDGE_COLOR = "#1a1a1a"
#: Polygons closer than this (degrees, about 10 cm here: the topology tolerance of ``geo.validate``)
#: are neighbours, so a hairline gap left by a drawing tool does not let two grids share a colour.
NEIGHBOUR_DEG = 1e-6


def translucent(color: str) -> str:
    """``#RRGGBB`` as ``#RRGGBBAA`` at :data:`FILL_ALPHA`: a legend swatch as the fill looks on the map.

    >>> translucent("#77AADD")
    '#77AADD73'
    """
    return f"{color}{round(FILL_ALPHA * 255):02X}"


def _greedy(polygons: Sequence[BaseGeometry | None]) -> list[str]:
    """One colour per polygon, in order: not a colour of an earlier neighbour while the palette lasts,
    else the least-used colour, ties broken by palette order.

    >>> from shapely.geometry import box
    >>> _greedy([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)])
    ['#77AADD', '#EE8866', '#EEDD88']
    """
    chosen: list[int] = []
    used = [0] * len(PALETTE)
    for i, poly in enumerate(polygons):
        taken: set[int] = set()
        if poly is not None and not poly.is_empty:
            taken = {
                chosen[j]
                for j in range(i)
                if (other := polygons[j]) is not None
                and not other.is_empty
                and bool(dwithin(other, poly, NEIGHBOUR_DEG))
            }
        free = [k for k in range(len(PALETTE)) if k not in taken] or list(range(len(PALETTE)))
        k = min(free, key=lambda c: (used[c], c))
        chosen.append(k)
        used[k] += 1
    return [PALETTE[k] for k in chosen]


def general_colors(h: Hierarchy, community_code: str) -> dict[str, str]:
    """Colour of each general grid of a community: ``{general code: "#RRGGBB"}``.

    Grids are taken in code order and coloured greedily (:func:`_greedy`), so the answer depends only
    on the hierarchy: touching general grids never share a colour while the 9 colours last. An
    unknown community has none (``{}``).
    """
    generals = sorted(
        (g for g in h.children(community_code) if g.level is Level.GENERAL), key=lambda g: g.code
    )
    colors = _greedy([g.geometry for g in generals])
    return {g.code: c for g, c in zip(generals, colors, strict=True)}
