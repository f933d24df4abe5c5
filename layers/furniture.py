"""Map furniture of printed sheets: the map scale, the scale bar in metres and the north arrow.

The map axes are in metres of EPSG:4544 and their limits are set so that one paper millimetre is
exactly ``denominator / 1000`` metres: the printed 1:N and the scale bar are right by construction
(the Gauss-Krüger scale factor here, ~1.0001, is far below the 1 % tolerance).
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.patches import Polygon as MplPolygon
from matplotlib.patches import Rectangle

from layers.styles import INK

_NICE_SCALE = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0)
_NICE_LENGTH = (1.0, 2.0, 2.5, 5.0)


def nice_denominator(required: float) -> int:
    """The smallest round scale denominator ≥ ``required`` (1:N with N in 1, 1.25, 1.5, 2 … × 10^k).

    >>> nice_denominator(7140.2), nice_denominator(10000), nice_denominator(1001)
    (7500, 10000, 1250)
    """
    k = math.floor(math.log10(required))
    for exp in (k, k + 1):
        for m in _NICE_SCALE:
            n = m * 10**exp
            if n >= required - 1e-9:
                return round(n)
    return round(10 ** (k + 2))


def nice_length(target_m: float) -> float:
    """A round bar length (1, 2, 2.5, 5 × 10^k metres) not above ``target_m``.

    >>> nice_length(430.0), nice_length(260.0), nice_length(99.0)
    (250.0, 250.0, 50.0)
    """
    k = math.floor(math.log10(target_m))
    best = 10.0**k
    for m in _NICE_LENGTH:
        if m * 10**k <= target_m:
            best = m * 10**k
    return best


def _fmt_m(v: float) -> str:
    return f"{v:g}"


def draw_scale_bar(
    ax: Axes, x0: float, y0: float, length_m: float, height_m: float, fontsize: float = 7.0
) -> list[Rectangle]:
    """A 4-segment black/white bar from (x0, y0) (data metres) with labels 0, L/2, L 米.

    Returns the segment rectangles (their union spans exactly ``length_m`` in data units).
    """
    seg = length_m / 4
    rects = []
    for i in range(4):
        r = Rectangle(
            (x0 + i * seg, y0),
            seg,
            height_m,
            facecolor=INK if i % 2 == 0 else "white",
            edgecolor=INK,
            linewidth=0.6,
            zorder=21,
        )
        ax.add_patch(r)
        rects.append(r)
    for v in (0.0, length_m / 2, length_m):
        label = f"{_fmt_m(v)} 米" if v == length_m else _fmt_m(v)
        ax.text(
            x0 + v,
            y0 + height_m * 1.6,
            label,
            ha="center",
            va="bottom",
            fontsize=fontsize,
            color=INK,
            zorder=21,
        )
    return rects


def draw_north_arrow(
    ax: Axes, x: float, y: float, size_m: float, convergence_deg: float, fontsize: float = 9.0
) -> None:
    """A north arrow with its tip at true north: rotated from grid north (map up) by the meridian
    convergence (degrees, positive when true north lies clockwise of grid north)."""
    t = math.radians(convergence_deg)

    def rot(dx: float, dy: float) -> tuple[float, float]:
        # clockwise rotation by t
        return x + dx * math.cos(t) + dy * math.sin(t), y - dx * math.sin(t) + dy * math.cos(t)

    half = size_m * 0.28
    tip, base_l, base_r, notch = (
        rot(0, size_m / 2),
        rot(-half, -size_m / 2),
        rot(half, -size_m / 2),
        rot(0, -size_m / 4),
    )
    ax.add_patch(
        MplPolygon([tip, base_l, notch], closed=True, facecolor=INK, edgecolor=INK, lw=0.6, zorder=21)
    )
    ax.add_patch(
        MplPolygon([tip, notch, base_r], closed=True, facecolor="white", edgecolor=INK, lw=0.6, zorder=21)
    )
    lx, ly = rot(0, size_m / 2 + size_m * 0.08)
    ax.text(
        lx, ly, "北", ha="center", va="bottom", fontsize=fontsize, fontweight="bold", color=INK, zorder=21
    )
