"""``/api/v1/roster`` (定人定区): planners import a roster file with Chinese headers, assign and
vacate posts from a date; history is kept, so a report of a past day goes to the post holder of
that day; every change names who made it; bad input is a 4xx naming row, column or field."""

from __future__ import annotations

import io
import zipfile

from shapely.geometry import shape

from tests.api_fixtures import Api

SGS = "510116004001"


def _a_micro_worker(api: Api) -> tuple[dict, dict]:
    """A 微网格员 post in force today and its micro-grid's GeoJSON feature."""
    posts = api.get(f"/api/v1/roster?community={SGS}", "planner").json()["items"]
    post = next(p for p in posts if p["role"] == "微网格员")
    feats = api.get(f"/api/v1/communities/{SGS}/grids?level=micro").json()["features"]
    return post, next(f for f in feats if f["properties"]["code"] == post["grid_code"])


def _report(api: Api, feature: dict, reported_at: str | None = None) -> dict:
    pt = shape(feature["geometry"]).representative_point()
    body = {"lon": pt.x, "lat": pt.y, "category": "矛盾纠纷", "description": "邻里噪音纠纷"}
    if reported_at:
        body["reported_at"] = reported_at
    r = api.post("/api/v1/incidents", "dispatcher", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_replace_a_worker_from_a_date_keeps_history_and_routes_by_day(api: Api) -> None:
    old, feature = _a_micro_worker(api)
    grid = old["grid_code"]
    body = {
        "person_id": "P9001",
        "name": "新网格员",
        "phone": "13900009001",
        "role": "微网格员",
        "grid_code": grid,
        "valid_from": "2026-11-01",
        "replace": True,
    }
    r = api.post("/api/v1/roster/posts", "planner", json=body)
    assert r.status_code == 201, r.text
    new = r.json()
    assert (new["person_id"], new["valid_from"], new["in_force"]) == ("P9001", "2026-11-01", True)

    on_oct = api.get(f"/api/v1/roster?grid={grid}&on=2026-10-31", "planner").json()["items"]
    on_nov = api.get(f"/api/v1/roster?grid={grid}&on=2026-11-01", "planner").json()["items"]
    workers = lambda items: {p["person_id"] for p in items if p["role"] == "微网格员"}  # noqa: E731
    assert old["person_id"] in workers(on_oct) and "P9001" not in workers(on_oct)
    assert workers(on_nov) == {"P9001"}
    history = api.get(f"/api/v1/roster?grid={grid}&history=true", "planner").json()["items"]
    closed = next(p for p in history if p["id"] == old["id"])
    assert closed["valid_to"] == "2026-11-01" and closed["in_force"] is False

    # Routing uses the posts in force on the day reported: before the change → the old worker.
    past = _report(api, feature, "2026-10-15T09:00:00+08:00")
    today = _report(api, feature)
    assert past["assignee"]["person_id"] == old["person_id"]
    assert today["assignee"]["person_id"] == "P9001"
    # Statistics per handler count each report for whoever held the post the day it came in.
    url = f"/api/v1/stats?community={SGS}&group_by=handler&from=2026-10-01&to=2026-11-03"
    by_handler = {r["key"]: r for r in api.get(url).json()["items"]}
    assert {old["person_id"], "P9001"} <= set(by_handler)
    october = api.get(f"/api/v1/stats?community={SGS}&group_by=handler&from=2026-10-01&to=2026-10-31").json()
    assert [r["key"] for r in october["items"] if r["key"] in (old["person_id"], "P9001")] == [
        old["person_id"]
    ]

    log = api.get(f"/api/v1/roster/log?entity=post&id={old['id']}", "admin").json()["items"]
    assert log[0]["action"] == "post.vacate" and log[0]["actor"] == "user:planner"
    assert log[0]["before"]["valid_to"] is None and log[0]["after"]["valid_to"] == "2026-11-01"
    people = api.get("/api/v1/roster/log?entity=person&id=P9001", "admin").json()["items"]
    assert [e["action"] for e in people] == ["person.add"]


def test_vacate_ends_a_post_and_refuses_twice(api: Api) -> None:
    post, _ = _a_micro_worker(api)
    r = api.post(f"/api/v1/roster/posts/{post['id']}/vacate", "planner", json={"valid_to": "2026-11-02"})
    assert r.status_code == 200, r.text
    assert r.json()["valid_to"] == "2026-11-02"
    now = api.get(f"/api/v1/roster?grid={post['grid_code']}&on=2026-11-02", "planner").json()["items"]
    assert post["id"] not in {p["id"] for p in now}
    again = api.post(f"/api/v1/roster/posts/{post['id']}/vacate", "planner", json={"valid_to": "2026-11-03"})
    assert again.status_code == 409
    assert api.post("/api/v1/roster/posts/999999/vacate", "planner", json={}).status_code == 404


def test_import_csv_and_xlsx_with_chinese_headers(api: Api) -> None:
    _, feature = _a_micro_worker(api)
    grid = feature["properties"]["code"]
    csv_text = (
        "人员编号,姓名,联系电话,岗位,网格编码,开始日期,备注\n"
        f"P9101,王五,13900009101,微网格长,{grid},2026-11-01,楼栋长\n"
        f"P9102,赵六,,微网格员,{grid},,\n"
    )
    files = {"file": ("花名册.csv", csv_text.encode("gb18030"))}
    dry = api.post("/api/v1/roster/import", "planner", files=files)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "rows": 2,
        "people": {"added": 2, "updated": 0, "same": 0},
        "posts": {"added": 2, "same": 0},
        "committed": False,
    }
    assert api.get("/api/v1/roster?person=P9101&history=true", "planner").json()["items"] == []

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["人员编号", "姓名", "电话", "岗位", "网格编码", "开始日期"])
    ws.append(["P9101", "王五", "13900009101", "微网格长", grid, "2026-11-01"])
    ws.append(["P9102", "赵六", None, "微网格员", grid, None])
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("花名册.xlsx", buf.getvalue())}
    done = api.post("/api/v1/roster/import", "planner", files=files, data={"commit": "true"})
    assert done.status_code == 200, done.text
    assert done.json()["committed"] is True and done.json()["posts"]["added"] == 2
    held = api.get("/api/v1/roster?person=P9102", "planner").json()["items"]
    assert [(p["role"], p["grid_code"], p["valid_from"]) for p in held] == [("微网格员", grid, "2026-11-02")]
    again = api.post("/api/v1/roster/import", "planner", files=files, data={"commit": "true"})
    assert again.json()["posts"] == {"added": 0, "same": 2}


