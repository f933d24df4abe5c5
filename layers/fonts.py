"""The CJK font of printed maps and the matplotlib settings that keep Chinese text real text.

Printed sheets use "Noto Sans CJK SC" (Debian ``fonts-noto-cjk``, installed by
``scripts/install-system.sh``) with DejaVu Sans after it for Latin fall-back. PDF fonts are embedded
as TrueType (``pdf.fonttype`` 42) so every label stays selectable and searchable (``pdftotext``).
Text must never get path effects: matplotlib turns such text into outlines.
"""

from __future__ import annotations

from functools import lru_cache

from matplotlib import font_manager

from geo.errors import WeiwangError

CJK_FAMILY = "Noto Sans CJK SC"
FONT_FAMILIES = [CJK_FAMILY, "DejaVu Sans"]

#: rcParams for every printed sheet (used with ``matplotlib.rc_context``).
PRINT_RC: dict[str, object] = {
    "font.family": FONT_FAMILIES,
    "axes.unicode_minus": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "pdf.compression": 6,
}


class FontMissing(WeiwangError):
    """The CJK font needed for Chinese text is not installed on this machine."""

    code = "font_missing"


@lru_cache(maxsize=8)
def find_font(family: str = CJK_FAMILY) -> str:
    """Path of the font file of ``family``; :class:`FontMissing` (naming the set-up script) if absent.

    Never falls back silently: a sheet without the CJK font prints boxes (豆腐块) instead of Chinese.
    """
    try:
        return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        raise FontMissing(
            f"未安装中文字体 {family}：请运行 scripts/install-system.sh（安装 fonts-noto-cjk）",
            f"font {family!r} not found: run scripts/install-system.sh (installs fonts-noto-cjk)",
            field="font",
        ) from None


def cjk_font_path() -> str:
    """Path of the Noto Sans CJK SC font file (see :func:`find_font`)."""
    return find_font(CJK_FAMILY)


# --------------------------------------------------------------------------------------------------
# CFF → TrueType outlines for embedded subsets
# --------------------------------------------------------------------------------------------------
# Noto Sans CJK ships as an OpenType *collection with CFF outlines*. matplotlib's Type 42 embedding
# subsets it and writes the CFF data as a TrueType ``FontFile2`` (matplotlib issue #20870): poppler
# copes ("Mismatch between font type and embedded font file") but stricter readers (Acrobat, some
# printers' RIPs) may not. We convert each *subset* (a few hundred glyphs, ~0.1 s) to TrueType
# quadratic outlines before it is embedded, so the PDF holds a valid CIDFontType2 font.

_MAX_ERR_EM = 1.0 / 1000  # cu2qu tolerance, in em: invisible at any print size


def cff_to_truetype(font: object) -> None:
    """Convert a fontTools ``TTFont`` with CFF outlines to ``glyf`` outlines in place (glyph order
    and metrics kept). Fonts without a CFF table are left alone."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    if "CFF " not in font:  # type: ignore[operator]
        return
    upem = font["head"].unitsPerEm  # type: ignore[index]
    max_err = upem * _MAX_ERR_EM
    glyph_set = font.getGlyphSet()  # type: ignore[attr-defined]
    order = font.getGlyphOrder()  # type: ignore[attr-defined]
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")  # type: ignore[index]
    glyf = font["glyf"] = newTable("glyf")  # type: ignore[index]
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for g in glyphs.values():
        g.recalcBounds(glyf)
    del font["CFF "]  # type: ignore[attr-defined]
    if "VORG" in font:  # type: ignore[operator]
        del font["VORG"]  # type: ignore[attr-defined]
    glyf.compile(font)
    hmtx = font["hmtx"]  # type: ignore[index]
    for name, g in glyphs.items():
        hmtx[name] = (hmtx[name][0], getattr(g, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")  # type: ignore[index]
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    maxp.maxComponentDepth = 0
    maxp.numGlyphs = len(order)
    for attr in ("maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours"):
        setattr(maxp, attr, 0)
    maxp.recalc(font)
    post = font["post"]  # type: ignore[index]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font["head"].glyphDataFormat = 0  # type: ignore[index]
    font.sfntVersion = "\x00\x01\x00\x00"  # type: ignore[attr-defined]


#: Tables a PDF never needs from an embedded subset (glyphs are already shaped by matplotlib).
_DROP_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG", "vhea", "vmtx", "DSIG", "meta"]


@lru_cache(maxsize=16)
def _is_cff(path: str, face_index: int) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=face_index, lazy=True) as font:
        return "CFF " in font


def _truetype_subset(fontfile, glyphs):  # type: ignore[no-untyped-def]
    """Subset a CFF-flavoured face to the glyphs and convert it to TrueType outlines.

    Layout tables are dropped before subsetting: their closure over a 65,000-glyph CJK font is most
    of the cost and a PDF has no use for them.
    """
    from fontTools import subset
    from matplotlib.backends._backend_pdf_ps import SubsetResults

    options = subset.Options(glyph_names=True, recommended_glyphs=True, hinting=False)
    options.layout_features = []
    options.drop_tables += _DROP_TABLES
    options.font_number = fontfile.face_index
    font = subset.load_font(fontfile, options)
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=glyphs)
    subsetter.subset(font)
    cff_to_truetype(font)
    return SubsetResults(font, subsetter.glyph_index_map)._as_cm()


_installed = False


def install_truetype_subsetting() -> None:
    """Make matplotlib's PDF/PS font subsetting hand out TrueType outlines (idempotent).

    Replaces ``matplotlib.backends._backend_pdf_ps.get_glyphs_subset`` (private; matplotlib < 4 is
    pinned) for CFF-flavoured faces only; TrueType fonts go through matplotlib's own code unchanged.
    """
    global _installed
    if _installed:
        return
    from matplotlib.backends import _backend_pdf_ps

    original = _backend_pdf_ps.get_glyphs_subset

    def get_glyphs_subset(fontfile, glyphs):  # type: ignore[no-untyped-def]
        if _is_cff(str(fontfile), getattr(fontfile, "face_index", 0)):
            return _truetype_subset(fontfile, glyphs)
        return original(fontfile, glyphs)

    _backend_pdf_ps.get_glyphs_subset = get_glyphs_subset
    _installed = True
