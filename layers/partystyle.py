"""How party organisations (两网融合) are drawn, on paper and on screen: one style per kind.

Kinds come from :func:`geo.party.party_kind`. Party areas are outlines in party red over the grids
(dashed, heavier for wider organisations), never fills, so the grids and findings below stay
readable; an enterprise's organisation is a dotted outline of its grid. The web map uses the same
colours and dash patterns (``dash`` in SVG ``stroke-dasharray`` units, ``weight`` in pixels).
"""

from __future__ import annotations

from typing import Any

#: Paper (matplotlib) style per kind: line colour, width in points, dash pattern, zorder.
PARTY_PRINT: dict[str, dict[str, Any]] = {
    "general_branch": {"color": "#a50000", "linewidth": 2.2, "linestyle": (0, (8, 3)), "zorder": 6.4},
    "branch": {"color": "#c40000", "linewidth": 1.6, "linestyle": (0, (6, 2.5)), "zorder": 6.3},
    "group": {"color": "#e8590c", "linewidth": 1.0, "linestyle": (0, (4, 1.5, 1, 1.5)), "zorder": 6.2},
    "enterprise": {"color": "#d6336c", "linewidth": 0.9, "linestyle": (0, (1, 1.2)), "zorder": 6.1},
    "other": {"color": "#9c36b5", "linewidth": 0.9, "linestyle": (0, (3, 2)), "zorder": 6.0},
}

#: Screen (Leaflet) style per kind.
PARTY_WEB: dict[str, dict[str, Any]] = {
    "general_branch": {"color": "#a50000", "weight": 4, "dash": "10 4"},
    "branch": {"color": "#c40000", "weight": 3, "dash": "8 4"},
    "group": {"color": "#e8590c", "weight": 2, "dash": "5 3 1 3"},
    "enterprise": {"color": "#d6336c", "weight": 2, "dash": "1 3"},
    "other": {"color": "#9c36b5", "weight": 2, "dash": "4 3"},
}

#: Title of the party legend (paper and screen).
PARTY_LEGEND_TITLE = "党组织（两网融合）"


def party_print_style(kind: str) -> dict[str, Any]:
    return PARTY_PRINT.get(kind, PARTY_PRINT["other"])


def party_web_style(kind: str) -> dict[str, Any]:
    return PARTY_WEB.get(kind, PARTY_WEB["other"])
