"""Assignments: scoping, the state machine and lists. Every unit-scoped read starts here."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Date, Select, and_, false, func, literal_column, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import external
from api.unit import service as unit_service
from duban import audit, calendar, calendar_store, events, outbox, periods, zones
from duban.errors import Conflict, Forbidden, IllegalTransition, NotFound, Unprocessable
from duban.models import (
    OPEN_STATES,
    REPORT_IN_STATES,
    Assignment,
    AssignmentState,
    AuditEntry,
    Plan,
    PlanState,
    ProgressReport,
    Role,
    Task,
    TaskUnit,
    Unit,
    UnitGroup,
    UnitRole,
    User,
    overdue_basis,
    overdue_basis_of,
)
from duban.periods import spanning
from duban.uow import UnitOfWork, concurrent_update, row_params, unit_of_work, update_sql, write_statement


def unit_scope_clause(user: User, unit_column: Any) -> Any:
    """The SQL condition limiting `unit_column` to what `user` may see (true for county-wide roles)."""
    if user.reads_all:
        return None
    if user.unit_id is None:
        return false()
    return unit_column == user.unit_id


def scope_key(user: User) -> tuple[bool, int | None]:
    """Everything of `user` that `unit_scope_clause` reads: users with equal keys see the same rows."""
    return (bool(user.reads_all), user.unit_id)


def scoped(stmt: Select[Any], user: User, unit_column: Any) -> Select[Any]:
    """`stmt` limited to the rows of `user`'s unit (unchanged for county-wide roles)."""
    clause = unit_scope_clause(user, unit_column)
    return stmt if clause is None else stmt.where(clause)


def visible_assignments(user: User, *columns: Any) -> Select[Any]:
    """SELECT over assignments the user may see; pass columns for lean list queries."""
    stmt = select(*columns) if columns else select(Assignment)
    return scoped(stmt, user, Assignment.unit_id)


# --- the state machine ------------------------------------------------------------------------

S = AssignmentState
OPEN = tuple(sorted(OPEN_STATES))


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[AssignmentState]
    target: AssignmentState
    actor: str  # "unit": the unit's head; "office": office, admin or a tasks:write service account
    event: type[events.AssignmentEventData]
    needs_reason: bool = False
    label: str = ""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "accept", frozenset({S.assigned}), S.accepted, "unit", events.AssignmentAccepted, label="签收"
        ),
        Action(
            "return", frozenset({S.assigned}), S.returned, "unit", events.AssignmentReturned, True, "退回"
        ),
        Action(
            "request-completion",
            frozenset({S.accepted}),
            S.completion_requested,
            "unit",
            events.CompletionRequested,
            label="申请办结",
        ),
        Action(
            "approve",
            frozenset({S.completion_requested}),
            S.completed,
            "office",
            events.AssignmentCompleted,
            label="审核通过",
        ),
        Action(
            "reject",
            frozenset({S.completion_requested}),
            S.accepted,
            "office",
            events.CompletionRejected,
            True,
            "驳回",
        ),
        Action(
            "cancel", frozenset(OPEN_STATES), S.cancelled, "office", events.AssignmentCancelled, label="撤销"
        ),
        Action(
            "reassign",
            frozenset({S.returned}),
            S.assigned,
            "office",
            events.AssignmentAssigned,
            label="重新交办",
        ),
    )
}

_STAMP = {
    S.accepted: "accepted_at",
    S.completion_requested: "completion_requested_at",
    S.completed: "completed_at",
    S.cancelled: "cancelled_at",
}


def allowed_actions(state: str) -> list[str]:
    return [a.name for a in ACTIONS.values() if state in a.sources]


def may_act(user: User, action: Action, unit_id: int) -> bool:
    if action.actor == "unit":
        return user.has_role(Role.unit_head) and user.unit_id == unit_id
    if user.is_service_account:
        return "tasks:write" in user.__dict__.get("api_scopes", frozenset())
    return user.has_role(Role.office, Role.admin)


def actions_for(user: User, *, state: str, unit_id: int) -> list[str]:
    """The actions this user could take now (for clients drawing buttons)."""
    return [name for name in allowed_actions(state) if may_act(user, ACTIONS[name], unit_id)]


def get_visible(session: Session, *, user: User, assignment_id: int) -> Assignment:
    row: Assignment | None = session.exec(  # type: ignore[call-overload]
        visible_assignments(user).where(col(Assignment.id) == assignment_id)
    ).first()
    if row is None:
        raise NotFound(
            "交办事项不存在", code="assignment.not_found", details={"assignment_id": assignment_id}
        )
    return row


def _ref(obj: Any, name: str, code: str | None = None) -> events.Ref:
    return events.Ref(id=obj.id, name=name, code=code)


def _event(
    action_event: type[events.AssignmentEventData],
    *,
    a: Assignment,
    plan: Plan | Named,
    task: Task | Named,
    unit_name: str | None,
    actor: User | None,
    reason: str | None = None,
    **extra: Any,
) -> events.AssignmentEventData:
    return action_event(
        plan=events.Ref(id=plan.id, name=plan.title, code=plan.doc_no),
        task=events.Ref(id=task.id, name=task.title, code=task.code),
        unit=events.Ref(id=a.unit_id, name=unit_name),
        assignment_id=a.id or 0,
        state=str(a.state),
        due_date=a.due_date,
        actor=events.Ref(id=actor.id, name=actor.full_name or actor.username) if actor else None,
        reason=reason,
        **extra,
    )


def _emit(
    uow: UnitOfWork, action_event: type[events.AssignmentEventData], *, a: Assignment, **fields: Any
) -> None:
    """The event about assignment `a` into the outbox, keyed by its plan, assignment and unit."""
    uow.emit(_event(action_event, a=a, **fields), plan_id=a.plan_id, assignment_id=a.id, unit_id=a.unit_id)


def _apply(a: Assignment, values: dict[str, Any]) -> None:
    # The row's version is in the UPDATE's WHERE (version_id_col): a concurrent transition that read
    # the same version matches no row and answers 409 instead of doubling events.
    for key, value in values.items():
        setattr(a, key, value)


