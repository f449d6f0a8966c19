"""webhooks: secret rotation overlap, failure window and disabling, order per assignment, delivery
log, cross-replica rate limit, events addressed to one endpoint

Revision ID: 0011_webhooks
Revises: 0008_calendar
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_webhooks"
down_revision: str | None = "0008_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignment_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_delivery_endpoint_id_assignment_id", ["endpoint_id", "assignment_id", "status"], unique=False
        )

    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column("request_headers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("request_body", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=True)
        )
        batch_op.add_column(sa.Column("response_headers", sa.JSON(), nullable=True))

    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("endpoint_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_event_endpoint_id_webhook_endpoint"),
            "webhook_endpoint",
            ["endpoint_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_secret_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("failing_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
        batch_op.add_column(sa.Column("next_send_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    # Webhooks were limited to 60 a minute only because that was the default; now they are not
    # limited unless the office says so. Chat robots keep the platforms' 20 a minute.
    op.execute(
        "UPDATE webhook_endpoint SET rate_limit_per_minute = 0 "
        "WHERE kind = 'webhook' AND rate_limit_per_minute = 60"
    )
    op.execute(
        "UPDATE webhook_endpoint SET rate_limit_per_minute = 20 "
        "WHERE kind IN ('dingtalk', 'wecom') AND (rate_limit_per_minute = 0 OR rate_limit_per_minute > 20)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE webhook_endpoint SET rate_limit_per_minute = 60 "
        "WHERE kind = 'webhook' AND rate_limit_per_minute = 0"
    )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_column("next_send_at")
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret")

    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_event_endpoint_id_webhook_endpoint"), type_="foreignkey"
        )
        batch_op.drop_column("endpoint_id")

    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.drop_column("response_headers")
        batch_op.drop_column("request_body")
        batch_op.drop_column("request_headers")
        batch_op.drop_column("url")

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_endpoint_id_assignment_id")
        batch_op.drop_column("assignment_id")
