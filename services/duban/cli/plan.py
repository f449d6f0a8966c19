"""`duban plan import` / `duban plan export`: the api's plan import and export, printed for a person."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from api.plan import importing
from duban.errors import DubanError, NotFound
from plandoc import export_xlsx
from plandoc.interchange import PlanDoc


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _print_json(obj: Any) -> None:
    _out(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _summary_lines(doc: PlanDoc, warnings: list[dict[str, Any]]) -> list[str]:
    meta = doc.plan
    lines = [f"计划：{importing._title(doc)}"]
    if meta.doc_no or meta.issuer:
        lines.append(
            f"文号：{meta.doc_no or '—'}  发文机关：{meta.issuer or '—'}  印发：{meta.issued_on or '—'}"
        )
    if meta.period:
        lines.append(f"期限：{meta.period.start} 至 {meta.period.end}")
    lines.append(
        f"主要指标 {len(doc.indicators)} 项；重点任务 {len(doc.sections)} 个部分，"
        f"任务 {sum(1 for _ in importing._walk(doc.tasks()))} 项"
    )
    for s in doc.sections:
        lines.append(f"  {s.code} {s.title}")
        for t in s.tasks:
            recur = "（每年）" if t.recurrence == "annual" else ""
            lines.append(
                f"    {t.code}. {t.title}  牵头：{'、'.join(t.lead_units) or '—'}  "
                f"截止：{t.due or '—'}{recur}"
            )
    lines.append(f"提示 {len(warnings)} 条" + ("：" if warnings else ""))
    lines += [f"  [{w['code']}] {w['message']}" for w in warnings]
    return lines


def cli_import(*, path: str, fmt: str = "auto", dry_run: bool = False, as_json: bool = False) -> int:
    from duban.clock import get_clock
    from duban.db import session_scope

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        _err(f"无法读取文件 {path}：{exc.strerror or exc}")
        return 1
    try:
        result = importing.read_plan(data, fmt=fmt, filename=Path(path).name)
    except DubanError as exc:
        reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
        _err(f"无法导入 {path}：{exc.message}" + (f"（{reason}）" if reason else "") + f" [{exc.code}]")
        return 1
    if dry_run:
        with session_scope(read_only=True) as session:
            out = importing.preview(session, result)
        if as_json:
            _print_json(out)
        else:
            _out("\n".join(_summary_lines(result.document, out["warnings"])))
            _out("（试运行：未写入数据库）")
        return 0
    try:
        with session_scope() as session:
            report = importing.import_plan(session, result=result, actor=None, now=get_clock().now())
    except DubanError as exc:
        _err(f"导入失败：{exc.message} [{exc.code}]")
        return 1
    if as_json:
        _print_json(report.to_dict())
        return 0
    _out(f"已导入计划 #{report.plan_id}：{report.title}")
    _out(
        f"  部分 {report.sections} 个，任务 {report.tasks} 项，"
        f"任务目标 {report.targets} 条，主要指标 {report.indicators} 项"
    )
    _out(f"  交办 {report.assignments} 条")
    if report.units_created:
        _out(f"  新建单位 {len(report.units_created)} 个：{'、'.join(report.units_created)}")
    if report.groups_created:
        _out(f"  新建单位组：{'、'.join(report.groups_created)}")
    if report.warnings:
        _out(f"提示 {len(report.warnings)} 条：")
        for w in report.warnings:
            _out(f"  [{w.code}] {w.message}")
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
