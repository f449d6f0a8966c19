"""Progress reports (进展反馈): drafting, submission and review, one per assignment and period.

Decision: the assignment's `percent_done` and the indicator values move on **approval**, not on
submission. What the office has reviewed is what statistics, bulletins and assessments count; a
rejected report leaves the assignment as it was.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select
from sqlmodel import Session, col, select

from api.report.shared import actor_ref, assignment_event, require_own_unit
from duban import calendar, periods, zones
from duban.db import columns
from duban.errors import Conflict, IllegalTransition, NotFound, Unprocessable
from duban.events import Ref, ReportReviewed, ReportSubmitted
from duban.models import (
    OPEN_STATES,
    Assignment,
    AssignmentState,
    Indicator,
    IndicatorValue,
    Plan,
    ProgressReport,
    ProgressReportState,
    Task,
    Unit,
    User,
)
from duban.uow import UnitOfWork, unit_of_work

S = ProgressReportState
# action → states it may start from
TRANSITIONS: dict[str, frozenset[str]] = {
    "edit": frozenset({S.draft, S.rejected}),
    "submit": frozenset({S.draft, S.rejected}),
    "approve": frozenset({S.submitted}),
    "reject": frozenset({S.submitted}),
}
EDITABLE = TRANSITIONS["edit"]
# A unit reports on work it has signed for (签收), until the office closes it.
REPORTABLE_ASSIGNMENT_STATES = frozenset({AssignmentState.accepted, AssignmentState.completion_requested})

REPORT_COLUMNS = columns(
    ProgressReport.id,
    ProgressReport.assignment_id,
    ProgressReport.unit_id,
    ProgressReport.plan_id,
    ProgressReport.period,
    ProgressReport.period_due_date,
    ProgressReport.percent_done,
    ProgressReport.state,
    ProgressReport.author_id,
    ProgressReport.submitted_at,
    ProgressReport.reviewed_at,
    ProgressReport.reviewer_id,
    ProgressReport.review_comment,
    ProgressReport.version,
    ProgressReport.created_at,
    ProgressReport.updated_at,
)


def visible_reports(user: User, *columns: Any) -> Select[Any]:
    from api.assignment.service import scoped

    stmt = select(*columns) if columns else select(ProgressReport)
    return scoped(stmt, user, ProgressReport.unit_id)


def get_visible(session: Session, *, user: User, report_id: int) -> ProgressReport:
    report = session.exec(visible_reports(user).where(col(ProgressReport.id) == report_id)).first()  # type: ignore[call-overload]
    if report is None:
        raise NotFound("进展报告不存在", code="report.not_found")
    result: ProgressReport = report
    return result


def check_transition(report: ProgressReport, action: str) -> None:
    if report.state not in TRANSITIONS[action]:
        allowed = [a for a, states in TRANSITIONS.items() if report.state in states]
        raise IllegalTransition(action=action, state=str(report.state), allowed=allowed, entity="report")


def _indicator_values(
    session: Session, *, assignment: Assignment, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Validate {indicator_id, value} pairs: the plan's indicators, owned by this unit or by no one."""
    seen: set[int] = set()
    out = []
    for item in items:
        ind_id = int(item["indicator_id"])
        if ind_id in seen:
            raise Unprocessable(
                "同一指标只能填报一次", code="report.duplicate_indicator", details={"indicator_id": ind_id}
            )
        seen.add(ind_id)
        indicator = session.get(Indicator, ind_id)
        if indicator is None or indicator.plan_id != assignment.plan_id:
            raise Unprocessable(
                "指标不存在或不属于本计划", code="report.unknown_indicator", details={"indicator_id": ind_id}
            )
        if indicator.owner_unit_id is not None and indicator.owner_unit_id != assignment.unit_id:
            raise Unprocessable(
                "该指标由其他单位填报", code="report.indicator_not_owned", details={"indicator_id": ind_id}
            )
        out.append({"indicator_id": ind_id, "value": float(item["value"])})
    return out


