"""Pre-scan of GeoJSON before GDAL sees it: refuse ``"crs": {"type": "link", …}``.

GDAL's GeoJSON reader fetches the ``href`` of a linked CRS over HTTP (checked with a local
listener: GDAL 3.12 connects); named CRSs (``"type": "name"``, including opengis.net URLs) are
resolved offline. A file that cannot contain such a member (no ``link`` in any case and no ``\\u``
escape) is passed without parsing; otherwise it is parsed in full and every ``crs`` member checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from store.files.errors import UnreadableFile, UnsupportedFormat


def _linked(obj: dict[str, Any]) -> bool:
    crs = next((v for k, v in obj.items() if k.lower() == "crs"), None)
    return isinstance(crs, dict) and str(crs.get("type", "")).lower() == "link"


def check_geojson(path: Path) -> None:
    """Raise :class:`UnsupportedFormat` for a linked (network-fetched) CRS; UnreadableFile if not JSON."""
    data = path.read_bytes()
    if b"link" not in data.lower() and b"\\u" not in data:
        return
    found: list[bool] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if _linked(obj):
            found.append(True)
        return obj

    try:
        json.loads(data, object_pairs_hook=hook)
    except (ValueError, RecursionError) as exc:
        raise UnreadableFile(
            f"GeoJSON 格式错误：{path.name}", f"malformed GeoJSON {path.name}: {exc}"
        ) from exc
    if found:
        raise UnsupportedFormat(
            "GeoJSON 的 crs 是网络链接（type=link），不会去访问；请删除 crs 成员或改用 --crs 指定",
            'GeoJSON "crs" of type link would be fetched from the network: refused; remove it or pass crs=',
            field="crs",
        )
