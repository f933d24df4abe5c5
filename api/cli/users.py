"""``weiwang users add|passwd|disable|enable|list``: accounts from the command line.

The first admin of a new site is made here (the API needs an admin to make accounts). Passwords
come from a hidden prompt (asked twice) or, for scripts, one line on stdin with
``--password-stdin``; they are never echoed, logged or taken as an argument. Thin shells over
:mod:`api.ops.users`.
"""

from __future__ import annotations

import json
import sys

import click

from geo.errors import WeiwangError

URL_HELP = "数据库地址 database URL (default: $WEIWANG_DATABASE_URL or sqlite:///data/weiwang.sqlite)"
ROLE_HELP = "角色 role: 规划员(planner) | 调度员(dispatcher) | 网格员(grid_worker) | 查看者(viewer) | admin"
CLI_ACTOR = "cli"


def _fail(err: WeiwangError) -> None:
    click.echo(f"错误：{err.zh}\nerror: {err.en}", err=True)
    sys.exit(2)


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return str(click.prompt("密码 password", hide_input=True, confirmation_prompt=True, err=True))


def _service(url: str | None):  # type: ignore[no-untyped-def]
    from api.ops.service import open_service

    return open_service(url=url, files=False)


@click.group("users")
def users_cmd() -> None:
    """账号 — accounts: add the first admin, change passwords, disable, list."""


@users_cmd.command("add")
@click.argument("username")
@click.option("--role", required=True, help=ROLE_HELP)
@click.option("--person", "person_id", default=None, help="网格员对应的人员编号 the person (grid workers)")
@click.option("--password-stdin", is_flag=True, help="从标准输入读一行密码 read the password from stdin")
@click.option("--url", default=None, help=URL_HELP)
def add_cmd(username: str, role: str, person_id: str | None, password_stdin: bool, url: str | None) -> None:
    """新建账号 — add an account (the password is asked, never passed as an argument)."""
    from api.ops import users

    try:
        users.check_username(username)
        users.parse_role(role)
        password = _password(password_stdin)
        with _service(url) as service:
            row = users.add_user(service, username, password, role, person_id=person_id, by=CLI_ACTOR)
    except WeiwangError as err:
        _fail(err)
        return
    click.echo(f"已创建账号 {row['username']}（{row['role']}） created account {row['username']}")


@users_cmd.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入读一行密码 read the password from stdin")
@click.option("--url", default=None, help=URL_HELP)
def passwd_cmd(username: str, password_stdin: bool, url: str | None) -> None:
    """修改密码 — set an account's password."""
    from api.ops import users

    try:
        password = _password(password_stdin)
        with _service(url) as service:
            users.set_password(service, username, password, by=CLI_ACTOR)
    except WeiwangError as err:
        _fail(err)
        return
    click.echo(f"已修改 {username} 的密码 password changed")


def _set_active(username: str, active: bool, url: str | None) -> None:
    from api.ops import users

    try:
        with _service(url) as service:
            users.update_user(service, username, active=active, by=CLI_ACTOR)
    except WeiwangError as err:
        _fail(err)
        return
    state = "启用 enabled" if active else "停用 disabled"
    click.echo(f"已{state}: {username}")


@users_cmd.command("disable")
@click.argument("username")
@click.option("--url", default=None, help=URL_HELP)
def disable_cmd(username: str, url: str | None) -> None:
    """停用账号 — disable an account (every worker refuses it within seconds)."""
    _set_active(username, False, url)


@users_cmd.command("enable")
@click.argument("username")
@click.option("--url", default=None, help=URL_HELP)
def enable_cmd(username: str, url: str | None) -> None:
    """启用账号 — enable a disabled account."""
    _set_active(username, True, url)


@users_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--url", default=None, help=URL_HELP)
def list_cmd(as_json: bool, url: str | None) -> None:
    """账号列表 — every account (never a password hash)."""
    from api.ops import users

    try:
        with _service(url) as service:
            rows = users.list_users(service)
    except WeiwangError as err:
        _fail(err)
        return
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        state = "启用" if r["active"] else "停用"
        person = f"  人员 {r['person_id']}" if r["person_id"] else ""
        click.echo(f"{r['username']}\t{r['role']}\t{state}{person}")
    click.echo(f"共 {len(rows)} 个账号 ({len(rows)} accounts)", err=True)