def _move(
    spec: Action, action: str, *, user: User, unit_id: int, state: str, reason: str | None, now: datetime
) -> tuple[dict[str, Any], str | None]:
    """The checks of one move (role, state, reason) and the values it writes, for the ORM
    `transition` and the lean `act` alike; returns (values, the reason as kept)."""
    if not may_act(user, spec, unit_id):
        raise Forbidden(
            f"无权对该交办事项执行“{spec.label}”", code="assignment.forbidden", details={"action": action}
        )
    if state not in spec.sources:
        raise IllegalTransition(action=action, state=state, allowed=allowed_actions(state))
    reason = (reason or "").strip() or None
    if spec.needs_reason and not reason:
        raise Unprocessable(
            f"“{spec.label}”须填写理由", code="assignment.reason_required", details={"action": action}
        )
    values: dict[str, Any] = {"state": spec.target}
    if spec.target in _STAMP:
        values[_STAMP[spec.target]] = now
    if spec.target == S.completed:
        values["percent_done"] = 100
    if reason is not None:
        values["last_reason"] = reason
    return values, reason


def transition(
    *,
    session: Session,
    assignment: Assignment,
    action: str,
    actor: User,
    now: datetime,
    reason: str | None = None,
) -> Assignment:
    """One move of the state machine: role check, state check, update, audit and outbox, one commit."""
    spec = ACTIONS[action]
    if action == "reassign":
        return reassign(session=session, assignment=assignment, actor=actor, now=now, reason=reason)
    values, reason = _move(
        spec,
        action,
        user=actor,
        unit_id=assignment.unit_id,
        state=str(assignment.state),
        reason=reason,
        now=now,
    )
    plan, task, unit = event_context(session, assignment)
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(assignment, action=f"assignment.{action.replace('-', '_')}")
        _apply(assignment, values)
        _emit(
            uow,
            spec.event,
            a=assignment,
            plan=plan,
            task=task,
            unit_name=unit.name,
            actor=actor,
            reason=reason,
        )
    return assignment


def withdraw_superseded(
    session: Session,
    uow: UnitOfWork,
    *,
    old: Plan,
    new: Plan,
    actor: User | None,
    now: datetime,
    announced: set[int],
) -> dict[int, int]:
    """撤销 the open assignments of `old` now that `new` replaces it: {unit id: how many}.

    Inside the new version's publishing unit of work. A unit that `announced` holds hears of the
    withdrawal in the new version's publication message, so its cancellation events go to
    integrations only; any other unit is told item by item, as for any cancellation.
    """
    reason = f"计划已由新版本《{new.title}》替代"
    rows = session.exec(
        select(Assignment, Task, Unit)
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .where(col(Assignment.plan_id) == old.id, col(Assignment.state).in_(OPEN))
        .order_by(col(Assignment.id))
    ).all()
    withdrawn: Counter[int] = Counter()
    superseded_by = events.Ref(id=new.id, name=new.title, code=new.doc_no)
    for a, task, unit in rows:
        uow.track(a, action="assignment.cancel")
        _apply(a, {"state": S.cancelled, "cancelled_at": now, "last_reason": reason})
        _emit(
            uow,
            events.AssignmentCancelled,
            a=a,
            plan=old,
            task=task,
            unit_name=unit.name,
            actor=actor,
            reason=reason,
            superseded_by=superseded_by,
            publication=a.unit_id in announced,
        )
        withdrawn[a.unit_id] += 1
    return dict(withdrawn)


@dataclass(frozen=True)
class Named:
    """What an event says about a plan, task or unit: its id and names, not the row."""

    id: int | None
    title: str | None = None
    name: str | None = None
    code: str | None = None
    doc_no: str | None = None


def event_context(session: Session, a: Assignment) -> tuple[Named, Named, Named]:
    """(plan, task, unit) names for an event about `a`, in one query instead of three loads.

    Without an autoflush: the caller may be mid-change, and the unit of work stamps `updated_at`
    on rows still modified at its commit."""
    with session.no_autoflush:
        row = _names(session, a)
    return (
        Named(id=a.plan_id, title=row.title, doc_no=row.doc_no),
        Named(id=a.task_id, title=row.task_title, code=row.code),
        Named(id=a.unit_id, name=row.name),
    )


def _names(session: Session, a: Assignment) -> Any:
    return session.execute(
        sa.select(
            col(Plan.title),
            col(Plan.doc_no),
            col(Task.title).label("task_title"),
            col(Task.code),
            col(Unit.name),
        )
        .select_from(Plan)
        .join(Task, col(Task.id) == a.task_id)
        .join(Unit, col(Unit.id) == a.unit_id)
        .where(col(Plan.id) == a.plan_id)
    ).one()


def _context(session: Session, a: Assignment) -> tuple[Plan, Task, Unit]:
    plan, task, unit = (
        session.get(Plan, a.plan_id),
        session.get(Task, a.task_id),
        session.get(Unit, a.unit_id),
    )
    assert plan is not None and task is not None and unit is not None
    return plan, task, unit


def _due(day: date | None, zone: ZoneInfo) -> dict[str, Any]:
    if day is None:
        return {"due_date": None, "due_at": None, "original_due_date": None}
    return {
        "due_date": calendar.effective_due_date(day),
        "due_at": calendar.due_at_for(day, zone),
        "original_due_date": day,
    }


