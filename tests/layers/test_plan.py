"""The planner's page and the before/after diff map as HTML (no server): leaflet-geoman vendored and
loaded after Leaflet, nothing from outside, names escaped in HTML and in the data block, the diff
legend counting each kind of change; the page scripts never write HTML."""

from __future__ import annotations

import re
from dataclasses import replace

from shapely.geometry import box

from geo.diff import diff_layers
from geo.hierarchy import Hierarchy
from layers.offline import STATIC_DIR, external_urls
from layers.plan import GEOMAN_CSS, GEOMAN_JS, plan_features, plan_page
from layers.plandiff import diff_page
from tests.layers.test_webmap import COMMUNITY, EAST, GENERAL, HOSTILE, TINY, WEST, _data


def test_geoman_is_vendored_with_its_licence_and_version() -> None:
    folder = STATIC_DIR / "vendor" / "leaflet-geoman"
    assert (STATIC_DIR / GEOMAN_JS).stat().st_size > 100_000 and (STATIC_DIR / GEOMAN_CSS).is_file()
    assert "MIT License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert (
        (folder / "VERSION").read_text(encoding="utf-8").startswith("@geoman-io/leaflet-geoman-free@2.20.2 ")
    )


def test_plan_page_loads_geoman_after_leaflet_and_escapes_names() -> None:
    drafts = [{"number": 2, "author": HOSTILE, "created_at": "2026-12-01T05:00:00"}]
    page = plan_page(TINY, COMMUNITY.code, number=2, drafts=drafts, published=1)
    leaflet = page.index("/static/leaflet/leaflet.js")
    assert leaflet < page.index(GEOMAN_JS) and page.count(GEOMAN_JS) == 1 and GEOMAN_CSS in page
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert [u for u in external_urls(page) if "leafletjs.com" not in u] == []
    data = _data(page)
    assert data["draft"] == 2 and data["published"] == 1
    names = {f["properties"]["code"]: f["properties"]["name"] for f in data["state"]["grids"]["features"]}
    assert names[WEST.code] == HOSTILE  # exact text in the JSON, drawn with textContent
    for key in ("ww-split", "ww-merge", "ww-boundary", "ww-undo", "ww-publish", "ww-override-reason"):
        assert f'id="{key}"' in page, key
    assert 'href="/maps/plan/510116004009/diff?to=2"' in page


def test_plan_features_colour_micro_grids_by_their_general_grid() -> None:
    fc = plan_features(TINY, COMMUNITY.code)
    props = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    assert props[WEST.code]["color"] == props[GENERAL.code]["color"] == props[EAST.code]["color"]
    assert props[WEST.code]["general"] == GENERAL.code and props[WEST.code]["households"] == 50
    assert [f["properties"]["level"] for f in fc["features"]] == ["community", "general", "micro", "micro"]


def test_diff_page_highlights_each_kind_of_change() -> None:
    moved_west = replace(WEST, geometry=box(104.08, 30.40, 104.0812, 30.401))
    new_east = replace(
        EAST, code=EAST.code[:-3] + "003", name="新东侧", geometry=box(104.0812, 30.40, 104.082, 30.401)
    )
    after = Hierarchy([COMMUNITY, GENERAL, moved_west, new_east])
    changes = [c.to_dict() for c in diff_layers(list(TINY.grids), list(after.grids))]
    page = diff_page(TINY, after, COMMUNITY.code, changes, before_label="第1版", after_label=HOSTILE)
    assert HOSTILE not in page
    assert re.search(r'data-grid="510116004009001001" data-change="changed"', page)
    assert re.search(r'data-grid="510116004009001002" data-change="removed"', page)
    assert re.search(r'data-grid="510116004009001003" data-change="added"', page)
    assert "新增 1 个、删除 1 个、变更 1 个网格" in page
    legend = re.search(r'<section class="ww-legend" id="ww-legend-diff">(.*?)</section>', page, re.S)
    assert legend is not None
    for label in ("新增", "删除", "变更", "未变"):
        assert label in legend.group(1)
    assert _data(page)["changes"] == {WEST.code: "changed", EAST.code: "removed", new_east.code: "added"}
    assert [u for u in external_urls(page) if "leafletjs.com" not in u] == []


def test_page_scripts_write_no_html_and_name_no_outside_host() -> None:
    for name in ("plan.js", "plandiff.js"):
        js = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", js), name
        assert "http://" not in js and "https://" not in js, name
