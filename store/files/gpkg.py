"""Checks on a GeoPackage before GDAL opens it: a sound SQLite header, a GeoPackage schema, no views.

GDAL lists and reads a GeoPackage with SQL; a garbage header or a corrupt page makes it fail with
messages holding its SQL, and a view (a recursive CTE, or one defined in terms of itself) can keep
it computing for ever. So the header is parsed here, the database opened read-only and immutable
with SQLite's own progress handler bounding every statement (:data:`BUDGET_S`), the structure
checked (``PRAGMA quick_check``), and any view or virtual table other than the R-tree index refused.
"""

from __future__ import annotations

import sqlite3
import struct
import time
from pathlib import Path
from urllib.parse import quote

from store.files.errors import UnreadableFile, UnsupportedFormat

MAGIC = b"SQLite format 3\x00"
#: Wall-clock budget for all the checks of one file.
BUDGET_S = 10.0
#: ``PRAGMA application_id`` of GeoPackage 1.2+ ('GPKG'), 1.0 and 1.1, or unset.
APPLICATION_IDS = (b"GPKG", b"GP10", b"GP11", b"\x00\x00\x00\x00")
REQUIRED = ("gpkg_contents", "gpkg_spatial_ref_sys", "gpkg_geometry_columns")


def _bad(name: str, zh: str, en: str) -> UnreadableFile:
    return UnreadableFile(
        f"GeoPackage 文件无效：{name}（{zh}）", f"invalid GeoPackage {name}: {en}", field="file"
    )


def check_header(path: Path) -> None:
    """The 100-byte SQLite header: magic, page size, format numbers, size a whole number of pages."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(MAGIC):
        raise UnsupportedFormat(
            f"文件内容与扩展名不符：{path.name}（不是 SQLite/GeoPackage）",
            f"file content does not match its extension: {path.name} (not SQLite/GeoPackage)",
        )
    page = struct.unpack_from(">H", head, 16)[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise _bad(path.name, f"页大小 {page} 无效", f"invalid page size {page}")
    if head[18] not in (1, 2) or head[19] not in (1, 2) or head[21:24] != b"\x40\x20\x20":
        raise _bad(path.name, "文件头格式字段无效", "invalid header format fields")
    if head[68:72] not in APPLICATION_IDS:
        raise _bad(
            path.name, "SQLite 文件不是 GeoPackage（application_id）", "not a GeoPackage (application_id)"
        )
    if size % page:
        raise _bad(
            path.name, "文件长度不是页大小的整数倍（文件被截断？）", "size is not a whole number of pages"
        )


def check_geopackage(path: Path) -> list[str]:
    """Check ``path`` (see the module doc) and return its feature and attribute tables."""
    check_header(path)
    deadline = time.monotonic() + BUDGET_S
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _bad(path.name, "无法打开", "cannot be opened") from exc
    try:
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            ok = conn.execute("PRAGMA quick_check(1)").fetchone()
            objects = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
            tables = {str(n) for t, n, _ in objects if t == "table"}
            for kind, name, sql in objects:
                if kind == "view":
                    raise UnsupportedFormat(
                        f"GeoPackage 含视图 {str(name)[:60]}，不读取视图；请导出为普通图层",
                        f"the GeoPackage holds the view {str(name)[:60]!r}: views are not read; "
                        "export plain layers",
                        field="file",
                    )
                text = str(sql or "").upper()
                if kind == "table" and text.startswith("CREATE VIRTUAL TABLE") and "USING RTREE" not in text:
                    raise UnsupportedFormat(
                        f"GeoPackage 含不支持的虚拟表 {str(name)[:60]}",
                        f"the GeoPackage holds an unsupported virtual table {str(name)[:60]!r}",
                        field="file",
                    )
            missing = [t for t in REQUIRED if t not in tables]
            if missing:
                raise _bad(
                    path.name, f"缺少 {'、'.join(missing)} 表", f"missing table(s) {', '.join(missing)}"
                )
            layers = [
                str(r[0])
                for r in conn.execute(
                    "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', 'attributes')"
                )
            ]
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline:
                raise _bad(
                    path.name, f"检查超过 {BUDGET_S:.0f} 秒", f"checks took over {BUDGET_S:.0f} s"
                ) from exc
            raise _bad(path.name, "结构损坏", "corrupt structure") from exc
        except sqlite3.Error as exc:
            raise _bad(path.name, "结构损坏", "corrupt structure") from exc
        if ok is None or ok[0] != "ok":
            raise _bad(path.name, "完整性检查未通过", "integrity check failed")
    finally:
        conn.close()
    for name in layers:
        if name not in tables:
            raise _bad(path.name, f"图层 {name[:60]} 不是数据表", f"layer {name[:60]!r} is not a table")
    return layers
