"""One table of scenarios run through every face — the operations layer, HTTP and the CLI — with
the same answers: report, assign, feedback, verify, stats, publish, locate (both databases).

Each face is a small adapter with the same five methods; the scenario runs against a fresh seeded
database per face and records a trace of the facts every face must agree on (grid codes, states,
handlers, counts, version numbers), which is compared with one expected table.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.cli import main as cli
from api.ops.service import Service
from api.settings import Settings
from geo.crs import from_wgs84
from geo.hierarchy import Grid, Level
from store import db
from store.grids import load_grids
from store.importing import import_grids
from store.versions import published_version

SGS = "510116004001"
# Two neighbouring micro-grids of 三根松 general grid 006; the second version moves their shared
# boundary so that POINT (in A on version 1) lies in B on version 2.
A, B = "510116004001006006", "510116004001006010"
BUFFER_DEG = 0.0003
PASSWORDS = {"dispatcher": "dispatch-demo", "admin": "admin-demo"}


class Face(Protocol):
    def report(self, user: str, lon: float, lat: float, crs: str, category: str, text: str) -> dict: ...
    def act(self, user: str, incident_id: str, action: str, **payload: str) -> dict: ...
    def stats(self, user: str) -> dict: ...
    def publish(self, number: int) -> int: ...
    def locate(self, lon: float, lat: float) -> dict: ...


class OpsFace:
    """The operations layer, called directly (as a notebook would)."""

    def __init__(self, url: str) -> None:
        self.service = Service(Settings(database_url=url, version_poll_s=0.0), db.make_engine(url))

    def _user(self, name: str) -> Any:
        from api.ops.access import user_named

        return user_named(self.service, name)

    def report(self, user: str, lon: float, lat: float, crs: str, category: str, text: str) -> dict:
        from api.ops import incidents, intake

        body = {"lon": lon, "lat": lat, "crs": crs, "category": category, "description": text}
        row = intake.report_incident(self.service, self._user(user), body)
        return incidents.present_rows(self.service, self._user(user), [row])[0]

    def act(self, user: str, incident_id: str, action: str, **payload: str) -> dict:
        from api.ops import incidents

        return incidents.act(self.service, self._user(user), incident_id, action, payload)

    def stats(self, user: str) -> dict:
        from api.ops import incidents

        return incidents.stats(self.service, self._user(user), community=SGS)

    def publish(self, number: int) -> int:
        from api.ops import layers

        return layers.publish(self.service, SGS, number).number

    def locate(self, lon: float, lat: float) -> dict:
        from api.ops.locating import locate_point

        return locate_point(self.service, lon, lat)

    def close(self) -> None:
        self.service.engine.dispose()


class HttpFace:
    """The HTTP API through a TestClient on the real app."""

    def __init__(self, url: str) -> None:
        from api.http.app import create_app

        self.app = create_app(Settings(database_url=url, secret_key="faces", version_poll_s=0.0))
        self.client = TestClient(self.app).__enter__()
        self.tokens: dict[str, str] = {}

    def _h(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            pw = PASSWORDS.get(user, "worker-demo")
            r = self.client.post("/api/v1/auth/login", json={"username": user, "password": pw})
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def _ok(self, r: Any, status: int = 200) -> dict:
        assert r.status_code == status, r.text
        return r.json()

    def report(self, user: str, lon: float, lat: float, crs: str, category: str, text: str) -> dict:
        body = {"lon": lon, "lat": lat, "crs": crs, "category": category, "description": text}
        return self._ok(self.client.post("/api/v1/incidents", json=body, headers=self._h(user)), 201)

    def act(self, user: str, incident_id: str, action: str, **payload: str) -> dict:
        r = self.client.post(
            f"/api/v1/incidents/{incident_id}/actions",
            json={"action": action, **payload},
            headers=self._h(user),
        )
        return self._ok(r)

    def stats(self, user: str) -> dict:
        return self._ok(self.client.get(f"/api/v1/stats?community={SGS}", headers=self._h(user)))

    def publish(self, number: int) -> int:
        r = self.client.post(f"/api/v1/communities/{SGS}/versions/{number}/publish", headers=self._h("admin"))
        return int(self._ok(r)["number"])

    def locate(self, lon: float, lat: float) -> dict:
        return self._ok(self.client.get(f"/api/v1/locate?lon={lon!r}&lat={lat!r}", headers=self._h("admin")))

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.app.state.service.engine.dispose()


class CliFace:
    """The ``weiwang`` command line (in process, as ``CliRunner`` runs it)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, *args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "--url", self.url])
        assert result.exit_code == 0, result.output
        return result.output

    def report(self, user: str, lon: float, lat: float, crs: str, category: str, text: str) -> dict:
        out = self._run(
            "report", "--as", user, "--lon", repr(lon), "--lat", repr(lat), "--crs", crs,
            "--category", category, "--description", text,
        )  # fmt: skip
        return json.loads(out)

    def act(self, user: str, incident_id: str, action: str, **payload: str) -> dict:
        params = [x for k, v in payload.items() for x in ("--param", f"{k}={v}")]
        return json.loads(self._run("act", incident_id, action, "--as", user, *params))

    def stats(self, user: str) -> dict:
        return json.loads(self._run("stats", "--as", user, "--community", SGS))

    def publish(self, number: int) -> int:
        out = self._run("publish", "--community", SGS, "--version", str(number))
        assert f"第 {number} 版" in out
        return number

    def locate(self, lon: float, lat: float) -> dict:
        return json.loads(self._run("locate", "--lon", repr(lon), "--lat", repr(lat)))

    def close(self) -> None:
        pass


