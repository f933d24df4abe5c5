"""The layer-file limit settings default to :class:`store.files.limits.Limits`' own defaults.

``api.settings`` writes them out instead of reading ``Limits()``: importing ``store.files`` loads
GDAL (~0.2 s), which the commands that open their service with ``files=False`` skip on purpose, and
``Settings`` is built in every process. This keeps the two copies equal."""

from __future__ import annotations

import pytest

from api.settings import Settings
from store.files.limits import Limits


def test_layer_limit_settings_default_to_the_store_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"WEIWANG_{name.upper()}", raising=False)
    assert Settings(secret_key="x").layer_limits() == Limits()
    assert Settings(secret_key="x", max_features=50_000).layer_limits().max_features == 50_000
