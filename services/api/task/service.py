from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from api import external
from api.assignment import service as assignment_service
from duban import audit, events, outbox
from duban.errors import Conflict, NotFound, Unprocessable
from duban.models import (
    Assignment,
    Plan,
    Section,
    Target,
    TargetBase,
    Task,
    TaskUnit,
    Unit,
    UnitGroup,
    User,
)
from duban.uow import UnitOfWork, _default, inserts_statement, unit_of_work

TASK_COLUMNS = (
    col(Task.id),
    col(Task.plan_id),
    col(Task.section_id),
    col(Task.parent_id),
    col(Task.code),
    col(Task.title),
    col(Task.description),
    col(Task.due_date),
    col(Task.recurrence),
    col(Task.tags),
    col(Task.position),
    col(Task.external_source_id),
    col(Task.external_id),
    col(Task.version),
    col(Task.created_at),
    col(Task.updated_at),
)
TARGET_COLUMNS = (
    col(Target.id),
    col(Target.task_id),
    col(Target.text),
    col(Target.value),
    col(Target.unit),
    col(Target.comparator),
    col(Target.due_date),
    col(Target.cadence),
)


def visible_tasks(user: User) -> Select[*tuple[Any, ...]]:  # noqa: ARG001
    # Tasks are plan structure every signed-in user reads; their assignments are what is scoped.
    return sa.select(*TASK_COLUMNS)


