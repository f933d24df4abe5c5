"""Many one-line texts of one font, size and colour drawn as one matplotlib artist (the roster table).

A printed roster has hundreds of cells. As separate :class:`~matplotlib.text.Text` artists each is
created, measured, laid out and written on its own, and on the A3 sheet of 三根松 that was most of
the drawing time. A :class:`TextRun` holds the cells' positions and strings and places each exactly
where a one-line ``Text`` with the same alignment would go (matplotlib 3.11's line box: the font's
typographic ascent and descent, widened by ink that reaches beyond them); a line is measured only
when its alignment needs its width or one of its characters inks beyond the line box. Into a PDF
it writes every cell in one text object (:func:`_pdf_run`), otherwise one ``renderer.draw_text``
per cell. ``tests/layers/test_textrun.py`` checks that PDF and PNG come out pixel for pixel as with
one ``Text`` per cell. A run is a ``Text`` itself (its text is the cells joined by newlines), so
font handling that walks a figure's texts (:func:`layers.fonts.sheet_fonts`) sees every cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.artist import allow_rasterization
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.text import Text, _get_text_metrics_with_cache
from matplotlib.transforms import Transform


class TextRun(Text):
    """One-line strings at ``(x, y)`` in ``transform``'s coordinates, all in one font and colour,
    aligned as ``Text`` aligns one line (``ha`` left | center | right, ``va`` center | baseline |
    top | bottom). Empty strings are skipped, as ``Text`` skips them."""

    def __init__(
        self, cells: Sequence[tuple[float, float, str]], *, transform: Transform, **kw: object
    ) -> None:
        self.cells = [(float(x), float(y), s) for x, y, s in cells]
        x0, y0 = (self.cells[0][0], self.cells[0][1]) if self.cells else (0.0, 0.0)
        super().__init__(x0, y0, "\n".join(s for _, _, s in self.cells), transform=transform, **kw)  # type: ignore[arg-type]

    def _min_metrics(self, renderer: object) -> tuple[float, float]:
        """The least ascent and descent of a line (display units), as ``Text._get_layout`` finds them."""
        prop = self._fontproperties
        dpi = self.get_figure(root=True).dpi  # type: ignore[union-attr]
        if hasattr(renderer, "_get_font_height_metrics"):
            a, d, _gap = renderer._get_font_height_metrics(prop)
            if a is not None and d is not None:
                return a, d
        font = get_font(fontManager._find_fonts_by_props(prop))
        for table_name, ascent_key, descent_key in (
            ("OS/2", "sTypoAscender", "sTypoDescender"),
            ("hhea", "ascent", "descent"),
        ):
            table = font.get_sfnt_table(table_name)
            if table is None:
                continue
            scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
            return table[ascent_key] * scale, -table[descent_key] * scale
        _w, h, d = _get_text_metrics_with_cache(renderer, "lp", prop, ismath=False, dpi=dpi)
        return h - d, d

    def _fits_line_box(self, renderer, prop, dpi: float, s: str, min_a: float, min_d: float) -> bool:  # type: ignore[no-untyped-def]
        """Whether every character of ``s`` inks within the font's least ascent and descent, so the
        line box (and the baseline of a left-aligned line) is known without measuring ``s``. Each
        character is measured once per process, font and size (a line's ink is the union of its
        glyphs' boxes)."""
        fonts = tuple(fontManager._find_fonts_by_props(prop))
        size = prop.get_size_in_points()
        for c in set(s):
            key = (fonts, size, dpi, c)
            ok = _INK_FITS.get(key)
            if ok is None:
                _w, h, d = renderer.get_text_width_height_descent(c, prop, False)
                if len(_INK_FITS) >= _INK_FITS_MAX:
                    _INK_FITS.clear()
                ok = _INK_FITS[key] = h - d <= min_a and d <= min_d
            if not ok:
                return False
        return True

    @allow_rasterization
    def draw(self, renderer) -> None:  # type: ignore[no-untyped-def]
        if renderer is not None:
            self._renderer = renderer
        if not self.get_visible() or not self.cells:
            return
        renderer.open_group("text", self.get_gid())
        prop = self._fontproperties
        dpi = self.get_figure(root=True).dpi  # type: ignore[union-attr]
        min_a, min_d = self._min_metrics(renderer)
        pos = self.get_transform().transform(np.array([(x, y) for x, y, _ in self.cells], dtype=float))
        _w, canvas_h = renderer.get_canvas_width_height()
        flip = renderer.flipy()
        ha, va = self._horizontalalignment, self._verticalalignment
        placed: list[tuple[float, float, str]] = []
        for (px, py), (_x, _y, s) in zip(pos, self.cells, strict=True):
            if not s or not (np.isfinite(px) and np.isfinite(py)):
                continue
            if ha == "left" and self._fits_line_box(renderer, prop, dpi, s, min_a, min_d):
                w, a, d = 0.0, min_a, min_d
            else:
                w, h, d = _get_text_metrics_with_cache(renderer, s, prop, ismath=False, dpi=dpi)
                a, d = max(h - d, min_a), max(d, min_d)
            # offsets of Text._get_layout for one unrotated line: box from -(a + d) to 0, baseline at -a
            dy = {"center": (a + d) / 2, "bottom": a + d, "top": 0.0, "baseline": a}.get(va, (a + d) / 2)
            x = px - (w if ha == "right" else w / 2 if ha == "center" else 0.0)
            y = py + dy - a
            placed.append((x, canvas_h - y if flip else y, s))
        gc = renderer.new_gc()
        gc.set_foreground(mcolors.to_rgba(self.get_color()), isRGBA=True)
        gc.set_alpha(self.get_alpha())
        gc.set_url(self._url)
        gc.set_antialiased(self._antialiased)
        gc.set_snap(self.get_snap())
        self._set_gc_clip(gc)
        if not _pdf_run(renderer, gc, prop, placed):
            for x, y, s in placed:
                renderer.draw_text(gc, x, y, s, prop, 0.0, ismath=False, mtext=self)
        gc.restore()
        renderer.close_group("text")
        self.stale = False


#: (fonts, size, dpi, character) → whether the character inks within the font's line box.
_INK_FITS: dict[tuple[object, ...], bool] = {}
_INK_FITS_MAX = 100_000


def _pdf_run(renderer, gc, prop, placed: Sequence[tuple[float, float, str]]) -> bool:  # type: ignore[no-untyped-def]
    """Write the lines to a PDF page in one text object, as ``RendererPdf.draw_text`` writes each
    (TrueType embedding, the same glyphs, kerns and font subsets) but with one graphics state, one
    font look-up and no glyph outlines loaded. False (nothing written) when this is not matplotlib's
    PDF renderer with Type 42 fonts, or its internals differ from the ones this was written for."""
    import matplotlib as mpl
    from matplotlib.backends import backend_pdf
    from matplotlib.backends.backend_mixed import MixedModeRenderer
    from matplotlib.ft2font import LoadFlags

    if isinstance(renderer, MixedModeRenderer):  # how savefig hands out the PDF renderer
        renderer = renderer._renderer
    if (
        type(renderer) is not backend_pdf.RendererPdf
        or mpl.rcParams["pdf.fonttype"] != 42
        or mpl.rcParams["pdf.use14corefonts"]
        or gc.get_url() is not None
        or not _pdf_internals_known(type(renderer.file._character_tracker))
    ):
        return False
    file, Op = renderer.file, backend_pdf.Op
    tracker = file._character_tracker
    fontsize = prop.get_size_in_points()
    font = renderer._get_font_ttf(prop)
    renderer.check_gc(gc, gc._rgb)
    file.output(Op.gsave)
    file.output(Op.begin_text)

    def flush(chunk: list[object]) -> None:
        if chunk:
            file.output(
                [
                    (-1000 * next(group) / fontsize) if tp is float else renderer._encode_glyphs(group, 42)
                    for tp, group in itertools.groupby(chunk, type)
                ],
                Op.showkern,
            )
            chunk.clear()

    for x, y, s in placed:
        file.output(1, 0, 0, 1, x, y, Op.textmatrix)
        chunk: list[object] = []
        prev_font = None
        prev_x = 0.0
        for item in font._layout(s, LoadFlags.NO_HINTING):
            subset, charcode = tracker.track_glyph(item.ft_object, item.char, item.glyph_index)
            if (item.ft_object, subset) != prev_font:
                flush(chunk)
                path = backend_pdf.FontPath(item.ft_object.fname, item.ft_object.face_index)
                file.output(file.fontName(path, subset), fontsize, Op.selectfont)
                file.output(item.x - prev_x, 0, Op.textpos)
                prev_font, prev_x = (item.ft_object, subset), item.x
            if item.y:
                flush(chunk)
                file.output(item.y, Op.textrise)
            if item.prev_kern:
                chunk.append(item.prev_kern)
            chunk.append(charcode)
            if item.y:
                flush(chunk)
                file.output(0, Op.textrise)
        flush(chunk)
    file.output(Op.end_text)
    file.output(Op.grestore)
    return True


@lru_cache(maxsize=1)
def _pdf_internals_known(tracker: type) -> bool:
    """matplotlib's PDF text internals as of 3.11 (glyph tracking by font object, character and glyph
    index; ``FontPath``; ``_encode_glyphs``); older versions draw cell by cell."""
    import inspect

    from matplotlib.backends import backend_pdf

    try:
        params = inspect.signature(tracker.track_glyph).parameters
    except (AttributeError, TypeError, ValueError):
        return False
    return (
        list(params) == ["self", "font", "chars", "glyph"]
        and hasattr(backend_pdf, "FontPath")
        and hasattr(backend_pdf.RendererPdf, "_encode_glyphs")
        and hasattr(backend_pdf.RendererPdf, "_get_font_ttf")
    )


def add_text_run(fig: Figure, cells: Sequence[tuple[float, float, str]], **kw: object) -> TextRun:
    """A :class:`TextRun` held by the figure (among ``fig.texts``, as ``fig.text`` adds one)."""
    run = TextRun(cells, **kw)  # type: ignore[arg-type]
    run.set_figure(fig)
    fig.texts.append(run)
    run._remove_method = fig.texts.remove  # type: ignore[attr-defined]
    fig.stale = True
    return run
