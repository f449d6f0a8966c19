"""Bulk writes of an integration: one request, one transaction, one commit; each item its own savepoint.

Per-item results, not all-or-nothing: an OA system sending 200 tasks should not have 199 good
ones refused because one names an unknown unit. Each item is validated and written on its own
(a savepoint of the one unit of work: a failed item leaves nothing behind and the rest go on),
and the answer lists every item's outcome by its index. Items are keyed by the caller's external
id, so sending the same batch again updates (tasks) or answers (assignments) instead of
duplicating — a retry after a timeout is safe. See docs/integration.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from api import external
from api.assignment import service as assignment_service
from api.bulk.schemas import BulkAssignmentItem, BulkTaskItem
from api.errors import validation_message
from api.task import service as task_service
from duban.errors import DubanError, NotFound
from duban.models import Assignment, Plan, Task, User
from duban.uow import unit_of_work


def _error(index: int, external_id: Any, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "index": index,
        "external_id": external_id if isinstance(external_id, str) else None,
        "status": "failed",
        "error": {"code": code, "message": f"第 {index + 1} 项：{message}", "details": details},
    }


def _validate(model: type[BaseModel], index: int, raw: Any) -> tuple[Any, dict[str, Any] | None]:
    external_id = raw.get("external_id") if isinstance(raw, dict) else None
    try:
        return model.model_validate(raw), None
    except ValidationError as exc:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message": validation_message(dict(err)),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        summary = "；".join(f"{f['field'] or '内容'}：{f['message']}" for f in fields[:3])
        return None, _error(index, external_id, "validation_error", f"内容不合法（{summary}）", fields)


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    count = {
        s: sum(1 for r in results if r["status"] == s) for s in ("created", "updated", "existing", "failed")
    }
    return {
        "created": count["created"],
        "updated": count["updated"] + count["existing"],
        "failed": count["failed"],
        "results": results,
    }


def tasks(session: Session, *, actor: User, items: list[Any], now: datetime) -> dict[str, Any]:
    """Create or update each task by its external id (and 交办 it with `assign`)."""
    results: list[dict[str, Any]] = []
    done: list[tuple[dict[str, Any], Task]] = []
    # Held for the whole batch: the session's identity map keeps rows only while someone does,
    # so each item's plan look-up is then answered from memory, not by a query per item.
    plan_ids = {raw.get("plan_id") for raw in items if isinstance(raw, dict)}
    plans = session.exec(
        select(Plan).where(col(Plan.id).in_([p for p in plan_ids if isinstance(p, int)]))
    ).all()
    with unit_of_work(session, actor=actor, now=now) as uow:
        for index, raw in enumerate(items):
            item, failed = _validate(BulkTaskItem, index, raw)
            if failed is not None:
                results.append(failed)
                continue
            try:
                with uow.savepoint():
                    task, created = task_service.create(session, actor=actor, data=item.model_dump(), now=now)
            except DubanError as exc:
                results.append(_error(index, item.external_id, exc.code, exc.message, exc.details))
                continue
            row = _done(index, item.external_id, "created" if created else "updated")
            results.append(row)
            done.append((row, task))
    del plans
    ids = [t.id for _, t in done]
    made: dict[int, list[int]] = {i: [] for i in ids if i is not None}
    if made:
        for aid, tid in session.execute(
            select(Assignment.id, Assignment.task_id)
            .where(col(Assignment.task_id).in_(list(made)))
            .order_by(col(Assignment.id))
        ).all():
            made[tid].append(aid)
    for row, task in done:
        row.update(id=task.id, version=task.version, assignment_ids=made.get(task.id or 0, []))
    return _summary(results)


def _done(index: int, external_id: str | None, status: str) -> dict[str, Any]:
    """An item's result; its id and version are filled in once the batch is flushed."""
    return {"index": index, "external_id": external_id, "status": status}


def assignments(session: Session, *, actor: User, items: list[Any], now: datetime) -> dict[str, Any]:
    """Assign each (task, unit) under the caller's external id, or answer the one already made."""
    results: list[dict[str, Any]] = []
    done: list[tuple[dict[str, Any], Assignment]] = []
    source = external.source_of(actor)
    with unit_of_work(session, actor=actor, now=now) as uow:
        for index, raw in enumerate(items):
            item, failed = _validate(BulkAssignmentItem, index, raw)
            if failed is not None:
                results.append(failed)
                continue
            try:
                task = _task(session, item, source)
                with uow.savepoint():
                    one, created = assignment_service.assign_external(
                        session=session,
                        task=task,
                        unit_id=item.unit_id,
                        actor=actor,
                        now=now,
                        external_id=item.external_id,
                        role=item.role,
                        due_date=item.due_date,
                        period=item.period,
                    )
            except DubanError as exc:
                results.append(_error(index, item.external_id, exc.code, exc.message, exc.details))
                continue
            row = _done(index, item.external_id, "created" if created else "existing")
            results.append(row)
            done.append((row, one))
    for row, a in done:
        row.update(id=a.id, version=a.version)
    return _summary(results)


def _task(session: Session, item: BulkAssignmentItem, source: int | None) -> Task:
    if item.task_id is not None:
        task = session.get(Task, item.task_id)
        details: dict[str, Any] = {"task_id": item.task_id}
    elif item.task_external_id:
        task = external.find(session, Task, source_id=source, external_id=item.task_external_id)
        details = {"task_external_id": item.task_external_id}
    else:
        raise DubanError("须给出任务编号或任务的外部编号", code="bulk.task_required")
    if task is None:
        raise NotFound("任务不存在", code="task.not_found", details=details)
    return task
