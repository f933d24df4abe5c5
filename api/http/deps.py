"""The HTTP face's dependencies: the service, and the one authentication path of the API and the
map pages (bearer header; reads — GET/HEAD — also accept the pages' cookie, writes never do, so
no cross-site form can act). Path parameters are bounded once here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.ops.access import TOKEN_COOKIE, User, authenticate, require_role
from api.ops.service import Service
from dispatch import AppRole

_bearer = HTTPBearer(auto_error=False)

#: A community code in a path (12 digits in practice; longer input is refused, not truncated).
CommunityCode = Annotated[str, Path(max_length=32, description="社区编码 community code")]


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def bearer_of(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of the first ``Authorization`` header of raw ASGI ``headers`` when its scheme is
    Bearer (in any case), stripped; None otherwise. The one reader of the header: the lean routes
    only pre-check it (:func:`api.http.lean.bearer` lets anything unusual through to here)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, cred = value.decode("latin-1").partition(" ")
            return (cred.strip() or None) if scheme.lower() == "bearer" else None
    return None


def token_of(request: Request, cred: HTTPAuthorizationCredentials | None = None) -> str | None:
    """The bearer token, or for reads the map pages' cookie."""
    if cred is not None:
        return cred.credentials
    token = bearer_of(request.scope["headers"])
    if token is not None:
        return token
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(TOKEN_COOKIE)
    return None


async def current_user(
    request: Request, cred: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> User:
    """The caller (:func:`api.ops.access.authenticate`); 401 naming what is missing or wrong.

    ``async`` although it does no awaiting: an HMAC check and a cached account row cost less than
    the hop to the thread pool a plain ``def`` dependency takes on every request."""
    return authenticate(service_of(request), token_of(request, cred))


def require(*roles: AppRole):
    """A dependency that lets only these app roles through (403 otherwise)."""

    async def check(user: User = Depends(current_user)) -> User:
        return require_role(user, *roles)

    return check
