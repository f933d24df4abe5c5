"""Pre-scan of GeoJSON before GDAL sees it: bounded, feature by feature, nothing GDAL could choke on.

Two passes, neither holding more than one feature's structure at a time:

1. a byte scan (a regular expression over the memory-mapped file) counts positions per geometry and
   in total, so an oversized file is refused against ``max_vertices_per_feature`` / ``max_vertices``
   in about a second without being parsed (GDAL and shapely would take ~600 MB for 1M vertices);
2. the top-level object is walked key by key and each member of ``features`` decoded on its own
   (``JSONDecoder.raw_decode``) and checked: no bare ``NaN``/``Infinity`` (not JSON), positions of
   2–4 finite numbers in range (``true`` is not a number), polygon rings closed with ≥ 4 positions,
   line strings with ≥ 2, strings free of control characters, attribute count and bytes bounded,
   nesting bounded, and no ``"crs": {"type": "link"}`` (GDAL would fetch its ``href`` over HTTP).
"""

from __future__ import annotations

import json
import math
import mmap
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from store.files.checks import (
    MAX_ABS_COORD,
    bad_feature,
    check_position,
    check_ring,
    check_text,
    control_char,
    feature_label,
)
from store.files.errors import BadValue, UnreadableFile, UnsupportedFormat
from store.files.limits import Limits

