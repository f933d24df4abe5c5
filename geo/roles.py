"""The four levels of people 四级工作机制 and their posts on grids.

总网格长 (community head) → 一般网格员 (general grid worker) → 微网格长 (micro-grid head) →
微网格员 (micro-grid worker). A :class:`Post` binds a person to a grid in one role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Role(StrEnum):
    """Grid roles, from the top. Values are the Chinese names used in files and the database."""

    COMMUNITY_HEAD = "总网格长"
    GENERAL_WORKER = "一般网格员"
    MICRO_HEAD = "微网格长"
    MICRO_WORKER = "微网格员"

    @property
    def rank(self) -> int:
        """0 for 总网格长 … 3 for 微网格员."""
        return list(Role).index(self)


@dataclass(frozen=True, slots=True)
class Post:
    """A person holding a role on a grid, optionally for a date range [valid_from, valid_to)."""

    person_id: str
    name: str
    role: Role
    grid_code: str
    phone: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    note: str = ""

    def in_force(self, on: date) -> bool:
        """The one post-validity rule: in force on day ``on`` when ``valid_from ≤ on < valid_to``
        (half-open like layer versions; a missing bound is open). Routing
        (:func:`dispatch.routing.post_valid`), the roster (:func:`store.people.posts`) and who sees
        which grids (:func:`api.ops.access.scope_for`) all ask this.

        >>> p = Post("p1", "张三", Role.MICRO_WORKER, "510116004001001001",
        ...          valid_from=date(2024, 1, 1), valid_to=date(2025, 1, 1))
        >>> p.in_force(date(2023, 12, 31)), p.in_force(date(2024, 1, 1)), p.in_force(date(2025, 1, 1))
        (False, True, False)
        """
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on < self.valid_to
        )


def mask_phone(phone: str | None) -> str:
    """Mask a phone number for viewers: keep the first 3 and last 4 digits.

    >>> mask_phone("13800001234")
    '138****1234'
    >>> mask_phone("")
    ''
    """
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