def reassign(
    *,
    session: Session,
    assignment: Assignment,
    actor: User,
    now: datetime,
    unit_id: int | None = None,
    due_date: date | None = None,
    reason: str | None = None,
) -> Assignment:
    """Office answers a return: insist (same unit, back to assigned) or give it to another unit."""
    spec = ACTIONS["reassign"]
    if not may_act(actor, spec, assignment.unit_id):
        raise Forbidden("无权重新交办", code="assignment.forbidden", details={"action": "reassign"})
    state = str(assignment.state)
    if state not in spec.sources:
        raise IllegalTransition(action="reassign", state=state, allowed=allowed_actions(state))
    reason = (reason or "").strip() or None
    plan, task, unit = _context(session, assignment)
    zone = zones.of_plan(plan)
    due = _due(due_date, zone) if due_date else {}
    if unit_id is None or unit_id == assignment.unit_id:
        values: dict[str, Any] = {"state": S.assigned, "assigned_at": now, "accepted_at": None, **due}
        if reason:
            values["last_reason"] = reason
        with unit_of_work(session, actor=actor, now=now) as uow:
            uow.track(assignment, action="assignment.reassign")
            _apply(assignment, values)
            _emit(
                uow,
                events.AssignmentAssigned,
                a=assignment,
                plan=plan,
                task=task,
                unit_name=unit.name,
                actor=actor,
                reason=reason,
            )
        return assignment

    new_unit = session.get(Unit, unit_id)
    if new_unit is None or not new_unit.is_active:
        raise Unprocessable(
            "接收单位不存在或已停用", code="assignment.unknown_units", details={"unit_ids": [unit_id]}
        )
    try:
        with unit_of_work(session, actor=actor, now=now) as uow:
            uow.track(assignment, action="assignment.cancel")
            _apply(
                assignment,
                {
                    "state": S.cancelled,
                    "cancelled_at": now,
                    "last_reason": reason or f"改交{new_unit.name}办理",
                },
            )
            fresh = Assignment(
                plan_id=assignment.plan_id,
                section_id=assignment.section_id,
                task_id=assignment.task_id,
                unit_id=unit_id,
                role=assignment.role,
                period=assignment.period,
                state=S.assigned,
                due_date=assignment.due_date,
                due_at=assignment.due_at,
                original_due_date=assignment.original_due_date,
                assigned_at=now,
                created_at=now,
                updated_at=now,
            )
            for key, value in due.items():
                setattr(fresh, key, value)
            # Given to the new unit after its deadline: overdue counts from today for that unit,
            # as for an item published late (the days before were the other unit's).
            today = calendar.local_date(now, zone)
            if fresh.due_date is not None and fresh.due_date < today:
                fresh.overdue_from = today
            uow.add(fresh)
            uow.flush()
            uow.record(
                action="assignment.assign",
                entity_type="assignment",
                entity_id=fresh.id,
                after={**audit.snapshot(fresh), "reassigned_from": assignment.id},
            )
            _emit(
                uow,
                events.AssignmentCancelled,
                a=assignment,
                plan=plan,
                task=task,
                unit_name=unit.name,
                actor=actor,
                reason=assignment.last_reason,
            )
            _emit(
                uow,
                events.AssignmentAssigned,
                a=fresh,
                plan=plan,
                task=task,
                unit_name=new_unit.name,
                actor=actor,
                reason=reason,
            )
    except IntegrityError as exc:
        raise Conflict(
            "该单位已有此任务（同一期）的交办",
            code="assignment.duplicate",
            details={"unit_id": unit_id, "period": assignment.period},
        ) from exc
    return fresh


# --- assigning ------------------------------------------------------------------------------------


def periods_for(
    *, task: Task, plan: Plan, due_date: date | None = None, today: date | None = None
) -> list[tuple[str, date | None]]:
    """("", due) for a one-off task; one (period, period end) per year/quarter/month of the plan period."""
    if not task.recurrence:
        return [("", due_date or task.due_date or plan.period_end)]
    anchor = task.due_date or plan.period_end or today or date.today()
    start = plan.period_start or date(anchor.year, 1, 1)
    end = plan.period_end or task.due_date or date(start.year, 12, 31)
    if end < start:
        raise Unprocessable("计划期限无效：结束早于开始", code="assignment.invalid_period")
    out: list[tuple[str, date | None]] = [(p.key, p.end) for p in spanning(str(task.recurrence), start, end)]
    if len(out) > 240:
        raise Unprocessable("周期过多（超过240期）", code="assignment.too_many_periods")
    return out


@dataclass
class AssignResult:
    created: list[Assignment] = field(default_factory=list)
    skipped: int = 0


def _resolve_targets(
    session: Session,
    *,
    task: Task,
    unit_ids: Sequence[int],
    group_ids: Sequence[int],
    role: UnitRole | None,
) -> list[tuple[int, UnitRole]]:
    task_units = session.exec(
        select(TaskUnit).where(TaskUnit.task_id == task.id).order_by(col(TaskUnit.position), col(TaskUnit.id))
    ).all()
    out: dict[int, UnitRole] = {}

    def add(uid: int, r: Any) -> None:
        out.setdefault(uid, UnitRole(str(r)))

    if not unit_ids and not group_ids:
        wanted = [tu.group_id for tu in task_units if tu.group_id]
        groups = (
            {g.id: g for g in session.exec(select(UnitGroup).where(col(UnitGroup.id).in_(wanted))).all()}
            if wanted
            else {}
        )
        for tu in task_units:
            if tu.unit_id is not None:
                add(tu.unit_id, tu.role)
            elif tu.group_id is not None and tu.group_id in groups:
                for uid in unit_service.resolve_group_units(session, group=groups[tu.group_id]):
                    add(uid, tu.role)
        if not out:
            raise Unprocessable("任务未指定责任单位，请指定交办单位", code="assignment.no_units")
        return list(out.items())

    unit_role = {tu.unit_id: tu.role for tu in task_units if tu.unit_id is not None}
    group_role = {tu.group_id: tu.role for tu in task_units if tu.group_id is not None}
    if unit_ids:
        found = dict(session.execute(select(Unit.id, Unit.is_active).where(col(Unit.id).in_(unit_ids))).all())
        bad = [u for u in unit_ids if not found.get(u)]
        if bad:
            raise Unprocessable(
                "单位不存在或已停用", code="assignment.unknown_units", details={"unit_ids": bad}
            )
        for uid in unit_ids:
            add(uid, role or unit_role.get(uid, UnitRole.lead))
    if group_ids:
        groups = {
            g.id: g for g in session.exec(select(UnitGroup).where(col(UnitGroup.id).in_(group_ids))).all()
        }
        bad = [g for g in group_ids if g not in groups]
        if bad:
            raise Unprocessable("单位组不存在", code="assignment.unknown_groups", details={"group_ids": bad})
        for gid in group_ids:
            for uid in unit_service.resolve_group_units(session, group=groups[gid]):
                add(uid, role or group_role.get(gid, UnitRole.implementing))
    return list(out.items())


