"""The shared page header (layers/header.py): who is logged in and 退出登录, escaped, on every page
that layers draws for a logged-in user, and on none drawn without one (offline snapshots)."""

from __future__ import annotations

from layers.header import role_label, user_bar
from layers.plan import plan_page
from layers.webmap import assignment_page, coverage_page, dispatch_page, index_page
from tests.layers.test_webmap import COMMUNITY, HOSTILE, TINY

USER = {"username": "P0107", "name": HOSTILE, "role": "网格员"}


def test_the_bar_names_the_user_and_role_escaped_with_a_logout_link() -> None:
    bar = user_bar(USER)
    assert HOSTILE not in bar and "&lt;script&gt;alert(1)&lt;/script&gt;（P0107）" in bar
    assert ">网格员</span>" in bar and 'href="/maps/logout"' in bar and "退出登录" in bar
    assert "<script" not in bar and "ww-notice-badge" not in bar
    assert "ww-notice-badge" in user_bar(USER, notices=True)
    assert user_bar(None) == ""
    assert role_label("admin") == "管理员" and role_label("调度员") == "调度员"
    plain = user_bar({"username": "dispatcher", "name": "dispatcher", "role": "调度员"})
    assert '当前用户：<b id="ww-user">dispatcher</b>' in plain  # no name twice


def test_every_page_layers_draws_carries_the_one_bar() -> None:
    pages = {
        "dispatch": lambda u: dispatch_page(TINY, COMMUNITY.code, posts=[], mask_phones=True, user=u),
        "coverage": lambda u: coverage_page(TINY, COMMUNITY.code, [], version_label="第1版", user=u),
        "assignment": lambda u: assignment_page(
            TINY, COMMUNITY.code, open_by_micro={}, workload=[], ontime_by_general={}, user=u
        ),
        "plan": lambda u: plan_page(TINY, COMMUNITY.code, number=None, drafts=[], user=u),
        "index": lambda u: index_page([], user=u),
    }
    for name, draw in pages.items():
        page = draw(USER)
        assert page.count('id="ww-userbar"') == 1, name
        assert user_bar(USER) in page and HOSTILE not in page, name
        assert 'id="ww-userbar"' not in draw(None), name
