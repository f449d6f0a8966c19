"""`duban demo`: the seed plan imported, users for every role, and a believable state of progress.

Which "now" the demo tells its story at: the seed plan runs 2024-01-01 … 2025-12-31. Told after
the end of 2025, every unfinished item would simply be overdue, and red everywhere shows nothing.
So the history is written as of 2025-11-20 09:00 (Asia/Shanghai), six weeks before the final
deadline: 2024 yearly items closed (a few left open, now red), 2025 work mostly under way (green),
some behind schedule (yellow), and a few units given an earlier deadline (2025-06-30) that they
missed (red). When the real clock lies between that instant and the plan's end, the real now is
used instead. The API always judges with the real clock, so after 2025 the open items read as
overdue there; `duban notifier run --as-of 2025-11-20T09:00` and the stats at the demo instant
show the intended mix.
"""

from __future__ import annotations

import secrets
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.assignment import service as assignment_service
from api.audit import service as audit
from api.indicator import service as indicator_service
from api.plan import importing
from api.report import service as report_service
from api.unit import service as unit_service
from duban import amounts, migrate
from duban.clock import get_clock
from duban.db import get_engine, is_sqlite, make_engine, session_scope
from duban.events import EVENT_TYPES
from duban.models import (
    Assignment,
    Indicator,
    Plan,
    Role,
    Task,
    Unit,
    UnitAlias,
    UnitKind,
    UnitRole,
    User,
    WebhookEndpoint,
)
from duban.settings import get_settings

SEED_NAME = "lianshui-2024-2025-plan.txt"
# 09:00 Asia/Shanghai on Thursday 2025-11-20 (see the module docstring).
DEMO_ANCHOR = datetime(2025, 11, 20, 1, 0, tzinfo=UTC)
PLAN_END = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # end of 2025-12-31 in Shanghai
WEBHOOK_SINK = "http://127.0.0.1:9009/duban-webhook"
OFFICE_UNIT = "县科技创新工作领导小组办公室"
LEADER_UNIT = "县科技创新工作领导小组"
ZONE_UNIT = "县经济开发区管委会"
TOWNS = [
    ("涟城街道", UnitKind.street),
    ("保滩街道", UnitKind.street),
    ("高沟镇", UnitKind.town),
    ("唐集镇", UnitKind.town),
    ("五港镇", UnitKind.town),
    ("大东镇", UnitKind.town),
]
# Task codes of the seed plan by the light the demo gives them.
GREEN, YELLOW, RED = {"2", "5", "7", "9", "12", "13"}, {"4", "6", "8", "10", "11", "15"}, {"1", "3", "14"}


