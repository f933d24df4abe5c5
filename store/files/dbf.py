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

from store.files.errors import UnreadableFile

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


def _dbf_records(dbf: Path) -> int:
    """Records the .dbf holds; :class:`UnreadableFile` if its header claims more than the file has."""
    size = dbf.stat().st_size
    with open(dbf, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32:
        raise UnreadableFile("属性表 .dbf 文件头不完整", "the .dbf header is truncated", field="file")
    n_records, header_len, record_len = struct.unpack_from("<IHH", head, 4)
    if header_len < 33 or record_len < 1:
        raise UnreadableFile("属性表 .dbf 文件头无效", "the .dbf header is invalid", field="file")
    held = max(0, size - header_len) // record_len
    if n_records > held:
        raise UnreadableFile(
            f"属性表 .dbf 声称有 {n_records} 条记录，文件只容得下 {held} 条",
            f"the .dbf claims {n_records} records but holds at most {held}",
            field="file",
            detail={"claimed": n_records, "held": held},
        )
    return n_records


def _shx_shapes(shx: Path) -> int:
    """Shapes indexed by the .shx (100-byte header, 8 bytes per shape)."""
    size = shx.stat().st_size
    with open(shx, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or head[:4] != b"\x00\x00\x27\x0a":
        raise UnreadableFile("索引文件 .shx 无效", "the .shx index is invalid", field="file")
    declared = struct.unpack_from(">i", head, 24)[0] * 2
    if declared != size or (size - 100) % 8:
        raise UnreadableFile(
            f".shx 文件长度不符（声明 {declared} 字节，实际 {size} 字节）",
            f"the .shx length disagrees with its header ({declared} declared, {size} bytes)",
            field="file",
        )
    return (size - 100) // 8


def check_shapefile(shp: Path) -> None:
    """Refuse a shapefile whose parts disagree before GDAL reads it: a .dbf header claiming more
    records than the file holds (GDAL then reads none, or garbage), and shape and record counts that
    differ (GDAL pairs them by position and silently drops or blanks the extra ones)."""
    dbf = sidecar(shp, ".dbf")
    shx = sidecar(shp, ".shx")
    records = _dbf_records(dbf) if dbf is not None else None
    shapes = _shx_shapes(shx) if shx is not None else None
    if records is not None and shapes is not None and records != shapes:
        raise UnreadableFile(
            f"Shapefile 的几何数（.shp/.shx：{shapes}）与属性记录数（.dbf：{records}）不一致，"
            "会丢失或错配网格；请在 GIS 软件中修复后重新导出",
            f"the shapefile has {shapes} shapes (.shp/.shx) but {records} attribute records (.dbf): "
            "grids would be dropped or mismatched; repair and export it again",
            field="file",
            detail={"shapes": shapes, "records": records},
        )