def create(
    *, session: Session, user: User, assignment: Assignment, data: dict[str, Any], now: datetime
) -> ProgressReport:
    require_own_unit(user, assignment.unit_id, code="report.not_own_unit")
    if assignment.state not in REPORTABLE_ASSIGNMENT_STATES:
        raise Conflict(
            "任务签收后、办结前才能填报进展",
            code="report.assignment_not_reportable",
            details={"assignment_state": str(assignment.state)},
        )
    plan = session.get(Plan, assignment.plan_id)
    if plan is None:
        raise NotFound("计划不存在", code="plan.not_found")
    cadence = str(plan.report_cadence)
    zone = zones.of_plan(plan)
    period_key = data.get("period") or periods.period_of(cadence, calendar.local_date(now, zone)).key
    period = periods.for_cadence(period_key, cadence)
    existing = session.exec(
        select(ProgressReport.id).where(
            ProgressReport.assignment_id == assignment.id, ProgressReport.period == period.key
        )
    ).first()
    submit_now = _check_new(existing, period.key, data)
    with unit_of_work(session, actor=user, now=now) as uow:
        report = uow.add(
            ProgressReport(
                assignment_id=assignment.id or 0,
                unit_id=assignment.unit_id,
                plan_id=assignment.plan_id,
                period=period.key,
                period_due_date=calendar.effective_due_date(
                    periods.due_date(period, due_day=plan.report_due_day)
                ),
                text=data.get("text") or "",
                percent_done=data.get("percent_done", assignment.percent_done),
                indicator_values=_indicator_values(
                    session, assignment=assignment, items=data.get("indicator_values") or []
                ),
                author_id=user.id,
                created_at=now,
                updated_at=now,
                state=S.submitted if submit_now else S.draft,
                submitted_at=now if submit_now else None,
            ),
            action="report.create",
        )
        if submit_now:
            # Created and submitted in one transaction: the office hears of it as of a submission.
            uow.flush()
            _emit_submitted(session, uow, report=report, assignment=assignment, user=user)
    return report


def _emit_submitted(
    session: Session, uow: UnitOfWork, *, report: ProgressReport, assignment: Assignment, user: User
) -> None:
    event = assignment_event(
        session, ReportSubmitted, assignment=assignment, actor=user, report_id=report.id, period=report.period
    )
    uow.emit(event, plan_id=report.plan_id, assignment_id=assignment.id, unit_id=report.unit_id)


def update(
    *, session: Session, user: User, report: ProgressReport, changes: dict[str, Any], now: datetime
) -> ProgressReport:
    require_own_unit(user, report.unit_id, code="report.not_own_unit")
    check_transition(report, "edit")
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.track(report, action="report.update")
        if "indicator_values" in changes:
            assignment = session.get(Assignment, report.assignment_id)
            assert assignment is not None
            report.indicator_values = _indicator_values(
                session, assignment=assignment, items=changes.pop("indicator_values") or []
            )
        for key in ("text", "percent_done"):
            if key in changes and changes[key] is not None:
                setattr(report, key, changes[key])
    return report


def submit(*, session: Session, user: User, report: ProgressReport, now: datetime) -> ProgressReport:
    require_own_unit(user, report.unit_id, code="report.not_own_unit")
    check_transition(report, "submit")
    if not report.text.strip():
        raise Unprocessable("进展情况不能为空", code="report.text_required")
    assignment = session.get(Assignment, report.assignment_id)
    assert assignment is not None
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.track(report, action="report.submit")
        report.state = S.submitted
        report.submitted_at = now
        report.reviewed_at = None
        report.reviewer_id = None
        _emit_submitted(session, uow, report=report, assignment=assignment, user=user)
    return report


def _write_indicator_values(session: Session, *, report: ProgressReport, now: datetime) -> None:
    if not report.indicator_values:
        return
    period_end = periods.parse(report.period).end
    for item in report.indicator_values:
        row = session.exec(
            select(IndicatorValue).where(
                IndicatorValue.indicator_id == item["indicator_id"], IndicatorValue.period == report.period
            )
        ).first()
        if row is None:
            row = IndicatorValue(
                indicator_id=item["indicator_id"],
                period=report.period,
                period_end=period_end,
                value=item["value"],
                reported_at=now,
            )
            session.add(row)
        row.value = float(item["value"])
        row.unit_id = report.unit_id
        row.report_id = report.id
        row.reported_by_id = report.author_id
        row.reported_at = now