def _at(day: str, hour: int = 9) -> datetime:
    """A Shanghai wall-clock time as UTC."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(UTC)


def seed_path() -> Path:
    """The packaged copy first; the shared seeds folder beside the checkout as a fallback."""
    for candidate in (
        Path(__file__).resolve().parent / "demo_data" / SEED_NAME,
        migrate.ROOT.parent / "shared" / "seeds" / SEED_NAME,
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(SEED_NAME)


def pick_now(real: datetime) -> datetime:
    return real if DEMO_ANCHOR <= real <= PLAN_END else DEMO_ANCHOR


@dataclass
class DemoResult:
    plan_id: int
    now: datetime
    users: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # role, name, unit, password
    assignments: int = 0
    webhook_secret: str | None = None
    rag: dict[str, int] = field(default_factory=dict)
    overdue: int = 0


# --- building --------------------------------------------------------------------------------------


def _unit(session: Session, name: str, kind: UnitKind) -> Unit:
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is None:
        unit = Unit(name=name, kind=kind)
        session.add(unit)
        session.flush()
    return unit


ACCOUNTS = ("office", "admin", "leader", "keji_head", "keji_staff", "viewer")


class _Passwords:
    """Argon2 hashing takes most of a second per password: done on other threads meanwhile."""

    def __init__(self) -> None:
        from api.security import hash_password

        self.plain = {name: secrets.token_urlsafe(9) for name in ACCOUNTS}
        self.pool = ThreadPoolExecutor(max_workers=len(ACCOUNTS))
        self.hashes: dict[str, Future[str]] = {
            n: self.pool.submit(hash_password, p) for n, p in self.plain.items()
        }

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _user(
    session: Session,
    result: DemoResult,
    passwords: _Passwords,
    *,
    username: str,
    role: Role,
    full_name: str,
    unit: Unit | None,
    now: datetime,
) -> User:
    existing = session.exec(select(User).where(User.username == username)).first()
    if existing is not None:
        result.users.append((str(role), username, unit.name if unit else "", None))
        return existing
    user = User.model_validate(
        {"username": username, "roles": [str(role)], "full_name": full_name,
         "unit_id": unit.id if unit else None, "password_hash": passwords.hashes[username].result(),
         "created_at": now, "updated_at": now}
    )  # fmt: skip
    session.add(user)
    session.flush()
    audit.record(session, actor=None, action="user.create", entity_type="user", entity_id=user.id,
                 after=audit.snapshot(user), now=now)  # fmt: skip
    session.commit()
    result.users.append((str(role), username, unit.name if unit else "", passwords.plain[username]))
    return user


def _heads(session: Session, unit_ids: set[int], known: dict[int, User], now: datetime) -> dict[int, User]:
    """A unit head (without a password: sign-in is for the printed accounts) for every unit at work."""
    heads = dict(known)
    names = dict(session.execute(select(Unit.id, Unit.name).where(col(Unit.id).in_(unit_ids))).all())
    for uid in sorted(unit_ids - heads.keys()):
        user = session.exec(select(User).where(User.username == f"head{uid}")).first()
        if user is None:
            user = User(username=f"head{uid}", full_name=f"{names[uid]}负责人", roles=[Role.unit_head],
                        unit_id=uid, created_at=now, updated_at=now)  # fmt: skip
            session.add(user)
        heads[uid] = user
    session.flush()
    session.commit()
    return heads


class _Story:
    """Moves assignments through the real services, each step at its own point in time."""

    def __init__(self, session: Session, office: User, heads: dict[int, User]) -> None:
        self.session, self.office, self.heads = session, office, heads

    def act(self, a: Assignment, action: str, at: datetime, reason: str | None = None) -> None:
        actor = self.office if action in ("approve", "reject", "cancel") else self.heads[a.unit_id]
        assignment_service.transition(
            session=self.session, assignment=a, action=action, actor=actor, now=at, reason=reason
        )

    def report(
        self, a: Assignment, period: str, percent: int, at: datetime, *, approve: bool = True, text: str = ""
    ) -> None:
        head = self.heads[a.unit_id]
        r = report_service.create(
            session=self.session, user=head, assignment=a, now=at,
            data={"period": period, "percent_done": percent,
                  "text": text or f"{period}：按计划推进，完成进度约{percent}%。"},
        )  # fmt: skip
        report_service.submit(session=self.session, user=head, report=r, now=at + timedelta(hours=2))
        if approve:
            report_service.review(
                session=self.session, user=self.office, report=r, approve=True, comment=None,
                now=at + timedelta(days=2),
            )  # fmt: skip

    def complete(self, a: Assignment, year: int) -> None:
        self.report(a, f"{year}-11", 100, _at(f"{year}-11-20"), text="年度任务已全部完成，材料已报送。")
        self.act(a, "request-completion", _at(f"{year}-12-10"))
        self.act(a, "approve", _at(f"{year}-12-15"))

    def insist_earlier(self, a: Assignment) -> None:
        """The unit returns the item; the office insists and sets an earlier deadline it then misses."""
        self.act(a, "return", _at("2024-05-14"), reason="该项工作主要由其他部门承担，建议调整责任单位")
        assignment_service.reassign(
            session=self.session, assignment=a, actor=self.office, now=_at("2024-05-16"),
            due_date=date(2025, 6, 30), reason="经研究仍由你单位负责，须于2025年6月30日前完成",
        )  # fmt: skip
        self.act(a, "accept", _at("2024-05-17"))
        self.report(a, "2025-05", 55, _at("2025-05-26"), text="受项目审批进度影响，完成约55%，正在加快推进。")


def _tell_the_story(session: Session, *, plan_id: int, office: User, heads: dict[int, User]) -> None:
    story = _Story(session, office, heads)
    rows = session.execute(
        select(Assignment, Task.code)
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .where(Assignment.plan_id == plan_id)
        .order_by(col(Task.position), col(Assignment.role), col(Assignment.unit_id), col(Assignment.period))
    ).all()
    first_co: dict[str, int] = {}
    for a, code in rows:
        if a.role == UnitRole.co:
            first_co.setdefault(code, a.unit_id)
    for n, (a, code) in enumerate(rows):
        if a.period == "2024":
            story.act(a, "accept", _at("2024-05-13"))
            if code in RED and a.unit_id == first_co.get(code):
                story.report(
                    a, "2024-11", 60, _at("2024-11-22"), text="年度任务完成约60%，部分项目尚未落地。"
                )
            else:
                story.complete(a, 2024)
            continue
        if code in RED and a.role == UnitRole.co and a.unit_id == first_co.get(code):
            story.insist_earlier(a)
            continue
        if code in YELLOW and n % 4 == 0:
            continue  # not even signed for: behind schedule
        story.act(a, "accept", _at("2024-05-13"))
        if code in GREEN:
            story.report(a, "2025-10", 85 + n % 11, _at("2025-10-24"))
            if n % 3 == 0:
                story.act(a, "request-completion", _at("2025-11-10"))
                story.act(a, "approve", _at("2025-11-12"))
            else:
                story.report(a, "2025-11", 90 + n % 8, _at("2025-11-18"), approve=False)
        elif code in YELLOW:
            story.report(
                a, "2025-10", 40 + n % 21, _at("2025-10-24"), text="部分工作进度滞后，正在协调推进。"
            )
        else:
            story.report(a, "2025-10", 80 + n % 10, _at("2025-10-24"))


def _indicator_values(session: Session, *, plan_id: int, office: User) -> None:
    """Half the indicators trend to their target (green), half fall short (behind)."""
    indicators = session.exec(
        select(Indicator).where(Indicator.plan_id == plan_id).order_by(col(Indicator.id))
    ).all()
    for i, ind in enumerate(indicators):
        if ind.target_value is None:
            continue
        shares = (0.78, 0.97) if i % 2 == 0 else (0.45, 0.55)
        points = (("2024", _at("2025-01-20")), ("2025-Q3", _at("2025-10-15")))
        reaching = i % 2 == 0
        for (period, at), share in zip(points, shares, strict=True):
            # A count of firms or projects is whole (never 「0.55家」).
            value = amounts.demo_value(ind.target_value, share, ind.unit, reaching=reaching)
            indicator_service.add_value(
                session=session, user=office, indicator=ind, period=period, value=value, now=at
            )


def _webhook(session: Session, *, office: User, now: datetime) -> str | None:
    from api.webhook import service as webhook_service

    existing = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.url == WEBHOOK_SINK)).first()
    if existing is not None:
        return None
    data: dict[str, Any] = {"url": WEBHOOK_SINK, "description": "演示：本机 webhook 接收端",
                            "event_types": sorted(EVENT_TYPES)}  # fmt: skip
    if get_settings().webhook_allow_private:
        return webhook_service.create(session, actor=office, data=data, now=now).secret
    # A loopback URL is refused by the API's SSRF check unless DUBAN_WEBHOOK_ALLOW_PRIVATE=true;
    # the demo still records the endpoint so the setup is visible, and says so in its summary.
    secret = "whsec_" + secrets.token_urlsafe(24)
    ep = WebhookEndpoint(**data, secret=secret, created_at=now, updated_at=now)
    session.add(ep)
    session.flush()
    after = {"url": WEBHOOK_SINK, "event_types": ep.event_types}
    audit.record(session, actor=office, action="webhook.create", entity_type="webhook_endpoint",
                 entity_id=ep.id, after=after, now=now)  # fmt: skip
    session.commit()
    return secret


def build(
    session: Session, *, now: datetime, passwords: _Passwords | None = None, webhook: bool = True
) -> DemoResult:
    """Everything the demo shows, written through the services at plausible points in time."""
    setup_at = _at("2024-05-06", 8)
    office_unit = _unit(session, OFFICE_UNIT, UnitKind.office)
    leader_unit = _unit(session, LEADER_UNIT, UnitKind.leadership)
    for name, kind in TOWNS:
        _unit(session, name, kind)
    zone = _unit(session, ZONE_UNIT, UnitKind.zone)
    if session.exec(select(UnitAlias).where(UnitAlias.alias == "经济开发区")).first() is None:
        session.add(UnitAlias(alias="经济开发区", unit_id=zone.id or 0))
    unit_service.ensure_default_groups(session)
    session.commit()

    result = DemoResult(plan_id=0, now=now)
    pw = passwords or _Passwords()
    office = _user(session, result, pw, username="office", role=Role.office, full_name="科创办督办员",
                   unit=office_unit, now=setup_at)  # fmt: skip
    doc = importing.read_plan(seed_path().read_bytes(), filename=SEED_NAME)
    report = importing.import_plan(session, result=doc, actor=office, now=_at("2024-05-06"), publish=True)
    result.plan_id, result.assignments = report.plan_id or 0, report.assignments
    plan = session.get(Plan, result.plan_id)
    assert plan is not None
    keji = session.exec(select(Unit).where(Unit.name == "县科技局")).one()
    _user(
        session,
        result,
        pw,
        username="admin",
        role=Role.admin,
        full_name="系统管理员",
        unit=None,
        now=setup_at,
    )
    _user(session, result, pw, username="leader", role=Role.leader, full_name="分管副县长", unit=leader_unit,
          now=setup_at)  # fmt: skip
    head = _user(session, result, pw, username="keji_head", role=Role.unit_head, full_name="县科技局局长",
                 unit=keji, now=setup_at)  # fmt: skip
    _user(session, result, pw, username="keji_staff", role=Role.unit_staff, full_name="县科技局联络员",
          unit=keji, now=setup_at)  # fmt: skip
    _user(session, result, pw, username="viewer", role=Role.viewer, full_name="县审计局（只读）", unit=None,
          now=setup_at)  # fmt: skip
    unit_ids = set(session.exec(select(Assignment.unit_id).where(Assignment.plan_id == plan.id)).all())
    heads = _heads(session, unit_ids, {keji.id or 0: head}, setup_at)
    if webhook:
        result.webhook_secret = _webhook(session, office=office, now=setup_at)
    _tell_the_story(session, plan_id=result.plan_id, office=office, heads=heads)
    _indicator_values(session, plan_id=result.plan_id, office=office)
    _measure(session, result, plan)
    if passwords is None:
        pw.close()
    return result


def _measure(session: Session, result: DemoResult, plan: Plan) -> None:
    from api.stats import service as stats_service

    rows = stats_service.group_stats(session, plan=plan, user=None, now=result.now, by="task")
    result.rag = {k: sum(1 for r in rows if r["rag"] == k) for k in ("green", "yellow", "red")}
    result.overdue = sum(r["overdue"] for r in rows)


# --- entry point -----------------------------------------------------------------------------------


def _fresh_sqlite(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path.resolve()}"


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    # A throwaway demo file: durability per commit buys nothing and costs a second or more.
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def run_demo(
    database: str | None = None,
    into_current: bool = False,
    *,
    now: datetime | None = None,
    out: TextIO | None = None,
    webhook: bool = True,
) -> int:
    """A demo database: a fresh SQLite file (./demo.db), a given URL, or the configured database."""
    out = out or sys.stdout
    started = time.perf_counter()
    passwords = _Passwords()  # hashing starts now, beside the migrations
    engine: Engine
    own_engine = False
    try:
        if into_current:
            url = get_settings().database_url
            migrate.upgrade(url)
            engine = get_engine()
        elif database and "://" in database:
            url = database
            migrate.upgrade(url)
            engine, own_engine = make_engine(url), True
        else:
            url = _fresh_sqlite(Path(database or "demo.db"))
            migrate.upgrade(url)
            engine, own_engine = make_engine(url), True
            event.listen(engine, "connect", _no_fsync)
        try:
            with session_scope(engine) as session:
                if session.exec(select(Plan.id).limit(1)).first() is not None:
                    out.write("数据库中已有计划，未导入演示数据（`duban demo` 可另建 demo.db）。\n")
                    return 0
                result = build(
                    session, now=now or pick_now(get_clock().now()), passwords=passwords, webhook=webhook
                )
        finally:
            if own_engine:
                engine.dispose()
    finally:
        passwords.close()
    _summary(
        out,
        result,
        url=url,
        fresh=not into_current and is_sqlite(url),
        seconds=time.perf_counter() - started,
        webhook=webhook,
    )
    return 0


def _summary(
    out: TextIO, r: DemoResult, *, url: str, fresh: bool, seconds: float, webhook: bool = True
) -> None:
    s = get_settings()
    base = s.public_url.rstrip("/")
    lines = [
        "=" * 72,
        f"Duban 督办演示数据已就绪（用时 {seconds:.1f} 秒）",
        f"数据库：{url}",
        f"计划 #{r.plan_id}：涟水县域科技创新跃升行动计划(2024-2025年)，交办 {r.assignments} 条",
        f"演示时点：{r.now.astimezone(get_clock_zone()).strftime('%Y-%m-%d %H:%M')}（北京时间）；"
        f"按任务统计：绿 {r.rag.get('green', 0)}、黄 {r.rag.get('yellow', 0)}、红 {r.rag.get('red', 0)}，"
        f"逾期事项 {r.overdue} 条",
        "",
        "账号（密码仅显示这一次）：",
    ]
    for role, name, unit, password in r.users:
        lines.append(f"  {role:<11} {name:<11} {password or '（已存在，密码未改）':<16} {unit}")
    lines += [
        "",
        f"API：      {base}/api/v1   （Swagger UI：{base}/docs）",
        f"状态大屏： {base}/board",
        f"计划统计： {base}/api/v1/stats/plans/{r.plan_id}",
    ]
    if webhook:
        lines.append(
            f"Webhook：  {WEBHOOK_SINK}（全部事件）"
            + (f"  签名密钥：{r.webhook_secret}" if r.webhook_secret else "")
        )
    else:
        lines.append("Webhook：  未配置（演示只用站内消息；需要时在 /api/v1/webhooks 添加）")
    if webhook and not s.webhook_allow_private:
        lines.append("  注意：向本机地址投递需设置 DUBAN_WEBHOOK_ALLOW_PRIVATE=true（make run 已设置）")
    if fresh:
        lines.append(f"启动：DUBAN_DATABASE_URL={url} duban api")
    lines.append("=" * 72)
    out.write("\n".join(lines) + "\n")


def get_clock_zone() -> Any:
    from duban import zones

    return zones.default()
