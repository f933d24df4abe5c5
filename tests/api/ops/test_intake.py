"""Intake on a new site (both databases): before any layer is published a report is refused with
a message that says so, not one about the report's time."""

from __future__ import annotations

import pytest

from api.ops.access import User
from api.ops.intake import prepare_report
from api.ops.service import Service
from api.settings import Settings
from dispatch import AppRole
from geo.errors import InvalidCoordinates


def test_report_before_the_first_publish_names_the_missing_layer(engine, db_url: str) -> None:
    service = Service(Settings(database_url=db_url), engine)
    user = User(1, "dispatcher", AppRole.DISPATCHER, None)
    body = {"lon": 104.08, "lat": 30.41, "category": "安全隐患", "description": "井盖缺失"}
    with pytest.raises(InvalidCoordinates) as err:
        prepare_report(service, user, body)
    assert "尚无已发布的网格版本" in err.value.zh and err.value.field == "lon"
