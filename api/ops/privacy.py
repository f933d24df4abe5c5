"""Who sees which personal data: the one written policy (README "隐私策略") and the one function
that applies it.

:data:`POLICY` is role × field → :class:`Show` (full, masked or hidden); :func:`apply` applies it
to an incident as :func:`api.ops.incidents.present` shapes it, so every surface that shows
incidents through that function follows the same table. Grid workers see only incidents of their
own grids (:class:`store.incidents.Visibility`) and must call residents back, so they see them in
full; planners draw grids and need neither a resident's identity nor photos; viewers supervise
the work, so they see its photos, but no resident's name and only masked phones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from dispatch import AppRole
from geo.roles import mask_phone


class Show(StrEnum):
    FULL = "全部"
    MASKED = "脱敏"
    HIDDEN = "不显示"


#: The personal fields of an incident, with their Chinese labels (the README table's columns).
FIELDS: Mapping[str, str] = {
    "resident_name": "反映人姓名",
    "resident_phone": "反映人电话",
    "address": "详细地址",
    "photos": "现场照片",
    "handler_phone": "承办人电话",
}

F, M, H = Show.FULL, Show.MASKED, Show.HIDDEN
#: role → field → how it is shown. The README table is checked against this (tests/api/ops).
POLICY: Mapping[AppRole, Mapping[str, Show]] = {
    AppRole.ADMIN: {"resident_name": F, "resident_phone": F, "address": F, "photos": F, "handler_phone": F},
    AppRole.DISPATCHER: {
        "resident_name": F,
        "resident_phone": F,
        "address": F,
        "photos": F,
        "handler_phone": F,
    },
    AppRole.GRID_WORKER: {
        "resident_name": F,
        "resident_phone": F,
        "address": F,
        "photos": F,
        "handler_phone": F,
    },
    AppRole.PLANNER: {"resident_name": M, "resident_phone": M, "address": F, "photos": H, "handler_phone": F},
    AppRole.VIEWER: {"resident_name": H, "resident_phone": M, "address": M, "photos": F, "handler_phone": M},
}

_DOOR = re.compile(r"\d")


def mask_name(name: str) -> str:
    """The family name and one ``*`` per other character: 张三丰 → 张**."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


def mask_address(address: str) -> str:
    """The address up to its first number (the street or estate, without building and door):
    青羊区三根松路12号3栋 → 青羊区三根松路…"""
    m = _DOOR.search(address)
    return address if m is None else address[: m.start()] + "…"


_MASKERS = {
    "resident_name": mask_name,
    "resident_phone": mask_phone,
    "address": mask_address,
    "handler_phone": mask_phone,
}


def shown(role: AppRole, field: str, value: Any) -> Any:
    """``value`` of personal ``field`` as ``role`` may see it (None when hidden)."""
    rule = POLICY[role][field]
    if rule is Show.FULL or value in (None, ""):
        return value if rule is not Show.HIDDEN else None
    if rule is Show.HIDDEN:
        return None
    return _MASKERS[field](value)


def apply(role: AppRole, incident: dict[str, Any]) -> dict[str, Any]:
    """An incident view (:func:`api.ops.incidents.present`) with the policy applied, in place."""
    resident = incident.get("resident")
    if resident:
        name = shown(role, "resident_name", resident.get("name"))
        phone = shown(role, "resident_phone", resident.get("phone"))
        incident["resident"] = {"name": name, "phone": phone} if name or phone else None
    if "address" in incident:
        incident["address"] = shown(role, "address", incident["address"]) or ""
    if "photos" in incident and not sees_photos(role):
        incident["photos"] = []
    assignee = incident.get("assignee")
    if assignee:
        assignee["phone"] = shown(role, "handler_phone", assignee.get("phone"))
    return incident


def sees_photos(role: AppRole) -> bool:
    """Whether ``role`` may see incident photos (the ``photos`` column of :data:`POLICY`)."""
    return POLICY[role]["photos"] is not Show.HIDDEN


def readme_table() -> str:
    """The policy as the Markdown table in the README (roles as rows, fields as columns)."""
    head = "| 角色 role | " + " | ".join(FIELDS.values()) + " |"
    rule = "|---" * (len(FIELDS) + 1) + "|"
    rows = [
        f"| {role.value} | " + " | ".join(POLICY[role][f].value for f in FIELDS) + " |" for role in POLICY
    ]
    return "\n".join([head, rule, *rows])
