"""Safe extraction of uploaded zip archives (zipped Shapefile, KMZ, zipped GeoPackage/GeoJSON/KML).

Refused (:class:`store.files.errors.UnsafeArchive`): member names that are absolute, carry a drive
letter or a ``..`` part; symbolic links and other non-regular members (Unix mode in the external
attributes); encrypted members; duplicate names (case-insensitively); more members than
``max_zip_members``; a total expanded size above ``max_unzipped_bytes``. Sizes are checked twice:
the declared sizes in the central directory before anything is written, then the bytes actually
inflated while extracting, so a zip bomb with lying headers stops as soon as it inflates past either
its declared size or the total limit. Extraction goes only into the caller's private directory.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from store.files.errors import UnreadableFile, UnsafeArchive
from store.files.limits import Limits

_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(zh: str, en: str, **detail: object) -> UnsafeArchive:
    return UnsafeArchive(f"压缩包不安全：{zh}", f"unsafe archive: {en}", detail=dict(detail))


def _member_parts(name: str) -> tuple[str, ...]:
    """The path parts of a member name, or raise if the name could escape the target directory."""
    if "\x00" in name:
        raise _refuse(f"成员名含空字符：{name!r}", f"member name contains NUL: {name!r}", member=name)
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise _refuse(f"成员使用绝对路径：{name}", f"absolute member path: {name}", member=name)
    parts = tuple(p for p in PurePosixPath(norm).parts if p not in ("", "."))
    if ".." in parts:
        raise _refuse(f"成员路径含“..”：{name}", f"member path traversal: {name}", member=name)
    return parts


def _check_kind(info: zipfile.ZipInfo) -> None:
    """Refuse links and special files (mode bits are in the high 16 bits of external_attr)."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise _refuse(
            f"成员是符号链接：{info.filename}", f"symbolic link member: {info.filename}", member=info.filename
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(
            f"成员不是普通文件：{info.filename}", f"non-regular member: {info.filename}", member=info.filename
        )
    if info.flag_bits & 0x1:
        raise _refuse(
            f"成员已加密：{info.filename}", f"encrypted member: {info.filename}", member=info.filename
        )


def _fp(zf: zipfile.ZipFile) -> IO[bytes]:
    if zf.fp is None:
        raise zipfile.BadZipFile("archive closed")
    return zf.fp


def _raw_stream_offset(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Offset of a member's compressed data: after its local header, name and extra field."""
    fp = _fp(zf)
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: BinaryIO, written: int, limits: Limits) -> int:
    """Copy one member to ``dst``, inflating ourselves so every output byte is counted.

    Python's own reader silently stops at the declared size; here inflating past it is a lie and
    refused, as is passing ``max_unzipped_bytes`` overall or a CRC mismatch. Returns the new total.
    """
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _refuse(
            f"不支持的压缩方式（{info.compress_type}）：{info.filename}",
            f"unsupported compression method {info.compress_type}: {info.filename}",
            member=info.filename,
        )
    fp = _fp(zf)
    fp.seek(_raw_stream_offset(zf, info))
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    left = info.compress_size
    member_bytes = 0
    crc = 0
    pending = b""
    while True:
        if not pending:
            if left <= 0 or (inflater is not None and inflater.eof):
                break
            pending = fp.read(min(_CHUNK, left))
            if not pending:
                raise EOFError("archive truncated")
            left -= len(pending)
        if inflater is None:
            chunk, pending = pending, b""
        else:
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                pending = b""
        member_bytes += len(chunk)
        written += len(chunk)
        if member_bytes > info.file_size:
            raise _refuse(
                f"成员实际大小超过声明（{info.filename}：声明 {info.file_size} 字节）",
                f"member inflates past its declared size: {info.filename} (declared {info.file_size})",
                member=info.filename,
                limit="max_unzipped_bytes",
            )
        if written > limits.max_unzipped_bytes:
            raise _refuse(
                f"解压后过大（超过 max_unzipped_bytes={limits.max_unzipped_bytes}）",
                f"expands past max_unzipped_bytes={limits.max_unzipped_bytes}",
                limit="max_unzipped_bytes",
                maximum=limits.max_unzipped_bytes,
            )
        crc = zlib.crc32(chunk, crc)
        dst.write(chunk)
    if member_bytes != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"size or CRC mismatch ({member_bytes} bytes)")
    return written


def safe_extract(archive: Path, dest: Path, limits: Limits) -> list[Path]:
    """Extract the regular files of ``archive`` into the existing directory ``dest``.

    Returns the extracted files (directories are created, not returned). Raises
    :class:`UnsafeArchive` for anything listed in the module docstring and
    :class:`UnreadableFile` if the archive is not a readable zip.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(
            f"无法读取压缩包：{archive.name}", f"cannot read zip archive: {archive.name} ({exc})"
        ) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise _refuse(
                f"成员过多（{len(infos)} 个，上限 max_zip_members={limits.max_zip_members}）",
                f"too many members: {len(infos)} > max_zip_members={limits.max_zip_members}",
                limit="max_zip_members",
                value=len(infos),
                maximum=limits.max_zip_members,
            )
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_unzipped_bytes:
            raise _refuse(
                f"解压后过大（声明 {declared} 字节，上限 max_unzipped_bytes={limits.max_unzipped_bytes}）",
                f"expands too much: declared {declared} > max_unzipped_bytes={limits.max_unzipped_bytes}",
                limit="max_unzipped_bytes",
                value=declared,
                maximum=limits.max_unzipped_bytes,
            )
        plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        seen: set[str] = set()
        for info in infos:
            parts = _member_parts(info.filename)
            _check_kind(info)
            if not parts:
                continue
            key = "/".join(parts).lower()
            if key in seen:
                raise _refuse(
                    f"成员重名：{info.filename}", f"duplicate member: {info.filename}", member=info.filename
                )
            seen.add(key)
            plan.append((info, parts))

        root = dest.resolve()
        written = 0
        out: list[Path] = []
        for info, parts in plan:
            target = root.joinpath(*parts)
            if not target.resolve().is_relative_to(root):  # belt and braces after _member_parts
                raise _refuse(f"成员路径越界：{info.filename}", f"member escapes: {info.filename}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(target, "xb") as dst:
                    written = _inflate(zf, info, dst, written, limits)
            except (zipfile.BadZipFile, zlib.error, EOFError, struct.error) as exc:
                raise _refuse(
                    f"成员内容损坏或与头部声明不符：{info.filename}",
                    f"member data corrupt or not matching its header: {info.filename} ({exc})",
                    member=info.filename,
                ) from exc
            except OSError as exc:
                raise UnreadableFile(
                    f"压缩包成员无法解压：{info.filename}", f"cannot extract {info.filename}: {exc}"
                ) from exc
            out.append(target)
        return out
