"""The furniture every logged-in HTML page shares: who is logged in (登录身份) and 退出登录.

One fragment, :func:`user_bar`, drawn at the top of each page's panel (the map pages through
:func:`layers.webmap._page`, the index, the phone page and the error pages directly), so that no
page carries its own copy. It is plain HTML with every user string escaped and no script at all:
the logout link goes to ``/maps/logout``, whose page (``logout.js``, from this origin) forgets the
token, and whose response deletes the cookie — so it works under the pages' Content-Security-Policy.

>>> "&lt;b&gt;" in user_bar({"username": "u", "name": "<b>", "role": "admin"})
True
>>> "管理员" in user_bar({"username": "u", "role": "admin"})
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

#: Role value (as stored: Chinese, except ``admin``) → the label shown. Unknown roles show as given.
ROLE_LABELS: dict[str, str] = {
    "admin": "管理员",
    "规划员": "规划员",
    "调度员": "调度员",
    "网格员": "网格员",
    "查看者": "查看者",
}

LOGOUT_PATH = "/maps/logout"


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def role_label(role: object) -> str:
    """The zh label of an application role value (``admin`` → 管理员)."""
    return ROLE_LABELS.get(str(role), str(role or ""))


def user_bar(user: Mapping[str, Any] | None, *, home: str = "/home", notices: bool = False) -> str:
    """ "当前用户：NAME（ROLE）", 首页 and 退出登录 (and the notices badge where the page lists
    notices). ``user``: ``username``, ``name`` (the person's name when known) and ``role``;
    None (an offline snapshot, no login) draws nothing."""
    if user is None:
        return ""
    name = user.get("name") or user.get("username")
    who = f"{name}（{user.get('username')}）" if name != user.get("username") else name
    badge = (
        '<a href="#notices" id="ww-notices-link">通知 '
        '<span id="ww-notice-badge" class="ww-nbadge">0</span></a> '
        if notices
        else ""
    )
    return (
        '<nav class="ww-userbar" id="ww-userbar" aria-label="登录身份">'
        f'<span>当前用户：<b id="ww-user">{_e(who)}</b>'
        f'（<span id="ww-user-role">{_e(role_label(user.get("role")))}</span>）</span> '
        f"{badge}"
        f'<a href="{_e(home)}" id="ww-home">首页</a> '
        f'<a href="{LOGOUT_PATH}" id="ww-logout">退出登录</a></nav>'
    )
