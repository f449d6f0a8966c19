"""`duban plan import` / `duban plan export`: the api's plan import and export, printed for a person."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any

from api.plan import importing
from duban import amounts, comparators, labels
from duban.errors import DubanError, NotFound
from plandoc import export_xlsx
from plandoc.interchange import IndicatorDoc, PlanDoc, TaskDoc

_OS_REASONS = {
    errno.ENOENT: "文件不存在",
    errno.EISDIR: "这是一个目录，不是文件",
    errno.EACCES: "没有读取权限",
    errno.EPERM: "没有读取权限",
}


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _print_json(obj: Any) -> None:
    _out(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _units(task: TaskDoc) -> str:
    """Every unit by its role, as the plan lists them: 牵头…；配合…；落实…."""
    parts = [
        f"{labels.UNIT_ROLES[role]}：{'、'.join(names)}"
        for role, names in (
            ("lead", task.lead_units),
            ("co", task.co_units),
            ("implementing", task.implementing_units),
        )
        if names
    ]
    return "；".join(parts) or "责任单位：未写明"


def _target(ind: IndicatorDoc) -> str:
    if ind.target is None:
        return "无量化目标"
    goal = comparators.phrase(ind.comparator, amounts.with_unit(ind.target, ind.unit, target=ind.target))
    cadence = {"annual": "每年", "cumulative": "累计", "quarterly": "每季度", "monthly": "每月"}
    due = f"，{labels.date_text(ind.due)}前" if ind.due and ind.cadence == "once" else ""
    return f"{cadence.get(ind.cadence, '')}{goal}{due}"


def _task_lines(task: TaskDoc, indent: str) -> list[str]:
    due = labels.date_text(task.due) if task.due else "未写明"
    recur = f"（{labels.RECURRENCES[task.recurrence]}）" if task.recurrence else ""
    code = f"{task.code}. " if task.code else ""
    lines = [f"{indent}{code}{task.title}", f"{indent}    {_units(task)}", f"{indent}    截止：{due}{recur}"]
    for t in task.targets:
        lines.append(f"{indent}    目标：{t.text}")
    for sub in task.subtasks:
        lines += _task_lines(sub, indent + "    ")
    return lines


def _summary_lines(doc: PlanDoc, warnings: list[dict[str, Any]]) -> list[str]:
    meta = doc.plan
    lines = [f"计划：{importing._title(doc)}"]
    if meta.doc_no or meta.issuer:
        issued = labels.date_text(meta.issued_on) if meta.issued_on else "—"
        lines.append(f"文号：{meta.doc_no or '—'}  发文机关：{meta.issuer or '—'}  印发：{issued}")
    if meta.period:
        lines.append(f"期限：{labels.date_text(meta.period.start)} 至 {labels.date_text(meta.period.end)}")
    goals = [w for w in warnings if w["code"] == "goal.unquantified"]
    others = [w for w in warnings if w["code"] != "goal.unquantified"]
    lines.append(
        f"主要指标 {len(doc.indicators)} 项；重点任务 {len(doc.sections)} 个部分，"
        f"任务 {sum(1 for _ in importing._walk(doc.tasks()))} 项"
    )
    lines.append("")
    lines.append(f"主要指标（{len(doc.indicators)} 项）：")
    lines += [f"  {i + 1}. {ind.name}：{_target(ind)}" for i, ind in enumerate(doc.indicators)]
    if goals:
        lines.append(f"未量化的目标（{len(goals)} 条，未建为指标，请人工确定如何跟踪）：")
        lines += [f"  - {w['text']}" for w in goals]
    lines.append("")
    for s in doc.sections:
        lines.append(f"（{s.code}）{s.title}" if s.code else s.title)
        for t in s.tasks:
            lines += _task_lines(t, "  ")
    lines.append("")
    lines.append(f"提示 {len(others)} 条" + ("：" if others else ""))
    lines += [f"  [{w['code']}] {w['message']}" for w in others]
    return lines


def cli_import(
    *,
    path: str,
    fmt: str = "auto",
    dry_run: bool = False,
    as_json: bool = False,
    publish: bool = False,
    new_version_of: int | None = None,
) -> int:
    from duban.clock import get_clock
    from duban.db import session_scope

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        _err(f"无法读取文件 {path}：{_OS_REASONS.get(exc.errno or 0, exc.strerror or str(exc))}")
        return 1
    try:
        result = importing.read_plan(data, fmt=fmt, filename=Path(path).name)
    except DubanError as exc:
        reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
        said = f"（{reason}）" if reason and str(reason) not in exc.message else ""
        _err(f"无法导入 {path}：{exc.message}{said} [{exc.code}]")
        return 1
    now = get_clock().now()
    if dry_run:
        try:
            with session_scope(read_only=True) as session:
                out = importing.preview(session, result, now=now, new_version_of=new_version_of)
        except DubanError as exc:
            _err(f"无法导入 {path}：{exc.message} [{exc.code}]")
            return 1
        if as_json:
            _print_json({"dry_run": True, **out})
        else:
            _out("\n".join(_summary_lines(result.document, out["warnings"])))
            _out("（试运行：未写入数据库）")
        return 0
    try:
        with session_scope() as session:
            report = importing.import_plan(
                session, result=result, actor=None, now=now, publish=publish, new_version_of=new_version_of
            )
    except DubanError as exc:
        _err(f"导入失败：{exc.message} [{exc.code}]")
        return 1
    if as_json:
        _print_json({"dry_run": False, **report.to_dict()})
        return 0
    state = "已发布交办" if report.state == "published" else "草稿，核对后用 duban plan publish 发布交办"
    _out(f"已导入计划 #{report.plan_id}：{report.title}（{state}）")
    _out(
        f"  部分 {report.sections} 个，任务 {report.tasks} 项，"
        f"任务目标 {report.targets} 条，主要指标 {report.indicators} 项"
    )
    if report.state == "published":
        _out(f"  交办 {report.assignments} 条，通知单位 {report.units_notified} 个")
    if report.units_created:
        _out(f"  新建单位 {len(report.units_created)} 个：{'、'.join(report.units_created)}")
    if report.groups_created:
        _out(f"  新建单位组：{'、'.join(report.groups_created)}")
    if report.warnings:
        _out(f"提示 {len(report.warnings)} 条：")
        for w in report.warnings:
            _out(f"  [{w.code}] {w.message}")
    return 0


def cli_publish(*, plan_id: int) -> int:
    from api.plan import publishing
    from duban.clock import get_clock
    from duban.db import session_scope
    from duban.models import Plan

    try:
        with session_scope() as session:
            plan = session.get(Plan, plan_id)
            if plan is None:
                _err(f"计划 #{plan_id} 不存在")
                return 1
            out = publishing.publish(session, plan=plan, actor=None, now=get_clock().now())
    except DubanError as exc:
        _err(f"发布失败：{exc.message} [{exc.code}]")
        return 1
    _out(f"已发布计划 #{plan_id}：交办 {out['assignments']} 条，通知单位 {out['units_notified']} 个")
    for w in out["warnings"]:
        _out(f"  [{w['code']}] {w['message']}")
    return 0


def cli_export(*, plan_id: int, output: str) -> int:
    from duban.db import session_scope

    try:
        with session_scope(read_only=True) as session:
            doc = importing.plan_to_document(session, plan_id)
    except NotFound:
        _err(f"计划 #{plan_id} 不存在")
        return 1
    try:
        Path(output).write_bytes(export_xlsx(doc))
    except OSError as exc:
        _err(f"无法写入 {output}：{exc.strerror or exc}")
        return 1
    _out(f"已导出任务分解表：{output}（任务 {sum(1 for _ in importing._walk(doc.tasks()))} 项）")
    return 0
