"""Text encoding of a Shapefile's attribute table (.dbf): from its .cpg, or detected from the bytes.

Chinese shapefiles come in GBK/GB18030 (ArcGIS on Chinese Windows, often without a .cpg) or UTF-8
(QGIS, GDAL). A .cpg is trusted; its many spellings of the Chinese code page ("936", "GBK", "CP936",
"GB2312" …) all map to GB18030, a superset of them. Without a .cpg the character fields of every
record are decoded as strict UTF-8; any failure means GB18030. Pure ASCII reads the same either way.
"""

from __future__ import annotations

import codecs
import struct
from pathlib import Path

_GB = "GB18030"
_CPG: dict[str, str] = {
    **dict.fromkeys(("utf-8", "utf8", "65001", "utf_8"), "UTF-8"),
    **dict.fromkeys(
        ("936", "gbk", "cp936", "ms936", "windows-936", "ansi 936", "gb2312", "gb18030", "54936", "cp54936"),
        _GB,
    ),
}


def sidecar(path: Path, suffix: str) -> Path | None:
    """The file next to ``path`` with the same stem and ``suffix``, matched case-insensitively."""
    exact = path.with_suffix(suffix)
    if exact.is_file():
        return exact
    want = (path.stem + suffix).lower()
    for candidate in path.parent.iterdir():
        if candidate.name.lower() == want and candidate.is_file():
            return candidate
    return None


def cpg_encoding(text: str) -> str | None:
    """A Python codec name for a .cpg value, or None if unknown."""
    key = text.strip().lower()
    if key in _CPG:
        return _CPG[key]
    if key.isdigit():
        key = f"cp{key}"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _utf8_ok(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A value cut at the field width may end inside a character: that alone is not GBK.
        return exc.reason == "unexpected end of data" and exc.end == len(raw)
    return True


def detect_dbf_encoding(dbf: Path) -> str:
    """``UTF-8`` if every character field of every record decodes as UTF-8, else ``GB18030``."""
    data = dbf.read_bytes()
    if len(data) < 32:
        return "UTF-8"
    n_records, header_len, record_len = struct.unpack_from("<IHH", data, 4)
    char_fields: list[tuple[int, int]] = []
    offset = 1  # deletion flag
    pos = 32
    while pos + 32 <= min(header_len, len(data)) and data[pos] != 0x0D:
        ftype = chr(data[pos + 11])
        flen = data[pos + 16]
        if ftype in "CM":
            char_fields.append((offset, flen))
        offset += flen
        pos += 32
    for i in range(n_records):
        start = header_len + i * record_len
        if start + record_len > len(data):
            break
        for off, flen in char_fields:
            raw = data[start + off : start + off + flen].rstrip(b" \x00")
            if raw and not raw.isascii() and not _utf8_ok(raw):
                return _GB
    return "UTF-8"


def shapefile_encoding(shp: Path) -> tuple[str, str]:
    """(encoding, how it was decided) for the shapefile ``shp``: ``cpg`` or ``detected …``."""
    how = "detected"
    cpg = sidecar(shp, ".cpg")
    if cpg is not None:
        with open(cpg, "rb") as fh:
            value = fh.read(64).decode("ascii", "replace")
        enc = cpg_encoding(value)
        if enc is not None:
            return enc, "cpg"
        how = f"detected (unknown .cpg {value.strip()!r})"
    dbf = sidecar(shp, ".dbf")
    if dbf is None:
        return "UTF-8", how
    return detect_dbf_encoding(dbf), how
