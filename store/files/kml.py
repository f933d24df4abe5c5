"""Pre-scan of KML bytes before GDAL sees them.

GDAL's KML readers use expat, which expands internal entities (billion laughs) and may resolve
external ones. So every KML is first parsed here with ``defusedxml`` forbidding any DTD, entity
declaration or external reference, and checked to be a ``<kml>`` document without ``NetworkLink``
(which a KML reader may fetch over the network). Only then is the file handed to GDAL. The scan
streams (``iterparse``) so memory stays flat; the file size is already bounded by ``max_bytes``.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from store.files.errors import UnsafeXML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_kml(path: Path) -> None:
    """Raise :class:`UnsafeXML` unless ``path`` is a plain, well-formed KML document."""
    root_seen = False
    try:
        with open(path, "rb") as fh:
            for event, elem in SafeET.iterparse(
                fh, events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
            ):
                if event == "start":
                    name = _local(elem.tag)
                    if not root_seen:
                        root_seen = True
                        if name != "kml":
                            raise UnsafeXML(
                                f"不是 KML 文档（根元素为 <{name}>）",
                                f"not a KML document (root element <{name}>)",
                            )
                    elif name == "NetworkLink":
                        raise UnsafeXML(
                            "KML 含 NetworkLink（会访问网络），已拒绝",
                            "KML contains a NetworkLink (would fetch from the network): refused",
                        )
                else:
                    elem.clear()
    except DefusedXmlException as exc:
        raise UnsafeXML(
            f"KML 含 DTD、实体或外部引用，已拒绝：{type(exc).__name__}",
            f"KML with a DTD, entities or external references refused: {exc}",
        ) from exc
    except ParseError as exc:
        raise UnsafeXML(f"KML 格式错误：{exc}", f"malformed KML: {exc}") from exc
    if not root_seen:
        raise UnsafeXML("KML 为空", "empty KML document")
