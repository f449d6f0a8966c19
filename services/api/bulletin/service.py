"""定期通报: a plan's bulletin for a week, month, quarter, half or year, generated as versioned JSON +
Markdown.

A bulletin describes its period as of the period's end (`periods.cutoff`): one generated after the
period is over shows what was true then, rebuilt from history (`duban.history`), not the state on
the day it is generated. A bulletin for the running period describes now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.assessment import service as assessment_service
from api.stats import service as stats
from duban import amounts, calendar, comparators, labels, periods
from duban.errors import Conflict, NotFound
from duban.events import BulletinPublished, Ref
from duban.models import Assignment, AssignmentState, Bulletin, Plan, Unit, UnitKind, User
from duban.uow import unit_of_work

_RAG_ZH = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}%" if den else "—"


def fmt_num(x: float | None, unit: str | None = None) -> str:
    """A figure as the document writes it: a count (家, 个) whole, an amount with its decimals."""
    return amounts.number(x, unit)


def issuer_of(session: Session, plan: Plan) -> str:
    """Who issues the bulletin, named as the plan names it: the leading-group office that the plan
    charges with 定期通报 (县科技创新工作领导小组办公室), not the government office that printed it."""
    offices = session.execute(
        select(Unit.name)
        .where(Unit.kind == UnitKind.office, col(Unit.is_active).is_(True))
        .order_by(col(Unit.id))
    ).scalars()
    names = list(offices)
    named = [n for n in names if "领导小组办公室" in n]
    if named or names:
        return str((named or names)[0])
    return f"{plan.title}领导小组办公室"


def build_content(
    session: Session, *, plan: Plan, period: periods.Period, now: datetime, seq: int
) -> dict[str, Any]:
    """Everything the bulletin says, as data; Markdown, Word and Excel are renderings of it."""
    zone = stats.zone_of(plan)
    today = calendar.local_date(now, zone)
    start_at, _ = periods.bounds(period, zone)
    end_at = periods.cutoff(period, zone, now)
    as_of_day = periods.through(end_at, zone)
    total = stats.plan_summary(session, plan=plan, user=None, now=now, at=end_at)
    sections = stats.group_stats(session, plan=plan, user=None, now=now, by="section", at=end_at)
    units = stats.group_stats(session, plan=plan, user=None, now=now, by="unit", at=end_at)
    overdue = stats.overdue_items(session, plan=plan, user=None, now=now, limit=None, at=end_at)
    indicators = stats.indicator_stats(session, plan=plan, user=None, now=now, at=end_at)
    completed_in_period = session.execute(
        select(func.count(col(Assignment.id))).where(
            Assignment.plan_id == plan.id,
            Assignment.state == AssignmentState.completed,
            col(Assignment.completed_at) >= start_at,
            col(Assignment.completed_at) <= end_at,
        )
    ).scalar_one()

    rule = assessment_service.current_rule(session, plan=plan)
    config = assessment_service.ScoringConfig.model_validate(rule.config if rule else {})
    ranking = [
        {"rank": r.rank, "unit_id": r.unit_id, "unit_name": r.unit_name, "score": r.score}
        for r in assessment_service.compute(session, plan=plan, period=period, config=config, now=now)
    ]

    by_unit: dict[str, list[dict[str, Any]]] = {}
    for item in overdue:
        by_unit.setdefault(item["unit_name"], []).append(
            {
                "task_code": item["task_code"],
                "task_title": item["task_title"],
                "due_date": item["due_date"],
                "working_days_overdue": item["working_days_overdue"],
                "reason": item["reason"],
                "assignment_id": item["assignment_id"],
            }
        )
    # Named for criticism in order of how much is overdue, then how long, as an office ranks them.
    red_units = sorted(
        (u for u in units if u["rag"] == "red"),
        key=lambda u: (-(u["overdue"] or 0), -(u["overdue_working_days_max"] or 0), u["name"]),
    )
    commended = [
        {"unit_name": u["name"], "reason": f"已办结{u['completed']}项，均按期完成，无逾期事项"}
        for u in units
        if u["rag"] == "green" and u["completed"] and not u["completed_late"] and not u["overdue"]
    ]
    named = [{"unit_name": u["name"], "reason": u["rag_reason"]} for u in red_units]
    rate = total["reports"]["rate"]
    summary = (
        f"截至{labels.date_text(as_of_day)}，{plan.title}共交办任务{total['total']}项，"
        f"已办结{total['completed']}项（按期办结{total['completed_on_time']}项、延期后办结"
        f"{total['completed_after_extension']}项、逾期办结{total['completed_late']}项），正在推进{total['open']}项，"
        f"其中逾期未办结{total['overdue']}项"
        + (f"、最长逾期{total['overdue_working_days_max']}个工作日" if total["overdue"] else "")
        + f"。{period.label}办结{completed_in_period}项；本期进展报送率"
        f"{'—' if rate is None else f'{100 * rate:.1f}%'}。"
    )
    return {
        "title": f"关于{plan.title}推进情况的通报（{period.label}）",
        "header": {
            "issuer": issuer_of(session, plan),
            "doc_no": f"督办通报〔{period.start.year}〕第{seq}期",
            "date": today.isoformat(),
            "date_text": f"{today.year}年{today.month}月{today.day}日",
        },
        "plan": {"id": plan.id, "title": plan.title, "doc_no": plan.doc_no},
        "period": {
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label,
        },
        # The instant described (the period's end, or now while it runs) and its last day.
        "as_of": end_at.isoformat(),
        "as_of_date": as_of_day.isoformat(),
        "generated_at": now.isoformat(),
        "summary": {
            "text": summary,
            "total": total["total"],
            "completed": total["completed"],
            "open": total["open"],
            "overdue": total["overdue"],
            "completed_on_time": total["completed_on_time"],
            "completed_late": total["completed_late"],
            "completed_after_extension": total["completed_after_extension"],
            "completed_in_period": completed_in_period,
            "report_rate": rate,
            "rag": total["rag"],
            "rag_reason": total["rag_reason"],
        },
        "sections": [
            {
                # Tasks outside every section fold into one row that no section labels.
                "code": s.get("code") or "",
                "name": s.get("name") or "其他任务",
                "total": s["total"],
                "completed": s["completed"],
                "open": s["open"],
                "overdue": s["overdue"],
                "completion_rate": _pct(s["completed"], s["total"]),
                "rag": s["rag"],
                "rag_reason": s["rag_reason"],
            }
            for s in sections
        ],
        "indicators": [
            {
                "name": i["name"],
                "unit": i["unit"],
                "comparator": i["comparator"],
                "target": i["target"],
                "latest_value": i["latest_value"],
                "progress": i["progress"],
                "achieved": i["achieved"],
                "rag": i["rag"],
                "rag_reason": i["rag_reason"],
            }
            for i in indicators
        ],
        "overdue_by_unit": [{"unit_name": name, "items": items} for name, items in by_unit.items()],
        "red_units": [
            {
                "unit_name": u["name"],
                "overdue": u["overdue"],
                "overdue_working_days_max": u["overdue_working_days_max"],
                "reason": u["rag_reason"],
            }
            for u in red_units
        ],
        "commended_units": commended,
        "named_units": named,
        "ranking": ranking,
    }


def _md_cell(value: Any) -> str:
    return str("—" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return out


def render_markdown(c: dict[str, Any]) -> str:
    h = c["header"]
    lines = [
        f"# {c['title']}",
        "",
        f"{h['issuer']}　{h['doc_no']}　{h['date_text']}",
        "",
        "## 一、总体情况",
        "",
        c["summary"]["text"],
        "",
        "## 二、分项推进情况",
        "",
    ]
    lines += _md_table(
        ["重点任务", "交办", "办结", "在办", "逾期", "办结率", "状态", "说明"],
        [
            [
                f"（{s['code']}）{s['name']}",
                s["total"],
                s["completed"],
                s["open"],
                s["overdue"],
                s["completion_rate"],
                _RAG_ZH[s["rag"]],
                s["rag_reason"],
            ]
            for s in c["sections"]
        ],
    )
    lines += ["", "## 三、主要指标完成情况", ""]
    if c["indicators"]:
        lines += _md_table(
            ["指标", "目标", "最新值", "完成进度", "状态", "说明"],
            [
                [
                    i["name"],
                    comparators.phrase(
                        i["comparator"], amounts.with_unit(i["target"], i["unit"], target=i["target"])
                    ),
                    amounts.with_unit(i["latest_value"], i["unit"], target=i["target"]),
                    "—" if i["progress"] is None else f"{100 * i['progress']:.0f}%",
                    _RAG_ZH.get(i["rag"], i["rag"]),
                    i["rag_reason"],
                ]
                for i in c["indicators"]
            ],
        )
    else:
        lines.append("暂无指标。")
    lines += ["", "## 四、逾期及红灯事项", ""]
    if c["overdue_by_unit"]:
        for group in c["overdue_by_unit"]:
            lines.append(f"**{group['unit_name']}**")
            lines.append("")
            lines += [
                f"- 任务{x['task_code']}{labels.quoted(x['task_title'])}，"
                f"期限{labels.date_text(x['due_date'])}，{x['reason']}"
                for x in group["items"]
            ]
            lines.append("")
    else:
        lines += ["本期无逾期事项。", ""]
    lines += ["## 五、表扬与通报", ""]
    lines.append(
        "**予以表扬：** "
        + ("；".join(f"{u['unit_name']}（{u['reason']}）" for u in c["commended_units"]) or "无")
    )
    lines.append("")
    lines.append(
        "**通报批评（推进滞后）：** "
        + ("；".join(f"{u['unit_name']}（{u['reason']}）" for u in c["named_units"]) or "无")
    )
    lines += ["", "## 六、单位排名", ""]
    lines += _md_table(
        ["名次", "单位", "得分"], [[r["rank"], r["unit_name"], fmt_num(r["score"])] for r in c["ranking"]]
    )
    lines.append("")
    return "\n".join(lines)


def generate(session: Session, *, plan: Plan, period: periods.Period, actor: User, now: datetime) -> Bulletin:
    """A new version of the plan's bulletin for the period."""
    latest = session.execute(
        select(func.max(Bulletin.version)).where(
            Bulletin.plan_id == plan.id,
            Bulletin.period_kind == period.kind,
            Bulletin.period_start == period.start,
        )
    ).scalar_one()
    earlier_periods = session.execute(
        select(func.count(func.distinct(Bulletin.period_start))).where(
            Bulletin.plan_id == plan.id,
            Bulletin.period_kind == period.kind,
            Bulletin.period_start < period.start,
            Bulletin.period_start >= period.start.replace(month=1, day=1),
        )
    ).scalar_one()
    content = build_content(session, plan=plan, period=period, now=now, seq=earlier_periods + 1)
    version = (latest or 0) + 1
    content["version"] = version
    bulletin = Bulletin(
        plan_id=plan.id or 0,
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        version=version,
        title=content["title"][:300],
        content=content,
        markdown=render_markdown(content),
        generated_at=now,
        generated_by_id=actor.id,
    )
    with unit_of_work(session, actor=actor, now=now) as uow:
        uow.add(bulletin)
        try:
            uow.flush()
        except IntegrityError as exc:
            raise Conflict("同一通报正在生成，请稍后重试", code="bulletin.version_conflict") from exc
        uow.record(
            action="bulletin.generate",
            entity_type="bulletin",
            entity_id=bulletin.id,
            after={
                "plan_id": plan.id,
                "period_kind": period.kind,
                "period_start": period.start.isoformat(),
                "version": version,
            },
        )
    return bulletin


