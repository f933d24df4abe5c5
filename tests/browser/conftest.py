"""Browser test fixtures: the real app served by uvicorn on 127.0.0.1, headless Debian Chromium.

* ``live`` (session): ``api.http.app.create_app`` on a fresh SpatiaLite file seeded with the sample data
  (demo accounts included), served from a thread on a free loopback port.
* ``browser`` (session): ``/usr/bin/chromium`` through Playwright (never ``playwright install``).
* ``page``: a fresh context logged in as the dispatcher through the real ``/maps/login`` form; every
  request is recorded (``page.requests``), every dialog fails the test (``page.dialogs``), and the test
  ends by asserting no request left 127.0.0.1.

Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SANGENSONG = "510116004001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    """The running service: base URL and the app (for its context)."""

    base: str
    app: object


@contextmanager
def serving_app(app, name: str, start_timeout: float = 20) -> Iterator[Live]:
    """``app`` served by uvicorn from a thread on a free loopback port; on exit the server stops and
    the app's engine is disposed."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.service.engine.dispose()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from api.http.app import create_app
    from api.settings import Settings

    db_file = tmp_path_factory.mktemp("browser-db") / "weiwang.sqlite"
    settings = Settings(database_url=f"sqlite:///{db_file}", secret_key="browser-test", version_poll_s=0.0)
    with serving_app(create_app(settings, prepare=True), "uvicorn-browser-tests") as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (scripts/install-system.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login(
    page, base: str, username: str = "dispatcher", password: str = "dispatch-demo", next_path: str = ""
) -> None:
    """Log in through the real login page; lands on ``next_path`` (or /maps/)."""
    page.goto(f"{base}/maps/login?next={quote(next_path or '/maps/', safe='/')}")
    page.fill("#ww-username", username)
    page.fill("#ww-password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def off_loopback(urls: list[str]) -> list[str]:
    """URLs whose host is not 127.0.0.1 (data: and about: URLs are no requests to a host)."""
    out = []
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in ("data", "about", "blob"):
            continue
        if parts.hostname != "127.0.0.1":
            out.append(u)
    return out


@pytest.fixture
def page(browser, live: Live, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.requests = []
    pg.dialogs = []
    pg.errors = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))

    def on_dialog(d) -> None:
        pg.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    login(pg, live.base)
    try:
        yield pg
        assert pg.dialogs == [], f"a dialog fired: {pg.dialogs}"
        assert pg.errors == [], f"JavaScript errors: {pg.errors}"
        assert off_loopback(pg.requests) == [], "requests left 127.0.0.1"
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def until(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JS expression until truthy. (Playwright's ``wait_for_function`` polls with ``eval``,
    which the pages' Content-Security-Policy forbids; ``page.evaluate`` goes through CDP.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def wait_loaded(page) -> None:
    until(page, "window.wwLoaded === true")
