"""A draft redrawn through one worker of ``weiwang serve --workers 2`` is what the other worker
serves at once (SpatiaLite and PostGIS): every worker keeps its own built layers
(:class:`store.inforce.LayersInForce`), and a draft's view is checked against the stored revision
on every read. Each face that reads a draft's view is asked — the /api/v1 grids and diff of the
draft, the planner's plan endpoint with its impact and the planner's page — on concurrent
connections until the worker that did not make the change has answered (found from /proc)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.test_routes_drafts import M1, split_wkt
from tests.api.test_routes_ogc_workers import _new_draft, _request, two_workers  # noqa: F401 (the fixture)

C = "510116004001"
BASE = f"/api/v1/communities/{C}"
TRIES = 30  # pairs of concurrent requests before giving up on reaching the other worker


def _html(port: int, path: str, token: str, workers: list[int], barrier: threading.Barrier):
    """A page (not JSON): status, body text and the worker that answered."""
    import http.client

    from tests.api.test_routes_workers import _owner

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.connect()
        barrier.wait(timeout=30)
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        text = r.read().decode()
        assert conn.sock is not None
        return r.status, text, _owner(port, conn.sock.getsockname()[1], workers)
    finally:
        conn.close()


def _on_both(
    port: int,
    workers: list[int],
    token: str,
    path: str,
    check: Callable[[Any], None],
    not_by: int | None,
    *,
    page: bool = False,
) -> None:
    """GET ``path`` in concurrent pairs; ``check`` every answer; stop once a worker other than
    ``not_by`` (None: each of the two) has answered."""
    seen: set[int] = set()
    want = set(workers) - {not_by} if not_by is not None else set(workers)
    for _ in range(TRIES):
        barrier = threading.Barrier(2)

        def get(_i: int, barrier: threading.Barrier = barrier) -> tuple[int, Any, int | None]:
            if page:
                return _html(port, path, token, workers, barrier)
            status, _, body, by = _request(port, "GET", path, token, workers=workers, barrier=barrier)
            return status, body, by

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(get, range(2)))
        for status, body, by in answers:
            assert status == 200, (path, status, body)
            check(body)
            if by is not None:
                seen.add(by)
        if want <= seen:
            return
    raise AssertionError(f"{path}: answered only by {seen}, never by {want - seen}")


def _name_in_grids(name: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        names = {f["properties"]["code"]: f["properties"]["name"] for f in body["features"]}
        assert names[M1] == name, (names[M1], name)

    return check


def test_a_draft_changed_on_one_worker_is_served_fresh_by_the_other(
    two_workers: tuple[int, list[int]],  # noqa: F811
) -> None:
    port, workers = two_workers
    assert len(workers) == 2
    token, n = _new_draft(port, C)
    grids = f"{BASE}/grids?version={n}"
    diff = f"{BASE}/diff?from=1&to={n}"
    plan = f"{BASE}/drafts/{n}/plan?impact=true"

    # both workers build and keep the draft as it is now
    status, _, before, _ = _request(port, "GET", f"{grids}&level=micro", token)
    original = next(f["properties"]["name"] for f in before["features"] if f["properties"]["code"] == M1)
    _on_both(port, workers, token, grids, _name_in_grids(original), None)
    _on_both(port, workers, token, diff, lambda b: None, None)
    _on_both(port, workers, token, plan, lambda b: None, None)

    # a rename through one worker: the other serves the new name at once (no poll to wait for)
    status, _, renamed, by = _request(
        port, "POST", f"{BASE}/drafts/{n}/rename", token, {"grid": M1, "name": "跨进程新名"}, workers=workers
    )
    assert status == 200, renamed
    _on_both(port, workers, token, grids, _name_in_grids("跨进程新名"), by)

    def renamed_in_diff(body: Any) -> None:
        changed = {g["code"]: g for g in body["grids"]}
        assert M1 in changed, body["summary"]

    _on_both(port, workers, token, diff, renamed_in_diff, by)

    # a split through one worker: the other's impact preview lists the grids it added
    status, _, split, by = _request(
        port, "POST", f"{BASE}/drafts/{n}/split", token, {"grid": M1, "line": split_wkt()}, workers=workers
    )
    assert status == 200, split
    added = sorted(split["operation"]["added"])
    assert added

    def split_in_plan(body: Any) -> None:
        assert sorted(body["impact"]["grids_added"]) == added, body["impact"]["grids_added"]
        assert M1 in body["impact"]["grids_removed"]
        assert {f["properties"]["code"] for f in body["grids"]["features"]} >= set(added)

    _on_both(port, workers, token, plan, split_in_plan, by)
    _on_both(port, workers, token, f"{grids}&level=micro", lambda b: _has(b, added, M1), by)

    # the planner's page of the draft on the other worker shows the split too
    def split_on_page(text: str) -> None:
        assert all(code in text for code in added)

    _on_both(port, workers, token, f"/maps/plan/{C}?version={n}", split_on_page, by, page=True)

    # an undo through one worker (only the undone count changes): the other serves M1 again
    status, _, undone, by = _request(port, "POST", f"{BASE}/drafts/{n}/undo", token, workers=workers)
    assert status == 200, undone
    _on_both(port, workers, token, f"{grids}&level=micro", _name_in_grids("跨进程新名"), by)

    def undone_in_plan(body: Any) -> None:
        assert body["impact"]["grids_added"] == [] and body["impact"]["grids_removed"] == []

    _on_both(port, workers, token, plan, undone_in_plan, by)


def _has(body: Any, codes: list[str], gone: str) -> None:
    found = {f["properties"]["code"] for f in body["features"]}
    assert set(codes) <= found and gone not in found, sorted(found)
