"""The map pages' Content-Security-Policy, exactly: this origin only (scripts and styles inline
included, nothing from elsewhere), images also from the basemap's tile hosts, and nothing wider."""

from __future__ import annotations

from pathlib import Path

from api.http.routes_maps import csp

NO_BASEMAP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; form-action 'self'"
)


def test_without_a_basemap_everything_comes_from_this_origin() -> None:
    assert csp() == NO_BASEMAP


def test_a_tile_host_is_allowed_for_images_only() -> None:
    hosts = ("t0.tianditu.gov.cn", "t1.tianditu.gov.cn")
    assert csp(hosts) == NO_BASEMAP.replace(
        "img-src 'self' data:;", "img-src 'self' data: https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn;"
    )


def test_the_login_page_carries_it(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}", secret_key="k"))
    r = TestClient(app).get("/maps/login")
    assert r.status_code == 200 and r.headers["content-security-policy"] == NO_BASEMAP
