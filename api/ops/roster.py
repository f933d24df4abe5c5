"""The roster (定人定区: who works which grid): import, assign, vacate, list — with history.

A post is never overwritten or deleted: assigning opens a post from a start date, vacating closes
it on an end date (exclusive), so routing, visibility and statistics of a past day use the posts
then in force (:func:`dispatch.routing.post_valid`, the one validity rule). Every change of a
person or post is written to the audit log with who made it, in the same transaction. After a
change this process forgets its cached roster at once; other workers within ``roster_ttl_s``.

Imports read CSV (UTF-8 or GB18030, as Excel saves it) or XLSX with Chinese headers (人员编号,
姓名, 电话, 岗位, 网格编码, 社区编码, 开始日期, 结束日期, 备注) or the sample file's English ones.
They are dry runs unless ``commit``; a file with any bad row changes nothing and the error names
the row and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from api.ops.service import Service
from dispatch.errors import InvalidInput
from dispatch.routing import post_valid
from geo.errors import NotFound
from geo.hierarchy import Hierarchy, Level
from geo.roles import Post, Role
from store import db
from store.dberrors import Conflict

#: Column → accepted headers (Chinese first; the sample people.csv's English names too).
HEADERS: dict[str, tuple[str, ...]] = {
    "person_id": ("人员编号", "编号", "工号", "person_id"),
    "name": ("姓名", "name"),
    "phone": ("电话", "手机", "联系电话", "手机号", "phone"),
    "role": ("岗位", "角色", "职务", "role"),
    "grid_code": ("网格编码", "网格编号", "grid_code"),
    "community_code": ("社区编码", "社区编号", "community_code"),
    "valid_from": ("开始日期", "生效日期", "起始日期", "valid_from"),
    "valid_to": ("结束日期", "终止日期", "valid_to"),
    "note": ("备注", "note"),
}
REQUIRED = ("person_id", "name", "role", "grid_code")
#: The grid level each role is held on.
ROLE_LEVEL = {
    Role.COMMUNITY_HEAD: Level.COMMUNITY,
    Role.GENERAL_WORKER: Level.GENERAL,
    Role.MICRO_HEAD: Level.MICRO,
    Role.MICRO_WORKER: Level.MICRO,
}
MAX_ROWS = 20_000
MAX_CELL = 200
IMPORT_SUFFIXES = (".csv", ".xlsx")
#: An XLSX is a zip: refuse one that unpacks to more than this before any XML is parsed.
MAX_XLSX_UNPACKED = 100 * 2**20


def parse_day(text: str | date | None, field_name: str) -> date | None:
    """An ISO date (2026-03-01); a number, a time or anything else is refused naming the field."""
    if isinstance(text, datetime):
        return text.date()
    if text is None or isinstance(text, date):
        return text
    if not isinstance(text, str) or len(text.strip()) != 10:
        raise InvalidInput(
            f"{field_name} 须为日期，如 2026-03-01",
            f"{field_name} must be an ISO date like 2026-03-01",
            field=field_name,
        )
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{field_name} 不是有效日期：{text[:20]}", f"{field_name} is not a valid date", field=field_name
        ) from None


def parse_role(text: str) -> Role:
    for role in Role:
        if text.strip() == role.value:
            return role
    names = "、".join(r.value for r in Role)
    raise InvalidInput(f"未知岗位：{text[:20]}（可用 {names}）", f"unknown role {text[:20]!r}", field="role")


def _clean(value: Any, name: str, limit: int = MAX_CELL) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"{name} 过长（上限 {limit} 字）", f"{name} longer than {limit}", field=name)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput(f"{name} 含控制字符", f"{name} contains control characters", field=name)
    return text


# -- reading files ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "无法识别文件编码（请用 UTF-8 或 GBK）", "cannot decode the file (use UTF-8 or GBK)", field="file"
    )


def _xlsx_rows(path: Path) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput("不是有效的 XLSX 文件", "not a valid XLSX file", field="file") from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise InvalidInput(
            f"XLSX 解压后超过 {MAX_XLSX_UNPACKED // 2**20} MB",
            f"the XLSX unpacks to more than {MAX_XLSX_UNPACKED} bytes",
            field="file",
        )
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("不是有效的 XLSX 文件", "not a valid XLSX file", field="file") from exc
    try:
        ws = wb.worksheets[0]
        out: list[list[Any]] = []
        for row in ws.iter_rows(values_only=True):
            if len(out) > MAX_ROWS + 1:
                break
            out.append(list(row))
        return out
    finally:
        wb.close()


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a roster file as dicts keyed by :data:`HEADERS` column names (blank rows skipped)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in IMPORT_SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型：{suffix[:16] or '无扩展名'}（可用 .csv、.xlsx）",
            f"unsupported file type {suffix[:16] or '(none)'}; use .csv or .xlsx",
            field="file",
        )
    if suffix == ".xlsx":
        raw = _xlsx_rows(p)
    else:
        raw = [list(r) for r in csv.reader(io.StringIO(_decode(p.read_bytes())))]
    if not raw:
        raise InvalidInput("文件为空", "the file is empty", field="file")
    header = [_clean(h, "表头").lstrip("\ufeff") for h in raw[0]]
    columns: dict[int, str] = {}
    for i, h in enumerate(header):
        for key, names in HEADERS.items():
            if h in names or h.lower() == key:
                columns[i] = key
    missing = [HEADERS[k][0] for k in REQUIRED if k not in columns.values()]
    if missing:
        raise InvalidInput(
            f"缺少列：{'、'.join(missing)}（表头应含 人员编号、姓名、岗位、网格编码）",
            f"missing columns: {', '.join(k for k in REQUIRED if k not in columns.values())}",
            field="file",
        )
    if len(raw) - 1 > MAX_ROWS:
        raise InvalidInput(f"行数超过上限 {MAX_ROWS}", f"more than {MAX_ROWS} rows", field="file")
    rows = []
    for n, values in enumerate(raw[1:], start=2):
        if all(v in (None, "") for v in values):
            continue
        row: dict[str, Any] = {"_row": n}
        for i, key in columns.items():
            row[key] = values[i] if i < len(values) else None
        rows.append(row)
    return rows


# -- checking rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostIn:
    """A checked roster row: the person and the post they hold from ``valid_from``."""

    person_id: str
    name: str
    phone: str | None
    role: Role
    grid_code: str
    community_code: str
    valid_from: date | None
    valid_to: date | None
    note: str = ""

    def post(self) -> Post:
        return Post(
            self.person_id,
            self.name,
            self.role,
            self.grid_code,
            self.phone,
            self.valid_from,
            self.valid_to,
            self.note,
        )


def _published(service: Service) -> Hierarchy | None:
    try:
        return service.layers.current().hierarchy
    except NotFound:
        return None


def _check_grid(h: Hierarchy | None, role: Role, grid_code: str) -> str:
    """The grid's community. When the grid's community has a published layer (codes are nested:
    the community is the first 12 digits) the grid must be in it, at the role's level; a community
    not yet published can be staffed before its first layer."""
    if not grid_code or len(grid_code) > 32 or not grid_code.isalnum():
        raise InvalidInput(f"网格编码无效：{grid_code[:40]}", "invalid grid code", field="grid_code")
    if h is None or grid_code not in h:
        if h is not None and grid_code[:12] in h:
            raise InvalidInput(
                f"网格不在已发布的图层中：{grid_code}",
                f"grid {grid_code} is not in the published layers",
                field="grid_code",
            )
        return grid_code[:12]
    g = h.get(grid_code)
    if g.level is not ROLE_LEVEL[role]:
        raise InvalidInput(
            f"岗位 {role.value} 不能设在{g.level.value}级网格 {grid_code}",
            f"role {role.value} does not belong on the {g.level.value} grid {grid_code}",
            field="role",
        )
    return h.chain(grid_code)[-1].code


def check_row(h: Hierarchy | None, row: Mapping[str, Any], default_from: date | None) -> PostIn:
    """A roster row checked: ids and text bounded, role known, grid published at the right level,
    dates ISO and in order."""
    person_id = _clean(row.get("person_id"), "person_id", 64)
    name = _clean(row.get("name"), "name", 100)
    if not person_id:
        raise InvalidInput("人员编号不能为空", "person_id is required", field="person_id")
    if not name:
        raise InvalidInput("姓名不能为空", "name is required", field="name")
    role = parse_role(_clean(row.get("role"), "role", 16))
    grid_code = _clean(row.get("grid_code"), "grid_code", 32)
    community = _check_grid(h, role, grid_code)
    given = _clean(row.get("community_code"), "community_code", 12)
    if given and given != community:
        raise InvalidInput(
            f"网格 {grid_code} 不属于社区 {given}",
            f"grid {grid_code} is not in community {given}",
            field="community_code",
        )
    start = parse_day(_cell_day(row.get("valid_from")), "valid_from") or default_from
    end = parse_day(_cell_day(row.get("valid_to")), "valid_to")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("结束日期须晚于开始日期", "valid_to must be after valid_from", field="valid_to")
    phone = _clean(row.get("phone"), "phone", 32) or None
    return PostIn(
        person_id, name, phone, role, grid_code, community, start, end, _clean(row.get("note"), "note", 500)
    )


def _cell_day(value: Any) -> str | date | None:
    """A date cell: XLSX gives date/datetime objects; CSV gives text (empty = none)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return str(value).strip() or None


