"""``/api/v1/users``: accounts, for admins only (the first admin comes from ``weiwang users add``).

Passwords go in, never out: no answer carries a password or its hash. Disabling an account takes
effect on every worker within the account cache TTL (2 s).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field, StrictBool

from api.http.deps import require, service_of
from api.http.schemas import Strict
from api.ops import users as ops
from api.ops.access import User
from dispatch import AppRole

router = APIRouter(prefix="/api/v1/users", tags=["账号 users"])
require_admin = require(AppRole.ADMIN)
Username = Annotated[str, Path(min_length=1, max_length=64, description="用户名 username")]


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str = Field(
        min_length=1, max_length=16, description="规划员 | 调度员 | 网格员 | 查看者 | admin (or key)"
    )
    person_id: str | None = Field(default=None, min_length=1, max_length=64)


class UserPatch(Strict):
    active: StrictBool | None = None
    role: str | None = Field(default=None, min_length=1, max_length=16)
    person_id: str | None = Field(default=None, max_length=64, description="empty string: none")
    password: str | None = Field(default=None, min_length=1, max_length=256)


@router.get("", summary="账号列表 list accounts")
def list_users(request: Request, _user: User = Depends(require_admin)) -> dict:
    return {"items": ops.list_users(service_of(request))}


@router.post("", status_code=201, summary="新建账号 add an account")
def add_user(body: UserIn, request: Request, user: User = Depends(require_admin)) -> dict:
    return ops.add_user(
        service_of(request),
        body.username,
        body.password,
        body.role,
        person_id=body.person_id,
        by=user.actor_id,
    )


@router.patch("/{username}", summary="修改账号（停用/启用、角色、密码）update an account")
def update_user(
    username: Username, body: UserPatch, request: Request, user: User = Depends(require_admin)
) -> dict:
    service = service_of(request)
    if body.password is not None:
        ops.check_password(body.password)
    out = ops.update_user(
        service, username, active=body.active, role=body.role, person_id=body.person_id, by=user.actor_id
    )
    if body.password is not None:
        out = ops.set_password(service, username, body.password, by=user.actor_id)
    return out