FACES = {"ops": OpsFace, "http": HttpFace, "cli": CliFace}


def _moved_layer(url: str) -> tuple[list[Grid], Any]:
    """Version 1's grids with part of A given to B, and a point in that part."""
    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            v = published_version(conn, SGS)
            assert v is not None
            grids = load_grids(conn, v.id)
    finally:
        engine.dispose()
    by = {g.code: g for g in grids}
    piece = by[A].geometry.intersection(by[B].geometry.buffer(BUFFER_DEG))
    a2, b2 = by[A].geometry.difference(piece), by[B].geometry.union(piece)
    new = {A: a2, B: b2}
    moved = [dataclasses.replace(g, geometry=new[g.code]) if g.code in new else g for g in grids]
    return moved, piece.representative_point()


def _draft(url: str, grids: list[Grid]) -> int:
    engine = db.make_engine(url)
    try:
        result = import_grids(engine, grids, SGS, commit=True, source="test_faces")
    finally:
        engine.dispose()
    assert result.committed
    return int(result.version_number)


def run_scenario(face: Face, url: str) -> list[tuple]:
    """The scenario table; returns the facts every face must agree on."""
    grids, moved_pt = _moved_layer(url)
    micro_a = next(g for g in grids if g.code == A)
    inside = micro_a.geometry.representative_point()
    glon, glat = from_wgs84(inside.x, inside.y, "gcj02")
    trace: list[tuple] = []

    inc = face.report("dispatcher", float(glon), float(glat), "gcj02", "安全隐患", "井盖缺失")
    handler = inc["assignee"]["person_id"]
    trace.append(("report", inc["grid"]["micro_code"], inc["state"], inc["assignee"]["role"]))
    trace.append(("stats open", {r["key"]: r for r in face.stats("dispatcher")["items"]}[SGS]["open"]))
    # re-assign to the same micro-grid's worker (交办 again), then the loop to 结案
    inc = face.act("dispatcher", inc["id"], "assign", assignee_id=handler, note="复核后交办")
    trace.append(("assign", inc["state"], inc["assignee"]["person_id"] == handler))
    inc = face.act(handler, inc["id"], "start")
    trace.append(("start", inc["state"]))
    inc = face.act(handler, inc["id"], "feedback", note="已补装井盖")
    trace.append(("feedback", inc["state"], inc["feedback_note"]))
    inc = face.act("dispatcher", inc["id"], "verify_pass")
    trace.append(("verify", inc["state"]))
    rows = {r["key"]: r for r in face.stats("dispatcher")["items"]}
    s = rows[SGS]
    trace.append(("stats", s["open"], s["overdue"], s["rework"]))

    before = face.locate(inside.x, inside.y)
    trace.append(("locate v1", before["micro_code"], before["version"]["number"]))
    number = _draft(url, grids)
    trace.append(("publish", face.publish(number)))
    after = face.locate(moved_pt.x, moved_pt.y)
    trace.append(("locate v2", after["micro_code"], after["version"]["number"], after["version"]["state"]))
    return trace