# -- changes ----------------------------------------------------------------------------------


def _row_dict(r: Mapping[str, Any], on: date | None = None) -> dict[str, Any]:
    p = _as_post(r)
    out = {
        "id": r["id"],
        "person_id": r["person_id"],
        "name": r["name"],
        "phone": r["phone"],
        "role": r["role"],
        "grid_code": r["grid_code"],
        "community_code": r["community_code"],
        "valid_from": r["valid_from"].isoformat() if r["valid_from"] else None,
        "valid_to": r["valid_to"].isoformat() if r["valid_to"] else None,
        "note": r["note"],
    }
    if on is not None:
        out["in_force"] = post_valid(p, on)
    return out


def _as_post(r: Mapping[str, Any]) -> Post:
    return Post(
        r["person_id"],
        r["name"],
        Role(r["role"]),
        r["grid_code"],
        r["phone"],
        r["valid_from"],
        r["valid_to"],
        r["note"],
    )


def _audit_post(
    conn: Any, by: str, action: str, r: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> None:
    from store.audit import record

    keys = ("person_id", "role", "grid_code", "community_code", "valid_from", "valid_to")
    ident = str((after or r or {}).get("id", ""))
    record(
        conn,
        actor=by,
        action=action,
        entity="post",
        entity_id=ident,
        before={k: r[k] for k in keys} if r else None,
        after={k: after[k] for k in keys} if after else None,
    )


def _save_person(conn: Any, p: PostIn, by: str) -> str:
    """Create or update the person; returns "added", "updated" or "same"."""
    from store.audit import record
    from store.people import get_person, upsert_person

    community = _known_community(conn, p.community_code)
    old = get_person(conn, p.person_id)
    new = {"name": p.name, "phone": p.phone, "community_code": community}
    if old is not None and all(old[k] == v for k, v in new.items()):
        return "same"
    note = old["note"] if old is not None else ""
    upsert_person(conn, p.person_id, p.name, phone=p.phone, community_code=community, note=note)
    keys = ("name", "phone", "community_code")
    record(
        conn,
        actor=by,
        action="person.add" if old is None else "person.update",
        entity="person",
        entity_id=p.person_id,
        before={k: old[k] for k in keys} if old else None,
        after=new,
    )
    return "added" if old is None else "updated"


def _known_community(conn: Any, code: str) -> str | None:
    """``code`` if the community is stored (its first layer names it); a person of a community not
    yet uploaded is kept without one, as a placeholder row would keep the code for its name."""
    from sqlalchemy import select

    from store.models import communities

    return (
        code if conn.execute(select(communities.c.code).where(communities.c.code == code)).first() else None
    )


def _open_post(conn: Any, p: PostIn, by: str, *, replace: bool) -> tuple[str, int]:
    """Open the post unless the same one is already in force from its start; ``replace`` closes
    the other holders of that role on that grid on the start day. Returns (what happened, id)."""
    from store.people import add_post, end_post, post_rows

    start = p.valid_from
    on_grid = post_rows(conn, grid_code=p.grid_code)
    for r in on_grid:
        same = r["person_id"] == p.person_id and r["role"] == p.role.value and r["valid_to"] == p.valid_to
        if same and (start is None or post_valid(_as_post(r), start)):
            return "same", int(r["id"])
    if replace:
        if start is None:
            raise InvalidInput("替换岗位须给出开始日期", "replacing needs a start date", field="valid_from")
        for r in on_grid:
            if r["role"] == p.role.value and r["person_id"] != p.person_id and post_valid(_as_post(r), start):
                if r["valid_from"] is not None and r["valid_from"] >= start:
                    raise Conflict(
                        f"岗位 {r['id']} 自 {r['valid_from']} 起才生效，不能在 {start} 替换",
                        f"post {r['id']} starts on {r['valid_from']}; cannot replace it on {start}",
                        field="valid_from",
                    )
                end_post(conn, int(r["id"]), start)
                _audit_post(conn, by, "post.vacate", r, {**r, "valid_to": start})
    new_id = add_post(conn, p.post(), community_code=p.community_code)
    after = {
        "id": new_id,
        "person_id": p.person_id,
        "role": p.role.value,
        "grid_code": p.grid_code,
        "community_code": p.community_code,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
    }
    _audit_post(conn, by, "post.assign", None, after)
    return "added", new_id


class _DryRun(Exception):
    """Raised inside the import's transaction to roll a dry run back."""


@dataclass
class ImportSummary:
    rows: int = 0
    people: dict[str, int] = field(default_factory=lambda: {"added": 0, "updated": 0, "same": 0})
    posts: dict[str, int] = field(default_factory=lambda: {"added": 0, "same": 0})
    committed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "people": self.people, "posts": self.posts, "committed": self.committed}


