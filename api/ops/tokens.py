"""Passwords (Argon2id) and bearer tokens (HMAC-SHA256 signed, expiring, stateless).

A token is ``base64url(json payload).base64url(hmac)``; the payload holds the user id, the app
role and the expiry (unix seconds). Workers share ``WEIWANG_SECRET_KEY`` to accept each other's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.errors import WeiwangError

_hasher = PasswordHasher()


class Unauthorized(WeiwangError):
    """Missing, malformed, forged or expired credentials."""

    code = "unauthorized"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    expires: int


def issue_token(secret: str, user_id: int, role: str, ttl_s: int, *, now: float | None = None) -> str:
    exp = int((now if now is not None else time.time()) + ttl_s)
    body = _b64(json.dumps({"uid": user_id, "role": role, "exp": exp}, separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_token(secret: str, token: str, *, now: float | None = None) -> TokenClaims:
    """Check signature and expiry; raise :class:`Unauthorized` naming what is wrong."""
    bad = Unauthorized("登录凭证无效", "invalid token")
    if len(token) > 1000 or token.count(".") != 1:
        raise bad
    body, sig = token.split(".")
    want = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want, sig):
        raise bad
    try:
        payload = json.loads(_unb64(body))
        claims = TokenClaims(int(payload["uid"]), str(payload["role"]), int(payload["exp"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise bad from exc
    if claims.expires <= (now if now is not None else time.time()):
        raise Unauthorized("登录已过期，请重新登录", "token expired")
    return claims
