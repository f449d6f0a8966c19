"""`duban`: the composition root. Imports api/notifier lazily inside commands."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[tuple[str, ...], Handler] = {}


def command(*path: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _COMMANDS[path] = fn
        return fn

    return deco


def parse_time(value: str) -> datetime:
    """ISO time; a date alone or a naive time is read in DUBAN_TIMEZONE."""
    from duban import zones

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid time {value!r}: use ISO 8601, e.g. 2026-01-05T09:00+08:00"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zones.default())
    return parsed.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="duban", description="Duban 督办: task supervision for action plans"
    )
    sub = parser.add_subparsers(dest="group", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="cmd", required=True)
    db.add_parser("upgrade", help="migrate to the latest schema").add_argument(
        "revision", nargs="?", default="head"
    )
    db.add_parser("downgrade", help="migrate down").add_argument("revision", nargs="?", default="-1")
    db.add_parser("current", help="show the current revision")

    api = sub.add_parser("api", help="serve the REST API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1)
    api.add_argument("--no-access-log", action="store_true")
    api.add_argument(
        "--clock-at",
        type=parse_time,
        default=None,
        help="serve as if the clock had started at TIME and runs on from there (demo only)",
    )

    notifier = sub.add_parser("notifier", help="reminders, escalations and deliveries").add_subparsers(
        dest="cmd", required=True
    )
    run = notifier.add_parser("run", help="scan deadlines and deliver the outbox")
    run.add_argument("--once", action="store_true", help="one scan-and-deliver pass, then exit")
    run.add_argument("--as-of", type=parse_time, default=None, help="evaluate as if now were TIME")
    run.add_argument(
        "--dry-run", action="store_true", help="print what would be created and sent; change nothing"
    )
    run.add_argument("--json", action="store_true", help="with --dry-run: the preview as JSON")

    user = sub.add_parser("user", help="users").add_subparsers(dest="cmd", required=True)
    create = user.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument("--password", help="omit to generate one (printed once)")
    create.add_argument("--role", action="append", required=True, help="repeat for several roles")
    create.add_argument("--unit", help="the name of an existing unit")
    create.add_argument("--full-name")
    ensure = user.add_parser(
        "ensure-admin", help="create the first admin when there is none (password printed once)"
    )
    ensure.add_argument("--username", default="admin")
    reset = user.add_parser(
        "reset-password", help="set a new password (generated and printed once when omitted)"
    )
    reset.add_argument("--username", required=True)
    reset.add_argument("--password", help="omit to generate one (printed once)")

    plan = sub.add_parser("plan", help="plans").add_subparsers(dest="cmd", required=True)
    imp = plan.add_parser("import", help="import a plan document")
    imp.add_argument("path")
    imp.add_argument("--format", default="auto", choices=["auto", "text", "docx", "pdf", "xlsx", "json"])
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument("--json", action="store_true", help="print the plan interchange JSON")
    imp.add_argument(
        "--publish", action="store_true", help="publish (assign) at once instead of leaving a draft"
    )
    imp.add_argument("--new-version-of", type=int, metavar="PLAN_ID", help="a re-issue of this plan's 文号")
    pub = plan.add_parser("publish", help="publish a draft plan: create its assignments, tell each unit once")
    pub.add_argument("plan_id", type=int)
    exp = plan.add_parser("export", help="export a plan's task breakdown (任务分解表)")
    exp.add_argument("plan_id", type=int)
    exp.add_argument("--output", "-o", required=True)

    cal = sub.add_parser(
        "calendar", help="working-day calendar: coverage per year; `set YEAR FILE` loads a year's holidays"
    ).add_subparsers(dest="cmd", required=False)
    cal_set = cal.add_parser(
        "set", help="load a year's State Council holiday notice (JSON or text, see docs/calendar.md)"
    )
    cal_set.add_argument("year", type=int)
    cal_set.add_argument("file")

    audit = sub.add_parser("audit", help="audit log").add_subparsers(dest="cmd", required=True)
    audit.add_parser("verify", help="check the hash chain")

    sub.add_parser("openapi", help="write openapi/openapi.json")
    demo = sub.add_parser("demo", help="a fresh demo database with the seed plan")
    demo.add_argument("--database", default=None, help="SQLite file (default: ./demo.db) or a database URL")
    demo.add_argument(
        "--into-current",
        action="store_true",
        help="load the demo into DUBAN_DATABASE_URL (skipped when it holds a plan)",
    )
    demo.add_argument("--as-of", type=parse_time, default=None, help="tell the story as of TIME")
    demo.add_argument(
        "--no-webhook", action="store_true", help="no webhook endpoint (nothing listens on the demo's port)"
    )
    return parser


@command("db", "upgrade")
def _db_upgrade(args: argparse.Namespace) -> int:
    from duban import migrate

    ensure_database()
    migrate.upgrade(revision=args.revision)
    print("database upgraded to", args.revision)
    return 0


def ensure_database() -> None:
    """A PostgreSQL database that does not exist yet is created when the server lets us."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from duban.db import is_sqlite, make_engine, normalize_url
    from duban.errors import DubanError
    from duban.settings import get_settings

    url = get_settings().database_url
    if is_sqlite(url):
        return
    target = make_url(normalize_url(url))
    probe = make_engine(url, null_pool=True)
    try:
        with probe.connect():
            return
    except OperationalError as exc:
        if "does not exist" not in str(exc.orig):
            raise
    finally:
        probe.dispose()
    name = target.database or ""
    admin = make_engine(
        target.set(database="postgres").render_as_string(hide_password=False), autocommit=True
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"'))
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise DubanError(
            f"数据库“{name}”不存在，自动创建失败：{reason}；请先由数据库管理员创建它", code="db.missing"
        ) from exc
    finally:
        admin.dispose()
    print(f"已创建数据库“{name}”")


@command("db", "downgrade")
def _db_downgrade(args: argparse.Namespace) -> int:
    from duban import migrate

    migrate.downgrade(revision=args.revision)
    return 0


@command("db", "current")
def _db_current(args: argparse.Namespace) -> int:
    from alembic import command as alembic_command

    from duban.migrate import alembic_config

    alembic_command.current(alembic_config())
    return 0


@command("api")
def _api(args: argparse.Namespace) -> int:
    import uvicorn

    if args.clock_at is not None:
        from duban.clock import ShiftedClock, set_clock
        from duban.errors import Unprocessable

        if args.workers != 1:
            raise Unprocessable("指定演示时钟时只能运行一个进程（去掉多进程参数）", code="cli.clock_workers")
        # uvicorn imports the app in this process with one worker, so the app sees this clock.
        set_clock(ShiftedClock(args.clock_at))
    if args.workers > 1 and not os.environ.get("DUBAN_SECRET_KEY"):
        # Without a configured key each process would draw its own (settings.py): the workers
        # must share one, or a token signed by one worker fails on the next.
        from duban.settings import get_settings

        os.environ["DUBAN_SECRET_KEY"] = get_settings().secret_key
    uvicorn.run(
        "api.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
        log_config=None,
        # Forwarded headers are the app's business (DUBAN_TRUSTED_PROXIES); uvicorn's own
        # default would trust X-Forwarded-For from any local process.
        proxy_headers=False,
    )
    return 0


@command("notifier", "run")
def _notifier(args: argparse.Namespace) -> int:
    from notifier.runner import main as notifier_main

    return notifier_main(once=args.once, as_of=args.as_of, dry_run=args.dry_run, as_json=args.json)


def _schema(model: Any, data: dict[str, Any]) -> Any:
    """The API's request schema, its messages in Chinese as the API gives them (api.errors)."""
    from pydantic import ValidationError

    from api.errors import validation_message
    from duban import text
    from duban.errors import Unprocessable

    data, refused = text.clean_tree(data)
    if refused:
        (field, *_), message = refused[0]
        flag = {"roles": "role", "new_password": "password"}.get(field, field).replace("_", "-")
        raise Unprocessable(f"--{flag}：{message}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ("",)
        flag = {"roles": "role", "new_password": "password"}.get(str(loc[0]), str(loc[0])).replace("_", "-")
        raise Unprocessable(f"--{flag}：{validation_message(dict(err))}") from exc


@command("user", "create")
def _user_create(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from api.user import service as user_service
    from api.user.schemas import UserCreate
    from duban.clock import get_clock
    from duban.db import session_scope
    from duban.errors import Unprocessable
    from duban.models import Unit, UnitAlias

    password = args.password or secrets.token_urlsafe(12)
    body = _schema(
        UserCreate,
        {"username": args.username, "password": password, "roles": args.role, "full_name": args.full_name},
    )
    now = get_clock().now()
    with session_scope() as session:
        unit_id = None
        if args.unit:
            # Units are created in the office's unit list (API /units), never as a side effect here.
            unit = session.exec(select(Unit).where(Unit.name == args.unit)).first()
            if unit is None:
                alias = session.exec(select(UnitAlias).where(UnitAlias.alias == args.unit)).first()
                unit = session.get(Unit, alias.unit_id) if alias is not None else None
            if unit is None:
                raise Unprocessable(
                    f"单位“{args.unit}”不存在：请核对名称，或先在单位管理中建立该单位",
                    code="user.unknown_unit",
                )
            unit_id = unit.id
        user = user_service.create(
            session, actor=None, data={**body.model_dump(exclude_unset=True), "unit_id": unit_id}, now=now
        )
        username, user_id, roles = user.username, user.id, list(user.roles)
    print(f"created user {username} (id {user_id}) roles={','.join(roles)}")
    if not args.password:
        print(f"password (shown once): {password}")
    return 0


@command("user", "reset-password")
def _user_reset_password(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from api.security import hash_password
    from api.user.schemas import PasswordChange
    from duban.clock import get_clock
    from duban.db import session_scope
    from duban.errors import NotFound
    from duban.models import User
    from duban.uow import unit_of_work

    password = args.password or secrets.token_urlsafe(12)
    _schema(PasswordChange, {"current_password": "", "new_password": password})
    now = get_clock().now()
    with session_scope() as session:
        user = session.exec(select(User).where(User.username == args.username)).first()
        if user is None:
            raise NotFound(f"用户“{args.username}”不存在", code="user.not_found")
        # Whoever runs the CLI holds the server: the audit entry records a system actor.
        with unit_of_work(session, actor=None, now=now) as uow:
            uow.track(user, action="user.reset_password")
            user.password_hash = hash_password(password)
            user.token_generation += 1  # signed-in sessions end with the old password
    print(f"password of {args.username} reset; its signed-in sessions are ended")
    if not args.password:
        print(f"new password (shown once): {password}")
    return 0


@command("user", "ensure-admin")
def _user_ensure_admin(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from api.user import service as user_service
    from duban.clock import get_clock
    from duban.db import session_scope
    from duban.models import Role, User

    with session_scope() as session:
        users = session.exec(select(User).where(User.is_service_account == False)).all()  # noqa: E712
        if any(Role.admin in u.roles for u in users):
            print("an admin account exists already")
            return 0
        password = secrets.token_urlsafe(12)
        user_service.create(
            session,
            actor=None,
            data={
                "username": args.username,
                "password": password,
                "roles": [Role.admin],
                "full_name": "系统管理员",
            },
            now=get_clock().now(),
        )
    print("=" * 60)
    print(f"first admin created: username {args.username}  password {password}")
    print("(shown once: sign in to the workbench at /app and change it under 修改密码)")
    print("=" * 60)
    return 0


@command("plan", "import")
def _plan_import(args: argparse.Namespace) -> int:
    from duban.cli.plan import cli_import

    return cli_import(
        path=args.path,
        fmt=args.format,
        dry_run=args.dry_run,
        as_json=args.json,
        publish=args.publish,
        new_version_of=args.new_version_of,
    )


@command("plan", "publish")
def _plan_publish(args: argparse.Namespace) -> int:
    from duban.cli.plan import cli_publish

    return cli_publish(plan_id=args.plan_id)


@command("plan", "export")
def _plan_export(args: argparse.Namespace) -> int:
    from duban.cli.plan import cli_export

    return cli_export(plan_id=args.plan_id, output=args.output)


@command("calendar")
def _calendar(args: argparse.Namespace) -> int:
    from duban.cli.calendar import cli_coverage

    return cli_coverage()


@command("calendar", "set")
def _calendar_set(args: argparse.Namespace) -> int:
    from duban.cli.calendar import cli_set

    return cli_set(year=args.year, path=args.file)


@command("audit", "verify")
def _audit_verify(args: argparse.Namespace) -> int:
    from duban import audit
    from duban.db import session_scope

    with session_scope() as session:
        result = audit.verify(session)
    if result.broken_id is None:
        print(f"audit chain intact: {result.checked} entries")
        return 0
    print(
        f"audit chain BROKEN at entry {result.broken_id}: {result.reason} "
        f"({result.checked} entries before it verified)"
    )
    return 1


@command("openapi")
def _openapi(args: argparse.Namespace) -> int:
    from api.main import create_app
    from api.openapi import write

    path = write(create_app())
    print("wrote", path)
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from duban.cli.demo import run_demo

    return run_demo(
        database=args.database, into_current=args.into_current, now=args.as_of, webhook=not args.no_webhook
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    key: tuple[str, ...] = (args.group,) + ((args.cmd,) if getattr(args, "cmd", None) else ())
    handler = _COMMANDS[key]
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `duban … | head` stopped reading: stop quietly, as other command-line tools do. Point
        # stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure a person sees is one line, see fail_line
        line = fail_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1


def fail_line(exc: BaseException) -> str | None:
    """One line for a person (Chinese) with the code (English); None for a bug, which keeps its traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from duban.errors import DubanError

    if isinstance(exc, DubanError):
        return f"错误：{exc.message}（{exc.code}）"
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        parts = []
        for err in exc.errors():
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            where = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"DUBAN_{where.upper()}：{msg}" if where else msg)
        return f"错误：配置不合法：{'；'.join(parts)}（settings.invalid）"
    if isinstance(exc, OperationalError):
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
        if "does not exist" in detail and "database" in detail:
            return f"错误：数据库不存在，且无法自动创建，请先创建它（{detail}）（db.missing）"
        return f"错误：无法连接数据库，请检查 DUBAN_DATABASE_URL 和数据库服务（{detail}）（db.unavailable）"
    return None


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


if __name__ == "__main__":
    sys.exit(main())
