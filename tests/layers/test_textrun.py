"""A TextRun draws its cells exactly where one Text per cell would (PDF and PNG), as real text."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.image import imread

from layers.fonts import PRINT_RC, install_truetype_subsetting, sheet_fonts
from layers.textrun import TextRun, add_text_run

CELLS = [
    (30.0, 90.0, "510116004001001"),
    (70.0, 90.0, "麓溪苑1-2栋"),
    (30.0, 80.0, "张三 138****1234"),
    (70.0, 80.0, "（空缺）"),
    (30.0, 70.0, "gjpq｜Ágy"),  # ink below the font's line box: measured, not assumed
    (70.0, 70.0, ""),
]


def _figure(run: bool, ha: str = "left", va: str = "center") -> Figure:
    fig = Figure(figsize=(4, 4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_axis_off()
    style = {
        "fontfamily": PRINT_RC["font.family"],
        "fontsize": 7.5,
        "ha": ha,
        "va": va,
        "color": "#a00000",
        "transform": ax.transData,
    }
    if run:
        add_text_run(fig, CELLS, **style)
    else:
        for x, y, s in CELLS:
            fig.text(x, y, s, **style)
    return fig


def _pdf(fig: Figure) -> bytes:
    install_truetype_subsetting()
    buf = io.BytesIO()
    with matplotlib.rc_context(PRINT_RC), sheet_fonts([fig]), PdfPages(buf) as pdf:
        pdf.savefig(fig)
    return buf.getvalue()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize(("ha", "va"), [("left", "center"), ("center", "baseline"), ("right", "top")])
def test_a_run_draws_the_pdf_a_text_per_cell_draws(tmp_path: Path, ha: str, va: str) -> None:
    images = []
    for run in (True, False):
        pdf = tmp_path / f"{run}.pdf"
        pdf.write_bytes(_pdf(_figure(run, ha, va)))
        subprocess.run(
            ["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / str(run))], check=True
        )
        images.append(imread(tmp_path / f"{run}.png"))
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "510116004001001" in text and "（空缺）" in text and "138****1234" in text
    assert images[0].shape == images[1].shape
    assert (images[0] < 0.9).any()  # something was drawn
    assert np.array_equal(images[0], images[1])


def test_a_run_draws_the_png_a_text_per_cell_draws() -> None:
    images = []
    for run in (True, False):
        buf = io.BytesIO()
        fig = _figure(run)
        with matplotlib.rc_context(PRINT_RC), sheet_fonts([fig]):
            fig.savefig(buf, format="png", dpi=150)
        buf.seek(0)
        images.append(imread(buf))
    assert (images[0] < 0.9).any()
    assert np.array_equal(images[0], images[1])


def test_a_run_is_a_text_of_its_cells() -> None:
    fig = _figure(True)
    (run,) = fig.texts
    assert isinstance(run, TextRun)
    assert run.get_text().split("\n") == [s for _, _, s in CELLS]