def check_rows(service: Service, rows: Iterable[Mapping[str, Any]], start: date | None) -> list[PostIn]:
    """Every row checked; the first bad one raises, naming its row number and column."""
    h = _published(service)
    out = []
    for i, row in enumerate(rows, start=1):
        n = row.get("_row", i)
        try:
            out.append(check_row(h, row, start))
        except InvalidInput as err:
            col = err.field or ""
            raise InvalidInput(
                f"第 {n} 行 {col}：{err.zh}", f"row {n} {col}: {err.en}", field=f"row {n}: {col}"
            ) from None
    return out


def import_roster(
    service: Service,
    path: str | Path,
    *,
    start: date | None = None,
    commit: bool = False,
    by: str = "cli",
) -> ImportSummary:
    """Import people and posts from a CSV/XLSX roster (dry run unless ``commit``). Rows without a
    start date take ``start`` (default: today). Existing posts in force are kept; nothing is closed."""
    rows = read_table(path)
    checked = check_rows(service, rows, start or service.today())
    summary = ImportSummary(rows=len(checked))
    try:
        with db.write(service.engine) as conn:
            for p in checked:
                summary.people[_save_person(conn, p, by)] += 1
                summary.posts[_open_post(conn, p, by, replace=False)[0]] += 1
            if not commit:
                raise _DryRun
    except _DryRun:
        pass
    summary.committed = commit
    if commit:
        service.invalidate()
    return summary


