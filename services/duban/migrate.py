from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parents[2]
# A checkout keeps migrations/ at the root; a wheel carries them inside this package.
MIGRATIONS = next(
    (
        p
        for p in (ROOT / "migrations", Path(__file__).resolve().parent / "migrations")
        if (p / "env.py").exists()
    ),
    ROOT / "migrations",
)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic configuration without an alembic.ini: works from a checkout and from any cwd."""
    cfg = Config(toml_file=str(ROOT / "pyproject.toml")) if (ROOT / "pyproject.toml").exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.attributes["sqlalchemy.url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        sync_calendar(url)


def sync_calendar(url: str | None = None) -> None:
    """Refresh `calendar_day` after an upgraded calendar package (a no-op when nothing changed)."""
    from datetime import UTC, datetime

    from sqlalchemy import inspect

    from duban import calendar_store
    from duban.db import make_engine
    from duban.settings import get_settings

    engine = make_engine(url or get_settings().database_url, null_pool=True)
    try:
        with engine.begin() as conn:
            if inspect(conn).has_table("calendar_state"):
                calendar_store.sync(conn, now=datetime.now(UTC))
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
