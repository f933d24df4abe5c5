"""The CJK font of printed sheets: TrueType subsets built from cached glyph outlines, and the sheet's
own TrueType font used while drawing (:func:`layers.fonts.sheet_fonts`)."""

from __future__ import annotations

import io

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from layers.fonts import (
    CJK_FAMILY,
    PRINT_RC,
    _cff_face,
    cjk_font_path,
    install_truetype_subsetting,
    sheet_fonts,
)

TEXT = "三根松社区微网格 510116004001 ℃ 138****0012"


def _figure() -> Figure:
    with matplotlib.rc_context(PRINT_RC):
        fig = Figure(figsize=(3, 2))
        fig.text(0.1, 0.5, TEXT)
        fig.text(0.1, 0.2, "一般网格员：张三", fontweight="bold")
    return fig


def test_subset_holds_the_glyphs_asked_for_with_every_codepoint_mapped() -> None:
    face = _cff_face(cjk_font_path(), int(getattr(font_manager.findfont(CJK_FAMILY), "face_index", 0)))
    cmap = face.font.getBestCmap()
    gids = [face.font.getGlyphID(cmap[ord(c)]) for c in "示意数据"]
    font, index = face.subset(gids)
    assert sorted(index) == sorted({0, *gids}) and index[0] == 0
    buf = io.BytesIO()
    font.save(buf)
    buf.seek(0)
    ft = FT2Font(buf)
    assert all(ft.get_char_index(ord(c)) for c in "示意数据")  # 示 shares its glyph with ⽰ (U+2F70)


def test_sheet_fonts_draws_with_a_private_truetype_subset_and_restores_the_texts() -> None:
    fig = _figure()
    before = [t.get_fontfamily() for t in fig.texts]
    assert before[0][0] == CJK_FAMILY
    with sheet_fonts([fig]):
        inside = [t.get_fontfamily()[0] for t in fig.texts]
        assert all(f.startswith("weiwang sheet ") for f in inside)
        assert inside[0] != inside[1]  # regular and bold each get their own
        path = font_manager.findfont(font_manager.FontProperties(family=inside[0]), fallback_to_default=False)
        ft = FT2Font(str(path))
        missing = [c for c in set(TEXT) - {" "} if not ft.get_char_index(ord(c))]
        assert missing == []
    assert [t.get_fontfamily() for t in fig.texts] == before
    other = _figure()  # the same characters again: the same families, nothing rebuilt
    with sheet_fonts([other]):
        assert [t.get_fontfamily()[0] for t in other.texts] == inside


def test_pdf_drawn_with_sheet_fonts_embeds_the_real_font_names() -> None:
    install_truetype_subsetting()
    fig = _figure()
    buf = io.BytesIO()
    with matplotlib.rc_context(PRINT_RC), sheet_fonts([fig]), PdfPages(buf) as pdf:
        pdf.savefig(fig)
    data = buf.getvalue()
    assert b"NotoSansCJKsc-Regular" in data and b"NotoSansCJKsc-Bold" in data
    assert b"weiwang sheet" not in data
