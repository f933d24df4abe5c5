"""Property-based run of the OpenAPI spec (schemathesis): no input makes the service answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api_fixtures import Api

SPATIALITE_ONLY = pytest.mark.parametrize("db_template", ["spatialite"], indirect=True)


@SPATIALITE_ONLY
def test_no_input_gives_a_server_error(api: Api) -> None:
    app = api.client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = api.as_("admin")
    checked = 0
    failures: list[str] = []
    for op_result in schema.get_all_operations():
        operation = op_result.ok()
        if operation.path == "/api/v1/auth/login":
            continue  # would throttle the account the run uses

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}"
                )

        run()
        checked += 1
    assert checked >= 8
    assert failures == []