def assign(
    service: Service,
    person_id: str,
    role: str | Role,
    grid_code: str,
    start: date | str | None,
    *,
    name: str | None = None,
    phone: str | None = None,
    end: date | str | None = None,
    replace: bool = False,
    note: str = "",
    by: str = "cli",
) -> dict[str, Any]:
    """Give a person a post from ``start`` (default today). A new person needs ``name``;
    ``replace`` ends the other holders of that role on that grid the day before ``start``."""
    from store.people import get_person, post_rows

    start_day = parse_day(start, "valid_from") if start is not None else service.today()
    with db.write(service.engine) as conn:
        known = get_person(conn, _clean(person_id, "person_id", 64))
        if known is None and not name:
            raise NotFound(
                f"人员不存在：{person_id[:64]}（新人员请给出姓名）",
                f"no person {person_id[:64]} (give a name to add one)",
                field="person_id",
            )
        row = {
            "person_id": person_id,
            "name": name or known["name"],  # type: ignore[index]
            "phone": phone if phone is not None else (known or {}).get("phone"),
            "role": role.value if isinstance(role, Role) else role,
            "grid_code": grid_code,
            "valid_from": start_day,
            "valid_to": parse_day(end, "valid_to") if end is not None else None,
            "note": note,
        }
        p = check_row(_published(service), row, start_day)
        _save_person(conn, p, by)
        what, post_id = _open_post(conn, p, by, replace=replace)
        if what == "same":
            raise Conflict(
                f"{p.name} 已在 {p.valid_from} 担任网格 {p.grid_code} 的{p.role.value}",
                f"{p.person_id} already holds {p.role.value} on {p.grid_code} then",
                field="person_id",
            )
        created = post_rows(conn, ids=[post_id])[0]
    service.invalidate()
    return _row_dict(created, start_day)


