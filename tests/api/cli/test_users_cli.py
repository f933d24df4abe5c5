"""``weiwang users``: the first admin of an empty site from the CLI, then passwd, disable, list;
the password is read from stdin or a hidden prompt and never printed."""

from __future__ import annotations

from click.testing import CliRunner

from api.cli.users import users_cmd
from api.ops.service import open_service
from store import db
from store.audit import entries
from store.users import get_user

SECRET = "s3cret-Passw0rd"


def run(*args: str, stdin: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(users_cmd, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _login(url: str, username: str, password: str) -> bool:
    from api.ops.accounts import BadLogin, login
    from api.settings import Settings

    with open_service(Settings(database_url=url, secret_key="k")) as service:
        try:
            return bool(login(service, username, password)["access_token"])
        except BadLogin:
            return False


def test_first_admin_then_passwd_disable_and_list(db_url: str) -> None:
    out = run("add", "root", "--role", "admin", "--password-stdin", "--url", db_url, stdin=SECRET + "\n")
    assert "root" in out and SECRET not in out
    assert _login(db_url, "root", SECRET)
    engine = db.make_engine(db_url)
    try:
        with db.read(engine) as conn:
            row = get_user(conn, "root")
            assert row is not None and row["app_role"] == "admin" and row["password_hash"] != SECRET
            assert row["password_hash"].startswith("$argon2id$")
            assert [e["action"] for e in entries(conn, entity="user")] == ["user.add"]
    finally:
        engine.dispose()

    run("add", "zhang", "--role", "调度员", "--password-stdin", "--url", db_url, stdin="another-pass\n")
    run("passwd", "zhang", "--password-stdin", "--url", db_url, stdin="changed-pass\n")
    assert _login(db_url, "zhang", "changed-pass") and not _login(db_url, "zhang", "another-pass")
    run("disable", "zhang", "--url", db_url)
    assert not _login(db_url, "zhang", "changed-pass")
    listing = run("list", "--url", db_url)
    assert "zhang\t调度员\t停用" in listing and "root\tadmin\t启用" in listing
    assert "argon2" not in listing and "argon2" not in run("list", "--json", "--url", db_url)
    run("enable", "zhang", "--url", db_url)
    assert _login(db_url, "zhang", "changed-pass")


def test_prompt_hides_and_confirms_the_password(db_url: str) -> None:
    out = run("add", "root", "--role", "admin", "--url", db_url, stdin=f"{SECRET}\n{SECRET}\n")
    assert SECRET not in out and _login(db_url, "root", SECRET)


def test_refusals_name_the_field_and_exit_2(db_url: str) -> None:
    out = run("add", "root", "--role", "king", "--password-stdin", "--url", db_url, stdin=SECRET, code=2)
    assert "未知角色" in out
    out = run("add", "root", "--role", "admin", "--password-stdin", "--url", db_url, stdin="short\n", code=2)
    assert "密码长度" in out and "short" not in out
    out = run("add", "bad name", "--role", "admin", "--password-stdin", "--url", db_url, stdin=SECRET, code=2)
    assert "用户名" in out
    run("add", "root", "--role", "admin", "--password-stdin", "--url", db_url, stdin=SECRET)
    out = run("add", "root", "--role", "viewer", "--password-stdin", "--url", db_url, stdin=SECRET, code=2)
    assert "已存在" in out
    assert "最后一个管理员" in run("disable", "root", "--url", db_url, code=2)
    assert "用户不存在" in run("disable", "nobody", "--url", db_url, code=2)
    out = run(
        "add",
        "w1",
        "--role",
        "网格员",
        "--person",
        "P404",
        "--password-stdin",
        "--url",
        db_url,
        stdin=SECRET,
        code=2,
    )
    assert "人员不存在" in out
