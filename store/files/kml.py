"""Pre-scan of KML bytes before GDAL sees them.

GDAL's KML readers use expat, which expands internal entities (billion laughs) and may resolve
external ones. So every KML is first parsed here with ``defusedxml`` forbidding any DTD, entity
declaration or external reference, and checked to be a ``<kml>`` document without ``NetworkLink``
(which a KML reader may fetch over the network). The scan also checks every ``<coordinates>``
(numbers finite and in range, polygon rings closed with ≥ 4 positions, vertex limits counted as it
goes) and names the Placemark at fault. Only then is the file handed to GDAL. The scan streams
(``iterparse``) so memory stays flat; the file size is already bounded by ``max_bytes``.

expat reads only UTF-8/16, ASCII and Latin-1; a KML declaring another encoding (GBK, GB2312 and
GB18030 from Chinese tools) is decoded here and rewritten as UTF-8 into a scratch folder, and that
copy is what GDAL reads.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from store.files.checks import bad_feature, check_number, check_ring_ends, feature_label
from store.files.errors import UnreadableFile, UnsafeXML
from store.files.limits import Limits

_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_NATIVE = frozenset(("utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "utf-16"))
_GB = frozenset(("gbk", "gb2312", "gb18030", "cp936", "ms936", "windows-936", "euc-cn", "x-gbk"))
_TUPLE = re.compile(r"\S+")
_CODE_KEYS = ("code", "grid_code", "gridcode", "编码", "网格编码", "网格代码", "代码")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def as_utf8(path: Path, scratch: Path) -> Path:
    """``path`` itself if expat can read its encoding, else a UTF-8 copy of it in ``scratch``."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return path
    m = _DECL.match(head)
    if m is None:
        return path
    declared = m.group(1).decode("ascii").lower()
    if declared in _NATIVE:
        return path
    codec = "gb18030" if declared in _GB else declared
    try:
        codecs.lookup(codec)
    except LookupError:
        raise UnsafeXML(
            f"KML 声明了未知的字符编码：{declared}", f"KML declares an unknown encoding: {declared}"
        ) from None
    try:
        text = path.read_bytes().decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"KML 内容不是所声明的 {declared} 编码（第 {exc.start} 字节）",
            f"KML is not valid {declared} (byte {exc.start})",
        ) from exc
    start, end = m.span(1)
    raw = text.encode("utf-8")
    # the declaration is ASCII in every encoding expat would be given, so its offsets carry over
    fixed = raw[:start] + b"UTF-8" + raw[end:]
    out = scratch / (path.stem + ".kml")
    out.write_bytes(fixed)
    return out


class _Coords:
    """Vertex counting and ring checks for the ``<coordinates>`` of the current Placemark."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.placemark = 0
        self.in_feature = 0
        self.total = 0
        self.code: str | None = None
        self.data_name: str | None = None

    def positions(self, text: str, *, ring: bool) -> None:
        n = 0
        first: list[float] | None = None
        last: list[float] | None = None
        room = min(
            self.limits.max_vertices_per_feature - self.in_feature, self.limits.max_vertices - self.total
        )
        for m in _TUPLE.finditer(text):
            n += 1
            if n > room:  # refused at the first vertex over, not after parsing them all
                break
            parts = m.group().split(",")
            if not 2 <= len(parts) <= 3:
                raise bad_feature(
                    self.placemark,
                    self.code,
                    "坐标不是“经度,纬度[,高程]”",
                    "a coordinate tuple is not lon,lat[,alt]",
                )
            try:
                values = [float(v) for v in parts]
            except ValueError:
                raise bad_feature(
                    self.placemark, self.code, "坐标含非数值", "a coordinate is not a number"
                ) from None
            for v in values:
                check_number(v, index=self.placemark, code=self.code)
            if first is None:
                first = values
            last = values
        self.in_feature += n
        self.total += n
        zh, en = feature_label(self.placemark, self.code)
        self.limits.check("max_vertices_per_feature", self.in_feature, where=f"{zh} / {en}")
        self.limits.check("max_vertices", self.total)
        if ring:
            check_ring_ends(n, first, last, index=self.placemark, code=self.code)


def check_kml(path: Path, limits: Limits = Limits()) -> None:  # noqa: B008 - frozen dataclass
    """Raise :class:`UnsafeXML` unless ``path`` is a plain, well-formed KML document, and
    :class:`BadValue` / :class:`LimitExceeded` for coordinates GDAL or GEOS would choke on."""
    root_seen = False
    coords = _Coords(limits)
    stack: list[str] = []
    try:
        with open(path, "rb") as fh:
            for event, elem in SafeET.iterparse(
                fh, events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
            ):
                name = _local(elem.tag)
                if event == "start":
                    if not root_seen:
                        root_seen = True
                        if name != "kml":
                            raise UnsafeXML(
                                f"不是 KML 文档（根元素为 <{name[:40]}>）",
                                f"not a KML document (root element <{name[:40]}>)",
                            )
                    elif name == "NetworkLink":
                        raise UnsafeXML(
                            "KML 含 NetworkLink（会访问网络），已拒绝",
                            "KML contains a NetworkLink (would fetch from the network): refused",
                        )
                    elif name == "Placemark":
                        coords.placemark += 1
                        coords.in_feature = 0
                        coords.code = None
                    elif name in ("Data", "SimpleData"):
                        coords.data_name = (elem.get("name") or "").strip().lower()
                    stack.append(name)
                    continue
                stack.pop()
                if name == "coordinates":
                    coords.positions(elem.text or "", ring="LinearRing" in stack[-1:])
                elif name in ("value", "SimpleData") and coords.data_name in _CODE_KEYS:
                    coords.code = (elem.text or "").strip()[:50] or None
                elif name == "Placemark":
                    coords.code = None
                if name in ("Data", "SimpleData"):
                    coords.data_name = None
                if name not in ("value", "Data", "SimpleData", "name", "ExtendedData", "SchemaData"):
                    elem.clear()
    except DefusedXmlException as exc:
        raise UnsafeXML(
            f"KML 含 DTD、实体或外部引用，已拒绝：{type(exc).__name__}",
            f"KML with a DTD, entities or external references refused: {type(exc).__name__}",
        ) from exc
    except ParseError as exc:
        line, col = exc.position
        raise UnsafeXML(
            f"KML 格式错误（第 {line} 行第 {col} 列）", f"malformed KML (line {line}, column {col})"
        ) from exc
    if not root_seen:
        raise UnsafeXML("KML 为空", "empty KML document")
