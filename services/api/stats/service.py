"""Supervision numbers: counts, overdue working days, completion timeliness, report rate and RAG.

Every figure comes from one GROUP BY over the (scoped) assignments. The per-day facts (working
days overdue, the expected percent, the instant a day ends) come from the `calendar_day` table
joined on the deadline: an ordinal difference and two small expressions in SQL, nothing sent
with the statement and nothing computed per assignment in Python. A deadline outside the days
joined is detected by the aggregate and asked again exactly, from facts computed in Python.

Every figure can also be asked *as of* an earlier instant (`at=`): then the assignments are the
ones `duban.history.assignments_at` rebuilds from the audit chain and the state timestamps, the
period's reports are those submitted by then, and indicator values those reported by then.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy import and_, case, func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from api.assignment.service import scope_key, unit_scope_clause
from api.assignment.service import scoped as scoped_to_user
from api.stats import cache as stats_cache
from api.stats import indicators as indicator_status
from duban import amounts, calendar, calendar_store, comparators, history, periods, zones
from duban.errors import NotFound
from duban.models import (
    OPEN_STATES,
    REPORT_IN_STATES,
    Assignment,
    AssignmentState,
    Indicator,
    IndicatorValue,
    Plan,
    ProgressReport,
    ProgressReportState,
    Section,
    Task,
    Unit,
    User,
    overdue_basis,
)

# An open assignment is "behind" when its reported progress trails the time elapsed towards its
# deadline by more than this many percentage points.
BEHIND_TOLERANCE = 20
_OPEN = sorted(str(s) for s in OPEN_STATES)
# The unit owes a report for every open assignment it holds (a returned one is with the office).
_REPORTING = sorted(str(s) for s in OPEN_STATES if s != AssignmentState.returned)
_SUBMITTED = [str(s) for s in REPORT_IN_STATES]
STATES = [str(s) for s in AssignmentState]
GROUPS = ("plan", "section", "task", "unit")


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("计划不存在", code="plan.not_found")
    return plan


_PLAN = Plan.__table__  # type: ignore[attr-defined]


def plan_checked_statement(plan_id: int | sa.BindParameter[int]) -> sa.Select[Any]:
    """The plan's row with what the stats cache checks, as columns (for the hot read path)."""
    return sa.select(_PLAN, *stats_cache.check_columns(plan_id)).where(_PLAN.c.id == plan_id)


_PLAN_COLUMNS = tuple(c.name for c in _PLAN.columns)
# Plans made from rows, by the row's values: building the model (SQLAlchemy's instrumentation,
# SQLModel's construction) cost a tenth of a cached dashboard's CPU. Read-only, like the row.
_plans: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
_PLANS_SIZE = 256


def plan_of_row(row: Any) -> tuple[Plan, stats_cache.Check]:
    """The plan (detached, read-only: shared by the requests that read the same row) and the
    check from a row of `plan_checked_statement`."""
    values = tuple(row[name] for name in _PLAN_COLUMNS)
    plan = _plans.get(values)
    if plan is None:
        plan = _plans[values] = Plan(**dict(zip(_PLAN_COLUMNS, values, strict=True)))
        while len(_plans) > _PLANS_SIZE:
            _plans.popitem(last=False)
    return plan, (int(row["stats_generation"]), row["calendar_stamp"])


def get_plan_checked(session: Session, plan_id: int) -> tuple[Plan, stats_cache.Check]:
    """The plan and, in the same statement, what the stats cache checks (one round trip for both)."""
    row = session.execute(
        select(Plan, *stats_cache.check_columns(plan_id)).where(col(Plan.id) == plan_id)
    ).one_or_none()
    if row is None:
        raise NotFound("计划不存在", code="plan.not_found")
    plan, generation, stamp = row
    return plan, (int(generation), stamp)


def zone_of(plan: Plan) -> ZoneInfo:
    return zones.of_plan(plan)


@dataclass(frozen=True, kw_only=True)
class Moment:
    """The plan, the viewer and the instant: what the figures' shape depends on besides the rows.

    No session: a cached summary (api.stats.cache) is keyed and shaped from this alone, on the
    event loop. `rebuilt` says `now` lies in the past, so the assignments are read as they stood then.
    """

    plan: Plan
    user: User | None  # None: a board token, read-only over the whole plan
    now: datetime
    rebuilt: bool = False

    @cached_property
    def zone(self) -> ZoneInfo:
        return zone_of(self.plan)

    @cached_property
    def today(self) -> date:
        return calendar.local_date(self.now, self.zone)

    @cached_property
    def _report_span(self) -> periods.Period:
        # The reporting period of the last day the figures cover (a finished month's cut-off is
        # 00:00 of the next month, whose own reporting period has not begun).
        return periods.period_of(str(self.plan.report_cadence), periods.through(self.now, self.zone))

    @property
    def report_period(self) -> str:
        return self._report_span.key

    @cached_property
    def report_due(self) -> date:
        return calendar.effective_due_date(
            periods.due_date(self._report_span, due_day=self.plan.report_due_day)
        )

    @cached_property
    def progress_start(self) -> date:
        return self.plan.period_start or calendar.local_date(self.plan.created_at, self.zone)


