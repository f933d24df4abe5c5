"""The five incident categories of the article (事件类别).

Values are the Chinese names, stored in the database and shown to people; ``key`` is a stable
English key for URLs and code. :meth:`Category.parse` accepts either.
"""

from __future__ import annotations

from enum import StrEnum

from dispatch.errors import InvalidInput


class Category(StrEnum):
    """Incident category. Value: Chinese name (stored); ``key``: English key."""

    STABILITY = "综合维稳"
    DISPUTE = "矛盾纠纷"
    SAFETY = "安全隐患"
    EMERGENCY = "应急管理风险隐患"
    REQUEST = "群众诉求"

    @property
    def key(self) -> str:
        """Stable English key: stability, dispute, safety, emergency, request."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Category:
        """Category from its Chinese value or English key.

        >>> Category.parse("safety") is Category.parse("安全隐患") is Category.SAFETY
        True
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            for c in cls:
                if value in (c.value, c.key):
                    return c
        allowed = [c.value for c in cls]
        raise InvalidInput(
            f"事件类别无效：{value!r}（应为 {'、'.join(allowed)}）",
            f"invalid category {value!r} (expected one of {', '.join(c.key for c in cls)})",
            field="category",
            detail={"allowed": allowed},
        )
