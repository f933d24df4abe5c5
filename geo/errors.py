"""Domain errors of the spatial core.

Each error has a stable ``code`` and a message in zh-CN and English. The API maps codes to HTTP
status in one table (``api/errors.py``); the CLI prints the Chinese message and exits non-zero.
"""

from __future__ import annotations


class WeiwangError(Exception):
    """Base of every error a user may see: a stable code and a message in zh-CN and en."""

    code: str = "error"

    def __init__(self, zh: str, en: str, *, field: str | None = None, detail: dict | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.field = field
        self.detail = detail or {}

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message_zh": self.zh, "message_en": self.en}
        if self.field:
            body["field"] = self.field
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidCoordinates(WeiwangError):
    """Non-finite, out-of-range or plainly swapped coordinates."""

    code = "invalid_coordinates"


class UnknownCRS(WeiwangError):
    """A CRS name or EPSG code we cannot use (the input field is ``crs`` unless said otherwise)."""

    code = "unknown_crs"

    def __init__(self, zh: str, en: str, *, field: str | None = "crs", detail: dict | None = None) -> None:
        super().__init__(zh, en, field=field, detail=detail)


class InvalidHierarchy(WeiwangError):
    """A grid layer that cannot even be assembled into a hierarchy (no micro-grids, bad level)."""

    code = "invalid_hierarchy"


class NotFound(WeiwangError):
    """A grid, community, version or object that does not exist (or that the caller may not see)."""

    code = "not_found"
