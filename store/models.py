"""The schema: SQLAlchemy Core tables, identical on SpatiaLite and PostGIS.

The Alembic migrations in ``store/migrations/versions`` create exactly these tables (a test compares
them). Geometry columns are SRID 4326 (WGS84 lon/lat); shapely objects cross this boundary only in
:mod:`store.shapes`. Times are stored in UTC (:class:`UTCDateTime`) and come back timezone-aware.

Grid layers are versioned like MapIt generations: each ``layer_versions`` row is one community's
layer, ``draft`` → ``published`` → ``retired``; grids and elements belong to one version and are
never changed once written. Validity is the half-open interval ``[valid_from, valid_to)``.
People, posts and party organisations refer to grids by **code**, which is stable across versions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: Version states.
DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
VERSION_STATES = (DRAFT, PUBLISHED, RETIRED)
GRID_LEVELS = ("community", "general", "micro")
ROLES = ("总网格长", "一般网格员", "微网格长", "微网格员")
APP_ROLES = ("规划员", "调度员", "网格员", "查看者", "admin")
INCIDENT_CATEGORIES = ("综合维稳", "矛盾纠纷", "安全隐患", "应急管理风险隐患", "群众诉求")
INCIDENT_STATES = (
    "已上报",
    "已受理",
    "已交办",
    "处置中",
    "已反馈",
    "核查",
    "已结案",
    "缓办",
    "已合并",
    "无效",
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC; naive input is taken as UTC; output is always timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC before storing: comparisons in SQL are
    then correct on both engines.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _bbox() -> list[Column[Any]]:
    """Bounding-box columns: a portable, index-free prefilter before exact spatial predicates."""
    return [Column(n, Float, nullable=False) for n in ("minx", "miny", "maxx", "maxy")]


def _geom(kind: str, nullable: bool = False) -> Column[Any]:
    return Column("geom", Geometry(kind, srid=4326, spatial_index=True), nullable=nullable)


communities = Table(
    "communities",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(8), nullable=False, server_default="社区"),
    Column("created_at", UTCDateTime, nullable=False),
)

layer_versions = Table(
    "layer_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_code", String(12), ForeignKey("communities.code"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(10), nullable=False, server_default=DRAFT),
    Column("valid_from", UTCDateTime),
    Column("valid_to", UTCDateTime),
    Column("author", String(100), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("source", String(500), nullable=False, server_default=""),
    Column("source_crs", String(100), nullable=False, server_default=""),
    #: geo.validate.summarize() of the findings at import, plus the findings themselves.
    Column("validation", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    #: Who published the version and when (the transaction's clock; ``valid_from`` may differ).
    Column("published_by", String(100)),
    Column("published_at", UTCDateTime),
    #: Set when blocking findings were overridden at publish: the reason given and those findings.
    Column("override_reason", Text),
    Column("override_findings", JSON),
    UniqueConstraint("community_code", "number"),
    CheckConstraint(_in("state", VERSION_STATES), name="state"),
    CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="valid_range"),
    # Exactly one published version per community at any instant (the database enforces "at most").
    Index(
        "uq_layer_versions_one_published",
        "community_code",
        unique=True,
        sqlite_where=text("state = 'published'"),
        postgresql_where=text("state = 'published'"),
    ),
)

grids = Table(
    "grids",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("layer_versions.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("level", String(10), nullable=False),
    Column("kind", String(10)),
    Column("name", String(200), nullable=False, server_default=""),
    Column("parent_code", String(32)),
    Column("community_code", String(12)),
    Column("households", Integer),
    #: Geodesic area on the WGS84 ellipsoid (pyproj.Geod), computed once at the shapely seam.
    Column("area_m2", Float, nullable=False),
    *_bbox(),
    _geom("GEOMETRY"),
    UniqueConstraint("version_id", "code"),
    Index(None, "version_id", "level"),
    #: A tile's rows of one version and level within a box, filtered in the index (migration 0006).
    Index(None, "version_id", "level", "minx", "maxx", "miny", "maxy"),
    CheckConstraint(_in("level", GRID_LEVELS), name="level"),
)

elements = Table(
    "elements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("layer_versions.id", ondelete="CASCADE"), nullable=False),
    Column("element_id", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("households", Integer, nullable=False, server_default="0"),
    Column("community_code", String(12)),
    #: The micro-grid of this version the element falls in (None for linear elements across grids).
    Column("micro_code", String(32)),
    *_bbox(),
    _geom("GEOMETRY"),
    UniqueConstraint("version_id", "element_id"),
    Index(None, "version_id", "micro_code"),
)

people = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(32)),
    Column("community_code", String(12), ForeignKey("communities.code")),
    Column("note", Text, nullable=False, server_default=""),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(64), ForeignKey("people.id"), nullable=False),
    Column("role", String(8), nullable=False),
    Column("grid_code", String(32), nullable=False),
    Column("community_code", String(12)),
    #: Half-open [valid_from, valid_to) in local dates; None = open-ended.
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("note", Text, nullable=False, server_default=""),
    CheckConstraint(_in("role", ROLES), name="role"),
    Index(None, "grid_code"),
    Index(None, "person_id"),
)

party_orgs = Table(
    "party_orgs",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("community_code", String(12), ForeignKey("communities.code"), nullable=False),
    Column("parent_code", String(64)),
    Column("element_id", String(64)),
)

party_org_grids = Table(
    "party_org_grids",
    metadata,
    Column("org_code", String(64), ForeignKey("party_orgs.code", ondelete="CASCADE"), primary_key=True),
    Column("grid_code", String(32), primary_key=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("app_role", String(8), nullable=False),
    Column("person_id", String(64), ForeignKey("people.id")),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("app_role", APP_ROLES), name="app_role"),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Index(None, "username", "at"),
)

time_limits = Table(
    "time_limits",
    metadata,
    Column("community_code", String(12), ForeignKey("communities.code"), primary_key=True),
    Column("category", String(16), primary_key=True),
    Column("hours", Integer, nullable=False),
    CheckConstraint("hours > 0", name="hours"),
)

#: One row per kind of reference data, bumped by triggers on its tables (migration 0007,
#: :mod:`store.changes`): what a running service polls to know when to reload.
change_counters = Table(
    "change_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("n", BigInteger, nullable=False, server_default="0"),
)

incidents = Table(
    "incidents",
    metadata,
    # The fields of dispatch.incident.Incident (same names; states and categories as Chinese values).
    Column("id", String(64), primary_key=True),
    Column("category", String(16), nullable=False),
    Column("state", String(8), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("reporter_id", String(64)),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("community_code", String(12), ForeignKey("communities.code")),
    Column("general_code", String(32)),
    Column("micro_code", String(32)),
    Column("lon", Float),
    Column("lat", Float),
    Column("address", String(200), nullable=False, server_default=""),
    Column("urgent", Boolean, nullable=False, server_default=false()),
    Column("assignee_id", String(64)),
    Column("assignee_role", String(8)),
    Column("assigned_grid_code", String(32)),
    Column("assigned_at", UTCDateTime),
    Column("limit_hours", Float),
    Column("deadline", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("feedback_by", String(64)),
    Column("feedback_at", UTCDateTime),
    Column("feedback_note", Text, nullable=False, server_default=""),
    Column("verifier_id", String(64)),
    Column("closed_at", UTCDateTime),
    Column("rework_count", Integer, nullable=False, server_default="0"),
    Column("deferred_from", String(8)),
    Column("deferred_at", UTCDateTime),
    Column("defer_reason", Text, nullable=False, server_default=""),
    Column("merged_into", String(64), ForeignKey("incidents.id")),
    Column("void_reason", Text, nullable=False, server_default=""),
    #: Optimistic concurrency: the seq of the last event; a transition must name the seq it read.
    Column("seq", Integer, nullable=False),
    # Storage-side facts: the point as reported (any CRS), its WGS84 geometry (lon/lat above), how
    # it was located and against which layer version (FixMyStreet keeps the report-time areas).
    Column("raw_lon", Float),
    Column("raw_lat", Float),
    Column("raw_crs", String(32)),
    _geom("POINT", nullable=True),
    Column("layer_version_id", Integer, ForeignKey("layer_versions.id")),
    Column("on_boundary", Boolean, nullable=False, server_default=false()),
    Column("snapped", Boolean, nullable=False, server_default=false()),
    Column("distance_m", Float),
    # A resident who reported without an account (phone masked for viewers: geo.roles.mask_phone).
    Column("resident_name", String(100)),
    Column("resident_phone", String(32)),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("category", INCIDENT_CATEGORIES), name="category"),
    CheckConstraint(_in("state", INCIDENT_STATES), name="state"),
    Index(None, "community_code", "state"),
    Index(None, "micro_code"),
    Index(None, "general_code"),
    Index(None, "assignee_id"),
)

incident_events = Table(
    "incident_events",
    metadata,
    # Append-only: the fields of dispatch.events.Event. ``before``/``after`` are the changed fields.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_state", String(8)),
    Column("to_state", String(8), nullable=False),
    Column("payload", JSON),
    Column("before", JSON),
    Column("after", JSON),
    UniqueConstraint("incident_id", "seq"),
)

audit_log = Table(
    "audit_log",
    metadata,
    # Append-only: who changed people, posts (定人定区) or accounts, when, and the values before/after.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity", String(16), nullable=False),
    Column("entity_id", String(128), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Index(None, "entity", "entity_id"),
    Index(None, "at"),
)

notices = Table(
    "notices",
    metadata,
    # In-app notices (督办 reaches its target): one row per recipient, read or not.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient_id", String(64), nullable=False),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    Index(None, "recipient_id", "read_at"),
)

draft_operations = Table(
    "draft_operations",
    metadata,
    # The undo log of a draft (issue 12): one row per redraw operation, in order. ``before_grids``
    # holds the grids the operation replaced (GeoJSON features), ``before_elements`` the elements'
    # micro-grid codes it changed; undo writes them back. ``added`` codes stay taken after an undo.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("layer_versions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("operation", String(32), nullable=False),
    Column("params", JSON),
    Column("removed", JSON),
    Column("added", JSON),
    Column("before_grids", JSON),
    Column("after_codes", JSON),
    Column("before_elements", JSON),
    Column("summary_zh", Text, nullable=False, server_default=""),
    Column("summary_en", Text, nullable=False, server_default=""),
    Column("author", String(100), nullable=False, server_default=""),
    Column("at", UTCDateTime, nullable=False),
    Column("undone_at", UTCDateTime),
    UniqueConstraint("version_id", "seq"),
)

incident_photos = Table(
    "incident_photos",
    metadata,
    # Photos of a report or a feedback, cleaned (store.files.images): EXIF gone but the orientation.
    # ``event_seq`` is the incident's event they belong to; they are served under the incident's
    # visibility rule.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("media_type", String(16), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("thumb", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "incident_id", "event_seq"),
)

household_bands = Table(
    "household_bands",
    metadata,
    # Households per grid a community plans for, by level (issue 12); absent: 30–100 per micro-grid.
    Column("community_code", String(12), ForeignKey("communities.code"), primary_key=True),
    Column("level", String(10), primary_key=True),
    Column("lo", Integer, nullable=False),
    Column("hi", Integer, nullable=False),
    CheckConstraint("lo >= 0 AND hi >= lo", name="range"),
    CheckConstraint(_in("level", ("general", "micro")), name="level"),
)
