"""``/api/v1/auth``: log in for a bearer token (throttled per username across workers)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api.http.deps import current_user, service_of
from api.http.schemas import Login
from api.ops.access import User
from api.ops.accounts import login as do_login

router = APIRouter(prefix="/api/v1/auth", tags=["认证 auth"])


@router.post("/login", summary="登录 log in")
def login(body: Login, request: Request) -> dict:
    return do_login(service_of(request), body.username, body.password)


@router.get("/me", summary="当前用户 who am I")
def me(user: User = Depends(current_user)) -> dict:
    return user.to_dict()
