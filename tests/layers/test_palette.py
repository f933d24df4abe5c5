"""One palette for paper and screen: a general grid's fill on the printed sheet is its colour in the web
page's JSON, touching general grids differ, and the answer depends only on the hierarchy."""

from __future__ import annotations

import json
import re
from itertools import combinations

import matplotlib
import pytest
from matplotlib.collections import PathCollection
from shapely.geometry import box

from api.ops.sources import load_source
from geo.hierarchy import Grid, Hierarchy, Level
from layers.palette import FILL_ALPHA, NEIGHBOUR_DEG, PALETTE, general_colors, translucent
from layers.printmap import compose_pages
from layers.webmap import coverage_page, dispatch_page


@pytest.fixture(scope="module")
def sample():
    return load_source()


def _page_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="ww-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def _printed_fills(h: Hierarchy, community: str, elements, posts) -> dict[str, tuple[float, ...]]:
    """General code → RGBA of its polygon as drawn on the sheet's map (the zorder-1 collection)."""
    pages = compose_pages(h, community, elements=elements, posts=posts, paper="A4", fmt="png")
    ax = pages[0].map_ax
    assert ax is not None
    generals = sorted((g for g in h.children(community) if g.level is Level.GENERAL), key=lambda g: g.code)
    (coll,) = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_zorder() == 1]
    faces = coll.get_facecolors()
    assert len(faces) == len(generals)
    for p in pages:
        p.figure.clf()
    return {g.code: tuple(float(v) for v in f) for g, f in zip(generals, faces, strict=True)}


def test_every_sample_community_has_general_grids(sample) -> None:
    codes = [c.code for c in sample.hierarchy.communities]
    assert len(codes) >= 2
    assert all(general_colors(sample.hierarchy, c) for c in codes)


def test_printed_fill_equals_the_web_pages_colour(sample) -> None:
    h = sample.hierarchy
    for community in (c.code for c in h.communities):
        printed = _printed_fills(h, community, sample.elements, sample.posts or [])
        for page in (
            dispatch_page(h, community, posts=sample.posts or [], mask_phones=True),
            coverage_page(h, community, [], version_label="v1"),
        ):
            data = _page_data(page)
            feats = [f["properties"] for f in data["grids"]["features"]]
            web = {p["code"]: p["color"] for p in feats if p["level"] == "general"}
            assert set(web) == set(printed), community
            for code, rgba in printed.items():
                assert rgba == pytest.approx(matplotlib.colors.to_rgba(web[code], FILL_ALPHA)), code
            # micro-grids carry their general grid's colour, drawn at the paper's opacity
            assert all(p["color"] == web[p["general"]] for p in feats if p["level"] == "micro")
            assert data["style"]["generalFillOpacity"] == FILL_ALPHA
            # the legend swatch is the fill as it looks on the map
            for code, color in web.items():
                assert (
                    f'<li data-code="{code}"><span class="ww-swatch" style="background:{translucent(color)}">'
                    in page
                )


def test_neighbours_never_share_a_colour_in_the_sample(sample) -> None:
    h = sample.hierarchy
    pairs = 0
    for community in (c.code for c in h.communities):
        colors = general_colors(h, community)
        assert set(colors.values()) <= set(PALETTE)
        generals = [h.get(code) for code in colors]
        for a, b in combinations(generals, 2):
            if a.geometry.intersects(b.geometry):
                pairs += 1
                assert colors[a.code] != colors[b.code], (a.code, b.code)
    assert pairs >= 10  # the sample's general grids do touch


def _grid(code: str, geom) -> Grid:
    return Grid(code, code, Level.GENERAL, geom, "510116099001", "510116099001", "一般网格")


COMMUNITY = Grid("510116099001", "测试社区", Level.COMMUNITY, box(0, 0, 30, 3), kind="社区")


def test_the_answer_depends_only_on_the_hierarchy() -> None:
    grids = [
        _grid("510116099001001", box(0, 0, 1, 1)),
        _grid("510116099001002", box(1, 0, 2, 1)),
        _grid("510116099001003", box(5, 0, 6, 1)),
    ]
    forward = general_colors(Hierarchy([COMMUNITY, *grids]), COMMUNITY.code)
    backward = general_colors(Hierarchy([*reversed(grids), COMMUNITY]), COMMUNITY.code)
    assert forward == backward == dict(zip((g.code for g in grids), PALETTE[:3], strict=False))
    assert general_colors(Hierarchy([COMMUNITY, *grids]), "510116099999") == {}


@pytest.mark.parametrize(("gap", "expected"), [(0.0, 1), (NEIGHBOUR_DEG / 2, 1), (0.5, 0)])
def test_once_every_colour_is_used_a_neighbour_across_a_hairline_still_differs(gap, expected) -> None:
    # nine grids far apart take the nine colours; the tenth touches (or nearly touches) the first only
    apart = [_grid(f"510116099001{k:03d}", box(3 * k, 0, 3 * k + 1, 1)) for k in range(1, 10)]
    tenth = _grid("510116099001010", box(4 + gap, 0, 5, 1))
    colors = general_colors(Hierarchy([COMMUNITY, *apart, tenth]), COMMUNITY.code)
    assert [colors[g.code] for g in apart] == list(PALETTE)
    assert colors[tenth.code] == PALETTE[expected]


def test_more_grids_than_colours_reuse_colours_only_between_grids_that_do_not_touch() -> None:
    grids = [
        _grid(f"510116099001{r * 5 + c + 1:03d}", box(c, r, c + 1, r + 1)) for r in range(3) for c in range(5)
    ]
    colors = general_colors(Hierarchy([COMMUNITY, *grids]), COMMUNITY.code)
    assert set(colors.values()) == set(PALETTE)
    for a, b in combinations(grids, 2):
        if a.geometry.intersects(b.geometry):  # sides and corners
            assert colors[a.code] != colors[b.code], (a.code, b.code)
