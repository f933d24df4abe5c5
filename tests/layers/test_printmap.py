"""Printed micro-grid maps: paper sizes, real text, labels inside polygons, scale bar, CLI.

Most tests draw a tiny synthetic community (``TINY``, built in metres of EPSG:4544 and converted to
lon/lat); the sample-data tests check every code of 三根松社区 (83) and 瓦窑村 (21).
Poppler (``pdfinfo``, ``pdftotext``, ``pdftoppm``, ``pdffonts``) reads the PDFs as a person's viewer
would.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import imread
from matplotlib.path import Path as MplPath
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon, box

from api.cli.printing import print_cmd
from api.ops.sources import load_source
from geo.crs import from_local_metric
from geo.elements import Element
from geo.errors import NotFound
from geo.hierarchy import Grid, Hierarchy, Level
from geo.roles import Post, Role
from layers.fonts import PRINT_RC, FontMissing, find_font
from layers.labels import LabelItem, layout_labels
from layers.printmap import compose_pages, render_sheet
from layers.styles import InvalidPrintOption

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "boundaries"
SGS, WY = "510116004001", "510116004002"
MM_TO_PT = 72 / 25.4

# ---------------------------------------------------------------------------------------------
# Tiny community: 1200 m × 800 m, two general grids, six micro-grids incl. a 12 m street strip.
# ---------------------------------------------------------------------------------------------
X0, Y0 = 492_300.0, 3_363_500.0  # EPSG:4544 near 104.08 E, 30.40 N
C = "510116099001"
G1, G2 = C + "001", C + "002"
STRIP = G1 + "003"


def _ll(geom):
    return from_local_metric(shapely.affinity.translate(geom, X0, Y0))


def _tiny() -> tuple[Hierarchy, list[Element], list[Post]]:
    micro_m = {
        G1 + "001": ("松林苑1-3栋微网格", box(0, 400, 600, 800)),
        G1 + "002": ("松林苑4-6栋微网格", box(0, 12, 600, 400)),
        STRIP: ("松林大道南侧商铺微网格", box(0, 0, 600, 12)),
        G2 + "001": ("科创园A区微网格", box(600, 400, 1200, 800)),
        G2 + "002": ("科创园B区微网格", box(600, 0, 900, 400)),
        G2 + "003": ("湖畔小区微网格", box(900, 0, 1200, 400)),
    }
    grids = [
        Grid(C, "测试社区", Level.COMMUNITY, _ll(box(0, 0, 1200, 800)), kind="社区", households=600),
        Grid(G1, "测试第1网格", Level.GENERAL, _ll(box(0, 0, 600, 800)), C, C, "一般网格", 300),
        Grid(G2, "测试第2网格", Level.GENERAL, _ll(box(600, 0, 1200, 800)), C, C, "一般网格", 300),
    ]
    for code, (name, geom) in micro_m.items():
        grids.append(Grid(code, name, Level.MICRO, _ll(geom), code[:15], C, "微网格", 50))
    elements = [
        Element("E1", "主干道", "松林大道", _ll(LineString([(-50, 6), (1250, 6)])), community_code=C),
        Element("E2", "次干道", "支路", _ll(LineString([(600, -50), (600, 850)])), community_code=C),
        Element("E3", "公园", "小公园", _ll(box(950, 450, 1150, 750)), community_code=C),
        Element(
            "E4", "水系", "小溪", _ll(LineString([(100, 850), (300, 600), (350, -50)])), community_code=C
        ),
    ]
    posts = [Post("P1", "王芳", Role.GENERAL_WORKER, G1, "13800001111")]
    for i, code in enumerate(micro_m):
        posts.append(Post(f"H{i}", f"张{i}", Role.MICRO_HEAD, code, f"1390000{i:04d}"))
        posts.append(Post(f"W{i}", f"李{i}", Role.MICRO_WORKER, code, f"1370000{i:04d}"))
    return Hierarchy(grids), elements, posts


TINY = _tiny()
MICRO_CODES = [g.code for g in TINY[0].micro]


def _pdf(tmp_path: Path, data: bytes, name: str = "sheet.pdf") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=True)


def _page_sizes(pdf: Path) -> list[tuple[float, float]]:
    out = _run("pdfinfo", "-f", "1", "-l", "99", str(pdf)).stdout
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)]


# ---------------------------------------------------------------------------------------------
# Paper
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paper", "orientation", "mm"),
    [
        ("A4", "portrait", (210, 297)),
        ("A4", "landscape", (297, 210)),
        ("A3", "portrait", (297, 420)),
        ("A3", "landscape", (420, 297)),
    ],
)
def test_page_size_is_exact_iso(tmp_path, paper, orientation, mm):
    h, el, posts = TINY
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts, paper=paper, orientation=orientation))
    (w, hh), *_ = _page_sizes(pdf)
    assert w == pytest.approx(mm[0] * MM_TO_PT, abs=0.01)
    assert hh == pytest.approx(mm[1] * MM_TO_PT, abs=0.01)


def test_auto_orientation_follows_the_mapped_area(tmp_path):
    h, el, posts = TINY  # 1200 m wide, 800 m tall → landscape
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts, paper="A4"))
    (w, hh), *_ = _page_sizes(pdf)
    assert w > hh


def test_png_has_the_paper_size_in_pixels_at_the_dpi(tmp_path):
    h, el, posts = TINY
    png = _pdf(
        tmp_path, render_sheet(h, C, elements=el, posts=posts, paper="A4", fmt="png", dpi=100), "s.png"
    )
    img = imread(png)
    h_px, w_px = img.shape[:2]  # landscape (auto: the tiny community is wider than tall)
    assert abs(h_px - 210 / 25.4 * 100) < 1 and abs(w_px - 297 / 25.4 * 100) < 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"paper": "B5"}, "paper"), ({"orientation": "sideways"}, "orientation"), ({"fmt": "svg"}, "format")],
)
def test_bad_print_options_are_refused(kwargs, field):
    h, el, posts = TINY
    with pytest.raises(InvalidPrintOption) as exc:
        render_sheet(h, C, elements=el, posts=posts, **kwargs)
    assert exc.value.field == field


def test_unknown_community_or_general_grid_is_not_found():
    h = TINY[0]
    with pytest.raises(NotFound):
        render_sheet(h, "510116099999")
    with pytest.raises(NotFound):
        render_sheet(h, G1)  # a general grid is not a community
    with pytest.raises(NotFound):
        render_sheet(h, C, general_code=C + "999")


def test_missing_font_names_the_setup_script():
    with pytest.raises(FontMissing) as exc:
        find_font("No Such Font Family 無")
    assert "scripts/install-system.sh" in exc.value.zh
    assert "scripts/install-system.sh" in exc.value.en


# ---------------------------------------------------------------------------------------------
# Text stays text; phones masked
# ---------------------------------------------------------------------------------------------


def test_pdf_text_is_real_and_fonts_are_valid_truetype(tmp_path):
    h, el, posts = TINY
    pdf = _pdf(
        tmp_path,
        render_sheet(
            h,
            C,
            elements=el,
            posts=posts,
            version_label="v7",
            data_note="示意数据（合成）",
            printed_on=date(2026, 5, 31),
        ),
    )
    res = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    text = res.stdout
    assert "测试社区微网格分布图" in text
    for code in MICRO_CODES:
        assert code in text
    for needle in (
        "图层版本：v7",
        "2026-05-31",
        "示意数据（合成）",
        "比例尺 1:",
        "EPSG:4544",
        "微网格长",
        "微网格员",
    ):
        assert needle in text
    assert "Mismatch" not in res.stderr  # CFF data posing as TrueType (matplotlib #20870) is gone
    fonts = _run("pdffonts", str(pdf)).stdout
    assert "NotoSansCJKsc" in fonts
    assert "CID TrueType" in fonts and "Type 3" not in fonts and "Type 0C" not in fonts


def test_phones_are_masked_unless_asked(tmp_path):
    h, el, posts = TINY
    masked = _run("pdftotext", str(_pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts))), "-").stdout
    assert "139****0000" in masked and "13900000000" not in masked
    shown = render_sheet(h, C, elements=el, posts=posts, show_phones=True)
    assert "13900000000" in _run("pdftotext", str(_pdf(tmp_path, shown, "s2.pdf")), "-").stdout


def test_vacant_posts_are_flagged_in_the_roster(tmp_path):
    h, el, posts = TINY
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=[p for p in posts if p.grid_code != STRIP]))
    assert "（空缺）" in _run("pdftotext", str(pdf), "-").stdout


# ---------------------------------------------------------------------------------------------
# The drawing: non-empty, labels inside, scale bar right
# ---------------------------------------------------------------------------------------------


def test_png_render_of_the_pdf_has_a_drawing_in_the_map_area(tmp_path):
    h, el, posts = TINY
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts, paper="A4", orientation="landscape"))
    _run("pdftoppm", "-png", "-r", "50", "-singlefile", str(pdf), str(tmp_path / "page"))
    img = imread(tmp_path / "page.png")[..., :3]
    H, W = img.shape[:2]
    # map frame on A4 landscape: x 10…~187 mm, y (from top) 29…~192 mm
    area = img[int(H * 40 / 210) : int(H * 180 / 210), int(W * 20 / 297) : int(W * 180 / 297)]
    non_white = (area.min(axis=2) < 0.93).mean()
    assert non_white > 0.5  # general-grid fills cover the community
    ink = (area.max(axis=2) < 0.35).mean()
    assert ink > 0.002  # boundaries and labels


def test_the_legend_has_a_row_per_general_grid_and_per_line_style():
    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, C, elements=el, posts=posts, paper="A4")[0]
    texts = [t.get_text() for ax in page.figure.axes if ax is not page.map_ax for t in ax.texts]
    assert "图　例" in texts
    rows = ["测试第1网格（3个微网格）", "测试第2网格（3个微网格）", "社区边界", "一般网格边界", "微网格边界"]
    missing = [r for r in rows if r not in texts]
    assert not missing, f"legend rows missing: {missing}"


def test_rendered_label_extents_lie_inside_their_polygons():
    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, C, elements=el, posts=posts, paper="A4")[0]
        FigureCanvasAgg(page.figure)
        renderer = page.figure.canvas.get_renderer()
        inv = page.map_ax.transData.inverted()
        inside = [p for p in page.labels if p.kind == "inside"]
        assert len(inside) >= 5
        for p in inside:
            text = page.label_artists[p.key]
            ext = text.get_window_extent(renderer)
            (x0, y0), (x1, y1) = inv.transform([(ext.x0, ext.y0), (ext.x1, ext.y1)])
            poly = page.label_polygons[p.key]
            assert poly.contains(box(x0, y0, x1, y1)), p
            assert box(x0, y0, x1, y1).within(box(*p.box).buffer(1e-6)), p  # layout box is honest
            assert poly.contains(Point(p.anchor))


def test_the_street_strip_is_abbreviated_or_called_out():
    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, C, elements=el, posts=posts, paper="A4")[0]
    strip = next(p for p in page.labels if p.key == STRIP)
    assert strip.kind in ("inside", "callout")
    assert strip.lines != (STRIP, "松林大道南侧商铺")  # 12 m: the full code + name cannot fit
    if strip.kind == "callout":
        assert not page.label_polygons[STRIP].intersects(box(*strip.box).buffer(-1e-6))
        fx0, fy0 = page.map_ax.get_xlim()[0], page.map_ax.get_ylim()[0]
        assert strip.box[0] > fx0 and strip.box[1] > fy0


def test_scale_bar_and_scale_are_right_on_paper():
    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, C, elements=el, posts=posts, paper="A3")[0]
    fig, ax = page.figure, page.map_ax
    x_left = page.scale_bar[0].get_x()
    x_right = page.scale_bar[-1].get_x() + page.scale_bar[-1].get_width()
    assert x_right - x_left == pytest.approx(page.scale_bar_m)
    y = page.scale_bar[0].get_y()
    (px0, _), (px1, _) = ax.transData.transform([(x_left, y), (x_right, y)])
    paper_mm = (px1 - px0) / fig.dpi * 25.4
    assert paper_mm * page.denominator / 1000 == pytest.approx(page.scale_bar_m, rel=0.01)
    # equal scale in x and y (conformal drawing, no stretch)
    (ax0, ay0), (ax1, ay1) = ax.transData.transform([(0, 0), (100, 100)])
    assert (ax1 - ax0) == pytest.approx(ay1 - ay0, rel=1e-6)
    # grid metres of EPSG:4544 are ground metres here within 1 % (scale factor ~1.0001)
    a, b = from_local_metric(LineString([(x_left, y), (x_right, y)])).coords
    _, _, dist = Geod(ellps="GRS80").inv(a[0], a[1], b[0], b[1])
    assert dist == pytest.approx(page.scale_bar_m, rel=0.01)


def test_general_grid_sheet_is_larger_scale():
    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        overview = compose_pages(h, C, elements=el, posts=posts, paper="A4")[0]
        one = compose_pages(h, C, elements=el, posts=posts, paper="A4", general_code=G2)[0]
    assert one.denominator < overview.denominator
    assert {p.key for p in one.labels} == {G2 + "001", G2 + "002", G2 + "003"}
    assert one.title == "测试第2网格微网格分布图"
    assert one.title in [t.get_text() for t in one.figure.texts]


def test_multipage_pdf_has_overview_then_one_page_per_general_grid(tmp_path):
    h, el, posts = TINY
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts, paper="A4", multipage=True))
    assert len(_page_sizes(pdf)) == 1 + 2
    page3 = _run("pdftotext", "-f", "3", "-l", "3", str(pdf), "-").stdout
    assert "测试第2网格微网格分布图" in page3 and G2 + "003" in page3
    with pytest.raises(InvalidPrintOption):
        render_sheet(h, C, fmt="png", multipage=True)


# ---------------------------------------------------------------------------------------------
# layout_labels on its own
# ---------------------------------------------------------------------------------------------

L_SHAPE = Polygon([(0, 0), (300, 0), (300, 60), (60, 60), (60, 300), (0, 300)])
ROW = [box(i * 50, 400, i * 50 + 50, 450) for i in range(6)]  # six small touching squares


def test_layout_labels_keeps_anchors_and_boxes_inside_and_apart():
    items = [
        LabelItem(f"k{i}", p, (("510116004001001001", "名称很长的小区"), ("001",))) for i, p in enumerate(ROW)
    ]
    items.append(LabelItem("L", L_SHAPE, (("510116004001002001", "L形小区"), ("001",))))
    placed = layout_labels(items, m_per_pt=2.0, frame=(-400, -400, 700, 700))
    boxes = []
    for item, p in zip(items, placed, strict=True):
        assert p.kind != "none"
        assert item.polygon.contains(Point(p.anchor))
        b = box(*p.box)
        if p.kind == "inside":
            assert item.polygon.contains_properly(b)
        else:
            assert p.lines == ("001",)  # callouts carry the short code
        boxes.append(b)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].intersects(boxes[j])
    # the L takes the full label in its corner, not at the centroid (which lies outside it)
    lab = placed[-1]
    assert lab.kind == "inside" and lab.variant == 0
    assert not L_SHAPE.contains(L_SHAPE.centroid)


def test_layout_labels_shrinks_before_abbreviating():
    sq = box(0, 0, 120, 120)
    item = LabelItem("a", sq, (("510116004001001001",), ("001",)))
    big = layout_labels([item], m_per_pt=1.0, max_pt=7, min_pt=4.5)[0]
    tight = layout_labels([item], m_per_pt=1.8, max_pt=7, min_pt=4.5)[0]
    assert big.variant == 0 and big.size_pt == 7
    assert tight.variant == 0 and tight.size_pt < 7
    tiny = layout_labels([item], m_per_pt=5.0, max_pt=7, min_pt=4.5)[0]
    assert tiny.variant == 1


def test_layout_labels_respects_obstacles():
    sq = box(0, 0, 400, 400)
    obstacle = box(150, 150, 250, 250)  # covers the pole
    p = layout_labels([LabelItem("a", sq, (("ABC",),))], m_per_pt=1.0, obstacles=[obstacle])[0]
    assert p.kind == "inside" and not box(*p.box).intersects(obstacle)


# ---------------------------------------------------------------------------------------------
# Sample data: every code of 三根松 (83) and 瓦窑村 (21)
# ---------------------------------------------------------------------------------------------

needs_sample = pytest.mark.skipif(
    not (SAMPLE / "grids.geojson").is_file(), reason="sample data not generated"
)


@pytest.fixture(scope="module")
def sample():
    src = load_source(SAMPLE)
    return src.hierarchy, src.elements, src.posts or []


@needs_sample
@pytest.mark.parametrize(
    ("community", "title", "n_micro", "n_general"), [(SGS, "三根松社区", 83, 6), (WY, "瓦窑村", 21, 9)]
)
def test_sample_sheet_has_title_and_every_micro_code(tmp_path, sample, community, title, n_micro, n_general):
    h, el, posts = sample
    codes = [g.code for g in h.micro if g.code.startswith(community)]
    assert len(codes) == n_micro
    pdf = _pdf(
        tmp_path,
        render_sheet(h, community, elements=el, posts=posts, paper="A3", data_note="示意数据（合成）"),
    )
    text = _run("pdftotext", str(pdf), "-").stdout
    assert f"{title}微网格分布图" in text
    missing = [c for c in codes if c not in text]
    assert missing == []
    multi = _pdf(
        tmp_path, render_sheet(h, community, elements=el, posts=posts, paper="A3", multipage=True), "m.pdf"
    )
    assert len(_page_sizes(multi)) == 1 + n_general


@needs_sample
def test_sample_labels_inside_and_apart(sample):
    h, el, posts = sample
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, SGS, elements=el, posts=posts, paper="A3")[0]
    assert len(page.labels) == 83
    assert all(p.kind in ("inside", "callout") for p in page.labels)
    boxes = shapely.box(*np.asarray([p.box for p in page.labels]).T)
    tree = shapely.STRtree(boxes)
    left, right = tree.query(boxes, predicate="intersects")
    assert (left == right).all()
    for p in page.labels:
        assert page.label_polygons[p.key].contains(Point(p.anchor))
        if p.kind == "inside":
            assert page.label_polygons[p.key].contains_properly(box(*p.box))


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_dir(tmp_path):
    """The tiny community written as a sample folder (GeoJSON + people.csv)."""
    import csv
    import json

    h, el, posts = TINY
    feats = [
        {
            "type": "Feature",
            "properties": {
                "code": g.code,
                "name": g.name,
                "level": g.level.value,
                "kind": g.kind,
                "parent_code": g.parent_code,
                "community_code": g.community_code or C,
                "households": g.households,
            },
            "geometry": shapely.geometry.mapping(g.geometry),
        }
        for g in h
    ]
    d = tmp_path / "data"
    d.mkdir()
    (d / "grids.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "synthetic": True, "features": feats})
    )
    efeats = [
        {
            "type": "Feature",
            "properties": {"id": e.id, "type": e.type, "name": e.name, "community_code": C},
            "geometry": shapely.geometry.mapping(e.geometry),
        }
        for e in el
    ]
    (d / "elements.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": efeats}))
    with (d / "people.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "name", "phone", "role", "grid_code", "community_code", "note"])
        for p in posts:
            w.writerow([p.person_id, p.name, p.phone, p.role.value, p.grid_code, C, ""])
    return d


def test_cli_writes_pdf_and_png(tmp_path, tiny_dir):
    runner = CliRunner()
    out_pdf, out_png = tmp_path / "m.pdf", tmp_path / "m.png"
    r = runner.invoke(
        print_cmd,
        [
            "--community",
            C,
            "--paper",
            "A4",
            "--out",
            str(out_pdf),
            "--data",
            str(tiny_dir),
        ],
    )
    assert r.exit_code == 0, r.output
    assert out_pdf.read_bytes().startswith(b"%PDF")
    text = _run("pdftotext", str(out_pdf), "-").stdout
    assert "示意数据（合成）" in text
    r = runner.invoke(
        print_cmd,
        [
            "--community",
            C,
            "--grid",
            G1,
            "--format",
            "png",
            "--dpi",
            "60",
            "--out",
            str(out_png),
            "--data",
            str(tiny_dir),
        ],
    )
    assert r.exit_code == 0, r.output
    assert out_png.read_bytes().startswith(b"\x89PNG")
    r = runner.invoke(
        print_cmd,
        ["--community", C, "--all-pages", "--out", str(tmp_path / "all.pdf"), "--data", str(tiny_dir)],
    )
    assert r.exit_code == 0, r.output
    assert len(_page_sizes(tmp_path / "all.pdf")) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--community", "510116099999"], "社区不存在"),
        (["--community", C, "--grid", C + "999"], "不是"),
        (["--community", C, "--paper", "B5"], "纸张"),
        (["--community", C, "--all-pages", "--format", "png"], "PDF"),
    ],
)
def test_cli_errors_are_clear_and_nonzero(tmp_path, tiny_dir, args, message):
    r = CliRunner().invoke(print_cmd, [*args, "--out", str(tmp_path / "x.pdf"), "--data", str(tiny_dir)])
    assert r.exit_code != 0
    assert message in r.output
    assert not (tmp_path / "x.pdf").exists()


def test_cli_refuses_an_unwritable_output(tmp_path, tiny_dir):
    r = CliRunner().invoke(
        print_cmd, ["--community", C, "--out", str(tmp_path / "nope" / "x.pdf"), "--data", str(tiny_dir)]
    )
    assert r.exit_code != 0 and "输出目录不存在" in r.output


@needs_sample
def test_every_character_on_the_sheet_has_a_glyph(sample):
    """No missing-glyph boxes: every character drawn exists in Noto Sans CJK SC."""
    from matplotlib.ft2font import FT2Font
    from matplotlib.text import Text

    from layers.fonts import cjk_font_path

    h, el, posts = sample
    font = FT2Font(cjk_font_path())
    with matplotlib.rc_context(PRINT_RC):
        pages = compose_pages(h, WY, elements=el, posts=posts, paper="A4", multipage=True)
    chars = {
        ch for page in pages for t in page.figure.findobj(Text) for ch in t.get_text() if not ch.isspace()
    }
    assert len(chars) > 100
    missing = sorted(ch for ch in chars if font.get_char_index(ord(ch)) == 0)
    assert missing == []


@needs_sample
def test_general_grids_get_distinct_fills(sample):
    from layers.printmap import prepare

    h, el, posts = sample
    for community, n in ((SGS, 6), (WY, 9)):
        data = prepare(h, community, el, posts)
        assert len(set(data.fills.values())) == n


def test_a_community_without_micro_grids_still_prints(tmp_path):
    h = TINY[0]
    bare = Hierarchy([h.get(C), h.get(G1)])
    pdf = _pdf(tmp_path, render_sheet(bare, C, paper="A4"))
    assert len(_page_sizes(pdf)) == 1
    text = _run("pdftotext", str(pdf), "-").stdout
    assert "测试社区微网格分布图" in text and "测试第1网格" in text


def test_pdf_title_metadata_is_the_sheet_title(tmp_path):
    h, el, posts = TINY
    pdf = _pdf(tmp_path, render_sheet(h, C, elements=el, posts=posts, paper="A4"))
    assert "Title:           测试社区微网格分布图" in _run("pdfinfo", str(pdf)).stdout


def test_layout_labels_caps_the_size_of_a_variant():
    item = LabelItem("a", box(0, 0, 500, 500), (("001",),), variant_max_pt=(6.0,))
    assert layout_labels([item], m_per_pt=1.0, max_pt=9, min_pt=4.5)[0].size_pt == 6.0


@needs_sample
def test_cli_prints_a_stored_version(tmp_path, seeded_url):
    """Without --data the sheet comes from the database: the published version, or --version N."""
    out = tmp_path / "db.pdf"
    args = ["--community", WY, "--paper", "A4", "--out", str(out), "--url", seeded_url]
    r = CliRunner().invoke(print_cmd, [*args, "--version", "1"])
    assert r.exit_code == 0, r.output
    text = _run("pdftotext", str(out), "-").stdout
    assert "瓦窑村微网格分布图" in text and "第 1 版（现行" in text and "示意数据（合成）" in text
    r = CliRunner().invoke(print_cmd, [*args, "--version", "9"])
    assert r.exit_code != 0 and "9" in r.output


@needs_sample
@pytest.mark.parametrize(
    ("community", "rows"),
    [
        (SGS, ["网格党支部（2个）", "网格党小组（6个）", "企业党组织（10个）"]),
        (WY, ["网格党支部（3个）", "专属网格党支部（4个）", "微网格党小组（8个）"]),
    ],
)
def test_party_option_draws_each_organisation_with_a_legend_row(tmp_path, sample, community, rows):
    """两网融合 on paper: one red outline per organisation and a legend row per type, only when asked."""
    from geo.party import party_areas
    from layers.partystyle import party_print_style
    from store.seed import read_sample

    h, el, posts = sample
    areas = party_areas(h, [o for o in read_sample(SAMPLE)["party_orgs"] if o["community_code"] == community])
    assert len(areas) == sum(int(r.split("（")[1].rstrip("个）")) for r in rows)
    with matplotlib.rc_context(PRINT_RC):
        page = compose_pages(h, community, elements=el, posts=posts, party=areas)[0]
        plain = compose_pages(h, community, elements=el, posts=posts)[0]
    texts = [t.get_text() for ax in page.figure.axes if ax is not page.map_ax for t in ax.texts]
    assert [r for r in rows if r not in texts] == []
    plain_texts = [t.get_text() for ax in plain.figure.axes if ax is not plain.map_ax for t in ax.texts]
    assert not any("党" in t for t in plain_texts)
    # each kind's outlines: one path per organisation of that kind, in its colour
    for kind in {a.kind for a in areas}:
        color = matplotlib.colors.to_rgba(party_print_style(kind)["color"])
        drawn = [
            c
            for c in page.map_ax.collections
            if isinstance(c, LineCollection) and len(c.get_colors()) and tuple(c.get_colors()[0]) == color
        ]
        assert len(drawn) == 1, kind
        n_lines = len(drawn[0].get_segments())
        assert n_lines >= sum(1 for a in areas if a.kind == kind)
    pdf = _pdf(tmp_path, render_sheet(h, community, elements=el, posts=posts, party=areas))
    text = _run("pdftotext", str(pdf), "-").stdout
    assert [r for r in rows if r not in text] == []
    assert "党组织（两网融合）" in text


@needs_sample
def test_cli_party_flag_prints_the_party_legend(tmp_path, seeded_url):
    out = tmp_path / "party.pdf"
    args = ["--community", SGS, "--paper", "A4", "--out", str(out), "--url", seeded_url]
    r = CliRunner().invoke(print_cmd, [*args, "--party"])
    assert r.exit_code == 0, r.output
    text = _run("pdftotext", str(out), "-").stdout
    assert "网格党支部（2个）" in text and "企业党组织（10个）" in text
    r = CliRunner().invoke(print_cmd, args)
    assert r.exit_code == 0, r.output
    assert "党支部" not in _run("pdftotext", str(out), "-").stdout


# ---------------------------------------------------------------------------------------------
# Overview sheets (a city of many grids) and progress
# ---------------------------------------------------------------------------------------------


def _city(n: int, side_km: float, communities: int = 2, generals: int = 3) -> Hierarchy:
    """A SYNTHETIC city (bench.citygen's Voronoi partition): ``communities`` vertical strips, each cut
    into ``generals`` horizontal bands of micro-grids; outlines are exact unions."""
    from bench.citygen import city_partition

    _codes, polys = city_partition(n, side_km=side_km)
    arr = np.array(polys, dtype=object)
    cx = shapely.get_x(shapely.centroid(arr))
    cy = shapely.get_y(shapely.centroid(arr))
    col = np.minimum(((cx - cx.min()) / (np.ptp(cx) + 1e-12) * communities).astype(int), communities - 1)
    band = np.minimum(((cy.max() - cy) / (np.ptp(cy) + 1e-12) * generals).astype(int), generals - 1)
    grids = []
    for c in range(communities):
        cc = f"510116{951 + c:03d}001"
        parts = []
        for b in range(generals):
            mem = np.flatnonzero((col == c) & (band == b))
            gc = f"{cc}{b + 1:03d}"
            geom = shapely.coverage_union_all(arr[mem])
            parts.append(geom)
            grids.append(Grid(gc, f"城{c + 1}第{b + 1}网格", Level.GENERAL, geom, cc, cc, "一般网格"))
            for i, m in enumerate(mem):
                grids.append(
                    Grid(f"{gc}{i + 1:03d}", f"微{i + 1}", Level.MICRO, arr[m], gc, cc, "微网格", 50)
                )
        union = shapely.coverage_union_all(np.array(parts, dtype=object))
        grids.append(Grid(cc, f"城{c + 1}社区", Level.COMMUNITY, union, None, cc, "社区"))
    return Hierarchy(grids)


def _fill_paths(page) -> list:
    """Paths of the map's filled collections (the general grids' areas)."""
    return [
        p
        for c in page.map_ax.collections
        if isinstance(c, PathCollection) and len(c.get_facecolors()) and c.get_facecolors()[0][3] > 0
        for p in c.get_paths()
    ]


def test_overview_of_a_dense_city_fills_every_general_grid_and_labels_no_micro_grid(tmp_path):
    from layers.printmap import compose_overview, render_overview

    h = _city(3000, side_km=30.0)
    with matplotlib.rc_context(PRINT_RC):
        page = compose_overview(h, paper="A3")
    generals = [g for g in h if g.level is Level.GENERAL]
    assert page.kind == "city" and page.counts["general"] == len(generals) == 6
    assert page.counts["micro"] == 3000 and page.counts["communities"] == 2
    assert len(_fill_paths(page)) == len(generals)  # every general grid filled
    # every micro-grid's boundary is in the one compound line path: one MOVETO per ring
    lines = [
        c for c in page.map_ax.collections if isinstance(c, PathCollection) and not len(c.get_facecolors())
    ]
    moves = max(int((p.codes == MplPath.MOVETO).sum()) for c in lines for p in c.get_paths())
    assert moves == 3000
    # a 30 km city on A3 is about 1:150,000: a 550 m micro-grid is 3.7 mm, too small for a label
    assert page.denominator >= 100_000
    assert page.counts["micro_labels"] == 0 and page.label_artists == {} and page.labels == []
    texts = " ".join(t.get_text() for t in page.figure.texts) + " ".join(
        t.get_text() for t in page.map_ax.texts
    )
    assert not re.search(r"\d{18}", texts)
    pdf = _pdf(tmp_path, render_overview(h, paper="A3", version_label="v1"))
    text = _run("pdftotext", str(pdf), "-").stdout
    assert "网格总览图" in text and "3000 个微网格" in text and "城1社区" in text


def test_overview_labels_micro_grids_where_they_are_legible():
    from layers.printmap import OVERVIEW_MIN_PT, compose_overview

    h = _city(40, side_km=2.0, communities=2, generals=2)
    with matplotlib.rc_context(PRINT_RC):
        page = compose_overview(h, ["510116951001"], paper="A4")
    assert page.counts["communities"] == 1 and page.counts["general"] == 2
    assert page.counts["micro_labels"] > 0
    assert all(p.size_pt >= OVERVIEW_MIN_PT for p in page.labels if p.kind == "inside")
    with pytest.raises(NotFound):
        compose_overview(h, ["510116999001"])


def test_a_community_of_thousands_of_micro_grids_prints_as_an_overview(monkeypatch):
    import layers.printmap as printmap

    h, el, posts = TINY
    with matplotlib.rc_context(PRINT_RC):
        assert compose_pages(h, C, elements=el, posts=posts, paper="A4")[0].kind == "overview"
        monkeypatch.setattr(printmap, "OVERVIEW_MICRO_THRESHOLD", 5)
        (page,) = compose_pages(h, C, elements=el, posts=posts, paper="A4")
    assert page.kind == "city" and page.counts["micro"] == 6 and page.counts["general"] == 2


def test_cli_shows_progress_for_multipage_output_only(tmp_path, tiny_dir):
    args = ["--community", C, "--paper", "A4", "--data", str(tiny_dir)]
    r = CliRunner().invoke(print_cmd, [*args, "--all-pages", "--out", str(tmp_path / "all.pdf")])
    assert r.exit_code == 0, r.output
    pages = len(_page_sizes(tmp_path / "all.pdf"))
    assert pages == 3
    for i in range(1, pages + 1):
        assert f"打印进度 {i}/{pages} 页" in r.stderr
    r = CliRunner().invoke(print_cmd, [*args, "--out", str(tmp_path / "one.pdf")])
    assert r.exit_code == 0 and "打印进度" not in r.stderr


def test_cli_overview_of_every_community_in_a_folder(tmp_path, tiny_dir):
    out = tmp_path / "city.pdf"
    r = CliRunner().invoke(print_cmd, ["--overview", "--data", str(tiny_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = _run("pdftotext", str(out), "-").stdout
    assert "网格总览图" in text and "6 个微网格" in text
    r = CliRunner().invoke(print_cmd, ["--data", str(tiny_dir), "--out", str(out)])
    assert r.exit_code != 0 and "--community" in r.output
    r = CliRunner().invoke(
        print_cmd, ["--overview", "--all-pages", "--data", str(tiny_dir), "--out", str(out)]
    )
    assert r.exit_code != 0


@needs_sample
def test_cli_overview_of_every_published_community(tmp_path, seeded_url):
    out = tmp_path / "city.pdf"
    r = CliRunner().invoke(print_cmd, ["--overview", "--out", str(out), "--url", seeded_url])
    assert r.exit_code == 0, r.output
    text = _run("pdftotext", str(out), "-").stdout
    assert "网格总览图" in text and "三根松社区" in text and "瓦窑村" in text and "104 个微网格" in text
    assert "第 1 版" in text and "示意数据（合成）" in text