def assign(
    *,
    session: Session,
    task: Task,
    actor: User | None,
    now: datetime,
    unit_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    role: UnitRole | None = None,
    due_date: date | None = None,
    uow: UnitOfWork | None = None,
    period: str | None = None,
    external_id: str | None = None,
    publication: bool = False,
    fresh_task: bool = False,
) -> AssignResult:
    """交办: one assignment per unit (groups expanded) and per period; existing ones are left alone.

    Given a unit of work (the plan importer's), the assignments join it; otherwise this commits.
    `period` narrows a recurring task to one period; `external_id` names the one assignment made.
    `publication`: part of publishing the whole plan, whose units hear of it in one message each.
    """
    plan = session.get(Plan, task.plan_id)
    assert plan is not None
    if plan.state == PlanState.draft and not publication:
        raise Conflict(
            "计划尚未发布（草稿），请先核对并发布计划，再单独交办",
            code="plan.draft",
            details={"plan_id": plan.id},
        )
    if plan.state == PlanState.superseded:
        raise Conflict(
            "该计划已被新版本替代，请在新版本中交办", code="plan.superseded", details={"plan_id": plan.id}
        )
    zone = zones.of_plan(plan)
    today = calendar.local_date(now, zone)
    targets = _resolve_targets(session, task=task, unit_ids=unit_ids, group_ids=group_ids, role=role)
    periods = periods_for(task=task, plan=plan, due_date=due_date, today=today)
    if period is not None:
        periods = [(p, day) for p, day in periods if p == period]
        if not periods:
            raise Unprocessable(
                "该任务没有这一周期", code="assignment.unknown_period", details={"period": period}
            )
    # A task created in this transaction has no assignments yet.
    existing = (
        set()
        if fresh_task
        else set(
            session.execute(
                select(Assignment.unit_id, Assignment.period).where(Assignment.task_id == task.id)
            ).all()
        )
    )
    result = AssignResult()
    for uid, r in targets:
        for period, day in periods:
            if (uid, period) in existing:
                result.skipped += 1
                continue
            result.created.append(
                Assignment(
                    plan_id=task.plan_id,
                    section_id=task.section_id,
                    task_id=task.id or 0,
                    unit_id=uid,
                    role=r,
                    period=period,
                    state=S.assigned,
                    assigned_at=now,
                    created_at=now,
                    updated_at=now,
                    # Told after the deadline: overdue time counts from today, not from the due date.
                    overdue_from=today if day is not None and day < today else None,
                    **_due(day, zone),
                )
            )
    if not result.created:
        return result
    if external_id is not None:
        if len(result.created) != 1:
            raise Unprocessable(
                "外部编号只能对应一个交办事项：请指定一个单位（周期性任务还须指定周期）",
                code="assignment.external_id_needs_one",
                details={"would_create": len(result.created)},
            )
        result.created[0].external_id = external_id
        result.created[0].external_source_id = external.source_of(actor)
    if uow is None:
        try:
            with unit_of_work(session, actor=actor, now=now) as own:
                _add_assignments(
                    session, own, result.created, plan=plan, task=task, actor=actor, publication=publication
                )
        except IntegrityError as exc:
            # Another request assigned the same task at the same moment.
            raise Conflict("该任务正在被同时交办，请重试", code="assignment.duplicate") from exc
    else:
        _add_assignments(
            session, uow, result.created, plan=plan, task=task, actor=actor, publication=publication
        )
    return result


def assign_external(
    *,
    session: Session,
    task: Task,
    unit_id: int,
    actor: User,
    now: datetime,
    external_id: str,
    role: UnitRole | None = None,
    due_date: date | None = None,
    period: str | None = None,
) -> tuple[Assignment, bool]:
    """(assignment, created): the one assignment of `task` to `unit_id` the caller calls `external_id`.

    A repeat answers the assignment as it is: its state, due date and unit then change only through
    the actions (accept, extension, reassign…), never by re-sending the create.
    """
    if task.recurrence and period is None:
        raise Unprocessable(
            "周期性任务须指定周期（如 2025、2025-Q2、2025-06）", code="assignment.period_required"
        )

    def _found(a: Assignment) -> Assignment:
        if a.task_id != task.id or a.unit_id != unit_id or (period is not None and a.period != period):
            raise Conflict(
                "该外部编号已用于另一交办事项",
                code="assignment.external_id_in_use",
                details={"external_id": external_id, "assignment_id": a.id},
            )
        return a

    def _create() -> Assignment:
        result = assign(
            session=session,
            task=task,
            actor=actor,
            now=now,
            unit_ids=[unit_id],
            role=role,
            due_date=due_date,
            period=period,
            external_id=external_id,
        )
        if not result.created:
            taken = session.exec(
                select(Assignment.id).where(
                    Assignment.task_id == task.id,
                    Assignment.unit_id == unit_id,
                    Assignment.period == (period or ""),
                )
            ).first()
            raise Conflict(
                "该任务已交办给该单位（没有这个外部编号）",
                code="assignment.exists",
                details={"assignment_id": taken},
            )
        return result.created[0]

    return external.upsert(
        session,
        Assignment,
        source_id=external.source_of(actor),
        external_id=external_id,
        create=_create,
        update=_found,
    )


def _add_assignments(
    session: Session,
    uow: UnitOfWork,
    created: list[Assignment],
    *,
    plan: Plan,
    task: Task,
    actor: User | None,
    publication: bool = False,
) -> None:
    for a in created:
        uow.add(a, action="assignment.assign")
    uow.flush()
    names = dict(
        session.execute(
            select(Unit.id, Unit.name).where(col(Unit.id).in_({a.unit_id for a in created}))
        ).all()
    )
    for a in created:
        _emit(
            uow,
            events.AssignmentAssigned,
            a=a,
            plan=plan,
            task=task,
            unit_name=names.get(a.unit_id, ""),
            actor=actor,
            publication=publication,
        )


# --- reads ----------------------------------------------------------------------------------------

