"""考核: per-unit scores for a period under a plan's versioned scoring rules, every point explained."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api.stats import indicators as indicator_status
from duban import calendar, comparators, history, periods, zones
from duban.errors import Conflict, NotFound
from duban.models import (
    OPEN_STATES,
    Assessment,
    AssessmentScore,
    AssignmentState,
    AuditEntry,
    Indicator,
    IndicatorValue,
    OutboxEvent,
    Plan,
    ProgressReport,
    ProgressReportState,
    ScoringRule,
    Task,
    Unit,
    User,
)
from duban.uow import UnitOfWork, unit_of_work


class ScoringConfig(BaseModel):
    """Points per item; deductions are given as positive numbers."""

    base: float = Field(default=100, ge=0, le=1000, description="基础分")
    overdue_per_working_day: float = Field(default=0.5, ge=0, le=100, description="每项每逾期1个工作日扣分")
    overdue_cap_per_item: float = Field(default=5, ge=0, le=1000, description="每项逾期扣分上限")
    missing_report: float = Field(default=1, ge=0, le=100, description="每缺报1期进展扣分")
    late_report: float = Field(default=1, ge=0, le=100, description="每迟报1期进展扣分")
    returned_or_rejected: float = Field(default=1, ge=0, le=100, description="每退回、驳回1次扣分")
    early_completion: float = Field(default=0.5, ge=0, le=100, description="每提前办结1项加分")
    indicator_achieved: float = Field(default=1, ge=0, le=100, description="每达成1项指标加分")


RULE_NAMES = {
    "base": "基础分",
    "overdue": "逾期",
    "missing_report": "缺报进展",
    "late_report": "迟报进展",
    "returned_or_rejected": "退回或驳回",
    "early_completion": "提前办结",
    "indicator_achieved": "指标达成",
}
_REPORTED = (ProgressReportState.submitted, ProgressReportState.approved, ProgressReportState.rejected)


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("计划不存在", code="plan.not_found")
    return plan


def current_rule(session: Session, *, plan: Plan) -> ScoringRule | None:
    stmt = select(ScoringRule).where(ScoringRule.plan_id == plan.id).order_by(col(ScoringRule.version).desc())
    return session.exec(stmt.limit(1)).first()


def _add_rule(uow: UnitOfWork, *, plan: Plan, config: ScoringConfig, actor: User | None) -> ScoringRule:
    latest = current_rule(uow.session, plan=plan)
    rule = uow.add(
        ScoringRule(
            plan_id=plan.id or 0,
            version=(latest.version + 1) if latest else 1,
            config=config.model_dump(),
            created_at=uow.now,
            created_by_id=actor.id if actor else None,
        )
    )
    uow.flush()
    uow.record(
        action="scoring_rule.create",
        entity_type="scoring_rule",
        entity_id=rule.id,
        after={"plan_id": plan.id, "version": rule.version, "config": rule.config},
    )
    return rule


def put_rule(
    session: Session, *, plan: Plan, config: ScoringConfig, actor: User, now: datetime
) -> ScoringRule:
    """A new version; assessments computed under earlier versions keep theirs."""
    with unit_of_work(session, actor=actor, now=now) as uow:
        rule = _add_rule(uow, plan=plan, config=config, actor=actor)
    return rule


@dataclass
class UnitResult:
    unit_id: int
    unit_name: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    score: float = 0.0
    rank: int = 0


def _item(a: Any) -> dict[str, Any]:
    return {"type": "assignment", "assignment_id": a.id, "task_code": a.task_code, "task_title": a.task_title}


def _task_name(a: Any) -> str:
    return f"任务{a.task_code}“{a.task_title}”"


def compute(
    session: Session, *, plan: Plan, period: periods.Period, config: ScoringConfig, now: datetime
) -> list[UnitResult]:
    """Scores and line-by-line breakdowns; reads only, so bulletins can rank with it too.

    A period is scored as of its cut-off (`periods.cutoff`): for a period that is over, the
    assignments as they stood at its end (`duban.history`), the reports submitted by then.
    """
    zone = zones.of_plan(plan)
    start_at, _ = periods.bounds(period, zone)
    as_of = periods.cutoff(period, zone, now)
    units: dict[int, UnitResult] = {}
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)

    def line(
        unit_id: int, rule: str, item: dict[str, Any], quantity: float, points: float, text: str
    ) -> None:
        lines[unit_id].append(
            {
                "rule": rule,
                "rule_name": RULE_NAMES[rule],
                "item": item,
                "quantity": quantity,
                "points": round(points, 2),
                "text": text,
            }
        )

    # The assignments as they stood at the cut-off: the table itself while the period runs.
    src = history.assignments_as_of(as_of, now=now, plan_id=plan.id, dialect=session.get_bind().dialect.name)
    a = src.c
    cols: tuple[Any, ...] = (
        a.id,
        a.unit_id,
        a.due_date,
        a.due_at,
        a.state,
        a.completed_at,
        a.assigned_at,
        a.cancelled_at,
        col(Task.code).label("task_code"),
        col(Task.title).label("task_title"),
    )
    base = select(*cols).select_from(src).join(Task, col(Task.id) == a.task_id).where(a.plan_id == plan.id)
    held = (
        select(a.unit_id).select_from(src).where(a.plan_id == plan.id, a.state != AssignmentState.cancelled)
    )
    for unit_id, name in session.execute(
        select(Unit.id, Unit.name).where(
            col(Unit.id).in_(held)
            | col(Unit.id).in_(select(Indicator.owner_unit_id).where(Indicator.plan_id == plan.id))
        )
    ).all():
        units[unit_id] = UnitResult(unit_id, name)

    # Overdue: working days accrued inside the period, by open items and by items completed late in it.
    overdue_rows = session.execute(
        base.where(
            a.due_at.is_not(None),
            a.due_at < as_of,
            or_(
                a.state.in_([str(s) for s in OPEN_STATES]),
                and_(
                    a.state == AssignmentState.completed,
                    a.completed_at > a.due_at,
                    a.completed_at >= start_at,
                    a.completed_at <= as_of,
                ),
            ),
        ).order_by(a.id)
    ).all()
    for r in overdue_rows:
        end = r.completed_at if r.state == AssignmentState.completed else as_of
        days = calendar.working_days_overdue(r.due_date, end, zone) - calendar.working_days_overdue(
            r.due_date, start_at, zone
        )
        if days <= 0 or config.overdue_per_working_day == 0:
            continue
        points = min(days * config.overdue_per_working_day, config.overdue_cap_per_item)
        capped = "（达单项上限）" if points < days * config.overdue_per_working_day else ""
        how = "逾期办结" if r.state == AssignmentState.completed else "逾期未办结"
        line(
            r.unit_id,
            "overdue",
            _item(r),
            days,
            -points,
            f"{_task_name(r)}{how}，本期逾期{days}个工作日，扣{_fmt(points)}分{capped}",
        )

    # Reports: every reporting deadline that fell in the period and has passed. Only the owing
    # rows that are missing or late come back (a submitted report needs no line).
    report = ProgressReport
    reported = and_(
        col(report.state).in_([str(s) for s in _REPORTED]),
        col(report.submitted_at).is_not(None),
        col(report.submitted_at) <= as_of,
    )
    cadence = str(plan.report_cadence)
    for report_period, raw_due in periods.due_in(cadence, plan.report_due_day, period.start, period.end):
        key = report_period.key
        due = calendar.effective_due_date(raw_due)
        deadline = calendar.end_of_day(due, zone)
        if deadline > as_of:
            continue
        owing = session.execute(
            base.add_columns(reported.label("reported"), col(report.submitted_at))
            .outerjoin(report, and_(col(report.assignment_id) == a.id, col(report.period) == key))
            .where(
                a.assigned_at <= deadline,
                a.state != AssignmentState.returned,
                or_(a.completed_at.is_(None), a.completed_at > deadline),
                or_(a.cancelled_at.is_(None), a.cancelled_at > deadline),
                a.state != AssignmentState.cancelled,
                or_(col(report.id).is_(None), sa.not_(reported), col(report.submitted_at) > deadline),
            )
            .order_by(a.id)
        ).all()
        for r in owing:
            if not r.reported:
                if config.missing_report:
                    line(
                        r.unit_id,
                        "missing_report",
                        {**_item(r), "period": key},
                        1,
                        -config.missing_report,
                        f"{_task_name(r)}未报送{key}期进展（截止{due.isoformat()}），扣{_fmt(config.missing_report)}分",
                    )
            elif config.late_report:
                line(
                    r.unit_id,
                    "late_report",
                    {**_item(r), "period": key},
                    1,
                    -config.late_report,
                    f"{_task_name(r)}{key}期进展逾期报送（截止{due.isoformat()}），扣{_fmt(config.late_report)}分",
                )

    # Returned assignments and rejected completion requests (their outbox facts), rejected reports
    # (their audit entries, and for rows written outside the write path their review stamp: a
    # report rejected in the period and submitted again since still counts).
    if config.returned_or_rejected:
        events = session.execute(
            base.add_columns(
                col(OutboxEvent.type).label("event_type"), col(OutboxEvent.created_at).label("at")
            )
            .join(OutboxEvent, OutboxEvent.assignment_id == a.id)
            .where(
                col(OutboxEvent.type).in_(["assignment.returned", "completion.rejected"]),
                col(OutboxEvent.created_at) >= start_at,
                col(OutboxEvent.created_at) <= as_of,
            )
            .order_by(col(OutboxEvent.id))
        ).all()
        for r in events:
            what = "被退回" if r.event_type == "assignment.returned" else "办结申请被驳回"
            line(
                r.unit_id,
                "returned_or_rejected",
                {**_item(r), "event": r.event_type},
                1,
                -config.returned_or_rejected,
                f"{_task_name(r)}{what}（{calendar.local_date(r.at, zone).isoformat()}），"
                f"扣{_fmt(config.returned_or_rejected)}分",
            )
        rejections = sa.union(
            select(col(report.id).label("report_id"), col(report.reviewed_at).label("at")).where(
                report.plan_id == plan.id,
                report.state == ProgressReportState.rejected,
                col(report.reviewed_at) >= start_at,
                col(report.reviewed_at) <= as_of,
            ),
            select(col(report.id).label("report_id"), col(AuditEntry.at).label("at"))
            .join(
                AuditEntry,
                and_(
                    col(AuditEntry.entity_type) == "progress_report",
                    col(AuditEntry.entity_id) == sa.cast(col(report.id), sa.String),
                ),
            )
            .where(
                report.plan_id == plan.id,
                AuditEntry.action == "report.reject",
                col(AuditEntry.at) >= start_at,
                col(AuditEntry.at) <= as_of,
            ),
        ).subquery("rejections")
        rejected = session.execute(
            base.add_columns(col(report.period).label("report_period"))
            .join(report, col(report.assignment_id) == a.id)
            .join(rejections, rejections.c.report_id == report.id)
            .order_by(rejections.c.at, col(report.id))
        ).all()
        for r in rejected:
            line(
                r.unit_id,
                "returned_or_rejected",
                {**_item(r), "period": r.report_period},
                1,
                -config.returned_or_rejected,
                f"{_task_name(r)}{r.report_period}期进展报告被退回，扣{_fmt(config.returned_or_rejected)}分",
            )

    # Early completion: completed in the period before the local due date.
    if config.early_completion:
        done = session.execute(
            base.where(
                a.state == AssignmentState.completed,
                a.completed_at >= start_at,
                a.completed_at <= as_of,
                a.due_date.is_not(None),
            ).order_by(a.id)
        ).all()
        for r in done:
            finished = calendar.local_date(r.completed_at, zone)
            if finished < r.due_date:
                line(
                    r.unit_id,
                    "early_completion",
                    _item(r),
                    1,
                    config.early_completion,
                    f"{_task_name(r)}于{finished.isoformat()}办结，早于期限{r.due_date.isoformat()}，"
                    f"加{_fmt(config.early_completion)}分",
                )

    # Indicators achieved by their latest value reported for a date within the period or before.
    if config.indicator_achieved:
        inds = session.exec(
            select(Indicator)
            .where(Indicator.plan_id == plan.id, col(Indicator.owner_unit_id).is_not(None))
            .order_by(col(Indicator.id))
        ).all()
        latest: dict[int, float] = {}
        if inds:
            for ind_id, value in session.execute(
                select(IndicatorValue.indicator_id, IndicatorValue.value)
                .where(
                    col(IndicatorValue.indicator_id).in_([i.id for i in inds]),
                    IndicatorValue.period_end <= period.end,
                    col(IndicatorValue.reported_at) <= as_of,
                )
                .order_by(col(IndicatorValue.period_end))
            ).all():
                latest[ind_id] = float(value)
        for ind in inds:
            value = latest.get(ind.id or 0)
            if indicator_status.achieved(target=ind.target_value, comparator=ind.comparator, value=value):
                unit_txt = ind.unit or ""
                line(
                    ind.owner_unit_id or 0,
                    "indicator_achieved",
                    {"type": "indicator", "indicator_id": ind.id, "name": ind.name},
                    1,
                    config.indicator_achieved,
                    f"指标“{ind.name}”已达成（最新值{_fmt(value or 0)}{unit_txt}，目标"
                    f"{comparators.phrase(ind.comparator, f'{_fmt(ind.target_value or 0)}{unit_txt}')}），"
                    f"加{_fmt(config.indicator_achieved)}分",
                )

    results = []
    for unit_id, result in units.items():
        result.lines = [
            {
                "rule": "base",
                "rule_name": RULE_NAMES["base"],
                "item": None,
                "quantity": 1,
                "points": round(config.base, 2),
                "text": f"基础分{_fmt(config.base)}分",
            },
            *lines.get(unit_id, []),
        ]
        result.score = round(sum(x["points"] for x in result.lines), 2)
        results.append(result)
    results.sort(key=lambda r: (-r.score, r.unit_name))
    for i, ranked in enumerate(results):
        ranked.rank = results[i - 1].rank if i and results[i - 1].score == ranked.score else i + 1
    return results


def _fmt(x: float) -> str:
    return f"{x:g}"


def create(session: Session, *, plan: Plan, period: periods.Period, actor: User, now: datetime) -> Assessment:
    with unit_of_work(session, actor=actor, now=now) as uow:
        rule = current_rule(session, plan=plan) or _add_rule(
            uow, plan=plan, config=ScoringConfig(), actor=actor
        )
        results = compute(
            session, plan=plan, period=period, config=ScoringConfig.model_validate(rule.config), now=now
        )
        assessment = uow.add(
            Assessment(
                plan_id=plan.id or 0,
                rule_id=rule.id or 0,
                period_kind=period.kind,
                period_start=period.start,
                period_end=period.end,
                computed_at=now,
                computed_by_id=actor.id,
            )
        )
        uow.flush()
        session.add_all(
            AssessmentScore(
                assessment_id=assessment.id or 0,
                unit_id=r.unit_id,
                score=r.score,
                rank=r.rank,
                breakdown=r.lines,
            )
            for r in results
        )
        uow.record(
            action="assessment.compute",
            entity_type="assessment",
            entity_id=assessment.id,
            after={
                "plan_id": plan.id,
                "rule_id": rule.id,
                "period_kind": period.kind,
                "period_start": period.start.isoformat(),
                "units": len(results),
            },
        )
    return assessment


def get(session: Session, *, assessment_id: int, user: User) -> Assessment:
    row = session.get(Assessment, assessment_id)
    # Unit users see published results only.
    if row is None or (not user.reads_all and row.published_at is None):
        raise NotFound("考核结果不存在", code="assessment.not_found")
    return row


def publish(session: Session, *, assessment: Assessment, actor: User, now: datetime) -> Assessment:
    if assessment.published_at is not None:
        raise Conflict("该考核结果已发布", code="assessment.already_published")
    with unit_of_work(session, actor=actor, now=now) as uow:
        assessment.published_at = now
        uow.record(
            action="assessment.publish",
            entity_type="assessment",
            entity_id=assessment.id,
            after={"published_at": now.isoformat()},
        )
    return assessment


def detail(session: Session, *, assessment: Assessment, user: User) -> dict[str, Any]:
    from api.assignment.service import unit_scope_clause

    rule = session.get(ScoringRule, assessment.rule_id)
    plan = session.get(Plan, assessment.plan_id)
    stmt = (
        select(AssessmentScore, Unit.name)
        .join(Unit, col(Unit.id) == AssessmentScore.unit_id)
        .where(AssessmentScore.assessment_id == assessment.id)
        .order_by(col(AssessmentScore.rank), col(Unit.name))
    )
    clause = unit_scope_clause(user, AssessmentScore.unit_id)
    if clause is not None:
        stmt = stmt.where(clause)
    scores = [
        {"unit_id": s.unit_id, "unit_name": name, "score": s.score, "rank": s.rank, "breakdown": s.breakdown}
        for s, name in session.execute(stmt).all()
    ]
    period = periods.Period(assessment.period_kind, assessment.period_start, assessment.period_end)
    return {
        "id": assessment.id,
        "plan_id": assessment.plan_id,
        "plan_title": plan.title if plan else None,
        "rule_id": assessment.rule_id,
        "rule_version": rule.version if rule else None,
        "rule": rule.config if rule else None,
        "period_kind": assessment.period_kind,
        "period_start": assessment.period_start.isoformat(),
        "period_end": assessment.period_end.isoformat(),
        "period_label": period.label,
        "computed_at": assessment.computed_at.isoformat(),
        "published_at": assessment.published_at.isoformat() if assessment.published_at else None,
        "scores": scores,
    }


def period_from(kind: str, day: date | None, *, plan: Plan, now: datetime) -> periods.Period:
    zone = zones.of_plan(plan)
    return periods.period_of(kind, day or calendar.local_date(now, zone))
