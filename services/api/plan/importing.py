"""Plans in and out: a parsed plan document into plan, sections, tasks, units and assignments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.unit import service as unit_service
from duban import audit, calendar, comparators, labels, zones
from duban.errors import Conflict, DubanError, NotFound, Unprocessable
from duban.models import (
    Indicator,
    Plan,
    PlanState,
    Recurrence,
    Section,
    Target,
    Task,
    TaskUnit,
    Unit,
    UnitGroup,
    UnitKind,
    UnitRole,
    User,
)
from duban.uow import UnitOfWork, unit_of_work
from plandoc import UnreadableDocument, UnsupportedFormat, parse, to_json
from plandoc.interchange import (
    ImportResult,
    ImportWarning,
    IndicatorDoc,
    PlanDoc,
    PlanMeta,
    SectionDoc,
    TargetDoc,
    TaskDoc,
    UnitSuggestion,
)
from plandoc.limits import DocumentTooLarge
from plandoc.units import is_generic


class UnsupportedMediaType(DubanError):
    status_code = 415
    code = "import.unsupported_format"
    message = "无法识别的文件格式（支持 .txt、.docx、.pdf、.xlsx 与计划交换 JSON）"


class PayloadTooLarge(DubanError):
    status_code = 413
    code = "import.too_large"
    message = "文件过大"


def read_plan(data: bytes | str, *, fmt: str = "auto", filename: str | None = None) -> ImportResult:
    """Parse, turning every reader failure into a typed error (415 or 422), never a crash."""
    try:
        return parse(data, format=fmt, filename=filename)
    except DocumentTooLarge as exc:
        raise PayloadTooLarge(str(exc), code="import.document_too_large", details=exc.details) from exc
    except UnsupportedFormat as exc:
        # The reason is the sentence the office needs (另存为 .docx…), so it is the message too.
        raise UnsupportedMediaType(
            f"{UnsupportedMediaType.message}：{exc}", details={"reason": str(exc), "filename": filename}
        ) from exc
    except UnreadableDocument as exc:
        raise Unprocessable(str(exc), code="import.unreadable", details={"filename": filename}) from exc
    except ValidationError as exc:
        raise Unprocessable(
            "计划 JSON 不符合交换格式",
            code="import.invalid_document",
            details=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:20]],
        ) from exc
    except (ValueError, KeyError, IndexError, TypeError, OSError) as exc:
        # Damaged .docx/.xlsx/.pdf internals and malformed JSON all land here.
        # The reader's own words are English; they go in details.exception, the office reads Chinese.
        raise Unprocessable(
            _UNREADABLE,
            code="import.unreadable",
            details={"exception": str(exc)[:300], "filename": filename},
        ) from exc
    except Exception as exc:  # noqa: BLE001 - third-party readers (pypdf, openpyxl) raise their own types
        raise Unprocessable(
            _UNREADABLE,
            code="import.unreadable",
            details={"exception": type(exc).__name__, "filename": filename},
        ) from exc


_UNREADABLE = "无法读取计划文件：文件内容已损坏，或与其格式不符，请用办公软件打开检查并另存后再导入"


# --- units -----------------------------------------------------------------------------------------

_KIND_LABEL = {
    UnitKind.department: "部门",
    UnitKind.town: "镇",
    UnitKind.street: "街道",
    UnitKind.zone: "园区",
    UnitKind.office: "办公室",
    UnitKind.leadership: "领导",
}


def guess_kind(name: str) -> UnitKind:
    if name.endswith(("办公室", "领导小组")):
        return UnitKind.office
    if name.endswith(("开发区", "园区", "高新区")) or "开发区" in name:
        return UnitKind.zone
    if name.endswith(("街道", "街")):
        return UnitKind.street
    if name.endswith(("镇", "乡")):
        return UnitKind.town
    return UnitKind.department


@dataclass
class _Ref:
    unit_id: int | None = None
    group_id: int | None = None
    label: str | None = None


class _Resolver:
    """Names as written → unit, unit group or a kept label; creates what is missing (when allowed).

    A name close to an existing unit (住建局 for 县住房和城乡建设局) is not created: it is kept
    as written for the office to confirm in the draft, so a plan never mints near-duplicates.
    """

    def __init__(self, session: Session, *, create: bool) -> None:
        self.session = session
        self.create = create
        self.cache: dict[str, _Ref] = {}
        self.units_created: list[Unit] = []
        self.groups_created: list[UnitGroup] = []
        self.warnings: list[ImportWarning] = []

    def resolve(self, raw: str) -> _Ref:
        name = raw.strip()
        if name in self.cache:
            return self.cache[name]
        ref = self._lookup(name)
        self.cache[name] = ref
        return ref

    def _lookup(self, name: str) -> _Ref:
        if not name or is_generic(name):
            return _Ref(label=name[:100] or "有关单位")
        group = self.session.exec(select(UnitGroup).where(UnitGroup.name == name)).first()
        if group is not None:
            return _Ref(group_id=group.id)
        if name in unit_service.DEFAULT_GROUPS:  # a preview: the import creates the default groups first
            return _Ref(label=name)
        unit = unit_service.find_by_name(self.session, name=name)
        if unit is not None:
            return _Ref(unit_id=unit.id)
        if len(name) > 100:
            self.warnings.append(
                ImportWarning(
                    code="unit.name_too_long",
                    message=f"单位名称过长，已作为说明保留：{name[:40]}…",
                    text=name,
                )
            )
            return _Ref(label=name[:100])
        if name.startswith("各"):
            self.warnings.append(
                ImportWarning(
                    code="group.created",
                    message=f"单位组“{name}”不存在，导入时新建（暂无成员，请在单位组中维护）",
                    text=name,
                )
            )
            if not self.create:
                return _Ref(label=name)
            group = UnitGroup(name=name, member_kinds=[])
            self.session.add(group)
            self.session.flush()
            self.groups_created.append(group)
            return _Ref(group_id=group.id)
        close = unit_service.suggest(
            self.session, name=name, exclude=[u.id for u in self.units_created if u.id is not None]
        )
        if close and close[0]["score"] >= unit_service.HOLD_MIN:
            self.warnings.append(
                ImportWarning(
                    code="unit.unresolved",
                    message=f"单位“{name}”未找到，与“{close[0]['name']}”相近：请在草稿中确认为已有单位或新建",
                    text=name,
                    suggestions=[UnitSuggestion.model_validate(c) for c in close],
                )
            )
            return _Ref(label=name)
        kind = guess_kind(name)
        near = f"；相近单位：{'、'.join(c['name'] for c in close)}" if close else ""
        self.warnings.append(
            ImportWarning(
                code="unit.created",
                message=f"单位“{name}”不存在，导入时新建（类型：{_KIND_LABEL[kind]}），请核对{near}",
                text=name,
                suggestions=[UnitSuggestion.model_validate(c) for c in close],
            )
        )
        if not self.create:
            return _Ref(label=name)
        unit = Unit(name=name, kind=kind)
        self.session.add(unit)
        self.session.flush()
        self.units_created.append(unit)
        return _Ref(unit_id=unit.id)


# --- import ----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    plan_id: int | None
    title: str
    sections: int = 0
    tasks: int = 0
    targets: int = 0
    indicators: int = 0
    units_created: list[str] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)
    assignments: int = 0
    state: str = "draft"
    withdrawn: int = 0
    units_notified: int = 0
    supersedes_id: int | None = None
    warnings: list[ImportWarning] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["warnings"] = [w.model_dump(mode="json") for w in self.warnings]
        return out


def _unique(code: str, seen: set[str], fallback: str, prefix: str = "") -> str:
    base = (code.strip() or fallback)[:20]
    if base in seen and prefix:
        base = f"{prefix}.{base}"[:20]
    out, n = base, 2
    while out in seen:
        suffix = f"-{n}"
        out = base[: 20 - len(suffix)] + suffix
        n += 1
    seen.add(out)
    return out


def _check(doc: PlanDoc) -> None:
    if not doc.tasks():
        raise Unprocessable("文件中未识别出任何任务", code="import.no_tasks")
    period = doc.plan.period
    if period is not None and period.end < period.start:
        raise Unprocessable("计划期限无效：结束日期早于开始日期", code="plan.invalid_period")


# Warnings the importer derives from the database and the day; a re-imported preview (its JSON
# carries them) gets them afresh instead of twice.
DERIVED = {
    "unit.created",
    "unit.unresolved",
    "unit.name_too_long",
    "group.created",
    "group.empty",
    "calendar.year_uncovered",
    "deadline.past",
    "task.unassigned",
}


def _reader_warnings(result: ImportResult) -> list[ImportWarning]:
    return [w for w in result.warnings if w.code not in DERIVED]


def check_doc_no(session: Session, *, doc_no: str | None, new_version_of: int | None) -> Plan | None:
    """A 文号 already imported is refused (409 naming the plan) unless this is its new version."""
    earlier = session.get(Plan, new_version_of) if new_version_of is not None else None
    if new_version_of is not None and earlier is None:
        raise NotFound("计划不存在", code="plan.not_found", details={"plan_id": new_version_of})
    no = (doc_no or "").strip()
    if not no or earlier is not None:
        return earlier
    existing = session.exec(select(Plan).where(Plan.doc_no == no[:100]).order_by(col(Plan.id).desc())).first()
    if existing is not None:
        raise Conflict(
            f"文号“{no}”已导入为计划 #{existing.id}“{existing.title}”；如为该计划的新版本，请按新版本导入",
            code="plan.duplicate_doc_no",
            details={"plan_id": existing.id, "title": existing.title, "doc_no": no},
        )
    return None


def _title(doc: PlanDoc) -> str:
    return (doc.plan.title or "").strip() or "未命名计划"


def preview(
    session: Session | None, result: ImportResult, *, now: datetime, new_version_of: int | None = None
) -> dict[str, Any]:
    """The interchange JSON plus every warning and refusal the import would give; writes nothing."""
    doc = result.document
    _check(doc)
    warnings = _reader_warnings(result)
    if session is not None:
        check_doc_no(session, doc_no=doc.plan.doc_no, new_version_of=new_version_of)
        resolver = _Resolver(session, create=False)
        for task in _walk(doc.tasks()):
            for name in task.all_units():
                resolver.resolve(name)
        warnings += resolver.warnings
        warnings += _empty_default_groups(session, resolver)
    warnings += past_deadline_warnings([t.due for t in _walk(doc.tasks())], now=now, zone=zones.default())
    warnings += calendar_warnings(doc)
    out = to_json(ImportResult(document=doc, warnings=warnings))
    out["summary"] = {
        "title": _title(doc),
        "sections": len(doc.sections),
        "tasks": sum(1 for _ in _walk(doc.tasks())),
        "indicators": len(doc.indicators),
    }
    return out


def past_deadline_warnings(dues: list[date | None], *, now: datetime, zone: Any) -> list[ImportWarning]:
    """One warning counting the deadlines already past on the day of import or publication."""
    today = calendar.local_date(now, zone)
    past = sorted(d for d in dues if d is not None and d < today)
    if not past:
        return []
    return [
        ImportWarning(
            code="deadline.past",
            message=(
                f"{len(past)}项任务的截止日期已过（最早为{labels.date_text(past[0])}）："
                "发布后逾期自发布之日起算；如为新一年度重新印发，可整体顺延截止日期"
            ),
        )
    ]


def calendar_warnings(doc: PlanDoc) -> list[ImportWarning]:
    """One warning naming the years of deadlines whose holidays nobody has loaded yet."""
    return uncovered_warnings([t.due for t in _walk(doc.tasks())])


def uncovered_warnings(dues_in: list[date | None]) -> list[ImportWarning]:
    dues = [d for d in dues_in if d is not None]
    years = sorted({y for d in dues for y in calendar.uncovered_years(d)})
    if not years:
        return []
    n = sum(1 for d in dues if d.year in years)
    named = "、".join(f"{y}年" for y in years)
    message = f"{n}项任务的截止日期在{named}：{calendar.uncovered_message(years)}"
    return [ImportWarning(code="calendar.year_uncovered", message=message)]


def _walk(tasks: list[TaskDoc]) -> Any:
    for task in tasks:
        yield task
        yield from _walk(task.subtasks)


def import_plan(
    session: Session,
    *,
    result: ImportResult,
    actor: User | None,
    now: datetime,
    publish: bool = False,
    new_version_of: int | None = None,
) -> ImportReport:
    """Create the plan (a draft) and everything under it: one transaction, one commit.

    `publish`: 交办 at once as well (scripts), in the same transaction.
    """
    from api.plan import publishing  # publishing assigns; importing is what it builds on

    doc = result.document
    _check(doc)
    earlier = check_doc_no(session, doc_no=doc.plan.doc_no, new_version_of=new_version_of)
    with unit_of_work(session, actor=actor, now=now) as uow:
        report = _create(session, doc=doc, actor=actor, now=now, uow=uow, supersedes=earlier)
        if publish:
            plan = session.get(Plan, report.plan_id)
            assert plan is not None
            outcome = publishing.publish_in(session, uow, plan=plan, actor=actor, now=now, strict=False)
            report.state = str(plan.state)
            report.assignments = outcome.assignments
            report.units_notified = outcome.units_notified
            report.withdrawn = outcome.withdrawn
            report.warnings += [w for w in outcome.warnings if w.code not in {"deadline.past", "group.empty"}]
    report.warnings = [*_reader_warnings(result), *report.warnings]
    return report


def _create(
    session: Session,
    *,
    doc: PlanDoc,
    actor: User | None,
    now: datetime,
    uow: UnitOfWork,
    supersedes: Plan | None = None,
) -> ImportReport:
    meta = doc.plan
    unit_service.ensure_default_groups(session)
    plan = Plan.model_validate(
        {
            "title": _title(doc)[:300],
            "doc_no": (meta.doc_no or None) and meta.doc_no[:100],
            "issuer": (meta.issuer or None) and meta.issuer[:200],
            "issued_on": meta.issued_on,
            "period_start": meta.period.start if meta.period else None,
            "period_end": meta.period.end if meta.period else None,
            "state": PlanState.draft,
            "supersedes_id": supersedes.id if supersedes else None,
            "created_by_id": actor.id if actor else None,
            "created_at": now,
            "updated_at": now,
        }
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    report = ImportReport(plan_id=plan.id, title=plan.title, supersedes_id=plan.supersedes_id)
    resolver = _Resolver(session, create=True)

    for ind in doc.indicators:
        session.add(
            Indicator(
                plan_id=plan.id,
                name=ind.name[:300],
                target_value=ind.target,
                unit=(ind.unit or None) and ind.unit[:40],
                comparator=ind.comparator,
                due_date=ind.due or plan.period_end,
                cadence=ind.cadence,
                source_text=ind.source_text or None,
                created_at=now,
                updated_at=now,
            )
        )
    report.indicators = len(doc.indicators)

    section_codes: set[str] = set()
    task_codes: set[str] = set()
    tasks: list[Task] = []
    position = 0

    def add_task(t: TaskDoc, section: Section, parent: Task | None) -> None:
        nonlocal position
        position += 1
        task = Task(
            plan_id=plan.id or 0,
            section_id=section.id,
            parent_id=parent.id if parent else None,
            code=_unique(t.code, task_codes, str(position), prefix=parent.code if parent else section.code),
            title=(t.title.strip() or t.code or f"任务{position}")[:500],
            description=t.description or None,
            due_date=t.due or (None if parent or t.ongoing else plan.period_end),
            recurrence=Recurrence(t.recurrence) if t.recurrence else None,
            position=position,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        rows: list[TaskUnit] = []
        for role, names in (
            (UnitRole.lead, t.lead_units),
            (UnitRole.co, t.co_units),
            (UnitRole.implementing, t.implementing_units),
        ):
            for name in names:
                ref = resolver.resolve(name)
                rows.append(
                    TaskUnit(
                        task_id=task.id or 0,
                        role=role,
                        unit_id=ref.unit_id,
                        group_id=ref.group_id,
                        label=ref.label,
                        position=len(rows),
                    )
                )
        session.add_all(rows)
        session.add_all(_target(task, tg) for tg in t.targets)
        report.targets += len(t.targets)
        report.tasks += 1
        tasks.append(task)
        for sub in t.subtasks:
            add_task(sub, section, task)

    for index, s in enumerate(doc.sections, start=1):
        section = Section(
            plan_id=plan.id,
            code=_unique(s.code, section_codes, str(index)),
            title=(s.title.strip() or s.code or "未分组")[:300],
            position=index,
            created_at=now,
            updated_at=now,
        )
        session.add(section)
        session.flush()
        report.sections += 1
        for t in s.tasks:
            add_task(t, section, None)
    session.flush()

    report.units_created = [u.name for u in resolver.units_created]
    report.groups_created = [g.name for g in resolver.groups_created]
    report.warnings = list(resolver.warnings)
    report.warnings += empty_groups(session, [t.id for t in tasks if t.id is not None])
    report.warnings += past_deadline_warnings([t.due_date for t in tasks], now=now, zone=zones.of_plan(plan))
    report.warnings += calendar_warnings(doc)

    uow.flush()
    uow.record(
        action="plan.import",
        entity_type="plan",
        entity_id=plan.id,
        after={
            **audit.snapshot(plan),
            "sections": report.sections,
            "tasks": report.tasks,
            "indicators": report.indicators,
            "units_created": report.units_created,
            "groups_created": report.groups_created,
        },
    )
    for u in resolver.units_created:
        uow.record(action="unit.create", entity_type="unit", entity_id=u.id, after=audit.snapshot(u))
    for g in resolver.groups_created:
        uow.record(
            action="unit_group.create", entity_type="unit_group", entity_id=g.id, after=audit.snapshot(g)
        )
    return report


def _target(task: Task, tg: TargetDoc) -> Target:
    return Target(
        task_id=task.id or 0,
        text=tg.text,
        value=tg.value,
        unit=(tg.unit or None) and tg.unit[:40],
        comparator=tg.comparator,
        due_date=tg.due,
        cadence=tg.cadence,
    )


def _group_warning(name: str) -> ImportWarning:
    return ImportWarning(
        code="group.empty",
        message=f"单位组“{name}”暂无成员单位，交办时不会展开；请先维护镇街等成员单位，再补充交办",
        text=name,
    )


def empty_groups(session: Session, task_ids: list[int]) -> list[ImportWarning]:
    if not task_ids:
        return []
    group_ids = set(
        session.exec(
            select(TaskUnit.group_id).where(
                col(TaskUnit.task_id).in_(task_ids), col(TaskUnit.group_id).is_not(None)
            )
        ).all()
    )
    out = []
    for group in session.exec(
        select(UnitGroup).where(col(UnitGroup.id).in_(group_ids)).order_by(col(UnitGroup.id))
    ).all():
        if not unit_service.resolve_group_units(session, group=group):
            out.append(_group_warning(group.name))
    return sorted(out, key=lambda w: w.text)


def _empty_default_groups(session: Session, resolver: _Resolver) -> list[ImportWarning]:
    """The preview's twin of `empty_groups`: the groups the document names, existing or default."""
    out = []
    created = {w.text for w in resolver.warnings if w.code == "group.created"}
    for name, ref in resolver.cache.items():
        if name in created:
            out.append(_group_warning(name))
            continue
        if ref.group_id is not None:
            group = session.get(UnitGroup, ref.group_id)
        elif name in unit_service.DEFAULT_GROUPS:
            group = UnitGroup(name=name, member_kinds=[str(k) for k in unit_service.DEFAULT_GROUPS[name]])
        else:
            continue
        if group is not None and not unit_service.resolve_group_units(session, group=group):
            out.append(_group_warning(name))
    return sorted(out, key=lambda w: w.text)