def review(
    *, session: Session, user: User, report: ProgressReport, approve: bool, comment: str | None, now: datetime
) -> ProgressReport:
    action = "approve" if approve else "reject"
    check_transition(report, action)
    if not approve and not (comment and comment.strip()):
        raise Unprocessable("退回进展报告须填写理由", code="report.reason_required")
    assignment = session.get(Assignment, report.assignment_id)
    assert assignment is not None
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.track(report, action=f"report.{action}")
        report.state = S.approved if approve else S.rejected
        report.reviewed_at = now
        report.reviewer_id = user.id
        report.review_comment = comment.strip() if comment else None
        report.updated_at = now
        # The report's row first, then the assignment's: the order every report write takes (the
        # report trigger marks the assignment for the reminder scanner, migration 0012), so an
        # approval and a concurrent rejection or submission queue instead of deadlocking.
        uow.flush()
        if approve:
            # Progress moves while the assignment is open: a report approved after the office
            # closed it (completed at 100 %, or cancelled) leaves its figure alone.
            if assignment.state in OPEN_STATES and assignment.percent_done != report.percent_done:
                uow.track(assignment, action="assignment.progress")
                assignment.percent_done = report.percent_done
            _write_indicator_values(session, report=report, now=now)
        event = assignment_event(
            session,
            ReportReviewed,
            assignment=assignment,
            actor=user,
            report_id=report.id,
            period=report.period,
            approved=approve,
            reason=report.review_comment,
        )
        uow.emit(event, plan_id=report.plan_id, assignment_id=assignment.id, unit_id=report.unit_id)
    return report


# What a list item names besides ids, so a client shows a queue without one request per row.
NAME_COLUMNS: tuple[Any, ...] = (
    col(Task.id).label("task_id"),
    col(Task.code).label("task_code"),
    col(Task.title).label("task_title"),
    col(Unit.name).label("unit_name"),
)


def list_stmt(user: User, *, filters: dict[str, Any]) -> Select[Any]:
    stmt = (
        visible_reports(user, *REPORT_COLUMNS, *NAME_COLUMNS)
        .join(Assignment, col(Assignment.id) == col(ProgressReport.assignment_id))
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .join(Unit, col(Unit.id) == col(ProgressReport.unit_id))
    )
    for name in ("plan_id", "unit_id", "assignment_id", "period", "state"):
        value = filters.get(name)
        if value is not None:
            stmt = stmt.where(getattr(ProgressReport, name) == (str(value) if name == "state" else value))
    return stmt


def order() -> list[tuple[Any, str]]:
    return [(col(ProgressReport.id), "desc")]


# --- the lean write (api.writepath) ------------------------------------------------------------------

REPORT = ProgressReport.__table__  # type: ignore[attr-defined]
_CREATE_COLUMNS: tuple[Any, ...] = (
    col(Assignment.id),
    col(Assignment.unit_id),
    col(Assignment.plan_id),
    col(Assignment.task_id),
    col(Assignment.state),
    col(Assignment.due_date),
    col(Assignment.percent_done),
    col(Plan.title).label("plan_title"),
    col(Plan.report_cadence),
    col(Plan.report_due_day),
    col(Plan.timezone),
    col(Task.title).label("task_title"),
    col(Task.code).label("task_code"),
    col(Unit.name).label("unit_name"),
)


def _create_select() -> Select[Any]:
    stmt: Select[Any] = (
        select(*_CREATE_COLUMNS)
        .join(Plan, col(Plan.id) == col(Assignment.plan_id))
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
    )
    return stmt


_CREATE_BY_SCOPE: dict[tuple[bool, bool], Select[Any]] = {}
_EXISTING = select(col(ProgressReport.id)).where(
    col(ProgressReport.assignment_id) == sa.bindparam("assignment_id", type_=sa.Integer()),
    col(ProgressReport.period) == sa.bindparam("period", type_=sa.String()),
)


def _duplicate(existing: int | None, period: str) -> Conflict:
    return Conflict(
        "该报告期已有进展报告，请修改原报告",
        code="report.duplicate_period",
        details={"report_id": existing, "period": period},
    )


