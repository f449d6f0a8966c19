"""Message text people read (Simplified Chinese) for every event type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duban import labels, periods

LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}


@dataclass(frozen=True)
class Rendered:
    title: str
    lines: list[str]
    link: str | None

    @property
    def text(self) -> str:
        body = "\n".join(self.lines)
        return f"{body}\n查看详情：{self.link}" if self.link else body

    @property
    def markdown(self) -> str:
        parts = [f"### {self.title}", *(f"- {line}" for line in self.lines)]
        if self.link:
            parts.append(f"\n[查看详情]({self.link})")
        return "\n".join(parts)


def _name(ref: Any) -> str:
    if isinstance(ref, dict):
        return str(ref.get("name") or ref.get("code") or ref.get("id") or "")
    return ""


def _period(key: Any) -> str:
    """「2025年11月」 for "2025-11"; a key the periods module does not read is shown as it is."""
    try:
        return periods.parse(str(key)).label
    except Exception:  # noqa: BLE001 - a stored payload from an older version: show what it says
        return str(key or "")


def _digest(data: dict[str, Any], unit: str, lines: list[str]) -> tuple[str, list[str]]:
    """Many notices of one kind for one unit: what they say, and how many."""
    kind, stage, n = str(data.get("item_type") or ""), str(data.get("stage") or ""), data.get("count") or 0
    label = labels.lookup(labels.NOTIFICATION_KINDS, kind)
    if kind == "assignment.due_soon":
        what = f"{n}项任务将在{stage.removesuffix('wd')}个工作日内到期"
    elif kind == "assignment.overdue":
        what = f"{n}项任务已到期未办结"
    elif kind == "assignment.escalated":
        level = data.get("level") or 0
        label = f"督办升级·{LEVEL_NAMES.get(level, f'{level}级')}"
        what = f"{n}项任务逾期已达升级标准"
    elif kind in ("report.due_soon", "report.missing"):
        period = _period(stage.removeprefix("report-"))
        what = f"{n}项任务{period}进展报告" + ("即将截止" if kind == "report.due_soon" else "未按期报送")
    else:
        what = f"{n}项任务待处理"
    lines.append(f"涉及事项：{n}项（清单请在工作台查看）")
    if data.get("recipient", {}).get("code") not in (None, "unit"):
        lines.append(f"报送：{_name(data.get('recipient'))}")
    lines.append("事项较多，本次合并为一条提醒，请逐项处理。")
    return f"【{label}·汇总】{unit}{what}", lines


def render(event_type: str, data: dict[str, Any]) -> Rendered:
    plan, task, unit = _name(data.get("plan")), _name(data.get("task")), _name(data.get("unit"))
    task_code = (data.get("task") or {}).get("code") if isinstance(data.get("task"), dict) else None
    task_label = f"{task_code} {task}".strip() if task_code else task
    due = data.get("due_date")
    overdue = data.get("working_days_overdue")
    left = data.get("working_days_left")
    link = data.get("link")
    lines: list[str] = []
    if plan:
        lines.append(f"计划：{plan}")
    if task:
        lines.append(f"任务：{task_label}")
    if unit:
        lines.append(f"责任单位：{unit}")
    if due:
        lines.append(f"截止日期：{labels.date_text(due)}")

    if event_type == "assignment.due_soon":
        days = left if left is not None else data.get("days_before")
        when = "今天到期" if days == 0 else f"还有{days}个工作日到期"
        title = f"【临期提醒】{labels.quoted(task)}{when}"
        lines.append("请抓紧推进并按时报送进展。")
    elif event_type == "assignment.overdue":
        title = f"【逾期提醒】{labels.quoted(task)}已到期未办结"
        lines.append(f"已逾期：{overdue or 0}个工作日")
        lines.append("请尽快办结，或按程序申请延期。")
    elif event_type == "assignment.escalated":
        level = data.get("level") or 0
        grade = LEVEL_NAMES.get(level, f"{level}级")
        title = f"【督办升级·{grade}】{unit}{labels.quoted(task)}已逾期{overdue}个工作日"
        lines.append(f"已逾期：{overdue}个工作日")
        lines.append(f"督办级别：{LEVEL_NAMES.get(level, str(level))}，报送：{_name(data.get('recipient'))}")
    elif event_type == "report.due_soon":
        period, deadline = _period(data.get("period")), labels.date_text(data.get("report_due_date"))
        title = f"【填报提醒】{period}进展报告将于{deadline}截止"
        lines.append(f"填报截止：{deadline}")
    elif event_type == "report.missing":
        period, deadline = _period(data.get("period")), labels.date_text(data.get("report_due_date"))
        title = f"【缺报提醒】{period}进展报告未按期报送"
        lines.append(f"填报截止：{deadline}（已过期）")
    elif event_type == "digest.daily":
        who = _name(data.get("recipient"))
        title = f"【每日督办摘要】{labels.date_text(data.get('date'))} {who}"
        lines = [
            f"在办任务：{data.get('open', 0)}项",
            f"已逾期：{data.get('overdue', 0)}项",
            f"临期（{data.get('due_soon_days') or 7}个工作日内）：{data.get('due_soon', 0)}项",
        ]
        if data.get("units") is not None:
            lines.append(f"涉及单位：{data.get('units')}个")
    elif event_type == "notice.digest":
        title, lines = _digest(data, unit, lines)
    elif event_type == "plan.published":
        total, past = int(data.get("total") or 0), int(data.get("past_due") or 0)
        title = f"【计划交办】{labels.quoted(plan)}交办{unit}{total}项任务"
        lines.append(
            f"交办事项：{total}项" + (f"（其中{past}项发布时已过截止日期，逾期自今日起算）" if past else "")
        )
        old, withdrawn = data.get("supersedes"), int(data.get("withdrawn") or 0)
        if isinstance(old, dict):
            lines.append(
                f"本计划替代{labels.quoted(_name(old))}"
                + (f"，原计划中本单位{withdrawn}项未办结事项已撤销，以本次交办为准" if withdrawn else "")
            )
        items = [i for i in data.get("items") or [] if isinstance(i, dict)]
        for item in items[:20]:
            ref = item.get("task") or {}
            label = f"{ref.get('code') or ''} {ref.get('name') or ''}".strip()
            when = labels.date_text(item["due_date"]) if item.get("due_date") else "未定"
            role = labels.lookup(labels.UNIT_ROLES, item.get("role"))
            lines.append(f"· {label}（{role}，截止{when}）")
        if total > len(items[:20]):
            lines.append(f"……另有{total - len(items[:20])}项，请登录工作台查看")
        lines.append("请及时签收，并按要求报送进展。")
    elif event_type == "delivery.failed":
        kind = labels.lookup(labels.NOTIFICATION_KINDS, data.get("event_type"))
        title = f"【投递失败】{kind}消息经{labels.lookup(labels.CHANNELS, data.get('channel'))}投递失败"
        lines.append(f"错误：{data.get('error') or '未知'}")
    elif event_type == "webhook.disabled":
        title = "【回调地址已停用】系统已停止向该地址推送消息"
        lines.append(f"回调地址：{data.get('url')}")
        lines.append(f"原因：{data.get('reason')}")
        if data.get("failing_since"):
            lines.append(f"连续失败自：{labels.date_text(str(data['failing_since'])[:10])}")
        lines.append("接收方恢复后，请在回调设置中重新启用，并按时间段重新投递期间的消息。")
    elif event_type == "webhook.ping":
        title = "【回调测试】督办系统回调测试"
        lines.append(str(data.get("text") or ""))
    else:
        names = {
            "assignment.assigned": "新任务交办",
            "assignment.accepted": "任务已签收",
            "assignment.returned": "任务被退回",
            "completion.requested": "申请办结",
            "assignment.completed": "任务已办结",
            "completion.rejected": "办结申请被驳回",
            "assignment.cancelled": "任务已撤销",
            "extension.requested": "申请延期",
            "extension.decided": "延期申请已处理",
            "report.submitted": "进展已报送",
            "report.reviewed": "进展已审核",
            "instruction.issued": "领导批示",
            "bulletin.published": "通报已发布",
        }
        title = f"【{names.get(event_type, '督办通知')}】{task or data.get('title') or ''}".rstrip()
        if data.get("reason"):
            lines.append(f"理由：{data['reason']}")
        if data.get("text"):
            lines.append(str(data["text"]))
    # Working-day figures resting on a year whose holidays nobody has loaded say so.
    if event_type.startswith("assignment.") and data.get("calendar_uncovered_years"):
        years = "、".join(f"{y}年" for y in data["calendar_uncovered_years"])
        lines.append(f"注：{years}节假日安排尚未载入，工作日暂按周一至周五计算。")
    return Rendered(title=title[:300], lines=lines, link=link)
