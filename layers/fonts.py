"""The CJK font of printed maps and the matplotlib settings that keep Chinese text real text.

Printed sheets use "Noto Sans CJK SC" (Debian ``fonts-noto-cjk``, installed by
``scripts/install-system.sh``) with DejaVu Sans after it for Latin fall-back. PDF fonts are embedded
as TrueType (``pdf.fonttype`` 42) so every label stays selectable and searchable (``pdftotext``).
Text must never get path effects: matplotlib turns such text into outlines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


class _CffFace:
    """One CFF-flavoured face, opened once per process, and the TrueType outlines of every glyph
    converted so far (the same glyphs recur on every sheet: digits, 网格, the names)."""

    def __init__(self, path: str, face_index: int) -> None:
        from fontTools.ttLib import TTFont

        self.font = TTFont(path, fontNumber=face_index, lazy=True)
        self.order = self.font.getGlyphOrder()
        self.glyph_set = self.font.getGlyphSet()
        self.upem = self.font["head"].unitsPerEm
        self.hmtx = self.font["hmtx"]
        self.glyphs: dict[str, object] = {}
        cmap = self.font.getBestCmap() or {}
        self.unicodes_of: dict[str, list[int]] = {}
        for code, name in sorted(cmap.items()):
            self.unicodes_of.setdefault(name, []).append(code)
        self.lock = threading.Lock()

    def glyph(self, name: str) -> tuple[bytes, tuple[int, int, int, int], int, int]:
        """``name`` as a compiled TrueType (quadratic) glyph, converted and compiled once:
        ``(data, (xMin, yMin, xMax, yMax), points, contours)``."""
        from fontTools.pens.cu2quPen import Cu2QuPen
        from fontTools.pens.ttGlyphPen import TTGlyphPen
        from fontTools.ttLib import newTable

        done = self.glyphs.get(name)
        if done is None:
            pen = TTGlyphPen(self.glyph_set)
            self.glyph_set[name].draw(Cu2QuPen(pen, self.upem * _MAX_ERR_EM, reverse_direction=True))
            g = pen.glyph()
            glyf = newTable("glyf")
            glyf.glyphs, glyf.glyphOrder = {name: g}, [name]
            g.recalcBounds(glyf)
            data = g.compile(glyf, recalcBBoxes=False)
            n_contours = max(int(getattr(g, "numberOfContours", 0)), 0)
            n_points = len(g.coordinates) if n_contours else 0
            bounds = tuple(int(getattr(g, a, 0)) for a in ("xMin", "yMin", "xMax", "yMax"))
            done = self.glyphs[name] = (data, bounds, n_points, n_contours)  # type: ignore[assignment]
        return done  # type: ignore[return-value]

    def subset(self, gids: Iterable[int]) -> tuple[object, dict[int, int]]:
        """A new TrueType font holding ``.notdef`` and the glyphs ``gids`` (in their original order),
        and the map from original to new glyph index. Bounding boxes and ``maxp`` come from the
        cached glyphs (the font is saved without recalculating them)."""
        from fontTools.fontBuilder import FontBuilder
        from fontTools.ttLib import newTable
        from fontTools.ttLib.tables._g_l_y_f import Glyph

        keep = sorted({0, *(int(g) for g in gids if 0 <= int(g) < len(self.order))})
        names = [self.order[g] for g in keep]
        with self.lock:
            compiled = {n: self.glyph(n) for n in names}
            src = self.font
            hhea, os2, head = src["hhea"], src["OS/2"], src["head"]
            fb = FontBuilder(self.upem, isTTF=True)
            fb.setupGlyphOrder(names)
            fb.setupCharacterMap({u: n for n in names for u in self.unicodes_of.get(n, ())})
            fb.font["loca"] = newTable("loca")
            glyf = fb.font["glyf"] = newTable("glyf")
            glyf.glyphOrder = names
            glyf.glyphs = {n: Glyph(c[0]) for n, c in compiled.items()}
            fb.setupHorizontalMetrics({n: (self.hmtx[n][0], compiled[n][1][0]) for n in names})
            fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
            family = src["name"].getDebugName(1) or "Noto Sans CJK SC"
            style = src["name"].getDebugName(2) or "Regular"
            ps = src["name"].getDebugName(6) or family.replace(" ", "")
            fb.setupNameTable({"familyName": family, "styleName": style, "psName": ps})
            fb.setupOS2(
                sTypoAscender=os2.sTypoAscender,
                sTypoDescender=os2.sTypoDescender,
                sTypoLineGap=os2.sTypoLineGap,
                usWinAscent=os2.usWinAscent,
                usWinDescent=os2.usWinDescent,
                usWeightClass=os2.usWeightClass,
                fsType=0,
            )
            fb.setupPost(keepGlyphNames=False)
        font = fb.font
        inked = [c[1] for c in compiled.values() if c[3] > 0]
        out_head = font["head"]
        out_head.macStyle = head.macStyle
        if inked:
            out_head.xMin, out_head.yMin = min(b[0] for b in inked), min(b[1] for b in inked)
            out_head.xMax, out_head.yMax = max(b[2] for b in inked), max(b[3] for b in inked)
        hh = font["hhea"]
        hh.advanceWidthMax = max(self.hmtx[n][0] for n in names)
        if inked:
            hh.minLeftSideBearing = min(b[0] for b in inked)
            hh.minRightSideBearing = min(self.hmtx[n][0] - c[1][2] for n, c in compiled.items() if c[3] > 0)
            hh.xMaxExtent = max(b[2] for b in inked)
        maxp = font["maxp"]
        maxp.maxPoints = max((c[2] for c in compiled.values()), default=0)
        maxp.maxContours = max((c[3] for c in compiled.values()), default=0)
        maxp.maxZones = 1
        maxp.numGlyphs = len(names)
        font.recalcBBoxes = False
        return font, {g: i for i, g in enumerate(keep)}


@lru_cache(maxsize=8)
def _cff_face(path: str, face_index: int) -> _CffFace:
    return _CffFace(path, face_index)


def _truetype_subset(fontfile, glyphs):  # type: ignore[no-untyped-def]
    """Subset a CFF-flavoured face to the glyphs as a TrueType font (see :class:`_CffFace`).

    Built directly from cached per-glyph outlines: running fontTools' subsetter over the
    65,000-glyph CJK collection and converting the subset afresh took about 1 s per face and sheet.
    """
    from matplotlib.backends._backend_pdf_ps import SubsetResults

    face = _cff_face(str(fontfile), getattr(fontfile, "face_index", 0))
    font, index_map = face.subset(glyphs)
    return SubsetResults(font, index_map)._as_cm()


# --------------------------------------------------------------------------------------------------
# Drawing with a TrueType subset made for the sheet's own characters
# --------------------------------------------------------------------------------------------------
# matplotlib shapes every text with HarfBuzz (raqm) and loads each glyph with FreeType twice (to
# measure, then to draw). On the 65,000-glyph CFF collection, with its large layout tables, that is
# most of the time of a sheet (~1 ms per label). A TrueType font holding only the sheet's characters
# (outlines from the glyph cache above, no layout tables) shapes and loads several times faster and
# draws the same outlines. It is registered with matplotlib under a private family name (a hash of
# its characters, so a sheet printed again reuses it) and embedded under the real font's PostScript
# name. The files live in a private temporary folder removed at exit.

_SHEET_LOCK = threading.Lock()
_SHEET_FONTS: dict[str, str] = {}  # family name → file, most recently used last
_SHEET_REGISTERED = 64  # families kept registered with matplotlib
_SHEET_FILES = 512  # files kept on disk; beyond that sheets draw with the collection itself
_sheet_dir: str | None = None


def _sheet_folder() -> str:
    global _sheet_dir
    if _sheet_dir is None:
        import atexit
        import shutil
        import tempfile

        _sheet_dir = tempfile.mkdtemp(prefix="weiwang-fonts-")
        atexit.register(shutil.rmtree, _sheet_dir, True)
    return _sheet_dir


def _sheet_family(source: font_manager.FontPath | str, chars: str) -> str | None:
    """The private family of a TrueType subset of ``source`` holding ``chars`` (built and registered
    on first use); None when the source is not a CFF face or the file budget is spent."""
    import hashlib
    import os

    path, index = str(source), int(getattr(source, "face_index", 0))
    if not _is_cff(path, index):
        return None
    digest = hashlib.sha256(f"{path}|{index}|{chars}".encode()).hexdigest()[:16]
    family = f"weiwang sheet {digest}"
    with _SHEET_LOCK:
        if family in _SHEET_FONTS:
            _SHEET_FONTS[family] = _SHEET_FONTS.pop(family)
            return family
        folder = _sheet_folder()
        if len(os.listdir(folder)) >= _SHEET_FILES:
            return None
        face = _cff_face(path, index)
        cmap = face.font.getBestCmap() or {}
        gids = {face.font.getGlyphID(cmap[ord(c)]) for c in chars if ord(c) in cmap}
        font, _ = face.subset(gids)
        name = font["name"]  # type: ignore[index]
        ps = name.getDebugName(6)
        name.names = [n for n in name.names if n.nameID not in (1, 4, 16, 17)]
        name.setName(family, 1, 3, 1, 0x409)
        name.setName(family, 4, 3, 1, 0x409)
        name.setName(ps, 6, 3, 1, 0x409)
        file = os.path.join(folder, f"{digest}.ttf")
        font.save(file)  # type: ignore[attr-defined]
        font_manager.fontManager.addfont(file)
        _SHEET_FONTS[family] = file
        if len(_SHEET_FONTS) > _SHEET_REGISTERED:  # unregister the least recently used family
            old = next(iter(_SHEET_FONTS))
            del _SHEET_FONTS[old]
            fm = font_manager.fontManager
            fm.ttflist = [f for f in fm.ttflist if f.name != old]  # rebind: readers keep their list
        return family


@contextmanager
def sheet_fonts(figures: Iterable[object]) -> Iterator[None]:
    """While drawing ``figures``, set their CJK text in TrueType subsets of the CJK font made for
    exactly their characters (one per weight); the texts' fonts are restored afterwards. Characters
    the CJK font lacks still fall back to the next family (DejaVu Sans)."""
    from matplotlib.text import Text

    texts = [t for fig in figures for t in fig.findobj(Text)]  # type: ignore[attr-defined]
    chars = "".join(sorted({c for t in texts for c in t.get_text()} - {"\n"}))  # lines are split, never drawn
    saved = [(t, t.get_fontfamily()) for t in texts]
    lacking: set[str] = set()
    try:
        families: dict[tuple[str, ...], list[str] | None] = {}
        for t, fam in saved:
            if not fam or fam[0] != CJK_FAMILY or not t.get_text():
                continue
            key = (str(t.get_fontweight()), str(t.get_fontstyle()))
            if key not in families:
                src = font_manager.findfont(
                    font_manager.FontProperties(family=CJK_FAMILY, weight=key[0], style=key[1]),
                    fallback_to_default=False,
                )
                own = _sheet_family(src, chars)
                families[key] = None if own is None else [own, *fam[1:]]
                if own is not None:
                    cmap = _cff_face(str(src), int(getattr(src, "face_index", 0))).font.getBestCmap() or {}
                    lacking.update(c for c in chars if ord(c) not in cmap)
            new = families[key]
            if new is not None:
                # a text the subset fully covers needs no fall-back (one font lookup, not two)
                t.set_fontfamily(new if lacking.intersection(t.get_text()) else new[:1])
        yield
    finally:
        for t, fam in saved:
            t.set_fontfamily(fam)


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