@dataclass(frozen=True, kw_only=True)
class Context(Moment):
    """What every query of one request shares: the moment, and the session that reads it."""

    session: Session

    @cached_property
    def source(self) -> Any:
        """The assignments table, or its rebuilt state at `now`: the same column names."""
        if self.rebuilt:
            dialect = self.session.get_bind().dialect.name
            return history.assignments_at(self.now, plan_id=self.plan.id, dialect=dialect)
        return Assignment.__table__  # type: ignore[attr-defined]

    @property
    def a(self) -> Any:
        return self.source.c

    @property
    def overdue_basis(self) -> Any:
        """The day overdue time counts from: the deadline, or the later day the item was assigned."""
        return overdue_basis(self.source)


def scoped(ctx: Context, *columns: Any) -> sa.Select[Any]:
    """Assignments of the plan (as of the context's instant) the viewer may see (scoping in SQL)."""
    stmt: sa.Select[Any] = sa.select(*columns).select_from(ctx.source)
    if ctx.user is not None:
        stmt = scoped_to_user(stmt, ctx.user, ctx.a.unit_id)
    return stmt.where(ctx.a.plan_id == ctx.plan.id)


def expected_percent(start: date, due: date, today: date) -> int:
    """Time elapsed from the plan's start towards `due`, in percent."""
    if due <= start or today >= due:
        return 100
    if today <= start:
        return 0
    return int(100 * (today - start).days / (due - start).days)


def working_days_overdue_many(days: list[date], today: date) -> dict[date, int]:
    """`calendar.working_days_overdue` for many due dates: one ordinal subtraction each."""
    cal = calendar.current()
    last = today - timedelta(days=1)  # the last day that has ended
    last_ordinal = cal.ordinal(last)
    return {d: (last_ordinal - cal.ordinal(d)) if d < last else 0 for d in days}


def _fact_rows(ctx: Context, days: list[date]) -> list[tuple[date, int, int, datetime]]:
    overdue_by = working_days_overdue_many(days, ctx.today)
    return [
        (
            d,
            overdue_by[d],
            expected_percent(ctx.progress_start, d, ctx.today),
            calendar.end_of_day(d, ctx.zone),
        )
        for d in days
    ]


def distinct_deadlines(ctx: Context) -> list[date]:
    a = ctx.a
    # One pass: the deadlines, and the original ones where an extension moved them.
    original = case((a.extension_count > 0, a.original_due_date))
    basis = ctx.overdue_basis
    stmt = scoped(ctx, a.due_date, original, basis).group_by(a.due_date, original, basis)
    days = {d for row in ctx.session.execute(stmt).all() for d in row if d is not None}
    return sorted(days)


def date_facts(ctx: Context) -> list[tuple[date, int, int, datetime]]:
    """(day, working days overdue, expected percent, end of day) for the plan's deadlines, exactly
    (in Python: any day, inside the calendar's span or not)."""
    # The facts table needs a row, hence today when the plan has no deadlines yet.
    return _fact_rows(ctx, distinct_deadlines(ctx) or [ctx.today])


_FACT_COLUMNS = (("d", sa.Date), ("wdo", sa.Integer), ("expected", sa.Integer), ("end_at", UTCDateTime()))


def facts_table(rows: list[tuple[date, int, int, datetime]], name: str) -> Any:
    """Exact deadline facts (date_facts) as a small VALUES table to join on a date column."""
    return sa.values(*[sa.column(field, t) for field, t in _FACT_COLUMNS], name=name).data(rows).cte(name)


_DAY = calendar_store.day_t


def facts_window(ctx: Context) -> tuple[date, date] | None:
    """The `calendar_day` rows joined: a year before the plan to two years after it (or today).

    Bounded so the join hashes a couple of thousand rows rather than the table's 22,000; a
    deadline outside it is caught by the aggregate (`uncovered`). None when the figures need
    days the table does not hold at all (then only exact facts will do).
    """
    lo = max((ctx.plan.period_start or ctx.today) - timedelta(days=366), calendar.EPOCH)
    hi = min(max(ctx.plan.period_end or ctx.today, ctx.today) + timedelta(days=731), calendar.SPAN_END)
    yesterday = ctx.today - timedelta(days=1)
    if lo > hi or not calendar.EPOCH <= yesterday <= calendar.SPAN_END:
        return None
    return lo, hi