def get(session: Session, *, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在", code="task.not_found", details={"task_id": task_id})
    return task


def _check_refs(session: Session, *, task: Task | None, plan_id: int, values: dict[str, Any]) -> None:
    if session.get(Plan, plan_id) is None:
        raise Unprocessable("计划不存在", code="task.unknown_plan", details={"plan_id": plan_id})
    section_id = values.get("section_id")
    if section_id is not None:
        section = session.get(Section, section_id)
        if section is None or section.plan_id != plan_id:
            raise Unprocessable(
                "章节不存在或不属于该计划", code="task.invalid_section", details={"section_id": section_id}
            )
    parent_id = values.get("parent_id")
    if parent_id is not None:
        parent = session.get(Task, parent_id)
        if parent is None or parent.plan_id != plan_id:
            raise Unprocessable(
                "上级任务不存在或不属于该计划", code="task.invalid_parent", details={"parent_id": parent_id}
            )
        # Walk up: a task may not become its own ancestor.
        seen: set[int] = set()
        node: Task | None = parent
        while node is not None and node.id not in seen:
            if task is not None and node.id == task.id:
                raise Unprocessable(
                    "上级任务不能是自身或其子任务",
                    code="task.invalid_parent",
                    details={"parent_id": parent_id},
                )
            seen.add(node.id or 0)
            node = session.get(Task, node.parent_id) if node.parent_id else None
    units = values.get("units") or []
    unit_ids = sorted({u["unit_id"] for u in units if u.get("unit_id") is not None})
    if unit_ids:
        found = set(session.exec(select(Unit.id).where(col(Unit.id).in_(unit_ids))).all())
        missing = [i for i in unit_ids if i not in found]
        if missing:
            raise Unprocessable("责任单位不存在", code="task.unknown_units", details={"unit_ids": missing})
    group_ids = sorted({u["group_id"] for u in units if u.get("group_id") is not None})
    if group_ids:
        found = set(session.exec(select(UnitGroup.id).where(col(UnitGroup.id).in_(group_ids))).all())
        missing = [i for i in group_ids if i not in found]
        if missing:
            raise Unprocessable("单位组不存在", code="task.unknown_groups", details={"group_ids": missing})


def _flush(uow: UnitOfWork) -> None:
    try:
        uow.flush()
    except IntegrityError as exc:
        raise Conflict("同一计划中任务编号重复（或外部编号重复）", code="task.duplicate") from exc


def _set_units(session: Session, task: Task, units: list[dict[str, Any]]) -> None:
    session.execute(delete(TaskUnit).where(col(TaskUnit.task_id) == task.id))
    _add_units(session, task, units)


def _add_units(session: Session, task: Task, units: list[dict[str, Any]]) -> None:
    session.add_all(
        TaskUnit(
            task_id=task.id or 0,
            role=u["role"],
            unit_id=u.get("unit_id"),
            group_id=u.get("group_id"),
            label=(u.get("label") or None),
            position=i,
        )
        for i, u in enumerate(units)
    )


def _set_targets(session: Session, task: Task, targets: list[dict[str, Any]]) -> None:
    session.execute(delete(Target).where(col(Target.task_id) == task.id))
    _add_targets(session, task, targets)


def _add_targets(session: Session, task: Task, targets: list[dict[str, Any]]) -> None:
    session.add_all(Target.model_validate({**t, "task_id": task.id}) for t in targets)


def _snapshot(session: Session, task: Task) -> dict[str, Any]:
    snap = audit.snapshot(task)
    snap["units"] = [
        {"role": str(r.role), "unit_id": r.unit_id, "group_id": r.group_id, "label": r.label}
        for r in session.exec(
            select(TaskUnit)
            .where(TaskUnit.task_id == task.id)
            .order_by(col(TaskUnit.position), col(TaskUnit.id))
        ).all()
    ]
    return snap


def _snapshotter(session: Session) -> Callable[[Any], dict[str, Any]]:
    return lambda task: _snapshot(session, task)


def create(session: Session, *, actor: User, data: dict[str, Any], now: datetime) -> tuple[Task, bool]:
    """(task, created): an external id already taken in the caller's namespace updates that task."""
    data = dict(data)
    external_id = data.pop("external_id", None)
    assign = bool(data.pop("assign", False))
    if not external_id:
        return _insert(session, actor=actor, data=data, now=now, assign=assign), True

    def _update(task: Task) -> Task:
        if task.plan_id != data["plan_id"]:
            raise Conflict(
                "该外部编号已用于另一计划中的任务",
                code="task.external_id_in_other_plan",
                details={"external_id": external_id, "task_id": task.id, "plan_id": task.plan_id},
            )
        changes = {k: v for k, v in data.items() if k != "plan_id"}
        if changes.get("position") is None:
            changes.pop("position", None)  # an omitted position keeps the task where it is
        task = update_task(session, actor=actor, task=task, changes=changes, now=now)
        if assign:
            # A repeat assigns only units not assigned yet (none, when nothing changed).
            assignment_service.assign(session=session, task=task, actor=actor, now=now)
        return task

    return external.upsert(
        session,
        Task,
        source_id=external.source_of(actor),
        external_id=external_id,
        create=lambda: _insert(
            session, actor=actor, data={**data, "external_id": external_id}, now=now, assign=assign
        ),
        update=_update,
    )


def _insert(
    session: Session, *, actor: User, data: dict[str, Any], now: datetime, assign: bool = False
) -> Task:
    """A new task with its units and targets; `assign`: 交办 to its units in the same transaction."""
    data = dict(data)
    _check_refs(session, task=None, plan_id=data["plan_id"], values=data)
    units, targets = data.pop("units", []), data.pop("targets", [])
    if data.get("position") is None:
        last = session.exec(select(func.max(Task.position)).where(Task.plan_id == data["plan_id"])).first()
        data["position"] = (last or 0) + 1
    if data.get("external_id"):
        data["external_source_id"] = external.source_of(actor)
    unit_rows = [
        {
            "role": str(u["role"]),
            "unit_id": u.get("unit_id"),
            "group_id": u.get("group_id"),
            "label": u.get("label") or None,
        }
        for u in units
    ]
    with unit_of_work(session, actor=actor, now=now) as uow:
        # A new task has no units or targets to replace, and its snapshot's units are the ones given.
        task = uow.add(
            Task.model_validate({**data, "created_at": now, "updated_at": now}),
            action="task.create",
            snapshot=lambda t: {**audit.snapshot(t), "units": unit_rows},
        )
        _flush(uow)
        _add_units(session, task, units)
        _add_targets(session, task, targets)
        if assign:
            assignment_service.assign(
                session=session, task=task, actor=actor, now=now, uow=uow, fresh_task=True
            )
    return task


def _unchanged(session: Session, task: Task, changes: dict[str, Any]) -> bool:
    """True when applying `changes` (units and targets included) would leave the task as it is."""
    fields = {k: v for k, v in changes.items() if k not in ("units", "targets")}
    if external.changed(task, fields):
        return False
    if changes.get("units") is not None:
        current = _snapshot(session, task)["units"]
        wanted = [
            {
                "role": str(u["role"]),
                "unit_id": u.get("unit_id"),
                "group_id": u.get("group_id"),
                "label": u.get("label") or None,
            }
            for u in changes["units"]
        ]
        if current != wanted:
            return False
    if changes.get("targets") is not None:
        keys = list(TargetBase.model_fields)
        current_t = [
            {k: getattr(t, k) for k in keys}
            for t in session.exec(select(Target).where(Target.task_id == task.id).order_by(col(Target.id)))
        ]
        wanted_t = [
            {k: getattr(Target.model_validate({**t, "task_id": task.id}), k) for k in keys}
            for t in changes["targets"]
        ]
        if current_t != wanted_t:
            return False
    return True


def update_task(session: Session, *, actor: User, task: Task, changes: dict[str, Any], now: datetime) -> Task:
    changes = dict(changes)
    for key in ("code", "title", "tags", "position"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    _check_refs(session, task=task, plan_id=task.plan_id, values=changes)
    if _unchanged(session, task, changes):
        return task  # nothing to write: no new version, no audit entry (a repeated create)
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.track(task, action="task.update", snapshot=_snapshotter(session))
        units, targets = changes.pop("units", None), changes.pop("targets", None)
        old_section = task.section_id
        for key, value in changes.items():
            setattr(task, key, value)
        if units is not None or targets is not None:
            # Units and targets are part of the task (its ETag): replacing them is a new version.
            flag_modified(task, "updated_at")
        _flush(uow)
        if units is not None:
            _set_units(session, task, units)
        if targets is not None:
            _set_targets(session, task, targets)
        if task.section_id != old_section:
            # Assignments carry the section for scoped filtering; keep them in step.
            session.execute(
                update(Assignment)
                .where(col(Assignment.task_id) == task.id)
                .values(section_id=task.section_id)
                .execution_options(synchronize_session=False)
            )
    return task


def remove(session: Session, *, actor: User, task: Task, now: datetime) -> None:
    if session.exec(select(Assignment.id).where(Assignment.task_id == task.id).limit(1)).first() is not None:
        raise Conflict("该任务已交办，不能删除（可撤销交办）", code="task.in_use")
    if session.exec(select(Task.id).where(Task.parent_id == task.id).limit(1)).first() is not None:
        raise Conflict("该任务仍有子任务，不能删除", code="task.has_subtasks")
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.delete(task, action="task.delete", snapshot=_snapshotter(session))


def enrich(
    session: Session, *, user: User, rows: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Units, targets and derived status for a page of tasks: a fixed number of queries."""
    ids = [r["id"] for r in rows]
    units: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    targets: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        stmt: sa.Select[*tuple[Any, ...]] = (
            sa.select(
                col(TaskUnit.task_id),
                col(TaskUnit.role),
                col(TaskUnit.unit_id),
                col(Unit.name).label("unit_name"),
                col(TaskUnit.group_id),
                col(UnitGroup.name).label("group_name"),
                col(TaskUnit.label),
                col(TaskUnit.position),
            )
            .outerjoin(Unit, col(Unit.id) == col(TaskUnit.unit_id))
            .outerjoin(UnitGroup, col(UnitGroup.id) == col(TaskUnit.group_id))
            .where(col(TaskUnit.task_id).in_(ids))
            .order_by(col(TaskUnit.task_id), col(TaskUnit.position), col(TaskUnit.id))
        )
        for r in session.execute(stmt).mappings():
            item = dict(r)
            units[item.pop("task_id")].append(item)
        tstmt = sa.select(*TARGET_COLUMNS).where(col(Target.task_id).in_(ids)).order_by(col(Target.id))
        for r in session.execute(tstmt).mappings():
            item = dict(r)
            targets[item.pop("task_id")].append(item)
    status = assignment_service.status_for(session, user=user, by=col(Assignment.task_id), ids=ids, now=now)
    for row in rows:
        row["units"], row["targets"], row["status"] = units[row["id"]], targets[row["id"]], status[row["id"]]
    return rows


def detail(session: Session, *, user: User, task_id: int, now: datetime) -> dict[str, Any]:
    row = session.execute(visible_tasks(user).where(col(Task.id) == task_id)).mappings().first()
    if row is None:
        raise NotFound("任务不存在", code="task.not_found", details={"task_id": task_id})
    return enrich(session, user=user, rows=[dict(row)], now=now)[0]


# --- the lean write (api.writepath) ------------------------------------------------------------------

TASK = Task.__table__  # type: ignore[attr-defined]
TASK_UNIT = TaskUnit.__table__  # type: ignore[attr-defined]
ASSIGNMENT = Assignment.__table__  # type: ignore[attr-defined]
_TASK_KEYS = tuple(c.name for c in sa.select(*TASK_COLUMNS).selected_columns)  # the detail's order


def lean_eligible(data: dict[str, Any]) -> bool:
    """Whether `create_lean` takes this create: a new top-level task whose units are all units
    (no external id to look up, no parent chain, no unit groups to expand, no targets)."""
    units = data.get("units") or []
    return (
        not data.get("external_id")
        and data.get("parent_id") is None
        and not data.get("targets")
        and all(u.get("unit_id") is not None for u in units)
    )


@functools.cache
def _plan_statement(with_section: bool) -> sa.Select[Any]:
    # Built once (with parameters): the plan, the plan's last position, the section's plan.
    plan_id = sa.bindparam("plan_id", type_=sa.Integer())
    last = sa.select(func.max(col(Task.position))).where(col(Task.plan_id) == plan_id).scalar_subquery()
    stmt = sa.select(
        col(Plan.id),
        col(Plan.state),
        col(Plan.title),
        col(Plan.doc_no),
        col(Plan.timezone),
        col(Plan.period_start),
        col(Plan.period_end),
        last.label("last_position"),
    ).where(col(Plan.id) == plan_id)
    if with_section:
        section = sa.bindparam("section_id", type_=sa.Integer())
        owner = sa.select(col(Section.plan_id)).where(col(Section.id) == section).scalar_subquery()
        stmt = stmt.add_columns(owner.label("section_plan_id"))
    return stmt


_UNIT_NAMES = sa.select(col(Unit.id), col(Unit.name)).where(
    col(Unit.id).in_(sa.bindparam("unit_ids", expanding=True, type_=sa.Integer()))
)


def _check_section(plan: Any, *, plan_id: int, section_id: int | None) -> None:
    if section_id is not None and plan["section_plan_id"] != plan_id:
        raise Unprocessable(
            "章节不存在或不属于该计划", code="task.invalid_section", details={"section_id": section_id}
        )


def _placed(plan: Any, data: dict[str, Any], *, unit_ids: list[int], names: dict[int, str]) -> int:
    """The new task's position, once its units are known to exist (`names`: the ones found)."""
    missing = [i for i in unit_ids if i not in names]
    if missing:
        raise Unprocessable("责任单位不存在", code="task.unknown_units", details={"unit_ids": missing})
    position = data.get("position")
    return int(position) if position is not None else (plan["last_position"] or 0) + 1


def _unit_rows(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new task's unit rows, in the order given (the lead first)."""
    return [
        {"role": str(u["role"]), "unit_id": u["unit_id"], "group_id": None, "label": u.get("label") or None}
        for u in units
    ]


def _new_task(
    data: dict[str, Any], *, plan_id: int, section_id: int | None, position: int, now: datetime
) -> dict[str, Any]:
    """A new task's row, as both create paths insert it."""
    return {
        "plan_id": plan_id,
        "section_id": section_id,
        "parent_id": None,
        "code": data["code"],
        "title": data["title"],
        "description": data.get("description"),
        "due_date": data.get("due_date"),
        "recurrence": data.get("recurrence"),
        "tags": data.get("tags") or [],
        "position": position,
        "external_source_id": None,
        "external_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def create_lean(session: Session, *, user: User, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`create` (and with `assign`, 交办 to the task's units) without the ORM, answering the task's
    detail body from the rows in hand: the plan with the plan's last position and the section's
    owner in one statement, the units in another, one INSERT per table, the events and the audit
    entries, one commit. Same checks and answers as `_insert` for the creates `lean_eligible` takes."""
    plan_id, section_id = data["plan_id"], data.get("section_id")
    from api.writepath import first_row

    params = {"plan_id": plan_id, "section_id": section_id}
    plan = first_row(session, _plan_statement(section_id is not None), params)
    conn = session.connection()
    if plan is None:
        raise Unprocessable("计划不存在", code="task.unknown_plan", details={"plan_id": plan_id})
    _check_section(plan, plan_id=plan_id, section_id=section_id)
    units = data.get("units") or []
    unit_ids = sorted({u["unit_id"] for u in units})
    names: dict[int, str] = {}
    if unit_ids:
        found = conn.execute(_UNIT_NAMES, {"unit_ids": unit_ids})
        names = {i: str(n) for i, n in found if i is not None}
    position = _placed(plan, data, unit_ids=unit_ids, names=names)
    unit_rows = _unit_rows(units)
    assign = bool(data.get("assign"))
    with unit_of_work(session, actor=user, now=now) as uow:
        try:
            task = uow.insert_row(
                TASK,
                _new_task(data, plan_id=plan_id, section_id=section_id, position=position, now=now),
                action="task.create",
                extra={"units": unit_rows},
            )
        except IntegrityError as exc:
            raise Conflict("同一计划中任务编号重复（或外部编号重复）", code="task.duplicate") from exc
        if unit_rows:
            uow.insert_rows(
                TASK_UNIT,
                [{**r, "task_id": task["id"], "position": i} for i, r in enumerate(unit_rows)],
                action=None,
            )
        created = (
            assignment_service.assign_new(uow, user=user, plan=plan, task=task, units=unit_rows, names=names)
            if assign
            else []
        )
    return _lean_body(task, unit_rows, names, created, user=user, now=now)


def _lean_body(
    task: dict[str, Any],
    unit_rows: list[dict[str, Any]],
    names: dict[int, str],
    created: list[dict[str, Any]],
    *,
    user: User,
    now: datetime,
) -> dict[str, Any]:
    """The task's detail body from its rows in hand (as `detail` reads it back)."""
    body = {k: task[k] for k in _TASK_KEYS}
    body["units"] = [
        {
            "role": r["role"],
            "unit_id": r["unit_id"],
            "unit_name": names.get(r["unit_id"]),
            "group_id": None,
            "group_name": None,
            "label": r["label"],
            "position": i,
        }
        for i, r in enumerate(unit_rows)
    ]
    body["targets"] = []
    body["status"] = assignment_service.status_of(created, user=user, now=now)
    return body


# --- the lean write on PostgreSQL (api.pgwrite) ------------------------------------------------------

_CREATE_READS: dict[tuple[bool, bool, str], Any] = {}
_NEW_TASK = sa.column("task_id", sa.Integer())
# As the driver answers them (a list of ints; a JSON object, decoded): no conversion.
_NEW_IDS = sa.column("assignment_ids", sa.types.NullType())
_NAMES = sa.column("unit_names", sa.types.NullType())
_IDS_SQL = "SELECT nextval(pg_get_serial_sequence('assignment', 'id')) FROM generate_series(1, %(n_ids)s)"


def _with_ids(sql: str) -> str:
    # The new task's id and its assignments' ids from their sequences, and the units' names, with
    # the plan: the audit entries and events are then made before the INSERTs, which carry them
    # (a refused request leaves a gap in the sequences, as a rollback does).
    return (
        "SELECT p.*, nextval(pg_get_serial_sequence('task', 'id')) AS h_task_id, "
        f"ARRAY({_IDS_SQL}) AS h_assignment_ids, "
        "(SELECT json_object_agg(id, name) FROM unit WHERE id = ANY(%(unit_ids)s)) AS h_unit_names "
        f"FROM ({sql}) AS p"
    )


def _create_read(dialect: Any, with_section: bool, guarded: bool) -> Any:
    key = (with_section, guarded, dialect.name)
    read = _CREATE_READS.get(key)
    if read is None:
        from api import pgwrite
        from api.writepath import _PRINCIPAL

        stmt = _plan_statement(with_section)
        read = _CREATE_READS[key] = pgwrite.compile_read(
            stmt.where(_PRINCIPAL) if guarded else stmt,
            dialect,
            wrap=_with_ids,
            extra=(_NEW_TASK, _NEW_IDS, _NAMES),
        )
    return read


_TAKEN = (
    sa.select(col(Task.id))
    .where(
        col(Task.plan_id) == sa.bindparam("plan_id", type_=sa.Integer()),
        col(Task.code) == sa.bindparam("code", type_=sa.String()),
    )
    .limit(1)
)


@functools.cache
def _taken_read(dialect: Any) -> Any:
    from api import pgwrite

    return pgwrite.compile_read(_TAKEN, dialect)


def _duplicate() -> Conflict:
    return Conflict("同一计划中任务编号重复（或外部编号重复）", code="task.duplicate")


def create_pg(
    on: Any, *, user: User, check: dict[str, Any] | None, data: dict[str, Any], now: datetime
) -> Generator[Any, Any, dict[str, Any]]:
    """`create_lean` on PostgreSQL in two statements (yielded: api.pgwrite runs them): the plan
    with the principal's check, the plan's last position, the section's owner, the units' names
    and the new rows' ids in one; the task, its units, its assignments (with `assign`), their
    events and audit entries in the other (`duban.uow.inserts_statement`). Same checks, same
    answers, in the same order: a refusal of 交办 looks for a duplicate code first, which the
    unit of work's INSERT of the task met before it."""
    from api.writepath import Unconfirmed

    plan_id, section_id = data["plan_id"], data.get("section_id")
    dialect = on.dialect
    units = data.get("units") or []
    unit_ids = sorted({u["unit_id"] for u in units})
    assign = bool(data.get("assign"))
    # One-off tasks: one assignment per unit (a recurring one's periods need the plan: drawn after).
    n_ids = len(unit_ids) if assign and not data.get("recurrence") else 0
    params = {"plan_id": plan_id, "section_id": section_id, "unit_ids": unit_ids, "n_ids": n_ids}
    found = yield _create_read(dialect, section_id is not None, check is not None).bind(
        {**params, **(check or {})}
    )
    if not found and check is not None:
        raise Unconfirmed
    if not found:
        raise Unprocessable("计划不存在", code="task.unknown_plan", details={"plan_id": plan_id})
    plan = found[0]
    _check_section(plan, plan_id=plan_id, section_id=section_id)
    names = {int(k): str(v) for k, v in (plan["h_unit_names"] or {}).items()}
    position = _placed(plan, data, unit_ids=unit_ids, names=names)
    unit_rows = _unit_rows(units)
    values = _new_task(data, plan_id=plan_id, section_id=section_id, position=position, now=now)
    task = {"id": plan["h_task_id"], **{c.key: _default(c) for c in TASK.columns if c.key != "id"}, **values}
    pending = [
        audit.Pending(
            action="task.create",
            entity_type="task",
            entity_id=str(task["id"]),
            after={**audit.snapshot_row(task), "units": unit_rows},
        )
    ]
    created: list[dict[str, Any]] = []
    events_: list[dict[str, Any]] = []
    if assign:
        try:
            rows = assignment_service.new_assignments(plan=plan, task=task, units=unit_rows, now=now)
        except (Conflict, Unprocessable):
            taken = yield _taken_read(dialect).bind({"plan_id": plan_id, "code": data["code"]})
            if taken:
                raise _duplicate() from None
            raise
        ids = list(plan["h_assignment_ids"] or [])
        if len(ids) < len(rows):
            ids += [r[0] for r in (yield (_IDS_SQL, {"n_ids": len(rows) - len(ids)}))]
        defaults = {c.key: _default(c) for c in ASSIGNMENT.columns if c.key != "id"}
        created = [{"id": i, **defaults, **r} for i, r in zip(ids, rows, strict=False)]
        for a in created:
            pending.append(
                audit.Pending(
                    action="assignment.assign",
                    entity_type="assignment",
                    entity_id=str(a["id"]),
                    after=audit.snapshot_row(a),
                )
            )
            event = assignment_service._event(
                events.AssignmentAssigned,
                a=assignment_service._RowView(a),  # type: ignore[arg-type]
                **assignment_service.assigned_fields(plan, task, a, names, user),
            )
            events_.append(
                outbox.values(
                    event=event, now=now, plan_id=a["plan_id"], assignment_id=a["id"], unit_id=a["unit_id"]
                )
            )
    entries = audit.linked(
        None,  # new rows: their chains start here (sequence ids are never reused)
        actor=user,
        entries=pending,
        now=now,
        fresh={(p.entity_type, p.entity_id) for p in pending},
    )
    task_units = [{**r, "task_id": task["id"], "position": i} for i, r in enumerate(unit_rows)]
    tables: list[tuple[sa.Table, list[dict[str, Any]]]] = [(TASK, [task])]
    if task_units:
        unit_defaults = {c.key: _default(c) for c in TASK_UNIT.columns if c.key != "id"}
        tables.append((TASK_UNIT, [{**unit_defaults, **r} for r in task_units]))
    if created:
        tables.append((ASSIGNMENT, created))
    try:
        yield from inserts_statement(dialect, tables, events=events_, entries=entries, session=on.session)
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "table_name", None) == "task":
            raise _duplicate() from exc  # as the unit of work's INSERT of the task answered
        raise
    return _lean_body(task, unit_rows, names, created, user=user, now=now)
