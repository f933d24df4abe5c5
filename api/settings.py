"""Typed settings, all from ``WEIWANG_*`` environment variables; tests build them explicitly."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.tolerances import DEFAULT_SNAP_M

if TYPE_CHECKING:
    from store.files.limits import Limits

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
    #: Budget of one heavy job (an upload's reading, validation and import) run in its own process
    #: (:mod:`api.ops.jobs`): killed after this many seconds, or refused beyond this address space.
    job_timeout_s: float = 120.0
    job_memory_mb: int = 2048
    #: On SIGTERM, requests still running after this many seconds are cancelled (their jobs killed).
    shutdown_grace_s: float = 3.0
    max_json_depth: int = 20
    max_batch_points: int = 10_000
    snap_tolerance_m: float = DEFAULT_SNAP_M
    #: A report outside every grid but this close to a community waits in its 研判 queue (metres).
    queue_radius_m: float = 2000.0
    #: How far in the future a report's ``reported_at`` may lie (phones' clock skew, minutes).
    future_slack_min: float = 10.0
    #: How often a worker checks for a newly published grid version (seconds).
    version_poll_s: float = 0.5
    #: Group commit of intake (:mod:`api.ops.intake_batch`): reports arriving together in a worker
    #: are written in one transaction by a writer thread (one commit, one fsync), each answered 201
    #: only after that commit; at most ``intake_batch_max`` per transaction, collected for up to
    #: ``intake_batch_window_ms`` after the first (0: whatever queued while the last one was written).
    #: ``WEIWANG_INTAKE_BATCH=false``: each report its own transaction on the event loop, as before.
    intake_batch: bool = True
    intake_batch_max: int = Field(default=64, ge=1, le=1000)
    intake_batch_window_ms: float = Field(default=0.0, ge=0.0, le=20.0)
    login_max_failures: int = 5
    login_window_s: int = 300
    #: OGC API – Features serves the grid layers, elements and party organisations without a token
    #: (GIS clients cannot easily send one); drafts and incidents always need one.
    ogc_public: bool = True
    basemap: str = "none"
    tianditu_key: str = ""
    #: Web maps with more micro-grids than this draw the grids from vector tiles (``/tiles``)
    #: instead of embedding them as GeoJSON (:mod:`api.ops.tiles`).
    map_tiles_above: int = 2_000
    #: Layer-file limits (:class:`store.files.limits.Limits`), the same for uploads and the CLI
    #: (``weiwang import``/``validate``); the file size limit is ``max_upload_bytes``. The defaults
    #: are ``Limits()``'s, written out: importing ``store.files`` here would load GDAL in every
    #: process, also those that skip it (``files=False``); tests/api/ops/test_settings_limits.py
    #: keeps the two equal.
    max_features: int = 20_000
    max_vertices: int = 2_000_000
    max_vertices_per_feature: int = 100_000
    max_zip_members: int = 200
    max_unzipped_bytes: int = 200 * 2**20
    max_string_chars: int = 2_000
    max_properties: int = 500
    max_property_bytes: int = 64 * 2**10
    max_layer_nesting: int = 32
    #: Built point locators, shared by every worker of the machine as memory-mapped files (one
    #: folder per grid content; :mod:`store.files.locatorfile`). None: each process builds its own.
    locator_dir: Path | None = REPO_ROOT / "data" / "locators"

    @field_validator("locator_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        """``WEIWANG_LOCATOR_DIR=`` (empty) means none, not the current directory."""
        return None if isinstance(v, str) and not v.strip() else v

    def layer_limits(self, **overrides: int) -> Limits:
        """The :class:`~store.files.limits.Limits` these settings give, with ``overrides`` (a CLI
        flag such as ``--max-features``) on top; store/files readers take it as an argument."""
        from store.files.limits import Limits

        values = {
            "max_bytes": self.max_upload_bytes,
            "max_features": self.max_features,
            "max_vertices": self.max_vertices,
            "max_vertices_per_feature": self.max_vertices_per_feature,
            "max_zip_members": self.max_zip_members,
            "max_unzipped_bytes": self.max_unzipped_bytes,
            "max_string_chars": self.max_string_chars,
            "max_properties": self.max_properties,
            "max_property_bytes": self.max_property_bytes,
            "max_nesting": self.max_layer_nesting,
        }
        return Limits(**(values | overrides))
