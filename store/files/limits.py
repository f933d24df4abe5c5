"""Size limits for uploaded layer files, checked before and while reading.

Every check raises :class:`store.files.errors.LimitExceeded` naming the limit (its field name here),
the value found and the maximum, so a user knows what to shrink. A value equal to the limit passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.files.errors import LimitExceeded

#: Chinese labels of the limits, for messages.
_ZH = {
    "max_bytes": "文件大小（字节）",
    "max_features": "要素数",
    "max_vertices": "顶点总数",
    "max_vertices_per_feature": "单个要素顶点数",
    "max_zip_members": "压缩包成员数",
    "max_unzipped_bytes": "解压后大小（字节）",
    "max_string_chars": "文本字段长度（字符）",
    "max_properties": "属性个数",
    "max_property_bytes": "单个要素属性总大小（字节）",
    "max_nesting": "嵌套层数",
}


@dataclass(frozen=True)
class Limits:
    """Upper bounds (inclusive) on what :func:`store.files.layerfile.read_layer` accepts."""

    max_bytes: int = 50 * 2**20
    max_features: int = 20_000
    max_vertices: int = 2_000_000
    max_vertices_per_feature: int = 100_000
    max_zip_members: int = 200
    max_unzipped_bytes: int = 200 * 2**20
    max_string_chars: int = 2_000
    #: Attributes per feature, and distinct attribute names in a layer (GDAL makes one column each).
    max_properties: int = 500
    #: UTF-8 bytes of one feature's attribute values together.
    max_property_bytes: int = 64 * 2**10
    #: Depth of nested JSON arrays/objects (GeoJSON) or GeometryCollections.
    max_nesting: int = 32

    def check(self, name: str, value: int, *, where: str = "") -> None:
        """Raise ``LimitExceeded`` if ``value`` is above the limit called ``name`` (equal passes)."""
        maximum = getattr(self, name)
        if value > maximum:
            at_zh = f"（{where}）" if where else ""
            at_en = f" ({where})" if where else ""
            raise LimitExceeded(
                f"超出限制 {name}：{_ZH[name]}为 {value}，上限 {maximum}{at_zh}",
                f"limit {name} exceeded: {value} > {maximum}{at_en}",
                field=name,
                detail={"limit": name, "value": value, "maximum": maximum},
            )