def calendar_facts(ctx: Context, window: tuple[date, date], name: str) -> Any:
    """The deadline facts of the window's days, computed by the database from `calendar_day`.

    The same columns as `facts_table`: working days overdue is the ordinal of yesterday (the last
    day that has ended) minus the day's, the expected percent and the day's end are expressions.
    """
    lo, hi = window
    day = _DAY.c.day
    yesterday = ctx.today - timedelta(days=1)
    last = _DAY.alias("yesterday")
    last_ordinal = sa.select(last.c.working_ordinal).where(last.c.day == yesterday).scalar_subquery()
    dialect = ctx.session.get_bind().dialect.name
    return (
        sa.select(
            day.label("d"),
            case((day < yesterday, last_ordinal - _DAY.c.working_ordinal), else_=0).label("wdo"),
            expected_percent_sql(day, start=ctx.progress_start, today=ctx.today, dialect=dialect).label(
                "expected"
            ),
            end_of_day_sql(day, ctx.zone, dialect=dialect, window=window).label("end_at"),
        )
        .where(day >= lo, day <= hi)
        .subquery(name)
    )


def _days_after(day: Any, start: date, dialect: str) -> Any:
    """SQL: calendar days from `start` to `day` (a date expression), an integer."""
    if dialect == "sqlite":
        return sa.cast(func.julianday(day) - func.julianday(sa.literal(start, sa.Date)), sa.Integer)
    return sa.type_coerce(day - sa.literal(start, sa.Date), sa.Integer)


def expected_percent_sql(day: Any, *, start: date, today: date, dialect: str) -> Any:
    """`expected_percent(start, day, today)` as SQL over a date expression (the same integers)."""
    if today <= start:
        return case((day <= start, 100), else_=0)
    elapsed = sa.literal(100 * (today - start).days, sa.Integer)
    # Integer division (truncating, as int() of the positive quotient does) on both databases.
    quotient = elapsed.op("/", return_type=sa.Integer)(_days_after(day, start, dialect).self_group())
    return case((day <= today, 100), else_=quotient)


def day_end_offsets(zone: ZoneInfo) -> tuple[tuple[date, int], ...]:
    """Runs of (first day, seconds from the day's start in UTC to its end instant) over the span.

    `calendar.end_of_day(d)` is then `d` at 00:00 UTC plus the run's seconds: a constant for a zone
    without daylight saving (Asia/Shanghai since 1991), a short CASE for one with it.

    Computed once per zone and process: under a lock, for the first dashboards of a worker ask for
    it together (16 threads each walking the 22,000 days took most of a cold worker's first seconds).
    """
    found = _day_end_offsets.get(zone)
    if found is None:
        with _day_end_lock:
            found = _day_end_offsets.get(zone)
            if found is None:
                found = _day_end_offsets[zone] = _offset_runs(zone)
    return found


_day_end_offsets: dict[ZoneInfo, tuple[tuple[date, int], ...]] = {}
_day_end_lock = threading.Lock()


def _offset_runs(zone: ZoneInfo) -> tuple[tuple[date, int], ...]:
    runs: list[tuple[date, int]] = []
    day, one = calendar.EPOCH, timedelta(days=1)
    while day <= calendar.SPAN_END:
        # calendar.end_of_day(day) is the next day's local 00:00 (fold 0) in UTC: that instant
        # minus the day's 00:00 UTC is a day less the zone's offset then.
        offset = zone.utcoffset(datetime.combine(day + one, time.min))
        seconds = 86400 - int(offset.total_seconds()) if offset is not None else 86400
        if not runs or runs[-1][1] != seconds:
            runs.append((day, seconds))
        day += one
    return tuple(runs)


def end_of_day_sql(day: Any, zone: ZoneInfo, *, dialect: str, window: tuple[date, date]) -> Any:
    """`calendar.end_of_day(day, zone)` as SQL over a date expression within `window` (and the span)."""
    lo, hi = window
    runs = day_end_offsets(zone)
    # The runs that cover the window: the one in force on its first day, and those starting inside it.
    first = max(i for i, (since, _) in enumerate(runs) if since <= lo)
    used = [r for r in runs[first:] if r[0] <= hi]

    def by_run(value: Any) -> Any:
        if len(used) == 1:
            return value(used[0][1])
        return case(*[(day >= since, value(s)) for since, s in reversed(used[1:])], else_=value(used[0][1]))

    if dialect == "sqlite":
        # Stored as SQLAlchemy writes a UTC datetime there: "YYYY-MM-DD HH:MM:SS.ffffff".
        moved = func.datetime(day, by_run(lambda s: sa.literal(f"{s:+d} seconds")))
        return sa.type_coerce(moved.concat(".000000"), UTCDateTime())
    seconds = by_run(lambda s: sa.literal(s, sa.Integer))
    instant = sa.cast(day, sa.DateTime) + seconds * sa.literal_column("INTERVAL '1 second'", sa.Interval)
    return sa.type_coerce(func.timezone("UTC", instant), UTCDateTime())