# --- export ----------------------------------------------------------------------------------------


def plan_to_document(session: Session, plan_id: int) -> PlanDoc:
    """The plan as stored, back in the interchange format (for the 任务分解表 export)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("计划不存在", code="plan.not_found", details={"plan_id": plan_id})
    period = None
    if plan.period_start and plan.period_end:
        period = {"start": plan.period_start, "end": plan.period_end}
    meta = PlanMeta.model_validate(
        {
            "title": plan.title,
            "doc_no": plan.doc_no,
            "issuer": plan.issuer,
            "issued_on": plan.issued_on,
            "period": period,
        }
    )
    indicators = [
        IndicatorDoc(
            name=i.name,
            target=i.target_value,
            unit=i.unit or "",
            comparator=_comparator(i.comparator),
            due=i.due_date,
            cadence=_cadence(i.cadence),
            source_text=i.source_text or "",
        )
        for i in session.exec(
            select(Indicator).where(Indicator.plan_id == plan_id).order_by(col(Indicator.id))
        )
    ]
    sections = list(
        session.exec(
            select(Section).where(Section.plan_id == plan_id).order_by(col(Section.position), col(Section.id))
        ).all()
    )
    tasks = list(
        session.exec(
            select(Task).where(Task.plan_id == plan_id).order_by(col(Task.position), col(Task.id))
        ).all()
    )
    ids = [t.id for t in tasks]
    names: dict[int, dict[str, list[str]]] = {i: {"lead": [], "co": [], "implementing": []} for i in ids if i}
    unit_rows = (
        session.execute(
            sa.select(
                col(TaskUnit.task_id),
                col(TaskUnit.role),
                col(Unit.name),
                col(UnitGroup.name),
                col(TaskUnit.label),
            )
            .outerjoin(Unit, col(Unit.id) == col(TaskUnit.unit_id))
            .outerjoin(UnitGroup, col(UnitGroup.id) == col(TaskUnit.group_id))
            .where(col(TaskUnit.task_id).in_(ids))
            .order_by(col(TaskUnit.task_id), col(TaskUnit.position), col(TaskUnit.id))
        ).all()
        if ids
        else []
    )
    for task_id, role, unit_name, group_name, label in unit_rows:
        name = unit_name or group_name or label
        if name:
            names[task_id][str(role)].append(name)
    targets: dict[int, list[TargetDoc]] = {i: [] for i in ids if i}
    if ids:
        for tg in session.exec(select(Target).where(col(Target.task_id).in_(ids)).order_by(col(Target.id))):
            targets[tg.task_id].append(
                TargetDoc(
                    text=tg.text,
                    value=tg.value,
                    unit=tg.unit or "",
                    comparator=_comparator(tg.comparator),
                    due=tg.due_date,
                    cadence=_cadence(tg.cadence),
                )
            )
    docs: dict[int, TaskDoc] = {}
    for t in tasks:
        assert t.id is not None
        docs[t.id] = TaskDoc(
            code=t.code,
            title=t.title,
            description=t.description or "",
            lead_units=names[t.id]["lead"],
            co_units=names[t.id]["co"],
            implementing_units=names[t.id]["implementing"],
            due=t.due_date,
            recurrence=str(t.recurrence) if t.recurrence else None,  # type: ignore[arg-type]
            targets=targets[t.id],
        )
    by_section: dict[int | None, list[TaskDoc]] = {}
    for t in tasks:
        if t.parent_id is not None and t.parent_id in docs:
            docs[t.parent_id].subtasks.append(docs[t.id or 0])
        else:
            by_section.setdefault(t.section_id, []).append(docs[t.id or 0])
    section_docs = [SectionDoc(code=s.code, title=s.title, tasks=by_section.get(s.id, [])) for s in sections]
    if by_section.get(None):
        section_docs.append(SectionDoc(code="", title="未分组", tasks=by_section[None]))
    return PlanDoc(plan=meta, indicators=indicators, sections=section_docs)


def _comparator(value: str | None) -> Any:
    return comparators.parse(value)


def _cadence(value: str | None) -> Any:
    return value if value in ("once", "annual", "quarterly", "monthly", "cumulative") else "once"
