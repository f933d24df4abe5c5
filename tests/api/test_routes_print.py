"""``/maps/print/{community}.pdf|.png`` over HTTP: real PDF/PNG from the stored layer, errors as 4xx."""

from __future__ import annotations

import subprocess

from tests.api_fixtures import Api


def test_print_pdf_and_png(api: Api, tmp_path) -> None:
    r = api.get("/maps/print/510116004002.pdf", params={"paper": "A4"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    (tmp_path / "p.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True).stdout
    assert "瓦窑村微网格分布图" in text and "第 1 版" in text
    assert "510116004002003001" in text
    r = api.get("/maps/print/510116004002.png", params={"paper": "A4", "dpi": 50})
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def test_print_errors_are_4xx(api: Api) -> None:
    assert api.get("/maps/print/999999999999.pdf").status_code == 404
    assert api.get("/maps/print/510116004002.pdf", params={"paper": "B5"}).status_code == 422
    assert api.get("/maps/print/510116004002.pdf", params={"version": 7}).status_code == 404
    assert api.client.get("/maps/print/510116004002.pdf").status_code == 401


def test_multipage_png_is_refused(api: Api) -> None:
    r = api.get("/maps/print/510116004002.png", params={"all_pages": True})
    assert r.status_code == 422 and r.json()["error"]["field"] == "all_pages"
    assert api.get("/maps/print/510116004002.svg").status_code == 422


def test_print_with_party_has_its_legend(api: Api, tmp_path) -> None:
    r = api.get("/maps/print/510116004002.pdf", params={"paper": "A4", "party": True})
    assert r.status_code == 200, r.text
    (tmp_path / "p.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True).stdout
    for row in ("网格党支部（3个）", "专属网格党支部（4个）", "微网格党小组（8个）", "党组织（两网融合）"):
        assert row in text
    assert api.get("/maps/print/510116004002.pdf", params={"party": "maybe"}).status_code == 422
