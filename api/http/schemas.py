"""Request bodies of the HTTP API: typed, bounded, strict (unknown fields refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)]
Crs = Annotated[
    str, Field(min_length=1, max_length=64, description="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:n")
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

    person_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20, pattern=r"^[0-9+\- ]{3,20}$")


class IncidentIn(Strict):
    lon: FiniteFloat
    lat: FiniteFloat
    crs: Crs = "wgs84"
    category: str = Field(
        min_length=1,
        max_length=20,
        description="综合维稳 | 矛盾纠纷 | 安全隐患 | 应急管理风险隐患 | 群众诉求",
    )
    description: str = Field(min_length=1, max_length=2000)
    reported_at: datetime | None = None
    urgent: bool = False
    address: str = Field(default="", max_length=200)
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
