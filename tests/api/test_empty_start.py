"""A new site starts from nothing: ``weiwang serve`` on an empty database with sample seeding off
answers /health, the login page and the map index ("尚无已发布的网格"); the first admin comes from
``weiwang users add``; that admin adds a planner through the API, who uploads and publishes the
first layer; then a point is located in it. Real processes on SpatiaLite and PostGIS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLE_DIR
from tests.served import served

REPO = Path(__file__).resolve().parents[2]
WEIWANG = str(Path(sys.executable).parent / "weiwang")
SGS = "510116004001"
ADMIN_PW = "first-admin-pw"


@contextmanager
def serving(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """``weiwang serve`` on ``url`` with seeding off: (base URL, its environment)."""
    with served(url, workers=None, seed=False, env={"WEIWANG_VERSION_POLL_S": "0.5"}) as srv:
        yield srv.base_url, srv.env


@pytest.fixture
def empty_server(db_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """``weiwang serve`` on a fresh empty (migrated) database, seeding off."""
    with serving(db_url) as served:
        yield served


def test_serve_creates_a_missing_spatialite_file(tmp_path: Path) -> None:
    """No database at all: serve migrates a new file and answers, with nothing published."""
    target = tmp_path / "new-site.sqlite"
    with serving(f"sqlite:///{target}") as (base, _env):
        assert httpx.get(f"{base}/health").json()["published_versions"] == []
        assert httpx.get(f"{base}/maps/login").status_code == 200
    assert target.exists()


def _sgs_layer() -> bytes:
    fc = json.loads((SAMPLE_DIR / "grids.geojson").read_text(encoding="utf-8"))
    fc["features"] = [f for f in fc["features"] if f["properties"]["community_code"] == SGS]
    return json.dumps(fc, ensure_ascii=False).encode()


def test_a_new_site_starts_from_nothing(empty_server: tuple[str, dict[str, str]]) -> None:
    base, env = empty_server
    with httpx.Client(base_url=base, timeout=60) as http:
        health = http.get("/health").json()
        assert health == {"status": "ok", "database": health["database"], "published_versions": []}
        assert "登录" in http.get("/maps/login").text
        assert http.get("/maps/", follow_redirects=False).status_code == 303
        # No account exists yet: nobody can log in.
        assert (
            http.post("/api/v1/auth/login", json={"username": "admin", "password": "admin-demo"}).status_code
            == 401
        )

        added = subprocess.run(
            [WEIWANG, "users", "add", "root", "--role", "admin", "--password-stdin"],
            env=env,
            cwd=REPO,
            input=ADMIN_PW + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert added.returncode == 0, added.stderr
        assert ADMIN_PW not in added.stdout + added.stderr

        login = http.post("/api/v1/auth/login", json={"username": "root", "password": ADMIN_PW})
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        index = http.get("/maps/", headers={"Cookie": f"weiwang_token={login.json()['access_token']}"})
        assert index.status_code == 200 and "尚无已发布的网格" in index.text
        assert http.get("/api/v1/locate?lon=104.0&lat=30.6", headers=admin).status_code == 404
        # Lists are empty, not "not found", before the first publish.
        assert http.get("/api/v1/incidents", headers=admin).json()["items"] == []
        assert http.get("/api/v1/supervision", headers=admin).json()["items"] == []

        planner = {"username": "planner1", "password": "planner-pass", "role": "规划员"}
        assert http.post("/api/v1/users", headers=admin, json=planner).status_code == 201
        token = http.post("/api/v1/auth/login", json={"username": "planner1", "password": "planner-pass"})
        as_planner = {"Authorization": f"Bearer {token.json()['access_token']}"}

        files = {"file": ("sgs.geojson", _sgs_layer(), "application/geo+json")}
        up = http.post(
            f"/api/v1/communities/{SGS}/drafts", headers=as_planner, files=files, data={"commit": "true"}
        )
        assert up.status_code == 200, up.text
        assert up.json()["committed"] is True and up.json()["version_number"] == 1
        pub = http.post(f"/api/v1/communities/{SGS}/versions/1/publish", headers=as_planner)
        assert pub.status_code == 200, pub.text

        grids = http.get(f"/api/v1/communities/{SGS}/grids?level=micro", headers=admin).json()["features"]
        target = grids[0]
        from shapely.geometry import shape

        pt = shape(target["geometry"]).representative_point()
        found = http.get(f"/api/v1/locate?lon={pt.x!r}&lat={pt.y!r}", headers=admin)
        assert found.status_code == 200, found.text
        assert found.json()["micro_code"] == target["properties"]["code"]
        assert found.json()["version"]["number"] == 1
        assert http.get("/health").json()["published_versions"]
        index = http.get("/maps/", headers={"Cookie": f"weiwang_token={login.json()['access_token']}"})
        assert "三根松社区" in index.text and "尚无已发布的网格" not in index.text
