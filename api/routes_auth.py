"""``/api/v1/auth``: log in for a bearer token (throttled per username across workers)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request

from api.access import User, ctx_of, current_user
from api.schemas import Login
from api.tokens import issue_token, verify_password
from geo.errors import WeiwangError
from store import db
from store.users import get_user, recent_failures, record_login

router = APIRouter(prefix="/api/v1/auth", tags=["认证 auth"])


class Throttled(WeiwangError):
    code = "throttled"


class BadLogin(WeiwangError):
    code = "unauthorized"


@router.post("/login", summary="登录 log in")
def login(body: Login, request: Request) -> dict:
    ctx = ctx_of(request)
    s = ctx.settings
    with db.write(ctx.engine) as conn:
        if recent_failures(conn, body.username, s.login_window_s) >= s.login_max_failures:
            raise Throttled(
                f"登录失败次数过多，请 {s.login_window_s // 60} 分钟后再试",
                "too many failed logins; try again later",
                field="username",
            )
        row = get_user(conn, body.username)
        ok = bool(row and row["active"] and verify_password(row["password_hash"], body.password))
        record_login(conn, body.username, ok)
    if not ok or row is None:
        raise BadLogin("用户名或密码错误", "wrong username or password", field="password")
    token = issue_token(s.secret_key, row["id"], row["app_role"], s.token_ttl_s)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_at": datetime.fromtimestamp(datetime.now(UTC).timestamp() + s.token_ttl_s, UTC).isoformat(),
        "user": {
            "id": row["id"],
            "username": row["username"],
            "role": row["app_role"],
            "person_id": row["person_id"],
        },
    }


@router.get("/me", summary="当前用户 who am I")
def me(user: User = Depends(current_user)) -> dict:
    return user.to_dict()
