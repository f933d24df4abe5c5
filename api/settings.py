"""Typed settings, all from ``WEIWANG_*`` environment variables; tests build them explicitly."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.tolerances import DEFAULT_SNAP_M

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Service settings. ``database_url`` None means the embedded SpatiaLite file."""

    model_config = SettingsConfigDict(env_prefix="WEIWANG_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = REPO_ROOT / "data" / "boundaries"
    #: Load the sample communities (and the demo accounts) into an empty database on start.
    seed_sample: bool = True
    #: HMAC key for bearer tokens; random per process unless set (set it when running --workers > 1).
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    token_ttl_s: int = 8 * 3600
    max_body_bytes: int = 1_000_000
    #: Layer uploads (multipart) may be this large; other bodies stay under ``max_body_bytes``.
    max_upload_bytes: int = 50 * 2**20
    max_json_depth: int = 20
    max_batch_points: int = 10_000
    snap_tolerance_m: float = DEFAULT_SNAP_M
    #: How often a worker checks for a newly published grid version (seconds).
    version_poll_s: float = 0.5
    login_max_failures: int = 5
    login_window_s: int = 300
    basemap: str = "none"
    tianditu_key: str = ""