def test_bad_rows_and_bodies_name_the_place_and_change_nothing(api: Api) -> None:
    _, feature = _a_micro_worker(api)
    grid = feature["properties"]["code"]
    before = api.get("/api/v1/roster?history=true", "planner").json()["items"]
    cases = [
        (f"人员编号,姓名,岗位,网格编码\nP1,甲,微网格员,{grid}\nP2,乙,网格大王,{grid}\n", "第 3 行"),
        (f"人员编号,姓名,岗位,网格编码,开始日期\nP1,甲,微网格员,{grid},2026/11/01\n", "valid_from"),
        ("人员编号,姓名,岗位,网格编码\nP1,甲,微网格员,510116004001999999\n", "已发布"),
        (f"人员编号,姓名,岗位,网格编码\nP1,甲,总网格长,{grid}\n", "role"),
        ("编号,名字\nP1,甲\n", "缺少列"),
    ]
    for text, needle in cases:
        files = {"file": ("r.csv", text.encode())}
        r = api.post("/api/v1/roster/import", "planner", files=files, data={"commit": "true"})
        assert r.status_code == 422, (text, r.text)
        err = r.json()["error"]
        assert needle in err["message_zh"] + str(err.get("field")), (needle, err)
    files = {"file": ("r.exe", b"x")}
    assert api.post("/api/v1/roster/import", "planner", files=files).status_code == 422
    files = {"file": ("r.xlsx", b"PK\x03\x04 not really")}
    assert api.post("/api/v1/roster/import", "planner", files=files).status_code == 422
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (101 * 2**20))
    r = api.post("/api/v1/roster/import", "planner", files={"file": ("bomb.xlsx", bomb.getvalue())})
    assert r.status_code == 422 and "解压" in r.json()["error"]["message_zh"]

    good = {"person_id": "P9201", "name": "钱七", "role": "微网格员", "grid_code": grid}
    for patch, field in (
        ({"valid_from": 20261101}, "valid_from"),
        ({"valid_from": "2026-13-01"}, "valid_from"),
        ({"replace": 1}, "replace"),
        ({"role": "皇帝"}, "role"),
    ):
        r = api.post("/api/v1/roster/posts", "planner", json={**good, **patch})
        assert r.status_code == 422, (patch, r.text)
        assert field in str(r.json()), (patch, r.text)
    r = api.post("/api/v1/roster/posts", "planner", json={**good, "person_id": "P-new", "name": None})
    assert r.status_code == 404 and r.json()["error"]["field"] == "person_id"
    assert api.get("/api/v1/roster?history=true", "planner").json()["items"] == before


def test_who_may_change_and_read(api: Api) -> None:
    body = {"person_id": "P9301", "name": "孙八", "role": "微网格员", "grid_code": "510116004001001001"}
    for who in ("dispatcher", "viewer"):
        assert api.post("/api/v1/roster/posts", who, json=body).status_code == 403
    assert api.get("/api/v1/roster", "viewer").status_code == 403
    assert api.get("/api/v1/roster", "dispatcher").status_code == 200
    assert api.get("/api/v1/roster/log", "dispatcher").status_code == 403
    assert api.client.get("/api/v1/roster").status_code == 401
