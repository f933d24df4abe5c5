"""Fault drill as a test (issue 14, item 5): PostgreSQL restarted under incident load. A real
``weiwang serve`` (two workers) on PostGIS takes reports from four clients at a steady rate while
the cluster is stopped and started again. While it is down every answer is 201 or a 503
``database_unavailable`` with a Chinese and English message and ``Retry-After`` — never a 500 or a
hang; every report sent after PostgreSQL accepts connections again is a 201 (recovery well within
5 s); every report answered 201 is in the database afterwards. The drill itself is
``bench/drills/pg_restart.py``."""

from __future__ import annotations

import os

import pytest

from bench.drills.pg_restart import drill


@pytest.mark.postgis
def test_postgresql_restart_under_incident_load() -> None:
    if os.environ.get("WEIWANG_TEST_POSTGIS", "").lower() == "skip":
        pytest.skip("WEIWANG_TEST_POSTGIS=skip (local development only; fails in CI)")
    result = drill(rate=16, clients=4, warm_s=2, down_s=2, after_s=5, workers=2)
    summary = result.summary()
    print(summary)
    assert result.problems() == [], summary
    down = result.during()
    # The drill really ran through an outage: reports were refused with 503 while it was down …
    assert sum(s.status == 503 for s in down) >= 5, summary
    assert all(s.code == "database_unavailable" and s.message_zh for s in down if s.status == 503)
    assert all(s.retry_after == "1" for s in down if s.status == 503)
    # … and accepted again at once when it was back, every one stored.
    after = result.after()
    assert len(after) >= 20 and all(s.status == 201 for s in after), summary
    assert result.recovery_s() <= 5.0
    accepted = [s for s in result.sent if s.status == 201]
    assert len(accepted) >= 40 and result.missing == [], summary