LIST_COLUMNS: tuple[Any, ...] = (
    col(Assignment.id),
    col(Assignment.plan_id),
    col(Plan.title).label("plan_title"),
    col(Assignment.section_id),
    col(Assignment.task_id),
    col(Task.code).label("task_code"),
    col(Task.title).label("task_title"),
    col(Assignment.unit_id),
    col(Unit.name).label("unit_name"),
    col(Assignment.role),
    col(Assignment.period),
    col(Assignment.state),
    col(Assignment.due_date),
    col(Assignment.due_at),
    col(Assignment.original_due_date),
    col(Assignment.assigned_at),
    col(Assignment.accepted_at),
    col(Assignment.completion_requested_at),
    col(Assignment.completed_at),
    col(Assignment.cancelled_at),
    col(Assignment.percent_done),
    col(Assignment.last_reason),
    col(Assignment.extension_count),
    col(Assignment.external_source_id),
    col(Assignment.external_id),
    col(Assignment.overdue_from),
    col(Assignment.version),
    col(Assignment.created_at),
    col(Assignment.updated_at),
    col(Plan.timezone).label("timezone"),
)
# Rows without a due date sort after every dated one, and keyset pagination needs a non-null key.
# Spelled as a literal (not a bound parameter) so that it matches ix_assignment_due_sort exactly.
DUE_SORT = func.coalesce(col(Assignment.due_date), literal_column("'9999-12-31'", Date)).label("due_sort")
SORTS: dict[str, list[tuple[Any, str]]] = {
    "due_date": [(DUE_SORT, "asc"), (col(Assignment.id), "asc")],
    "-due_date": [(DUE_SORT, "desc"), (col(Assignment.id), "desc")],
    "id": [(col(Assignment.id), "asc")],
    "-id": [(col(Assignment.id), "desc")],
    "updated_at": [(col(Assignment.updated_at), "asc"), (col(Assignment.id), "asc")],
    "-updated_at": [(col(Assignment.updated_at), "desc"), (col(Assignment.id), "desc")],
}


def overdue_clause(now: datetime) -> Any:
    return and_(
        col(Assignment.due_at).is_not(None),
        col(Assignment.due_at) < now,
        col(Assignment.state).in_([str(s) for s in OPEN]),
    )


@functools.cache
def _list_select(due_sort: bool) -> Select[Any]:
    # Built once: a Select is immutable (every .where() returns a new one), and building this
    # one (31 columns, three joins) costs more than running it from the compiled cache.
    stmt: Select[Any] = (
        select(*LIST_COLUMNS, *([DUE_SORT] if due_sort else []))
        .join(Task, col(Task.id) == col(Assignment.task_id))
        .join(Unit, col(Unit.id) == col(Assignment.unit_id))
        .join(Plan, col(Plan.id) == col(Assignment.plan_id))
    )
    return stmt


def list_statement(user: User, *, sort: str = "due_date") -> Select[Any]:
    """The list's columns over the assignments `user` may see (`visible_assignments`' scoping)."""
    return scoped(_list_select("due_date" in sort), user, Assignment.unit_id)


def apply_filters(
    stmt: Select[Any],
    *,
    now: datetime,
    plan_id: int | None = None,
    section_id: int | None = None,
    task_id: int | None = None,
    unit_id: int | None = None,
    role: Iterable[str] | None = None,
    state: Iterable[str] | None = None,
    overdue: bool | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    period: str | None = None,
    min_working_days_overdue: int | None = None,
    report_missing: str | None = None,
) -> Select[Any]:
    if plan_id is not None:
        stmt = stmt.where(col(Assignment.plan_id) == plan_id)
    if section_id is not None:
        stmt = stmt.where(col(Assignment.section_id) == section_id)
    if task_id is not None:
        stmt = stmt.where(col(Assignment.task_id) == task_id)
    if unit_id is not None:
        stmt = stmt.where(col(Assignment.unit_id) == unit_id)
    if role:
        stmt = stmt.where(col(Assignment.role).in_([str(r) for r in role]))
    if state:
        stmt = stmt.where(col(Assignment.state).in_([str(s) for s in state]))
    if overdue is True:
        stmt = stmt.where(overdue_clause(now))
    elif overdue is False:
        stmt = stmt.where(
            or_(
                col(Assignment.due_at).is_(None),
                col(Assignment.due_at) >= now,
                col(Assignment.state).not_in([str(s) for s in OPEN]),
            )
        )
    if min_working_days_overdue is not None:
        # In the database (calendar_day), on the deployment's time zone: one index range.
        today = calendar.local_date(now, zones.default())
        clause = calendar_store.overdue_at_least_clause(
            overdue_basis(Assignment.__table__),  # type: ignore[attr-defined]
            today=today,
            n=min_working_days_overdue,
        )
        stmt = stmt.where(overdue_clause(now), clause)
    if due_before is not None:
        stmt = stmt.where(col(Assignment.due_date) <= due_before)
    if due_after is not None:
        stmt = stmt.where(col(Assignment.due_date) >= due_after)
    if period is not None:
        stmt = stmt.where(col(Assignment.period) == period)
    if report_missing is not None:
        # What a report reminder counts: open, and no report of the period submitted or approved
        # (one range of ix_progress_report_period_state).
        key = periods.parse(report_missing).key
        reported = sa.exists().where(
            col(ProgressReport.assignment_id) == col(Assignment.id),
            col(ProgressReport.period) == key,
            col(ProgressReport.state).in_([str(s) for s in REPORT_IN_STATES]),
        )
        stmt = stmt.where(col(Assignment.state).in_([str(s) for s in OPEN]), ~reported)
    return stmt


