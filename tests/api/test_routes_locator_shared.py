"""One locator per machine, swapped at publish: ``weiwang serve --workers 2`` shares one stored
locator (``WEIWANG_LOCATOR_DIR``); after a publish the workers' background watcher loads the new
version's locator — built once for the machine, by a watcher, not by a request — and every request
then answers with the new version, from both workers."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from api.ops.service import WATCHER_THREAD
from geo.hierarchy import Level
from tests.api.test_routes_workers import _call, _locate_on_fresh_connection
from tests.served import served

SANGENSONG = "510116004001"


def _built(folder: Path) -> dict[str, dict]:
    """Stored locators (key → who built it), complete ones only."""
    out = {}
    for d in folder.iterdir():
        if d.is_dir() and (d / "meta.json").is_file() and (d / "built.json").is_file():
            out[d.name] = json.loads((d / "built.json").read_text())
    return out


def _wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_publish_swaps_the_shared_locator_without_a_request_building_it(
    seeded_url: str, tmp_path: Path
) -> None:
    from store import db
    from store.grids import load_grids
    from store.importing import import_grids
    from store.versions import publish, published_version

    locators = tmp_path / "locators"
    env = {"WEIWANG_VERSION_POLL_S": "0.3", "WEIWANG_LOCATOR_DIR": str(locators)}
    with served(seeded_url, workers=2, host=None, env=env) as srv:
        port = srv.port
        engine = db.make_engine(seeded_url)
        try:
            workers = srv.workers(2, timeout=30)
            assert len(workers) == 2, f"2 workers, found {workers}"
            first = _wait_for(lambda: _built(locators), 30, "no locator stored at start-up")
            assert len(first) == 1  # two workers, one build
            token = _call(
                port, "POST", "/api/v1/auth/login", {"username": "dispatcher", "password": "dispatch-demo"}
            )["access_token"]
            with db.read(engine) as conn:
                v1 = published_version(conn, SANGENSONG)
                assert v1 is not None
                grids = load_grids(conn, v1.id)
            target = next(g for g in grids if g.level is Level.MICRO)
            pt = target.geometry.representative_point()
            lon, lat = float(pt.x), float(pt.y)
            new_name = f"{target.name}（新版）"
            changed = [dataclasses.replace(g, name=new_name) if g is target else g for g in grids]
            draft = import_grids(engine, changed, SANGENSONG, commit=True, source="test_locator_shared")
            with db.write(engine) as conn:
                publish(conn, SANGENSONG, draft.version_number)
            # No request is made until the new locator is stored: only a watcher can have built it.
            built = _wait_for(lambda: (b := _built(locators)) and len(b) == 2 and b, 60, "no new locator")
            (new_key,) = set(built) - set(first)
            assert built[new_key]["thread"] == WATCHER_THREAD and built[new_key]["pid"] in workers
            with ThreadPoolExecutor(8) as pool:
                answers = list(
                    pool.map(lambda _: _locate_on_fresh_connection(port, token, lon, lat, workers), range(40))
                )
            seen = {(a["version"]["number"], a["micro_code"], a["micro_name"]) for a, _ in answers}
            assert seen == {(draft.version_number, target.code, new_name)}
            assert {pid for _, pid in answers} == set(workers)
            assert len(_built(locators)) == 2  # answering built nothing more
        finally:
            engine.dispose()
