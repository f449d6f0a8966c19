from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import duban.models  # noqa: F401
from duban import migrate
from duban.db import make_engine
from tests.conftest import DatabaseTemplate


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


def test_upgrade_downgrade_upgrade(db_template: DatabaseTemplate) -> None:
    url = db_template.fresh_url()
    try:
        engine = make_engine(url, null_pool=True)
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url, "head")
        assert "assignment" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        db_template.drop(url)


def test_models_and_migrations_agree(db_template: DatabaseTemplate) -> None:
    engine = make_engine(db_template.url, null_pool=True)
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; they are compared on PostgreSQL only.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models differ from migrations: {diff}"