def vacate(service: Service, post_id: int, end: date | str | None, *, by: str = "cli") -> dict[str, Any]:
    """End a post on ``end`` (exclusive: the holder's last day is the day before; default today).
    The post stays in the history; an already ended post or an end before its start is refused."""
    from store.people import end_post, post_rows

    end_day = parse_day(end, "valid_to") if end is not None else service.today()
    assert end_day is not None
    with db.write(service.engine) as conn:
        found = post_rows(conn, ids=[post_id])
        if not found:
            raise NotFound(f"岗位不存在：{post_id}", f"no post {post_id}", field="post_id")
        r = found[0]
        if r["valid_from"] is not None and end_day <= r["valid_from"]:
            raise InvalidInput(
                f"结束日期须晚于开始日期 {r['valid_from']}",
                f"valid_to must be after {r['valid_from']}",
                field="valid_to",
            )
        if r["valid_to"] is not None and r["valid_to"] <= end_day:
            raise Conflict(
                f"岗位 {post_id} 已于 {r['valid_to']} 结束",
                f"post {post_id} already ended on {r['valid_to']}",
                field="post_id",
            )
        end_post(conn, post_id, end_day)
        after = {**r, "valid_to": end_day}
        _audit_post(conn, by, "post.vacate", r, after)
    service.invalidate()
    return _row_dict(after, end_day)


def find_post(
    service: Service, person_id: str, grid_code: str, role: str | None = None, on: date | str | None = None
) -> int:
    """The id of the post ``person_id`` holds on ``grid_code`` on ``on`` (default today)."""
    from store.people import post_rows

    day = parse_day(on, "valid_to") if on is not None else service.today()
    assert day is not None
    with db.read(service.engine) as conn:
        rows = post_rows(conn, person_id=person_id, grid_code=grid_code)
    held = [r for r in rows if post_valid(_as_post(r), day) and (role is None or r["role"] == role)]
    if len(held) != 1:
        raise NotFound(
            f"{person_id[:64]} 在 {day} 未在网格 {grid_code[:32]} 任职"
            if not held
            else "有多个岗位，请指定岗位",
            f"{person_id[:64]} holds {len(held)} posts on {grid_code[:32]} on {day}",
            field="role" if held else "person_id",
        )
    return int(held[0]["id"])


def roster(
    service: Service,
    *,
    community: str | None = None,
    person_id: str | None = None,
    grid_code: str | None = None,
    on: date | str | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """The posts in force on ``on`` (default today), or with ``history`` every post of every date
    with ``in_force`` on that day."""
    from store.people import post_rows

    day = parse_day(on, "on") if on is not None else service.today()
    assert day is not None
    with db.read(service.engine) as conn:
        rows = post_rows(conn, community_code=community, person_id=person_id, grid_code=grid_code)
    items = [_row_dict(r, day) for r in rows]
    if not history:
        items = [i for i in items if i["in_force"]]
    return {"on": day.isoformat(), "items": items}


def audit(
    service: Service, *, entity: str | None = None, entity_id: str | None = None, limit: int = 200
) -> list[dict]:
    """Changes to people, posts and accounts, newest first: who, when, before and after."""
    from store.audit import entries

    with db.read(service.engine) as conn:
        rows = entries(conn, entity=entity, entity_id=entity_id, limit=limit)
    return [{**r, "at": r["at"].isoformat()} for r in rows]