def get(session: Session, *, bulletin_id: int, user: User) -> Bulletin:
    row = session.get(Bulletin, bulletin_id)
    # Drafts are the office's; units and everyone else read what was published.
    if row is None or (not user.reads_all and row.published_at is None):
        raise NotFound("通报不存在", code="bulletin.not_found")
    return row


def publish(session: Session, *, bulletin: Bulletin, actor: User, now: datetime) -> Bulletin:
    """Publish: the outbox event (the OA system's webhook) and the audit entry commit together."""
    if bulletin.published_at is not None:
        raise Conflict("该通报已发布", code="bulletin.already_published")
    plan = session.get(Plan, bulletin.plan_id)
    with unit_of_work(session, actor=actor, now=now) as uow:
        bulletin.published_at = now
        # The row's version decides a race between two publishers, before the event is written.
        uow.flush()
        event = BulletinPublished(
            plan=Ref(id=bulletin.plan_id, name=plan.title if plan else None),
            bulletin_id=bulletin.id or 0,
            title=bulletin.title,
            period_kind=bulletin.period_kind,
            period_start=bulletin.period_start,
            period_end=bulletin.period_end,
            version=bulletin.version,
        )
        uow.emit(event, dedupe_key=f"bulletin.published:{bulletin.id}", plan_id=bulletin.plan_id)
        uow.record(
            action="bulletin.publish",
            entity_type="bulletin",
            entity_id=bulletin.id,
            after={"published_at": now.isoformat(), "version": bulletin.version},
        )
    return bulletin