#: A JSON string (skipped whole, so brackets inside strings do not count) or the ``[`` opening a
#: position (followed by a number, or a bare NaN/Infinity which pass 2 refuses).
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|\[\s*[-+0-9.NI]')
_COORDINATES = b'"coordinates"'
GEOMETRY_TYPES = frozenset(
    ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection")
)
#: Property names that hold the grid code, to name a feature in messages.
_NUMBER_TYPES = frozenset((int, float))
_CODE_KEYS = ("code", "grid_code", "gridcode", "编码", "网格编码", "网格代码", "代码")


def _malformed(name: str, why_zh: str, why_en: str) -> UnreadableFile:
    return UnreadableFile(f"GeoJSON 格式错误：{name}（{why_zh}）", f"malformed GeoJSON {name}: {why_en}")


def count_positions(path: Path, limits: Limits) -> int:
    """Positions in the file, counted without parsing; refuse a geometry or file over the limits."""
    total = 0
    geometry = 0
    in_geometry = 0
    with open(path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            return 0
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for m in _TOKEN.finditer(data):
                if m.group()[0] == 0x22:  # a string
                    if m.group() == _COORDINATES:
                        geometry += 1
                        in_geometry = 0
                    continue
                total += 1
                in_geometry += 1
                if in_geometry > limits.max_vertices_per_feature:
                    zh, en = feature_label(geometry)
                    limits.check("max_vertices_per_feature", in_geometry, where=f"{zh} / {en}")
                if total > limits.max_vertices:
                    limits.check("max_vertices", total)
    return total


class _Scan:
    """Pass 2: walk the document, one feature in memory at a time."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.linked = False
        self.names: set[str] = set()
        self.decoder = json.JSONDecoder(parse_constant=self._constant, object_pairs_hook=self._object)

    def _constant(self, token: str) -> Any:
        raise _malformed(self.name, f"含非法数值 {token}", f"the bare token {token} is not JSON")

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        crs = next((v for k, v in pairs if k.lower() == "crs"), None)
        if isinstance(crs, dict) and str(crs.get("type", "")).lower() == "link":
            self.linked = True
        return obj

    def decode(self, text: str, i: int) -> tuple[Any, int]:
        try:
            return self.decoder.raw_decode(text, i)
        except RecursionError as exc:
            raise _malformed(self.name, "嵌套过深", "nested too deeply") from exc
        except json.JSONDecodeError as exc:
            raise _malformed(
                self.name,
                f"第 {exc.lineno} 行第 {exc.colno} 列",
                f"line {exc.lineno} column {exc.colno}: {exc.msg}",
            ) from exc
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise _malformed(self.name, "数值过长", "a number is too long") from exc

    @staticmethod
    def skip(text: str, i: int) -> int:
        n = len(text)
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def expect(self, text: str, i: int, char: str) -> int:
        i = self.skip(text, i)
        if i >= len(text) or text[i] != char:
            raise _malformed(self.name, f"应为 “{char}”", f"expected {char!r} at character {i}")
        return i + 1

    def document(self, text: str, on_feature: Callable[[Any, int], None]) -> dict[str, Any]:
        """The top-level object with ``features`` replaced by their count; each feature to ``on_feature``."""
        i = self.expect(text, 0, "{")
        top: dict[str, Any] = {}
        first = True
        while True:
            i = self.skip(text, i)
            if i < len(text) and text[i] == "}":
                i += 1
                break
            if not first:
                i = self.skip(text, self.expect(text, i, ","))
            first = False
            key, i = self.decode(text, i)
            if not isinstance(key, str):
                raise _malformed(self.name, "成员名不是字符串", "a member name is not a string")
            i = self.skip(text, self.expect(text, i, ":"))
            if key == "features" and text.startswith("[", i):
                top[key], i = self.features(text, i + 1, on_feature)
            else:
                top[key], i = self.decode(text, i)
        if self.skip(text, i) != len(text):
            raise _malformed(self.name, "文档结束后还有内容", "extra data after the document")
        self._object(list(top.items()))  # the top level's own "crs" member
        return top

    def features(self, text: str, i: int, on_feature: Callable[[Any, int], None]) -> tuple[int, int]:
        n = 0
        while True:
            i = self.skip(text, i)
            if i < len(text) and text[i] == "]":
                return n, i + 1
            if n:
                i = self.skip(text, self.expect(text, i, ","))
            feature, i = self.decode(text, i)
            n += 1
            self.limits.check("max_features", n, where=self.name)
            on_feature(feature, n)


def _code_of(props: Any) -> str | None:
    if not isinstance(props, dict):
        return None
    for key, value in props.items():
        if isinstance(key, str) and key.strip().lower() in _CODE_KEYS and isinstance(value, str | int):
            return str(value)[:50] if not control_char(str(value)) else None
    return None


def _value_bytes(value: Any, *, index: int, code: str | None, field: str, depth: int, limits: Limits) -> int:
    """UTF-8 size of an attribute value; strings checked for control characters on the way."""
    if depth > limits.max_nesting:
        limits.check("max_nesting", depth, where=f"{feature_label(index, code)[1]}, {field[:50]}")
    if isinstance(value, str):
        check_text(value, index=index, code=code, field=field)
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(
            len(str(k)) + _value_bytes(v, index=index, code=code, field=field, depth=depth + 1, limits=limits)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return sum(
            _value_bytes(v, index=index, code=code, field=field, depth=depth + 1, limits=limits)
            for v in value
        ) + len(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_feature(
            index,
            code,
            f"“{field[:50]}”的数值超出范围",
            f"{field[:50]!r} holds a number out of range",
            field=field[:50],
        )
    return 8


def check_feature(feature: Any, index: int, limits: Limits, names: set[str]) -> None:
    """One GeoJSON feature: attributes (control characters, count, bytes) and geometry."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise bad_feature(
            index, None, "不是 GeoJSON Feature 对象", "not a GeoJSON Feature object", field="features"
        )
    props = feature.get("properties")
    code = _code_of(props)
    if props is not None:
        if not isinstance(props, dict):
            raise bad_feature(
                index, None, "properties 不是对象", "properties is not an object", field="properties"
            )
        zh, en = feature_label(index, code)
        limits.check("max_properties", len(props), where=f"{zh} / {en}")
        names.update(props)
        limits.check("max_properties", len(names), where="全图层属性名 / distinct names in the layer")
        size = 0
        for key, value in props.items():
            check_text(key, index=index, code=code, field=key)
            size += len(key.encode("utf-8", "surrogatepass"))
            size += _value_bytes(value, index=index, code=code, field=key, depth=1, limits=limits)
        limits.check("max_property_bytes", size, where=f"{zh} / {en}")
    geometry = feature.get("geometry")
    if geometry is not None:
        check_geometry(geometry, index, code, limits)


def check_geometry(geom: Any, index: int, code: str | None, limits: Limits, depth: int = 0) -> None:
    """A GeoJSON geometry object, its coordinates nested as its type requires."""
    kind = geom.get("type") if isinstance(geom, dict) else None
    if kind not in GEOMETRY_TYPES:
        shown = str(kind)[:30] if kind is None or isinstance(kind, str) else type(kind).__name__
        raise bad_feature(index, code, f"几何类型无效：{shown}", f"invalid geometry type {shown!r}")
    if kind == "GeometryCollection":
        parts = geom.get("geometries")
        if not isinstance(parts, list):
            raise bad_feature(
                index, code, "GeometryCollection 缺少 geometries", "GeometryCollection without geometries"
            )
        if depth >= limits.max_nesting:
            limits.check("max_nesting", depth + 1, where=feature_label(index, code)[1])
        for part in parts:
            check_geometry(part, index, code, limits, depth + 1)
        return
    coords = geom.get("coordinates")
    # depth of arrays above the positions: Point 0, LineString/MultiPoint 1, Polygon 2, MultiPolygon 3
    levels = {
        "Point": 0,
        "MultiPoint": 1,
        "LineString": 1,
        "MultiLineString": 2,
        "Polygon": 2,
        "MultiPolygon": 3,
    }
    _walk_coords(coords, levels[kind], kind, index, code)


def _plain_positions(coords: list[Any]) -> bool:
    """Fast path: True if every item is a list of 2–4 finite in-range numbers (else check one by one)."""
    if not all(type(p) is list and 2 <= len(p) <= 4 for p in coords):
        return False
    if not {type(v) for p in coords for v in p} <= _NUMBER_TYPES:
        return False
    values = np.fromiter((v for p in coords for v in p), dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        return bool((np.abs(values) <= MAX_ABS_COORD).all())


def _walk_coords(coords: Any, level: int, kind: str, index: int, code: str | None) -> None:
    if level == 0:
        if kind == "Point" and coords == []:
            return
        check_position(coords, index=index, code=code)
        return
    if not isinstance(coords, list):
        raise bad_feature(
            index, code, f"{kind} 的坐标嵌套不正确", f"{kind} coordinates are not nested correctly"
        )
    ring_level = {"Polygon": 2, "MultiPolygon": 2}.get(kind)
    line_level = {"LineString": 1, "MultiLineString": 1}.get(kind)
    if level == 1 and _plain_positions(coords):
        pass
    else:
        for child in coords:
            _walk_coords(child, level - 1, kind, index, code)
    if level == 1 and ring_level is not None:
        check_ring(coords, index=index, code=code)
    elif level == 1 and line_level is not None and len(coords) == 1:
        raise bad_feature(index, code, "线只有 1 个点", "a line string has a single position")


def check_geojson(path: Path, limits: Limits = Limits()) -> None:  # noqa: B008 - frozen dataclass
    """Refuse what GDAL should never see (see the module doc): :class:`UnreadableFile` for malformed
    JSON, :class:`BadValue` naming the feature, :class:`LimitExceeded`, :class:`UnsupportedFormat`
    for a linked CRS."""
    count_positions(path, limits)
    try:
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(
            path.name, f"不是 UTF-8 编码（第 {exc.start} 字节）", f"not UTF-8 (byte {exc.start})"
        ) from exc
    scan = _Scan(path.name, limits)
    names: set[str] = set()
    top = scan.document(text, lambda f, i: check_feature(f, i, limits, names))
    kind = top.get("type")
    if kind == "Feature":
        check_feature(top, 1, limits, names)
    elif kind in GEOMETRY_TYPES:
        check_geometry(top, 1, None, limits)
    elif kind != "FeatureCollection" or not isinstance(top.get("features"), int):
        raise _malformed(
            path.name,
            "应为 FeatureCollection、Feature 或几何对象",
            "expected a FeatureCollection, Feature or geometry",
        )
    if scan.linked:
        raise UnsupportedFormat(
            "GeoJSON 的 crs 是网络链接（type=link），不会去访问；请删除 crs 成员或改用 --crs 指定",
            'GeoJSON "crs" of type link would be fetched from the network: refused; remove it or pass crs=',
            field="crs",
        )


__all__ = ["BadValue", "check_feature", "check_geojson", "check_geometry", "count_positions"]