def day_facts(ctx: Context, *names: str, exact: bool = False) -> list[Any]:
    """The deadline facts under each name: from `calendar_day`, or exact ones (date_facts)."""
    window = None if exact else facts_window(ctx)
    if window is not None:
        return [calendar_facts(ctx, window, name) for name in names]
    rows = date_facts(ctx)
    return [facts_table(rows, name) for name in names]


def make_context(
    session: Session, *, plan: Plan, user: User | None, now: datetime, at: datetime | None = None
) -> Context:
    """The context of figures as of `at` (default now); an `at` before now is rebuilt from history."""
    if at is not None and at < now:
        return Context(session=session, plan=plan, user=user, now=at, rebuilt=True)
    return Context(session=session, plan=plan, user=user, now=now)


def _sum_if(cond: Any, value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0)


def _aggregates(ctx: Context, facts: Any, original: Any) -> list[Any]:
    """Per (group, state) partial sums; `_fold` combines them by state in Python.

    Grouping by state as well keeps the per-row work to a few comparisons (no state IN-lists
    repeated in every aggregate), which is what a million-row scan spends its time on.
    """
    a = ctx.a
    past_due = and_(a.due_at.is_not(None), a.due_at < ctx.now)
    not_due = or_(a.due_at.is_(None), a.due_at >= ctx.now)
    extended = and_(
        a.extension_count > 0,
        or_(a.due_at.is_(None), a.completed_at <= a.due_at),
        a.completed_at > original.c.end_at,
    )
    return [
        a.state.label("state"),
        func.count().label("n"),
        _sum_if(past_due).label("past_due"),
        func.max(case((past_due, facts.c.wdo))).label("wd_max"),
        _sum_if(past_due, facts.c.wdo).label("wd_sum"),
        _sum_if(a.completed_at > a.due_at).label("late"),
        _sum_if(extended).label("extended"),
        _sum_if(and_(not_due, a.percent_done < facts.c.expected - BEHIND_TOLERANCE)).label("behind"),
        func.coalesce(func.sum(a.percent_done), 0).label("percent_sum"),
        func.count(col(ProgressReport.id)).label("reported"),
        # How long the rows hold as time passes (api.stats.cache): the deadlines either side of now.
        func.max(case((past_due, a.due_at))).label("due_before"),
        func.min(case((a.due_at >= ctx.now, a.due_at))).label("due_after"),
        # Deadlines the facts did not cover (see facts_window): then it is asked again, exactly.
        _sum_if(
            or_(
                and_(a.due_date.is_not(None), col(facts.c.d).is_(None)),
                and_(
                    a.extension_count > 0,
                    a.original_due_date.is_not(None),
                    col(original.c.d).is_(None),
                ),
            )
        ).label("uncovered"),
    ]