def decorate(rows: list[dict[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    """Add the derived overdue flag, working days overdue or left, and calendar warnings.

    Working days are a difference of two working ordinals (duban.calendar): a list lookup per
    row, no walk over the calendar.
    """
    cal = calendar.current()
    yesterday: dict[str, tuple[date, int]] = {}  # per zone: yesterday and its working ordinal
    today: dict[str, int] = {}  # per zone: today's working ordinal
    warned: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in rows:
        row.pop("due_sort", None)
        due_at = row.get("due_at")
        due = row.get("due_date")
        is_overdue = str(row["state"]) in OPEN_STATES and due_at is not None and due_at < now
        row["overdue"] = is_overdue
        days, until = 0, due
        if is_overdue and due is not None:
            zone = row.get("timezone") or zones.default_name()
            if zone not in yesterday:
                last = calendar.local_date(now, zones.zone(zone)) - timedelta(days=1)
                yesterday[zone] = (last, cal.ordinal(last))
            until, last_ordinal = yesterday[zone]
            # Counted from the later of the due date and a late assignment's day.
            days = last_ordinal - cal.ordinal(overdue_basis_of(due, row.get("overdue_from")) or due)
            days = days if days > 0 else 0
        row["working_days_overdue"] = days
        # Open and not yet due: working days in (today, due date], as the due-soon reminders count.
        left = None
        if not is_overdue and due is not None and str(row["state"]) in OPEN_STATES:
            zone = row.get("timezone") or zones.default_name()
            if zone not in today:
                today[zone] = cal.ordinal(calendar.local_date(now, zones.zone(zone)))
            left = max(cal.ordinal(due) - today[zone], 0)
        row["working_days_left"] = left
        # The deadline's year, and for a count the years it spans, must have known holidays.
        if due is None or until is None:
            row["warnings"] = []
        else:
            key = (due.year, until.year if until > due else due.year)
            if key not in warned:
                warned[key] = calendar.warnings_for(due, until if until > due else due)
            row["warnings"] = warned[key]
    return rows


def detail_statement(user: User, assignment_id: int | sa.BindParameter[int]) -> Select[Any]:
    """The one assignment `user` may see, with the list's columns."""
    return list_statement(user, sort="id").where(col(Assignment.id) == assignment_id)


def not_found(assignment_id: int) -> NotFound:
    return NotFound("交办事项不存在", code="assignment.not_found", details={"assignment_id": assignment_id})


def detail_row(row: Any, *, user: User, assignment_id: int, now: datetime) -> dict[str, Any]:
    """The detail body (without history) from the row of `detail_statement`; 404 when there is none."""
    if row is None:
        raise not_found(assignment_id)
    out = decorate([dict(row)], now=now)[0]
    out["allowed_actions"] = actions_for(user, state=str(out["state"]), unit_id=out["unit_id"])
    return out


def read_row(session: Session, *, user: User, assignment_id: int, now: datetime) -> dict[str, Any]:
    row = session.execute(detail_statement(user, assignment_id)).mappings().first()
    return detail_row(row, user=user, assignment_id=assignment_id, now=now)


HISTORY_COLUMNS = (
    col(AuditEntry.id),
    col(AuditEntry.at),
    col(AuditEntry.actor_id),
    col(AuditEntry.actor_name),
    col(AuditEntry.action),
    col(AuditEntry.before),
    col(AuditEntry.after),
)


def history_statement(assignment_id: int | sa.BindParameter[str]) -> sa.Select[Any]:
    entity_id = str(assignment_id) if isinstance(assignment_id, int) else assignment_id
    return (
        sa.select(*HISTORY_COLUMNS)
        .where(col(AuditEntry.entity_type) == "assignment", col(AuditEntry.entity_id) == entity_id)
        .order_by(col(AuditEntry.id))
    )


def history_entries(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """History entries from the rows of `history_statement`."""
    out = []
    for r in rows:
        item = dict(r)
        before, after = item.pop("before") or {}, item.pop("after") or {}
        item["from_state"] = before.get("state")
        item["to_state"] = after.get("state")
        item["reason"] = (
            after.get("last_reason") if after.get("last_reason") != before.get("last_reason") else None
        )
        out.append(item)
    return out


def history(session: Session, *, assignment_id: int) -> list[dict[str, Any]]:
    return history_entries(session.execute(history_statement(assignment_id)).mappings())


def overdue_counts(
    session: Session, *, user: User, by: Any, ids: Sequence[int], now: datetime
) -> dict[int, int]:
    if not ids:
        return {}
    stmt = visible_assignments(user, by, func.count()).where(by.in_(ids), overdue_clause(now)).group_by(by)
    return dict(session.execute(stmt).all())


def summarize(counts: dict[str, int], overdue: int = 0) -> dict[str, Any]:
    total = sum(counts.values())
    open_n = sum(n for s, n in counts.items() if s in OPEN_STATES)
    completed = counts.get(S.completed, 0)
    if total == 0:
        status = "unassigned"
    elif open_n == 0:
        status = "completed" if completed else "cancelled"
    elif overdue:
        status = "overdue"
    elif completed or counts.get(S.completion_requested, 0) or counts.get(S.accepted, 0):
        status = "in_progress"
    else:
        status = "assigned"
    return {
        "status": status,
        "total": total,
        "open": open_n,
        "overdue": overdue,
        "by_state": {str(s): counts.get(str(s), 0) for s in AssignmentState},
    }


def status_for(
    session: Session, *, user: User, by: Any, ids: Sequence[int], now: datetime
) -> dict[int, dict[str, Any]]:
    """Status summaries for many tasks or plans in two grouped queries."""
    raw: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        stmt = (
            visible_assignments(user, by, col(Assignment.state), func.count())
            .where(by.in_(ids))
            .group_by(by, col(Assignment.state))
        )
        for key, state, n in session.execute(stmt):
            raw[key][str(state)] = n
    late = overdue_counts(session, user=user, by=by, ids=ids, now=now)
    return {i: summarize(raw[i], late.get(i, 0)) for i in ids}


# --- the lean writes (api.writepath) ----------------------------------------------------------------

ASSIGNMENT = Assignment.__table__  # type: ignore[attr-defined]
_NAMES: tuple[Any, ...] = (
    col(Plan.doc_no).label("plan_doc_no"),
    # Any column of the row the list leaves out (the audit snapshot is the whole row).
    *(c for c in ASSIGNMENT.columns if c.key not in {getattr(x, "key", None) for x in LIST_COLUMNS}),
)


@functools.cache
def _act_select() -> Select[Any]:
    # The detail's columns (its body after the change) with what the row's audit snapshot and the
    # event need besides: the whole assignment row, the plan's document number.
    return _list_select(False).add_columns(*_NAMES)


def act_statement(user: User) -> tuple[Select[Any], dict[str, Any]]:
    """The row `act` loads, through the user's scope, for the parameter `assignment_id` (and the
    scope's own parameters): built once per kind of scope (`scoped_once`) and reused."""
    return scoped_once(_ACT_BY_SCOPE, user, _act_select)


_ACT_BY_SCOPE: dict[tuple[bool, bool], Select[Any]] = {}


_SCOPE_UNIT = sa.bindparam("scope_unit_id", type_=sa.Integer())


def scoped_once(
    cache: dict[tuple[bool, bool], Select[Any]], user: User, base: Callable[[], Select[Any]]
) -> tuple[Select[Any], dict[str, Any]]:
    """`scoped(base(), user, Assignment.unit_id)` for the parameter `assignment_id`, and the values
    of its parameters besides that one. Built once per kind of scope that `unit_scope_clause`
    gives — county-wide, one unit (the unit a parameter), none — so every unit's users share one
    statement object: with an object per unit (one cache key, the unit a bound value) each
    execution on another unit's compiled form made SQLAlchemy adapt its result columns (≈ 0.4 ms)."""
    # The key as `unit_scope_clause` decides (reads all: no clause), without building the clause.
    everything = bool(user.reads_all)
    by_unit = not everything and user.unit_id is not None
    key = (everything, by_unit)
    stmt = cache.get(key)
    if stmt is None:
        clause = unit_scope_clause(user, Assignment.unit_id)
        stmt = base()
        if by_unit:
            stmt = stmt.where(col(Assignment.unit_id) == _SCOPE_UNIT)
        elif clause is not None:
            stmt = stmt.where(clause)  # no unit: nothing to see
        by_id = col(Assignment.id) == sa.bindparam("assignment_id", type_=sa.Integer())
        stmt = cache[key] = stmt.where(by_id)
    return stmt, ({"scope_unit_id": user.unit_id} if by_unit else {})


_ROW_KEYS = tuple(c.key for c in ASSIGNMENT.columns)
_BODY_KEYS = tuple(c.key if c.key else c.name for c in LIST_COLUMNS)


def act(
    session: Session,
    *,
    user: User,
    assignment_id: int,
    action: str,
    now: datetime,
    reason: str | None = None,
    check_version: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """`transition` without the ORM, answering the detail body (history included) from the rows
    in hand: the scoped row with its names, its history (and so its audit chain's head), one
    version-checked UPDATE, the event and the audit entry, one commit. Same checks and answers."""
    spec = ACTIONS[action]
    from api.writepath import first_row

    stmt, scope = act_statement(user)
    found = first_row(session, stmt, {"assignment_id": assignment_id, **scope})
    if found is None:
        raise not_found(assignment_id)
    row = found
    conn = session.connection()
    if check_version is not None:
        check_version(row["version"])
    values, reason = _move(
        spec, action, user=user, unit_id=row["unit_id"], state=str(row["state"]), reason=reason, now=now
    )
    past = [dict(r) for r in conn.execute(_HISTORY_WITH_HASH, {"entity_id": str(assignment_id)}).mappings()]
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.chain_head("assignment", assignment_id, past[-1]["hash"] if past else None)
        after = uow.update_row(
            ASSIGNMENT,
            {k: row[k] for k in _ROW_KEYS},
            values,
            action=f"assignment.{action.replace('-', '_')}",
        )
        a = _RowView(after)
        _emit(
            uow,
            spec.event,
            a=a,  # type: ignore[arg-type]
            plan=Named(id=row["plan_id"], title=row["plan_title"], doc_no=row["plan_doc_no"]),
            task=Named(id=row["task_id"], title=row["task_title"], code=row["task_code"]),
            unit_name=row["unit_name"],
            actor=user,
            reason=reason,
        )
        entry = uow.pending()[-1]
    return _act_answer(
        row, after, past, entry, uow.audit_ids[-1], user=user, assignment_id=assignment_id, now=now
    )


def _act_answer(
    row: dict[str, Any],
    after: dict[str, Any],
    past: list[dict[str, Any]],
    entry: audit.Pending,
    audit_id: int,
    *,
    user: User,
    assignment_id: int,
    now: datetime,
) -> dict[str, Any]:
    """The detail body after a move, history included, from the rows in hand."""
    body = {k: after[k] if k in after else row[k] for k in _BODY_KEYS}
    out = detail_row(body, user=user, assignment_id=assignment_id, now=now)
    for r in past:
        r.pop("hash")
    new = {
        "id": audit_id,
        "at": now.astimezone(UTC),
        "actor_id": user.id,
        "actor_name": user.username,
        "action": entry.action,
        "before": entry.before,
        "after": entry.after,
    }
    out["history"] = history_entries([*past, new])
    return out


# The history columns (with the hash) that the PostgreSQL read brings beside the row.
_PAST: tuple[Any, ...] = (*HISTORY_COLUMNS, col(AuditEntry.hash))
_PAST_KEYS = tuple(f"h_{c.key}" for c in _PAST)
_ACT_READS: dict[tuple[int, bool, str], Any] = {}


def _with_history(sql: str) -> str:
    picked = ", ".join(f"h.{c.key} AS h_{c.key}" for c in _PAST)
    inner = ", ".join(c.key for c in _PAST)
    return (
        f"SELECT a.*, {picked} FROM ({sql}) AS a LEFT JOIN LATERAL (SELECT {inner} FROM audit_entry "
        "WHERE entity_type = 'assignment' AND entity_id = %(entity_id)s) AS h ON true ORDER BY h.id"
    )


def act_pg(
    on: Any,
    *,
    user: User,
    check: dict[str, Any] | None,
    assignment_id: int,
    action: str,
    now: datetime,
    reason: str | None = None,
    check_version: Callable[[int], None] | None = None,
) -> Generator[Any, Any, dict[str, Any]]:
    """`act` on PostgreSQL in two statements (yielded: api.pgwrite runs them): the scoped row with
    its names, the principal's check (`check`) and its history in one; the version-checked UPDATE
    with its event and audit entry in the other. Same checks, same answers."""
    from api.writepath import Unconfirmed, scoped_read

    spec = ACTIONS[action]
    stmt, scope = act_statement(user)
    dialect = on.dialect
    read = scoped_read(
        _ACT_READS, stmt, guarded=check is not None, dialect=dialect, wrap=_with_history, extra=_PAST
    )
    params = {"assignment_id": assignment_id, "entity_id": str(assignment_id), **scope, **(check or {})}
    found = yield read.bind(params)
    if not found:
        if check is not None:
            raise Unconfirmed
        raise not_found(assignment_id)
    row = {k: v for k, v in found[0].items() if not k.startswith("h_")}
    past = [{k[2:]: r[k] for k in _PAST_KEYS} for r in found if r["h_id"] is not None]
    if check_version is not None:
        check_version(row["version"])
    values, reason = _move(
        spec, action, user=user, unit_id=row["unit_id"], state=str(row["state"]), reason=reason, now=now
    )
    before = {k: row[k] for k in _ROW_KEYS}
    changed = {**values, "version": before["version"] + 1}
    if "updated_at" not in values:
        changed["updated_at"] = now
    after = {**before, **changed}
    entry = audit.Pending(
        action=f"assignment.{action.replace('-', '_')}",
        entity_type="assignment",
        entity_id=str(assignment_id),
        before=audit.snapshot_row(before),
        after=audit.snapshot_row(after),
    )
    event = _event(
        spec.event,
        a=_RowView(after),  # type: ignore[arg-type]
        plan=Named(id=row["plan_id"], title=row["plan_title"], doc_no=row["plan_doc_no"]),
        task=Named(id=row["task_id"], title=row["task_title"], code=row["task_code"]),
        unit_name=row["unit_name"],
        actor=user,
        reason=reason,
    )
    events_ = [
        outbox.values(
            event=event,
            now=now,
            plan_id=after["plan_id"],
            assignment_id=after["id"],
            unit_id=after["unit_id"],
        )
    ]
    head = past[-1]["hash"] if past else None
    entries = audit.linked(
        None,  # the chain's head is in hand: no look-up
        actor=user,
        entries=[entry],
        now=now,
        tails={("assignment", str(assignment_id)): head or audit.GENESIS},
    )
    keys = tuple(sorted(changed))
    params = row_params(ASSIGNMENT, changed)
    params["w_id"], params["w_version"] = before["id"], before["version"]
    written = yield from write_statement(
        dialect,
        ("assignment", keys),
        lambda: update_sql(ASSIGNMENT, "version", keys, dialect),
        params,
        events=events_,
        entries=entries,
        entity="assignment",
        session=on.session,
    )
    if written.row_id is None:
        raise concurrent_update("assignment")
    return _act_answer(
        row, after, past, entry, written.audit_ids[-1], user=user, assignment_id=assignment_id, now=now
    )


class _RowView:
    """Attribute access to a row's values (what `_event` reads of an assignment)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


# An assignment's history with each entry's hash (the newest is its audit chain's head).
_HISTORY_WITH_HASH = (
    sa.select(*HISTORY_COLUMNS, col(AuditEntry.hash))
    .where(
        col(AuditEntry.entity_type) == "assignment",
        col(AuditEntry.entity_id) == sa.bindparam("entity_id", type_=sa.String()),
    )
    .order_by(col(AuditEntry.id))
)


def assign_new(
    uow: UnitOfWork,
    *,
    user: User,
    plan: Any,
    task: dict[str, Any],
    units: list[dict[str, Any]],
    names: dict[int, str],
) -> list[dict[str, Any]]:
    """`assign` of a task created in this unit of work to its own units (`plan`, `task`: rows),
    without the ORM: one INSERT for all its assignments, their events and audit entries."""
    rows = new_assignments(plan=plan, task=task, units=units, now=uow.now)
    created = uow.insert_rows(ASSIGNMENT, rows, action="assignment.assign")
    for a in created:
        _emit(
            uow,
            events.AssignmentAssigned,
            a=_RowView(a),  # type: ignore[arg-type]
            **assigned_fields(plan, task, a, names, user),
        )
    return created


def assigned_fields(
    plan: Any, task: dict[str, Any], a: dict[str, Any], names: dict[int, str], user: User
) -> dict[str, Any]:
    """The AssignmentAssigned event's fields (besides the assignment) of a task's new assignment."""
    return {
        "plan": Named(id=plan["id"], title=plan["title"], doc_no=plan["doc_no"]),
        "task": Named(id=task["id"], title=task["title"], code=task["code"]),
        "unit_name": names.get(a["unit_id"], ""),
        "actor": user,
        "publication": False,
    }


def new_assignments(
    *, plan: Any, task: dict[str, Any], units: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """The checks of 交办 of a new task (`plan`, `task`: rows) to its own units, and the rows of
    its assignments (without ids), in `assign_new`'s order."""
    if plan["state"] == PlanState.draft:
        raise Conflict(
            "计划尚未发布（草稿），请先核对并发布计划，再单独交办",
            code="plan.draft",
            details={"plan_id": plan["id"]},
        )
    if plan["state"] == PlanState.superseded:
        raise Conflict(
            "该计划已被新版本替代，请在新版本中交办", code="plan.superseded", details={"plan_id": plan["id"]}
        )
    targets: dict[int, str] = {}
    for u in units:
        if u["unit_id"] is not None:
            targets.setdefault(u["unit_id"], str(u["role"]))
    if not targets:
        raise Unprocessable("任务未指定责任单位，请指定交办单位", code="assignment.no_units")
    zone = zones.of_plan(_RowView(dict(plan)))
    today = calendar.local_date(now, zone)
    view = _RowView(task)
    periods = periods_for(task=view, plan=_RowView(dict(plan)), today=today)  # type: ignore[arg-type]
    return [
        {
            "plan_id": task["plan_id"],
            "section_id": task["section_id"],
            "task_id": task["id"],
            "unit_id": uid,
            "role": role,
            "period": period,
            "state": S.assigned,
            "assigned_at": now,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            # Told after the deadline: overdue time counts from today, not from the due date.
            "overdue_from": today if day is not None and day < today else None,
            **_due(day, zone),
        }
        for uid, role in targets.items()
        for period, day in periods
    ]


def status_of(rows: Sequence[dict[str, Any]], *, user: User, now: datetime) -> dict[str, Any]:
    """`status_for` of a task from its assignments in hand (the ones `user` may see)."""
    seen = [r for r in rows if user.reads_all or (user.unit_id is not None and r["unit_id"] == user.unit_id)]
    counts = Counter(str(r["state"]) for r in seen)
    late = sum(
        1 for r in seen if r["due_at"] is not None and r["due_at"] < now and str(r["state"]) in OPEN_STATES
    )
    return summarize(dict(counts), late)
