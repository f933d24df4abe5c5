"""Structure of the web map pages (no server, no browser): offline assets, escaping, data, basemaps.

Drawing, clicking and reporting are proved in Chromium by ``tests/browser/``.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from shapely.geometry import Point, box, shape

from api.ops.sources import load_source
from dispatch.categories import Category
from dispatch.routing import posts_on
from dispatch.states import State
from geo.crs import from_wgs84
from geo.errors import NotFound
from geo.hierarchy import Grid, Hierarchy, Level
from geo.roles import Post, Role
from geo.validate import FINDING_CODES, validate
from layers.offline import LEAFLET_DIR, STATIC_DIR, basemap, external_urls
from layers.webmap import (
    assignment_page,
    coverage_page,
    dispatch_page,
    embed_json,
    grid_features,
    label_fit,
    login_page,
    short_code,
)
from layers.webstyles import CATEGORY_SHAPES, STATE_COLORS, ontime_color, open_color

SGS = "510116004001"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def sample():
    return load_source()


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="ww-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


# -- tiny named hierarchy: one community, one general grid, two micro-grids side by side ----------

COMMUNITY = Grid(
    "510116004009", "测试社区", Level.COMMUNITY, box(104.08, 30.40, 104.082, 30.401), kind="社区"
)
GENERAL = Grid(
    "510116004009001",
    "测试第1网格",
    Level.GENERAL,
    box(104.08, 30.40, 104.082, 30.401),
    "510116004009",
    "510116004009",
    "一般网格",
)
WEST = Grid(
    "510116004009001001",
    HOSTILE,
    Level.MICRO,
    box(104.08, 30.40, 104.081, 30.401),
    "510116004009001",
    "510116004009",
    "微网格",
    50,
)
EAST = Grid(
    "510116004009001002",
    "东侧微网格",
    Level.MICRO,
    box(104.081, 30.40, 104.082, 30.401),
    "510116004009001",
    "510116004009",
    "微网格",
    50,
)
TINY = Hierarchy([COMMUNITY, GENERAL, WEST, EAST])
TINY_POSTS = [
    Post("W1", '<img src=x onerror="alert(2)">', Role.MICRO_WORKER, WEST.code, "13800001234"),
    Post("H1", "王五", Role.MICRO_HEAD, WEST.code, "13800005678"),
    Post("OLD", "离任者", Role.MICRO_WORKER, EAST.code, "13800009999", valid_to=date(2020, 1, 1)),
]


def test_style_tables_cover_every_state_and_category() -> None:
    assert set(STATE_COLORS) == {s.value for s in State}
    assert set(CATEGORY_SHAPES) == {c.value for c in Category}


def test_dispatch_page_is_offline_small_and_has_the_83_micro_grids(sample) -> None:
    page = dispatch_page(sample.hierarchy, SGS, posts=sample.posts, mask_phones=False)
    assert external_urls(page) == []
    assert '<script src="/static/leaflet/leaflet.js"></script>' in page
    assert '<script src="/static/weiwang/dispatch.js"></script>' in page
    assert "cdn" not in page.lower() and "jquery" not in page.lower() and "bootstrap" not in page.lower()
    assert len(page.encode()) < 1_000_000
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    data = _data(page)
    levels = [f["properties"]["level"] for f in data["grids"]["features"]]
    assert levels.count("micro") == 83 and levels.count("general") == 6 and levels.count("community") == 1
    assert data["incidents"] is None  # loaded by dispatch.js from the API, not embedded
    assert data["api"] == "/api/v1" and data["crs"] == "wgs84"
    # Coordinates rounded to 6 decimals.
    coords = re.findall(r"\d+\.(\d+)", json.dumps(data["grids"]["features"][5]["geometry"]))
    assert coords and max(len(c) for c in coords) <= 6
    # Legend: the six general grids in distinct colours.
    colors = [
        f["properties"]["color"] for f in data["grids"]["features"] if f["properties"]["level"] == "general"
    ]
    assert len(set(colors)) == 6
    for k in ("事件调度", "督办清单", "事件状态", "事件类别", "三根松第1网格"):
        assert k in page


def test_leaflet_and_our_static_files_exist() -> None:
    assert (LEAFLET_DIR / "leaflet.js").is_file() and (LEAFLET_DIR / "leaflet.css").is_file()
    for name in ("common.js", "dispatch.js", "coverage.js", "assignment.js", "login.js", "weiwang.css"):
        assert (STATIC_DIR / name).is_file(), name
    for name in ("common.js", "dispatch.js", "coverage.js", "assignment.js"):
        js = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", js), name
        assert "http://" not in js and "https://" not in js


def test_hostile_names_are_escaped_in_html_and_json() -> None:
    # the caller passes the posts in force (the one validity rule lives in dispatch.routing)
    page = dispatch_page(TINY, COMMUNITY.code, posts=posts_on(TINY_POSTS, date.today()), mask_phones=True)
    assert HOSTILE not in page and "<img src=x" not in page
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    data = _data(page)  # and the JSON still carries the exact text
    west = next(f for f in data["grids"]["features"] if f["properties"]["code"] == WEST.code)
    assert west["properties"]["name"] == HOSTILE
    assert west["properties"]["workers"] == [['<img src=x onerror="alert(2)">', "138****1234"]]
    assert west["properties"]["heads"] == [["王五", "138****5678"]]
    east = next(f for f in data["grids"]["features"] if f["properties"]["code"] == EAST.code)
    assert east["properties"]["workers"] == []  # the post ended in 2020


def test_hostile_community_name_is_escaped_in_title_and_panel() -> None:
    bad = Grid(
        COMMUNITY.code, "</title><script>x()</script>", Level.COMMUNITY, COMMUNITY.geometry, kind="社区"
    )
    h = Hierarchy([bad, GENERAL, WEST, EAST])
    for page in (
        dispatch_page(h, bad.code, posts=[], mask_phones=True),
        coverage_page(h, bad.code, [], version_label="<b>第1版</b>"),
        assignment_page(h, bad.code, open_by_micro={}, workload=[{"name": HOSTILE}], ontime_by_general={}),
    ):
        assert "<script>x()" not in page and "<b>第1版" not in page and HOSTILE not in page
        assert "&lt;/title&gt;&lt;script&gt;x()&lt;/script&gt;" in page


def test_template_syntax_in_names_is_shown_as_written() -> None:
    # the panel and data never pass through Jinja (folium renders the rest of the page)
    odd = Grid(
        WEST.code,
        "{{ 7*7 }}{% if 1 %}x{% endif %}",
        Level.MICRO,
        WEST.geometry,
        GENERAL.code,
        COMMUNITY.code,
        "微网格",
        50,
    )
    h = Hierarchy([COMMUNITY, GENERAL, odd, EAST])
    for page in (
        dispatch_page(h, COMMUNITY.code, posts=[], mask_phones=True),
        coverage_page(h, COMMUNITY.code, [], version_label="{{ 6*6 }}"),
        assignment_page(
            h, COMMUNITY.code, open_by_micro={}, workload=[{"name": "{{ 5*5 }}"}], ontime_by_general={}
        ),
    ):
        data = _data(page)
        assert any(f["properties"]["name"] == odd.name for f in data["grids"]["features"])
    assert "{{ 6*6 }}" in coverage_page(h, COMMUNITY.code, [], version_label="{{ 6*6 }}")
    assert "{{ 5*5 }}" in assignment_page(
        h, COMMUNITY.code, open_by_micro={}, workload=[{"name": "{{ 5*5 }}"}], ontime_by_general={}
    )


def test_grid_features_are_fresh_dicts_on_every_call(sample) -> None:
    # pages add their own figures to the properties; the cached shapes must not carry them over
    first, _ = grid_features(sample.hierarchy, SGS)
    first["features"][-1]["properties"]["open"] = 99
    again, _ = grid_features(sample.hierarchy, SGS)
    assert "open" not in again["features"][-1]["properties"]
    assert again["features"][-1]["geometry"] == first["features"][-1]["geometry"]


def test_phones_are_shown_to_dispatchers() -> None:
    data = _data(dispatch_page(TINY, COMMUNITY.code, posts=TINY_POSTS, mask_phones=False))
    west = next(f for f in data["grids"]["features"] if f["properties"]["code"] == WEST.code)
    assert west["properties"]["heads"] == [["王五", "13800005678"]]


def test_embed_json_cannot_close_the_script_tag() -> None:
    text = embed_json({"a": "</script><!-- & >"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & >"}


def test_unknown_community_is_not_found() -> None:
    with pytest.raises(NotFound):
        dispatch_page(TINY, "999", posts=[], mask_phones=True)


def test_label_fit_gives_an_interior_point_and_room() -> None:
    (lon, lat), w, h = label_fit(WEST.geometry)
    assert WEST.geometry.contains(Point(lon, lat))
    # 0.001° of longitude ≈ 96 m at 30.4° N, 0.001° of latitude ≈ 111 m.
    assert 90 < w < 100 and 105 < h < 115
    assert short_code(WEST) == "001-001" and short_code(COMMUNITY) == COMMUNITY.code


def test_amap_basemap_shifts_overlays_to_gcj02_and_allows_only_its_tiles() -> None:
    plain, _ = grid_features(TINY, COMMUNITY.code)
    page = dispatch_page(TINY, COMMUNITY.code, posts=[], mask_phones=True, basemap="amap")
    data = _data(page)
    assert data["crs"] == "gcj02" and data["basemap"] == "amap"
    base = basemap("amap")
    assert external_urls(page, base.hosts) == []
    assert external_urls(page) != []  # the tile URL is the only outside URL
    west_plain = shape(next(f for f in plain["features"] if f["properties"]["code"] == WEST.code)["geometry"])
    west_gcj = shape(
        next(f for f in data["grids"]["features"] if f["properties"]["code"] == WEST.code)["geometry"]
    )
    gx, gy = from_wgs84(104.08, 30.40, "gcj02")
    assert (round(gx, 6), round(gy, 6)) in [tuple(c) for c in west_gcj.exterior.coords]
    assert west_gcj.centroid.distance(west_plain.centroid) > 0.002  # a few hundred metres


def test_tianditu_needs_a_key_and_puts_it_in_the_tile_url() -> None:
    assert basemap("tianditu").name == "none"
    page = dispatch_page(
        TINY, COMMUNITY.code, posts=[], mask_phones=True, basemap="tianditu", tianditu_key="k&1"
    )
    assert "tk=k%261" in page and "vec_w" in page and "cva_w" in page
    assert external_urls(page, basemap("tianditu", tianditu_key="k").hosts) == []
    assert _data(page)["crs"] == "wgs84"


def test_osm_and_unknown_basemaps() -> None:
    page = dispatch_page(TINY, COMMUNITY.code, posts=[], mask_phones=True, basemap="osm")
    assert external_urls(page, ("tile.openstreetmap.org",)) == []
    assert "tile.openstreetmap.org" in page
    page = dispatch_page(TINY, COMMUNITY.code, posts=[], mask_phones=True, basemap="bogus")
    assert external_urls(page) == [] and _data(page)["basemap"] == "none"


def test_coverage_page_lists_each_finding_and_each_kind(sample) -> None:
    sub = sample.hierarchy.subset(SGS)
    h = Hierarchy(g for g in sub if g.code != "510116004001003007")
    findings = validate(h, staffed_micro=set())
    page = coverage_page(h, SGS, findings, version_label="第2版（草稿）")
    assert external_urls(page) == []
    data = _data(page)
    assert len(re.findall(r'<li class="ww-finding', page)) == len(findings)
    drawn = data["findings"]["features"]
    assert {f["properties"]["kind"] for f in drawn} >= {"gap", "unstaffed"}
    for zh in ("网格缝隙", "网格重叠", "嵌套错误", "要素不在网格内", "未配微网格员", "户数超出范围"):
        assert zh in page
    assert "第2版（草稿）" in page
    assert sum(1 for f in drawn if f["properties"]["kind"] == "unstaffed") == 82


def test_tiled_coverage_page_lists_many_findings_of_a_kind_without_geometry(sample) -> None:
    """Above the tile threshold a kind with more than ``listed`` findings (82 无人在岗 here) is one
    group: its count, the first codes with their boxes, how many more; only the few kinds are drawn."""
    sub = sample.hierarchy.subset(SGS)
    h = Hierarchy(g for g in sub if g.code != "510116004001003007")
    findings = validate(h, staffed_micro=set())
    unstaffed = [f for f in findings if f.code == "unstaffed"]
    tiles = {"url": "/tiles", "community": SGS, "version": None, "zooms": {"micro": [14, 20]}}
    page = coverage_page(h, SGS, findings, version_label="第1版", tiles=tiles, listed=20)
    data = _data(page)
    assert data["api"] == "/api/v1"
    drawn = data["findings"]["features"]
    assert not [f for f in drawn if f["properties"]["kind"] == "unstaffed"]
    assert {f["properties"]["kind"] for f in drawn} >= {"gap"}  # the few keep their geometry
    group = re.search(
        r'<li class="ww-finding-group[^"]*" data-kind="unstaffed" data-count="(\d+)">(.*?)</ul>', page
    )
    assert group is not None and int(group.group(1)) == len(unstaffed) == 82
    items = re.findall(
        r'<li class="ww-finding-code ww-mono" data-code="(\d+)" data-bbox="([^"]*)"', group.group(2)
    )
    assert [c for c, _ in items] == [f.grids[0] for f in unstaffed[:20]]
    for code, bbox in items:
        w, s_, e, n = map(float, bbox.split(","))
        gx1, gy1, gx2, gy2 = h.get(code).geometry.bounds
        assert (w, s_, e, n) == pytest.approx((gx1, gy1, gx2, gy2), abs=1e-6)
    assert "以及另外 62 项" in page
    assert "未配微网格员" in page and '<span class="ww-count">82</span>' in page
    # below the threshold (no tiles) nothing changes: every finding drawn and listed
    plain = coverage_page(h, SGS, findings, version_label="第1版", listed=20)
    assert (
        sum(1 for f in _data(plain)["findings"]["features"] if f["properties"]["kind"] == "unstaffed") == 82
    )
    assert "ww-finding-group" not in plain


def test_coverage_page_clean() -> None:
    page = coverage_page(TINY, COMMUNITY.code, [], version_label="第1版（已发布）")
    assert "未发现问题" in page
    assert all(k in FINDING_CODES for k in ("gap", "overlap", "unstaffed"))


def test_assignment_page_classes() -> None:
    page = assignment_page(
        TINY,
        COMMUNITY.code,
        open_by_micro={WEST.code: 4},
        workload=[{"name": "张三", "role": "微网格员", "grid_code": WEST.code, "open": 4, "overdue": 1}],
        ontime_by_general={GENERAL.code: 0.75},
    )
    assert external_urls(page) == []
    data = _data(page)
    props = {f["properties"]["code"]: f["properties"] for f in data["grids"]["features"]}
    assert props[WEST.code]["open"] == 4 and props[WEST.code]["openColor"] == open_color(4)
    assert props[EAST.code]["open"] == 0
    assert props[GENERAL.code]["ontimeText"] == "75.0%" and props[GENERAL.code][
        "ontimeColor"
    ] == ontime_color(0.75)
    assert "张三" in page and "3–5 件" in page and "无应结案件" in page


def test_color_bins() -> None:
    assert open_color(0) != open_color(1) != open_color(10)
    assert ontime_color(None) == "#bdbdbd"
    assert ontime_color(0.69) != ontime_color(0.7)


def test_login_page_is_offline_and_zh() -> None:
    page = login_page(next_url="/maps/dispatch/510116004001")
    assert external_urls(page) == [] and 'lang="zh-CN"' in page and "用户名" in page and "密码" in page


def test_index_page_links_each_community_and_escapes_names() -> None:
    from layers.webmap import index_page

    page = index_page(
        [
            {"code": "510116004001", "name": "三根松社区", "general": 6, "micro": 83, "version": 2},
            {"code": "x/../y", "name": "<script>alert(1)</script>", "general": 1, "micro": 1, "version": 1},
        ]
    )
    assert '<a href="/maps/dispatch/510116004001">事件调度</a>' in page
    assert "/maps/print/510116004001.pdf?paper=A3&amp;all_pages=true" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "/maps/coverage/x%2F..%2Fy" in page
    assert "第2版" in page and 'lang="zh-CN"' in page
    assert "尚无已发布的网格" in index_page([])


def _party(community: str):
    from geo.party import party_areas
    from store.seed import read_sample

    src = load_source()
    orgs = [o for o in read_sample(src.label)["party_orgs"] if o["community_code"] == community]
    return src.hierarchy, party_areas(src.hierarchy, orgs)


@pytest.mark.parametrize(
    ("community", "types"),
    [
        (SGS, {"网格党支部": 2, "网格党小组": 6, "企业党组织": 10}),
        ("510116004002", {"网格党支部": 3, "专属网格党支部": 4, "微网格党小组": 8}),
    ],
)
def test_coverage_page_draws_each_party_organisation_with_its_legend(community, types) -> None:
    h, areas = _party(community)
    page = coverage_page(h, community, [], version_label="第1版（现行）", party=areas)
    assert external_urls(page) == []
    drawn = _data(page)["party"]["features"]
    assert sorted(f["properties"]["code"] for f in drawn) == sorted(a.code for a in areas)
    assert {f["properties"]["type"] for f in drawn} == set(types)
    for f in drawn:  # each organisation's area is the union of the grids it names
        a = next(a for a in areas if a.code == f["properties"]["code"])
        # (coordinates rounded to 6 decimals, ≈ 0.1 m)
        assert shape(f["geometry"]).symmetric_difference(a.geometry).area < 1e-3 * a.geometry.area
    legend = re.search(r'<section class="ww-legend" id="ww-legend-party">(.*?)</section>', page, re.S)
    assert legend is not None and "党组织（两网融合）" in legend.group(1)
    for t, n in types.items():
        assert re.search(
            rf'class="ww-f-party" value="{t}" checked>.*?{t} <span class="ww-count">{n}</span>',
            legend.group(1),
        ), t
    for a in areas:
        assert f'data-party="{a.code}"' in legend.group(1) and a.name in legend.group(1)
    plain = coverage_page(h, community, [], version_label="第1版（现行）")
    assert "ww-legend-party" not in plain and _data(plain)["party"]["features"] == []


def test_party_names_are_escaped_on_the_coverage_page() -> None:
    from geo.party import party_areas

    orgs = [{"code": "X<1>", "name": HOSTILE, "type": '党小组"><b>', "grid_codes": [WEST.code, EAST.code]}]
    page = coverage_page(TINY, COMMUNITY.code, [], version_label="第1版", party=party_areas(TINY, orgs))
    assert HOSTILE not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    (feat,) = _data(page)["party"]["features"]
    assert feat["properties"]["name"] == HOSTILE and feat["properties"]["kind"] == "group"
    assert shape(feat["geometry"]).equals(box(104.08, 30.40, 104.082, 30.401))
