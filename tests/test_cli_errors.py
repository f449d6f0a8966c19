"""Every CLI mistake a person makes ends in one Chinese line with the English code and a non-zero
exit, never a traceback. The CLI runs as a real subprocess (the installed `duban` entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from api.security import verify_password
from duban.db import make_engine
from tests.conftest import PG_ADMIN_URL, _pg_admin, _pg_available, _pg_url

DUBAN = str(Path(sys.prefix) / "bin" / "duban")  # the entry point `make install` put in the venv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update({"DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "DUBAN_LOG_JSON": "false", **extra})
    return env


def _run(env: dict[str, str], *args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUBAN, *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120
    )


def _one_line_failure(proc: subprocess.CompletedProcess[str], code: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("错误：") and f"（{code}）" in lines[0], lines[0]
    return lines[0]


def test_production_without_a_secret_key(tmp_path: Path) -> None:
    proc = _run(_env(tmp_path, DUBAN_ENVIRONMENT="production"), "db", "upgrade")
    assert "DUBAN_SECRET_KEY" in _one_line_failure(proc, "settings.invalid")


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_the_placeholder_secret_is_refused_in_every_mode(tmp_path: Path, environment: str) -> None:
    env = _env(tmp_path, DUBAN_ENVIRONMENT=environment, DUBAN_SECRET_KEY="change-me")
    assert "占位" in _one_line_failure(_run(env, "db", "upgrade"), "settings.invalid")


def test_a_mysql_url(tmp_path: Path) -> None:
    proc = _run(_env(tmp_path, DUBAN_DATABASE_URL="mysql://root@127.0.0.1/duban"), "db", "upgrade")
    assert "mysql" in _one_line_failure(proc, "settings.invalid")


def test_an_unreachable_database_server(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    env = _env(tmp_path, DUBAN_DATABASE_URL="postgresql://postgres@127.0.0.1:1/duban")
    _one_line_failure(_run(env, "db", "upgrade"), "db.unavailable")


@pytest.mark.skipif(not _pg_available(), reason="PostgreSQL not reachable")
def test_a_missing_postgresql_database_is_created_when_the_server_allows(tmp_path: Path) -> None:
    name = f"duban_cli_{uuid.uuid4().hex[:10]}"
    try:
        proc = _run(_env(tmp_path, DUBAN_DATABASE_URL=_pg_url(name)), "db", "upgrade")
        assert proc.returncode == 0, proc.stderr
        assert f"已创建数据库“{name}”" in proc.stdout
        assert "Traceback" not in proc.stderr
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.skipif(not _pg_available(), reason="PostgreSQL not reachable")
def test_a_missing_postgresql_database_that_may_not_be_created(tmp_path: Path) -> None:
    role, name = f"duban_nocreate_{uuid.uuid4().hex[:8]}", f"duban_cli_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        url = PG_ADMIN_URL.replace("postgres@", f"{role}@", 1).rsplit("/", 1)[0] + "/" + name
        line = _one_line_failure(_run(_env(tmp_path, DUBAN_DATABASE_URL=url), "db", "upgrade"), "db.missing")
        assert name in line and "请先由数据库管理员创建" in line
    finally:
        _pg_admin(f'DROP ROLE IF EXISTS "{role}"')


def test_a_broken_pipe(tmp_path: Path, committed_url: str) -> None:
    env = _env(tmp_path, DUBAN_DATABASE_URL=committed_url)
    # `duban notifier run --dry-run | head`: the reader is gone before the first line is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = _run(env, "notifier", "run", "--dry-run", "--as-of", "2025-11-20T09:00", stdout=write_end)
    finally:
        os.close(write_end)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_user_create_goes_through_the_api_rules(tmp_path: Path, committed_url: str) -> None:
    env = _env(tmp_path, DUBAN_DATABASE_URL=committed_url)
    line = _one_line_failure(
        _run(env, "user", "create", "--username", "bob", "--role", "unit_staff", "--unit", "不存在局"),
        "user.unknown_unit",
    )
    assert "不存在局" in line
    line = _one_line_failure(
        _run(env, "user", "create", "--username", "bob", "--role", "admin", "--password", "x"),
        "validation_error",
    )
    assert "--password" in line and "8" in line
    _one_line_failure(_run(env, "user", "create", "--username", "bob", "--role", "chief"), "validation_error")
    # Nothing of the refused attempts was written: no unit appeared, bob can still be created.
    ok = _run(env, "user", "create", "--username", "bob", "--role", "admin", "--password", "long-enough-1")
    assert ok.returncode == 0, ok.stderr
    engine = make_engine(env["DUBAN_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from unit where name = '不存在局'")).scalar() == 0
    engine.dispose()


def test_reset_password_recovers_a_lost_admin(tmp_path: Path, committed_url: str) -> None:
    env = _env(tmp_path, DUBAN_DATABASE_URL=committed_url)
    first = _run(env, "user", "ensure-admin")
    assert first.returncode == 0 and "password" in first.stdout
    second = _run(env, "user", "ensure-admin")
    assert second.returncode == 0 and "exists already" in second.stdout and "password" not in second.stdout
    _one_line_failure(
        _run(env, "user", "reset-password", "--username", "admin", "--password", "short"), "validation_error"
    )
    _one_line_failure(_run(env, "user", "reset-password", "--username", "nobody"), "user.not_found")
    reset = _run(env, "user", "reset-password", "--username", "admin")
    assert reset.returncode == 0, reset.stderr
    new = reset.stdout.rsplit(":", 1)[1].strip()
    engine = make_engine(env["DUBAN_DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(
            text("select password_hash from user_account where username = 'admin'")
        ).scalar()
    engine.dispose()
    assert verify_password(new, stored)


def test_user_create_refuses_invisible_characters(tmp_path: Path, committed_url: str) -> None:
    env = _env(tmp_path, DUBAN_DATABASE_URL=committed_url)
    args = ("user", "create", "--username", "carol", "--role", "admin", "--password", "long-enough-1")
    line = _one_line_failure(_run(env, *args, "--full-name", "县科技局\u200b联络员"), "validation_error")
    assert "--full-name" in line and "U+200B" in line
    assert _run(env, *args, "--full-name", "县科技局联络员").returncode == 0


def test_plan_import_refuses_an_oversized_workbook(tmp_path: Path, committed_url: str) -> None:
    from tests.plandoc.test_limits import huge_workbook

    path = tmp_path / "任务分解表.xlsx"
    path.write_bytes(huge_workbook())
    env = _env(tmp_path, DUBAN_DATABASE_URL=committed_url)
    proc = _run(env, "plan", "import", str(path), "--dry-run")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "20000 行" in line and "import.document_too_large" in line, line
