"""Request bodies of the HTTP API: typed, bounded, strict (unknown fields refused; ``true`` is not a
number, ``1`` not a boolean, an epoch number not a date; text free of control characters)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains a control character (NUL or similar) / 含控制字符")
    return value


def _iso_only(value: Any) -> Any:
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError(
            "must be an ISO 8601 date-time string, e.g. 2026-05-01T09:30:00+08:00 / 须为 ISO 时间字符串"
        )
    return value


#: Text a person typed: no NUL or other control characters (tab and newlines are fine).
Text = Annotated[str, AfterValidator(_no_control)]
#: A number: an int or a float, never ``true`` or ``"30.6"``; finite and bounded.
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e9, le=1e9)]
StrictBool = Annotated[bool, Field(strict=True)]
#: A CRS label exactly as written: no surrounding spaces (``"GCJ02 "`` is refused, not trimmed;
#: ``"WGS 84"`` is a name).
Crs = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9:._/ -]*[A-Za-z0-9])?$",
        description="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:n",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PointIn(Strict):
    lon: FiniteFloat
    lat: FiniteFloat
    id: str | None = Field(default=None, max_length=64)


class LocateBatch(Strict):
    crs: Crs = "wgs84"
    points: list[PointIn] = Field(min_length=1, max_length=10_000)


class Reporter(Strict):
    """A grid worker (``person_id``) or a resident (``name`` and ``phone``)."""

    person_id: Text | None = Field(default=None, max_length=64)
    name: Text | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20, pattern=r"^[0-9+\- ]{3,20}$")


class IncidentIn(Strict):
    lon: FiniteFloat
    lat: FiniteFloat
    crs: Crs = "wgs84"
    category: Text = Field(
        min_length=1,
        max_length=20,
        description="综合维稳 | 矛盾纠纷 | 安全隐患 | 应急管理风险隐患 | 群众诉求",
    )
    description: Text = Field(min_length=1, max_length=2000)
    reported_at: Annotated[datetime | None, BeforeValidator(_iso_only)] = None
    urgent: StrictBool = False
    address: Text = Field(default="", max_length=200)
    reporter: Reporter | None = None

    @field_validator("reported_at")
    @classmethod
    def _sane_year(cls, v: datetime | None) -> datetime | None:
        if v is not None and not 2000 <= v.year <= 2100:
            raise ValueError("reported_at year out of range")
        return v


class ActionIn(BaseModel):
    """An action on an incident; the other fields are the action's parameters
    (assign: assignee_id, assignee_role, grid_code, limit_hours, note; feedback: note;
    verify_fail / void / defer: reason; merge: into; reclassify: category, urgent)."""

    model_config = ConfigDict(extra="allow")
    action: str = Field(min_length=1, max_length=32)

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Hours = Annotated[int, Field(ge=1, le=24 * 365)]


class TimeLimitsIn(Strict):
    """办理时限: whole hours per category (Chinese value or English key); categories left out keep
    the defaults. ``urgent_hours`` caps the limit of incidents reported as urgent."""

    hours: dict[Annotated[str, Field(max_length=20)], Hours] = Field(default_factory=dict, max_length=10)
    urgent_hours: Hours | None = None