def _check_new(existing: int | None, period: str, data: dict[str, Any]) -> bool:
    """A new report's checks (one a period; text when submitted at once): whether it is submitted."""
    if existing is not None:
        raise _duplicate(existing, period)
    submit_now = bool(data.get("submit"))
    if submit_now and not (data.get("text") or "").strip():
        raise Unprocessable("进展情况不能为空", code="report.text_required")
    return submit_now


def create_lean(
    session: Session, *, user: User, assignment_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """`create` without the ORM, answering the report's public body: the scoped assignment with
    its plan's reporting rules and the names its event carries in one statement, the period's
    duplicate check, one INSERT, the event and the audit entry, one commit. Same checks, answers."""
    from api.assignment.service import scoped_once
    from api.writepath import first_row

    stmt, scope = scoped_once(_CREATE_BY_SCOPE, user, _create_select)
    found = first_row(session, stmt, {"assignment_id": assignment_id, **scope})
    conn = session.connection()
    a = _checked_assignment(found, user)
    period, key = _period(a, data, now)
    # The period's duplicate check rides in the INSERT (`insert_new`); a request refused for
    # another reason looks first, so that a duplicate is still the answer it was before them.
    try:
        submit_now = _check_new(None, period.key, data)
        indicator_values = _indicator_values(
            session,
            assignment=_Row(a),  # type: ignore[arg-type]
            items=data.get("indicator_values") or [],
        )
    except Unprocessable:
        _check_new(conn.execute(_EXISTING, key).scalar(), period.key, data)
        raise
    with unit_of_work(session, actor=user, now=now) as uow:
        report = uow.insert_new(
            REPORT,
            _new_values(a, data, period, submit_now, indicator_values, user=user, now=now),
            unique=("assignment_id", "period"),
            action="report.create",
        )
        if report is None:
            raise _duplicate(conn.execute(_EXISTING, key).scalar(), period.key)
        if submit_now:
            # Created and submitted in one transaction: the office hears of it as of a submission.
            event = _submitted(a, report, user)
            uow.emit(event, plan_id=a["plan_id"], assignment_id=assignment_id, unit_id=a["unit_id"])
    return _body(report)


def _checked_assignment(a: dict[str, Any] | None, user: User) -> dict[str, Any]:
    if a is None:
        raise NotFound("交办任务不存在", code="assignment.not_found")
    require_own_unit(user, a["unit_id"], code="report.not_own_unit")
    if a["state"] not in REPORTABLE_ASSIGNMENT_STATES:
        raise Conflict(
            "任务签收后、办结前才能填报进展",
            code="report.assignment_not_reportable",
            details={"assignment_state": str(a["state"])},
        )
    return a


def _period(a: dict[str, Any], data: dict[str, Any], now: datetime) -> tuple[periods.Period, dict[str, Any]]:
    cadence = str(a["report_cadence"])
    zone = zones.of(a["timezone"])
    period_key = data.get("period") or periods.period_of(cadence, calendar.local_date(now, zone)).key
    period = periods.for_cadence(period_key, cadence)
    return period, {"assignment_id": a["id"], "period": period.key}


def _new_values(
    a: dict[str, Any],
    data: dict[str, Any],
    period: periods.Period,
    submit_now: bool,
    indicator_values: list[dict[str, Any]],
    *,
    user: User,
    now: datetime,
) -> dict[str, Any]:
    return {
        "assignment_id": a["id"],
        "unit_id": a["unit_id"],
        "plan_id": a["plan_id"],
        "period": period.key,
        "period_due_date": calendar.effective_due_date(periods.due_date(period, due_day=a["report_due_day"])),
        "text": data.get("text") or "",
        "percent_done": data.get("percent_done", a["percent_done"]),
        "indicator_values": indicator_values,
        "author_id": user.id,
        "created_at": now,
        "updated_at": now,
        "state": S.submitted if submit_now else S.draft,
        "submitted_at": now if submit_now else None,
        "reviewed_at": None,
        "reviewer_id": None,
        "review_comment": None,
        "version": 1,
    }


def _submitted(a: dict[str, Any], report: dict[str, Any], user: User) -> ReportSubmitted:
    return ReportSubmitted(
        plan=Ref(id=a["plan_id"], name=a["plan_title"]),
        task=Ref(id=a["task_id"], name=a["task_title"], code=a["task_code"]),
        unit=Ref(id=a["unit_id"], name=a["unit_name"]),
        assignment_id=a["id"],
        state=str(a["state"]),
        due_date=a["due_date"],
        actor=actor_ref(user),
        report_id=report["id"],
        period=report["period"],
    )


def _body(report: dict[str, Any]) -> dict[str, Any]:
    body = {c.key: report[c.key] for c in REPORT_COLUMNS}
    body["state"] = str(report["state"])
    body["text"] = report["text"]
    body["indicator_values"] = report["indicator_values"]
    body["attachments"] = []  # a report just made has none
    return body


_CREATE_READS: dict[tuple[int, bool, str], Any] = {}
_NEW_ID = sa.column("new_id", sa.Integer())


def _with_new_id(sql: str) -> str:
    # The new report's id from its sequence, with the row: its audit entry and its event are then
    # made before the INSERT, which carries them (a refused request leaves a gap, as a rollback does).
    return (
        f"SELECT a.*, nextval(pg_get_serial_sequence('progress_report', 'id')) AS h_new_id FROM ({sql}) AS a"
    )


def create_pg(
    on: Any,
    *,
    user: User,
    check: dict[str, Any] | None,
    assignment_id: int,
    data: dict[str, Any],
    now: datetime,
) -> Generator[Any, Any, dict[str, Any]]:
    """`create_lean` on PostgreSQL in two statements (yielded: api.pgwrite runs them): the scoped
    assignment with the principal's check and the new report's id in one; the INSERT (nothing on
    the period's duplicate) with its event and audit entry in the other. Only without indicator
    values (their check reads the indicators: `create_lean`). Same checks, same answers."""
    from api.assignment.service import scoped_once
    from api.writepath import Unconfirmed, scoped_read
    from duban import audit, outbox
    from duban.uow import _default, insert_sql, row_params, write_statement

    assert not data.get("indicator_values")
    stmt, scope = scoped_once(_CREATE_BY_SCOPE, user, _create_select)
    dialect = on.dialect
    read = scoped_read(
        _CREATE_READS, stmt, guarded=check is not None, dialect=dialect, wrap=_with_new_id, extra=(_NEW_ID,)
    )
    found = yield read.bind({"assignment_id": assignment_id, **scope, **(check or {})})
    if not found and check is not None:
        raise Unconfirmed
    a = _checked_assignment(found[0] if found else None, user)
    new_id = a.pop("h_new_id")
    period, key = _period(a, data, now)
    existing = _existing_read(dialect)
    try:
        submit_now = _check_new(None, period.key, data)
    except Unprocessable:
        rows = yield existing.bind(key)
        _check_new(rows[0]["id"] if rows else None, period.key, data)
        raise
    values = _new_values(a, data, period, submit_now, [], user=user, now=now)
    report = {"id": new_id, **{c.key: _default(c) for c in REPORT.columns if c.key != "id"}, **values}
    entry = audit.Pending(
        action="report.create",
        entity_type="progress_report",
        entity_id=str(new_id),
        after=audit.snapshot_row(report),
    )
    entries = audit.linked(
        None,  # a new row: its chain starts here (sequence ids are never reused)
        actor=user,
        entries=[entry],
        now=now,
        fresh={("progress_report", str(new_id))},
    )
    events_ = []
    if submit_now:
        # Created and submitted in one transaction: the office hears of it as of a submission.
        event = _submitted(a, report, user)
        events_.append(
            outbox.values(
                event=event, now=now, plan_id=a["plan_id"], assignment_id=assignment_id, unit_id=a["unit_id"]
            )
        )
    keys = tuple(report)
    written = yield from write_statement(
        dialect,
        ("progress_report", keys),
        lambda: insert_sql(REPORT, keys, ("assignment_id", "period"), dialect),
        row_params(REPORT, report),
        events=events_,
        entries=entries,
        entity="progress_report",
        session=on.session,
    )
    if written.row_id is None:
        rows = yield existing.bind(key)
        raise _duplicate(rows[0]["id"] if rows else None, period.key)
    return _body(report)


@functools.cache
def _existing_read(dialect: Any) -> Any:
    from api import pgwrite

    return pgwrite.compile_read(_EXISTING, dialect)


class _Row:
    """Attribute access to a row's values (what `_indicator_values` reads of an assignment)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
