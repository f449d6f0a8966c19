"""token generation on refresh tokens, login throttle counters, in-progress idempotency rows

Revision ID: 0007_token_policy
Revises: 0006_write_path
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_token_policy"
down_revision: str | None = "0006_write_path"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    # Outstanding logins keep working across the upgrade: they belong to the current generation.
    op.execute(
        "UPDATE refresh_token SET generation = "
        "(SELECT token_generation FROM user_account WHERE user_account.id = refresh_token.user_id)"
    )

    op.create_table(
        "login_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_last_at"), ["last_at"], unique=False)

    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("response_body", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # In-progress rows have no response to keep.
    op.execute("DELETE FROM idempotency_record WHERE status_code IS NULL OR response_body IS NULL")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("response_body", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_last_at"))
    op.drop_table("login_throttle")

    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.drop_column("generation")
