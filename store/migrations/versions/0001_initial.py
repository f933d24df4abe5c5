"""Initial schema: communities, versioned grid layers, elements, people, party, incidents, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "communities",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="社区", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_communities")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_username_at"), ["username", "at"], unique=False)

    op.create_table(
        "layer_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="draft", nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author", sa.String(length=100), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("source", sa.String(length=500), server_default="", nullable=False),
        sa.Column("source_crs", sa.String(length=100), server_default="", nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'published', 'retired')", name=op.f("ck_layer_versions_state")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from",
            name=op.f("ck_layer_versions_valid_range"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["communities.code"],
            name=op.f("fk_layer_versions_community_code_communities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layer_versions")),
        sa.UniqueConstraint("community_code", "number", name=op.f("uq_layer_versions_community_code_number")),
    )
    with op.batch_alter_table("layer_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_layer_versions_one_published",
            ["community_code"],
            unique=True,
            sqlite_where=sa.text("state = 'published'"),
            postgresql_where=sa.text("state = 'published'"),
        )

    op.create_table(
        "party_orgs",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("element_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_code"], ["communities.code"], name=op.f("fk_party_orgs_community_code_communities")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_party_orgs")),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["community_code"], ["communities.code"], name=op.f("fk_people_community_code_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "time_limits",
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.CheckConstraint("hours > 0", name=op.f("ck_time_limits_hours")),
        sa.ForeignKeyConstraint(
            ["community_code"], ["communities.code"], name=op.f("fk_time_limits_community_code_communities")
        ),
        sa.PrimaryKeyConstraint("community_code", "category", name=op.f("pk_time_limits")),
    )
    op.create_geospatial_table(
        "elements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("micro_code", sa.String(length=32), nullable=True),
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["layer_versions.id"],
            name=op.f("fk_elements_version_id_layer_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elements")),
        sa.UniqueConstraint("version_id", "element_id", name=op.f("uq_elements_version_id_element_id")),
    )
    with op.batch_alter_table("elements", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_elements_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(
            batch_op.f("ix_elements_version_id_micro_code"), ["version_id", "micro_code"], unique=False
        )

    op.create_geospatial_table(
        "grids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=True),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("level IN ('community', 'general', 'micro')", name=op.f("ck_grids_level")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["layer_versions.id"],
            name=op.f("fk_grids_version_id_layer_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_grids_version_id_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_grids_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_grids_version_id_level"), ["version_id", "level"], unique=False)

    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("general_code", sa.String(length=32), nullable=True),
        sa.Column("micro_code", sa.String(length=32), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=200), server_default="", nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("assignee_role", sa.String(length=8), nullable=True),
        sa.Column("assigned_grid_code", sa.String(length=32), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limit_hours", sa.Float(), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_by", sa.String(length=64), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_note", sa.Text(), server_default="", nullable=False),
        sa.Column("verifier_id", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deferred_from", sa.String(length=8), nullable=True),
        sa.Column("deferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("defer_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("merged_into", sa.String(length=64), nullable=True),
        sa.Column("void_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("raw_lon", sa.Float(), nullable=True),
        sa.Column("raw_lat", sa.Float(), nullable=True),
        sa.Column("raw_crs", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("layer_version_id", sa.Integer(), nullable=True),
        sa.Column("on_boundary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("snapped", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("resident_name", sa.String(length=100), nullable=True),
        sa.Column("resident_phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('综合维稳', '矛盾纠纷', '安全隐患', '应急管理风险隐患', '群众诉求')",
            name=op.f("ck_incidents_category"),
        ),
        sa.CheckConstraint(
            "state IN ('已上报', '已受理', '已交办', '处置中', '已反馈', "
            "'核查', '已结案', '缓办', '已合并', '无效')",
            name=op.f("ck_incidents_state"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"], ["communities.code"], name=op.f("fk_incidents_community_code_communities")
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["layer_versions.id"],
            name=op.f("fk_incidents_layer_version_id_layer_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["incidents.id"], name=op.f("fk_incidents_merged_into_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_incidents_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_incidents_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_community_code_state"), ["community_code", "state"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incidents_general_code"), ["general_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_micro_code"), ["micro_code"], unique=False)

    op.create_table(
        "party_org_grids",
        sa.Column("org_code", sa.String(length=64), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_code"],
            ["party_orgs.code"],
            name=op.f("fk_party_org_grids_org_code_party_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_code", "grid_code", name=op.f("pk_party_org_grids")),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "role IN ('总网格长', '一般网格员', '微网格长', '微网格员')",
            name=op.f("ck_role_assignments_role"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_role_assignments_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignments")),
    )
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_assignments_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_assignments_person_id"), ["person_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("app_role", sa.String(length=8), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "app_role IN ('规划员', '调度员', '网格员', '查看者', 'admin')", name=op.f("ck_users_app_role")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_users_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=8), nullable=True),
        sa.Column("to_state", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("incident_id", "seq", name=op.f("uq_incident_events_incident_id_seq")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("incident_events")
    op.drop_table("users")
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_assignments_person_id"))
        batch_op.drop_index(batch_op.f("ix_role_assignments_grid_code"))

    op.drop_table("role_assignments")
    op.drop_table("party_org_grids")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_micro_code"))
        batch_op.drop_index(batch_op.f("ix_incidents_general_code"))
        batch_op.drop_index(batch_op.f("ix_incidents_community_code_state"))
        batch_op.drop_index(batch_op.f("ix_incidents_assignee_id"))
        batch_op.drop_geospatial_index("idx_incidents_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("incidents")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_version_id_level"))
        batch_op.drop_geospatial_index("idx_grids_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("grids")
    with op.batch_alter_table("elements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_elements_version_id_micro_code"))
        batch_op.drop_geospatial_index("idx_elements_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("elements")
    op.drop_table("time_limits")
    op.drop_table("people")
    op.drop_table("party_orgs")
    with op.batch_alter_table("layer_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_layer_versions_one_published",
            sqlite_where=sa.text("state = 'published'"),
            postgresql_where=sa.text("state = 'published'"),
        )

    op.drop_table("layer_versions")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_username_at"))

    op.drop_table("login_attempts")
    op.drop_table("communities")
