"""API fixtures: the real app on a fresh seeded database (SpatiaLite and PostGIS), a clock tests
can move, and logged-in clients for the demo accounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now = self.now + timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # 10:00 Beijing time


@pytest.fixture
def app(seeded_url: str, clock: Clock):
    from api.http.app import create_app
    from api.settings import Settings

    settings = Settings(database_url=seeded_url, secret_key="test-secret", version_poll_s=0.0)
    application = create_app(settings, prepare=True, clock=clock)
    yield application
    application.state.service.engine.dispose()


class Api:
    """A TestClient that logs in as demo users and keeps their tokens."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    def token(self, username: str, password: str | None = None) -> str:
        if username not in self._tokens:
            pw = password or {
                "admin": "admin-demo",
                "dispatcher": "dispatch-demo",
                "planner": "planner-demo",
                "viewer": "viewer-demo",
            }.get(username, "worker-demo")
            r = self.client.post("/api/v1/auth/login", json={"username": username, "password": pw})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def get(self, url: str, user: str = "dispatcher", **kw):
        return self.client.get(url, headers=self.as_(user), **kw)

    def post(self, url: str, user: str = "dispatcher", **kw):
        return self.client.post(url, headers=self.as_(user), **kw)


@pytest.fixture
def api(app) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client)