def _fold(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Combine the (group, state) rows into one row per group, deriving figures from the state."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    completed = str(AssignmentState.completed)
    for r in rows:
        key = tuple(r[k] for k in keys)
        g = out.setdefault(
            key,
            {
                **{k: r[k] for k in keys},
                **dict.fromkeys(
                    (
                        "total",
                        "open",
                        "overdue",
                        "wd_sum",
                        "completed_late",
                        "completed_extended",
                        "behind",
                        "open_percent_sum",
                        "reports_expected",
                        "reports_submitted",
                    ),
                    0,
                ),
                "wd_max": 0,
            },
        )
        state, n = str(r["state"]), int(r["n"])
        g[f"state_{state}"] = n
        g["total"] += n
        if state in _OPEN:
            g["open"] += n
            g["overdue"] += int(r["past_due"])
            g["wd_sum"] += int(r["wd_sum"])
            g["wd_max"] = max(g["wd_max"], int(r["wd_max"] or 0))
            g["behind"] += int(r["behind"])
            g["open_percent_sum"] += int(r["percent_sum"])
        if state in _REPORTING:
            g["reports_expected"] += n
            g["reports_submitted"] += int(r["reported"])
        if state == completed:
            g["completed_late"] = int(r["late"])
            g["completed_extended"] = int(r["extended"])
    for g in out.values():
        g["open_percent_avg"] = g["open_percent_sum"] / g["open"] if g["open"] else None
    return list(out.values())


def submitted_by(ctx: Context, report: Any = ProgressReport) -> Any:
    """A report counted as submitted at the context's instant: submitted or approved now, and when
    rebuilt, submitted by then (one rejected since was still submitted then)."""
    if not ctx.rebuilt:
        return col(report.state).in_(_SUBMITTED)
    return and_(
        col(report.submitted_at) <= ctx.now,
        or_(
            col(report.state).in_(_SUBMITTED),
            and_(col(report.state) == ProgressReportState.rejected, col(report.reviewed_at) > ctx.now),
        ),
    )


def _joined(ctx: Context, stmt: Any, facts: Any, original: Any) -> Any:
    a = ctx.a
    report = ProgressReport
    return (
        # Keyed on the overdue basis, which differs from the deadline only for an item assigned
        # after it (then past due, where only the overdue working days are read from the facts).
        stmt.outerjoin(facts, facts.c.d == ctx.overdue_basis)
        .outerjoin(original, original.c.d == a.original_due_date)
        .outerjoin(
            report,
            and_(
                col(report.assignment_id) == a.id,
                col(report.period) == ctx.report_period,
                submitted_by(ctx, report),
            ),
        )
    )


def group_stats(
    session: Session,
    *,
    plan: Plan,
    user: User | None,
    now: datetime,
    by: str,
    at: datetime | None = None,
    check: stats_cache.Check | None = None,
) -> list[dict[str, Any]]:
    """One row per plan / section / task / unit with every number and its RAG (as of `at`).

    `check`: the cache's check as read with the plan (get_plan_checked), for one call.
    """
    ctx = make_context(session, plan=plan, user=user, now=now, at=at)
    rows = _cached_rows(session, ctx, by, check)
    if by == "plan":
        return [_plan_totals(ctx, rows)]
    folded = _fold(rows, ["id"])
    labels = _labels(session, by, [r.get("id") for r in folded])
    for r in folded:
        r.update(labels.get(r.get("id"), {}))
        if by == "unit" and "kind" in r:
            r["kind"] = str(r["kind"])
    out = [_shape(ctx, r) for r in folded]
    if by == "section":
        out = _with_empty_sections(session, ctx, out)
    if by in ("section", "task"):
        out.sort(key=lambda r: (r.pop("position", 0) or 0, _code_key(r.get("code"))))
    elif by == "unit":
        out.sort(key=lambda r: (-r["overdue_working_days_sum"], -r["overdue"], r["name"] or ""))
    return out


def _plan_totals(moment: Moment, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's one row of figures from its (state) rows: no statement."""
    folded = _fold(rows, []) or [{}]
    return _shape(moment, folded[0])


def _cached_rows(
    session: Session, ctx: Context, by: str, check: stats_cache.Check | None = None
) -> list[dict[str, Any]]:
    """The (group, state) rows: from the cache while nothing they depend on changed (api.stats.cache)."""
    if ctx.rebuilt:
        return _rows(session, ctx, by)
    key = cache_key(ctx, by)
    rows = stats_cache.lookup(session, key, plan_id=ctx.plan.id or 0, now=ctx.now, check=check)
    if rows is None:
        rows = _computed(session, ctx, by, key)[0]
    return rows


def _computed(
    session: Session, ctx: Context, by: str, key: tuple[Any, ...]
) -> tuple[list[dict[str, Any]], stats_cache.Entry | None]:
    """The rows computed afresh, kept in the cache unless a deadline fell outside the facts."""
    rows = _rows(session, ctx, by, checked=True)
    if any(r["uncovered"] for r in rows):
        return rows, None
    return rows, stats_cache.remember(key, rows)


_databases: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(engine: Engine) -> str:
    """Which database the figures come from, for the cache's key (rendered once per engine)."""
    found = _databases.get(engine)
    if found is None:
        found = _databases[engine] = engine.url.render_as_string(hide_password=True)
    return found


def cache_key(ctx: Context, by: str) -> tuple[Any, ...]:
    """Everything the group statement binds besides `now` (whose effect the entry bounds itself)."""
    return moment_key(database_key(ctx.session.get_bind().engine), ctx, by)


def moment_key(database: str, moment: Moment, by: str) -> tuple[Any, ...]:
    """`cache_key` without a session: the database named by the caller."""
    plan = moment.plan
    return (
        database,
        plan.id,
        by,
        scope_key(moment.user) if moment.user is not None else "board",  # a board token: the whole plan
        moment.today,
        moment.report_period,
        moment.progress_start,
        plan.period_start,
        plan.period_end,
        str(moment.zone),
    )


def _rows(session: Session, ctx: Context, by: str, *, checked: bool = False) -> list[dict[str, Any]]:
    rows = _group_rows(session, ctx, by, exact=False, checked=checked)
    if any(r["uncovered"] for r in rows):
        rows = _group_rows(session, ctx, by, exact=True, checked=checked)
    return rows


def _group_rows(
    session: Session, ctx: Context, by: str, *, exact: bool, checked: bool = False
) -> list[dict[str, Any]]:
    facts, original = day_facts(ctx, "due_facts", "original_facts", exact=exact)
    a = ctx.a
    aggs = _aggregates(ctx, facts, original)
    if checked:  # what the cache checks, from the same snapshot as the figures
        aggs += stats_cache.check_columns(ctx.plan.id or 0)
    # Group on the foreign key alone (names are looked up afterwards for the few groups): hashing
    # a million rows on an integer is much cheaper than on titles.
    keys: list[Any] = [a[_GROUP_COLUMN[by]].label("id")] if by != "plan" else []
    stmt = _joined(ctx, scoped(ctx, *keys, *aggs), facts, original)
    stmt = stmt.group_by(*keys, a.state)
    return [dict(r) for r in session.execute(stmt).mappings().all()]


_GROUP_COLUMN = {"section": "section_id", "task": "task_id", "unit": "unit_id"}


def _labels(session: Session, by: str, ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """Code, name and ordering of the groups, one small query."""
    if by == "plan" or not ids:
        return {}
    if by == "section":
        stmt: Any = select(Section.id, Section.code, col(Section.title).label("name"), Section.position)
        table: Any = Section
    elif by == "task":
        stmt = sa.select(
            col(Task.id),
            col(Task.code),
            col(Task.title).label("name"),
            col(Task.position),
            col(Task.section_id),
        )
        table = Task
    else:
        stmt = select(Unit.id, Unit.code, Unit.name, Unit.kind)
        table = Unit
    rows = session.execute(stmt.where(col(table.id).in_([i for i in ids if i is not None]))).mappings().all()
    return {r["id"]: dict(r) for r in rows}


def _code_key(code: str | None) -> tuple[int, str]:
    digits = "".join(ch for ch in (code or "") if ch.isdigit())
    return (int(digits) if digits else 10**6, code or "")


def _with_empty_sections(session: Session, ctx: Context, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {r["id"] for r in rows}
    sections = session.exec(select(Section).where(Section.plan_id == ctx.plan.id)).all()
    for s in sections:
        if s.id not in seen:
            rows.append(_shape(ctx, {"id": s.id, "code": s.code, "name": s.title, "position": s.position}))
    return rows


def _shape(ctx: Moment, r: dict[str, Any]) -> dict[str, Any]:
    states = {s: int(r.get(f"state_{s}") or 0) for s in STATES}
    completed = states[str(AssignmentState.completed)]
    late = int(r.get("completed_late") or 0)
    extended = int(r.get("completed_extended") or 0)
    expected = int(r.get("reports_expected") or 0)
    submitted = int(r.get("reports_submitted") or 0)
    avg = r.get("open_percent_avg")
    row: dict[str, Any] = {
        k: r[k] for k in ("id", "code", "name", "position", "kind", "section_id") if k in r
    }
    row.update(
        total=int(r.get("total") or 0),
        states=states,
        open=int(r.get("open") or 0),
        overdue=int(r.get("overdue") or 0),
        overdue_working_days_max=int(r.get("wd_max") or 0),
        overdue_working_days_sum=int(r.get("wd_sum") or 0),
        completed=completed,
        completed_on_time=completed - late - extended,
        completed_late=late,
        completed_after_extension=extended,
        behind=int(r.get("behind") or 0),
        open_percent_avg=round(float(avg), 1) if avg is not None else None,
        reports={
            "period": ctx.report_period,
            "due_date": ctx.report_due.isoformat(),
            "expected": expected,
            "submitted": submitted,
            "rate": round(submitted / expected, 4) if expected else None,
        },
    )
    row["rag"], row["rag_reason"] = rag_of(row, report_due_passed=ctx.today > ctx.report_due)
    return row


def rag_of(row: dict[str, Any], *, report_due_passed: bool) -> tuple[str, str]:
    """红黄绿灯 and why, in words."""
    if row["overdue"]:
        n, worst = row["overdue"], row["overdue_working_days_max"]
        span = f"逾期{worst}个工作日" if worst else "逾期不足1个工作日"
        return "red", span if n == 1 else f"{n}项逾期，最长{span}"
    reasons = []
    if row["behind"]:
        reasons.append(f"{row['behind']}项进度低于预期")
    missing = row["reports"]["expected"] - row["reports"]["submitted"]
    if report_due_passed and missing > 0:
        reasons.append(f"本期{missing}项未报送进展")
    if reasons:
        return "yellow", "；".join(reasons)
    if row["total"] == 0:
        return "green", "暂无交办任务"
    if row["open"] == 0 and row["completed"]:
        return "green", "已全部办结"
    return "green", "按计划推进"


def overdue_items(
    session: Session,
    *,
    plan: Plan,
    user: User | None,
    now: datetime,
    limit: int | None = 200,
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Open assignments past their deadline, longest overdue first (as of `at`)."""
    ctx = make_context(session, plan=plan, user=user, now=now, at=at)
    (facts,) = day_facts(ctx, "due_facts")
    a = ctx.a
    stmt = (
        scoped(
            ctx,
            a.id.label("assignment_id"),
            col(Task.code).label("task_code"),
            col(Task.title).label("task_title"),
            a.unit_id.label("unit_id"),
            col(Unit.name).label("unit_name"),
            a.section_id.label("section_id"),
            a.due_date,
            ctx.overdue_basis.label("overdue_basis"),
            a.state,
            a.percent_done,
            a.extension_count,
            col(facts.c.wdo).label("working_days_overdue"),
        )
        .join(Task, col(Task.id) == a.task_id)
        .join(Unit, col(Unit.id) == a.unit_id)
        .outerjoin(facts, facts.c.d == ctx.overdue_basis)
        .where(a.state.in_(_OPEN), a.due_at.is_not(None), a.due_at < ctx.now)
        .order_by(ctx.overdue_basis, col(Unit.name), a.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    items = [dict(r) for r in session.execute(stmt).mappings().all()]
    # A deadline outside the facts window (see facts_window): the few listed rows are computed here.
    uncovered = sorted(
        {i["overdue_basis"] for i in items if i["working_days_overdue"] is None and i["overdue_basis"]}
    )
    late = working_days_overdue_many(uncovered, ctx.today)
    out = []
    for item in items:
        basis = item.pop("overdue_basis")
        if item["working_days_overdue"] is None and basis:
            item["working_days_overdue"] = late[basis]
        item["due_date"] = item["due_date"].isoformat() if item["due_date"] else None
        item["state"] = str(item["state"])
        wd = item["working_days_overdue"] or 0
        item["working_days_overdue"] = wd
        item["reason"] = f"逾期{wd}个工作日" if wd else "逾期不足1个工作日"
        out.append(item)
    return out


def indicator_stats(
    session: Session, *, plan: Plan, user: User | None, now: datetime, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Each indicator with its latest value, progress toward target, forecast and RAG (as of `at`:
    the values reported by then)."""
    ctx = make_context(session, plan=plan, user=user, now=now, at=at)
    stmt = select(Indicator).where(Indicator.plan_id == plan.id)
    if user is not None:
        clause = unit_scope_clause(user, Indicator.owner_unit_id)
        if clause is not None:
            stmt = stmt.where(clause)
    inds = list(session.exec(stmt.order_by(col(Indicator.id))).all())
    values: dict[int, list[tuple[date, float]]] = {}
    if inds:
        vstmt = (
            select(
                col(IndicatorValue.indicator_id), col(IndicatorValue.period_end), col(IndicatorValue.value)
            )
            .where(col(IndicatorValue.indicator_id).in_([i.id for i in inds]))
            .order_by(col(IndicatorValue.period_end))
        )
        if ctx.rebuilt:
            vstmt = vstmt.where(col(IndicatorValue.reported_at) <= ctx.now)
        for ind_id, period_end, value in session.execute(vstmt).all():
            values.setdefault(ind_id, []).append((period_end, float(value)))
    owners = (
        dict(
            session.execute(
                select(Unit.id, Unit.name).where(
                    col(Unit.id).in_([i.owner_unit_id for i in inds if i.owner_unit_id])
                )
            ).all()
        )
        if inds
        else {}
    )
    out = []
    for ind in inds:
        vals = values.get(ind.id or 0, [])
        status = indicator_status.evaluate(
            target=ind.target_value,
            comparator=ind.comparator,
            baseline=ind.baseline_value,
            values=vals,
            due=ind.due_date,
            today=ctx.today,
            unit=ind.unit,
        )
        latest = vals[-1] if vals else None
        progress = getattr(status, "progress", None)
        forecast = getattr(status, "forecast", None)
        out.append(
            {
                "id": ind.id,
                "name": ind.name,
                "unit": ind.unit,
                "comparator": ind.comparator,
                "target": ind.target_value,
                "baseline": ind.baseline_value,
                "due_date": ind.due_date.isoformat() if ind.due_date else None,
                "owner_unit_id": ind.owner_unit_id,
                "owner_unit_name": owners.get(ind.owner_unit_id),
                "latest_value": latest[1] if latest else None,
                "latest_period_end": latest[0].isoformat() if latest else None,
                "progress": round(float(progress), 4) if progress is not None else None,
                "forecast": round(float(forecast), 4) if forecast is not None else None,
                "achieved": indicator_status.achieved(
                    target=ind.target_value, comparator=ind.comparator, value=latest[1] if latest else None
                ),
                "rag": str(getattr(status, "rag", "green")),
                "rag_reason": str(getattr(status, "reason", "")),
                # As people write them: 「不低于50个」, 「49个」 (a count is whole).
                "target_text": (
                    comparators.phrase(
                        ind.comparator,
                        amounts.with_unit(ind.target_value, ind.unit, target=ind.target_value),
                    )
                    if ind.target_value is not None
                    else None
                ),
                "latest_text": (
                    amounts.with_unit(latest[1], ind.unit, target=ind.target_value) if latest else None
                ),
            }
        )
    return out


def plan_summary(
    session: Session,
    *,
    plan: Plan,
    user: User | None,
    now: datetime,
    at: datetime | None = None,
    check: stats_cache.Check | None = None,
) -> dict[str, Any]:
    totals = group_stats(session, plan=plan, user=user, now=now, by="plan", at=at, check=check)[0]
    totals.pop("position", None)
    instant = min(at or now, now)
    return _summary(plan, instant, calendar.local_date(instant, zone_of(plan)), totals)


def _summary(plan: Plan, instant: datetime, today: date, totals: dict[str, Any]) -> dict[str, Any]:
    return {
        "plan": {"id": plan.id, "title": plan.title, "doc_no": plan.doc_no},
        "as_of": instant.isoformat(),
        "today": today.isoformat(),
        **totals,
    }


# --- the dashboard's summary as bytes (the route's cached path) ---------------------------------


@dataclass(frozen=True, slots=True)
class Encoded:
    """A summary's JSON but for its `as_of` (the instant of each request): what orjson makes of
    the whole dict is `head + dumps(as_of) + tail`, byte for byte."""

    head: bytes
    tail: bytes

    def body(self, now: datetime) -> bytes:
        return self.head + orjson.dumps(now.isoformat()) + self.tail

    @classmethod
    def of(cls, summary: dict[str, Any]) -> Encoded:
        rest = {k: v for k, v in summary.items() if k not in ("plan", "as_of")}
        assert list(summary)[:2] == ["plan", "as_of"] and rest  # the order _summary builds
        head = b'{"plan":' + orjson.dumps(summary["plan"]) + b',"as_of":'
        return cls(head, b"," + orjson.dumps(rest)[1:])


def _encoded(moment: Moment, entry: stats_cache.Entry) -> Encoded:
    """The summary of the entry's rows for the moment's plan, kept with the entry.

    Besides the rows it reads what the entry's key holds (the day, the period, the zone, the
    viewer's scope) and of the plan what the memo's key holds."""
    plan = moment.plan
    memo = ("summary", plan.id, plan.title, plan.doc_no, str(plan.report_cadence), plan.report_due_day)
    found = entry.memo.get(memo)
    if not isinstance(found, Encoded):
        totals = _plan_totals(moment, entry.rows)
        found = entry.memo[memo] = Encoded.of(_summary(plan, moment.now, moment.today, totals))
    return found


def summary_key(database: str, *, plan: Plan, user: User | None, now: datetime) -> tuple[Any, ...]:
    return moment_key(database, Moment(plan=plan, user=user, now=now), "plan")


def cached_summary_body(
    key: tuple[Any, ...], *, plan: Plan, user: User | None, now: datetime, check: stats_cache.Check
) -> bytes | None:
    """`plan_summary` as JSON when the cache holds its rows (`key`: summary_key) under `check`,
    read with the plan: no statement and no session, for the event loop. Else None."""
    entry = stats_cache.find(key, now=now, check=check)
    if entry is None:
        return None
    return _encoded(Moment(plan=plan, user=user, now=now), entry).body(now)


def summary_body(
    session: Session, *, plan: Plan, user: User | None, now: datetime, check: stats_cache.Check
) -> bytes:
    """`plan_summary` as JSON (now, not rebuilt): from the cache, else computed and kept there."""
    ctx = make_context(session, plan=plan, user=user, now=now)
    key = cache_key(ctx, "plan")
    entry = stats_cache.find(key, now=now, check=check)
    if entry is None:
        rows, entry = _computed(session, ctx, "plan", key)
        if entry is None:  # not kept (empty, or a deadline outside the facts)
            return Encoded.of(_summary(plan, now, ctx.today, _plan_totals(ctx, rows))).body(now)
    return _encoded(ctx, entry).body(now)