EXPECTED = [
    ("report", A, "已交办", "微网格员"),
    ("stats open", 1),
    ("assign", "已交办", True),
    ("start", "处置中"),
    ("feedback", "已反馈", "已补装井盖"),
    ("verify", "已结案"),
    ("stats", 0, 0, 0),
    ("locate v1", A, 1),
    ("publish", 2),
    ("locate v2", B, 2, "published"),
]


@pytest.fixture
def accounts_url(seeded_url: str) -> str:
    """The seeded database with the demo accounts (as ``weiwang serve`` prepares it)."""
    from api.ops.accounts import prepare_database

    prepare_database(Settings(database_url=seeded_url))
    return seeded_url


@pytest.fixture(params=sorted(FACES))
def face(request: pytest.FixtureRequest, accounts_url: str) -> Iterator[tuple[Face, str]]:
    f = FACES[request.param](accounts_url)
    try:
        yield f, accounts_url
    finally:
        f.close()


def test_every_face_gives_the_same_answers(face: tuple[Face, str]) -> None:
    f, url = face
    assert run_scenario(f, url) == EXPECTED


def test_after_a_publish_cli_api_and_printed_sheet_answer_from_the_new_version(
    accounts_url: str, tmp_path: Path
) -> None:
    """Publish through the CLI a version that moves a boundary; the API (a running app that
    answered from version 1 before), the CLI and the printed sheet all answer from version 2."""
    seeded_url = accounts_url
    grids, pt = _moved_layer(seeded_url)
    http, cli_face = HttpFace(seeded_url), CliFace(seeded_url)
    try:
        assert (http.locate(pt.x, pt.y)["micro_code"], http.locate(pt.x, pt.y)["version"]["number"]) == (A, 1)
        number = _draft(seeded_url, grids)
        cli_face.publish(number)
        for answer in (http.locate(pt.x, pt.y), cli_face.locate(pt.x, pt.y)):
            assert (answer["micro_code"], answer["version"]["number"]) == (B, number)
        r = http.client.get(f"/maps/print/{SGS}.pdf", headers=http._h("dispatcher"))
        assert r.status_code == 200
        (tmp_path / "api.pdf").write_bytes(r.content)
        CliRunner().invoke(
            cli, ["print", "--community", SGS, "--out", str(tmp_path / "cli.pdf"), "--url", seeded_url]
        )
        for name in ("api.pdf", "cli.pdf"):
            text = subprocess.run(
                ["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert f"第 {number} 版（现行" in text, name
    finally:
        http.close()


def test_read_commands_never_seed_or_create_accounts(tmp_path: Path) -> None:
    """``weiwang versions``/``grids``/``print`` on an empty database leave it without communities or
    accounts (they used to load the sample data and the demo accounts as a side effect)."""
    from sqlalchemy import func, select

    from store.models import communities, users

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    runner = CliRunner()
    runner.invoke(cli, ["versions", "--community", SGS, "--url", url])
    runner.invoke(cli, ["grids", "--url", url])
    runner.invoke(cli, ["print", "--community", SGS, "--out", str(tmp_path / "x.pdf"), "--url", url])
    engine = db.make_engine(url)
    try:
        with db.read(engine) as conn:
            assert conn.execute(select(func.count()).select_from(communities)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(users)).scalar() == 0
    finally:
        engine.dispose()


def test_locate_names_a_level_it_does_not_have() -> None:
    """Guard for the table: the sample layer holds both micro-grids the scenario moves."""
    from api.ops.sources import load_source

    h = load_source().hierarchy
    assert h.get(A).level is Level.MICRO and h.get(B).level is Level.MICRO
    assert h.get(A).parent_code == h.get(B).parent_code
