"""How people say the system's identifiers: state, action, role and kind names in Chinese.

Code, logs and error codes keep the English identifiers; anything a person reads (error messages,
previews, documents) goes through this one table, so 「已签收」 is written the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

# Names of the things a transition happens to, as they appear in a sentence.
ENTITIES: dict[str, str] = {
    "assignment": "交办事项",
    "report": "进展报告",
    "extension": "延期申请",
    "instruction": "批示",
    "plan": "计划",
}

STATES: dict[str, dict[str, str]] = {
    "assignment": {
        "assigned": "已交办",
        "accepted": "已签收",
        "returned": "已退回",
        "completion_requested": "申请办结",
        "completed": "已办结",
        "cancelled": "已撤销",
    },
    "report": {
        "draft": "草稿",
        "submitted": "已提交",
        "approved": "审核通过",
        "rejected": "已驳回",
    },
    "extension": {
        "pending": "待审批",
        "approved": "已批准",
        "rejected": "已驳回",
    },
}

ACTIONS: dict[str, dict[str, str]] = {
    "assignment": {
        "accept": "签收",
        "return": "退回",
        "request-completion": "申请办结",
        "approve": "审核通过",
        "reject": "驳回",
        "cancel": "撤销",
        "reassign": "重新交办",
    },
    "report": {
        "edit": "修改",
        "submit": "提交",
        "approve": "审核通过",
        "reject": "驳回",
    },
    "extension": {
        "approve": "批准",
        "reject": "驳回",
    },
}

UNIT_ROLES: dict[str, str] = {"lead": "牵头", "co": "配合", "implementing": "落实"}

UNIT_KINDS: dict[str, str] = {
    "department": "部门",
    "town": "镇",
    "street": "街道",
    "zone": "园区",
    "office": "办公室",
    "leadership": "领导",
}

USER_ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "office": "督办办公室",
    "leader": "领导",
    "unit_head": "单位负责人",
    "unit_staff": "单位工作人员",
    "viewer": "只读用户",
    "service": "服务账号",
}

CHANNELS: dict[str, str] = {
    "webhook": "回调",
    "email": "邮件",
    "dingtalk": "钉钉",
    "wecom": "企业微信",
    "inbox": "站内信",
}

DELIVERY_STATUSES: dict[str, str] = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "skipped": "已跳过",
}

NOTIFICATION_KINDS: dict[str, str] = {
    "assignment.assigned": "交办通知",
    "assignment.accepted": "签收通知",
    "assignment.returned": "退回通知",
    "assignment.due_soon": "临期提醒",
    "assignment.overdue": "逾期提醒",
    "assignment.escalated": "督办升级",
    "assignment.completed": "办结通知",
    "assignment.cancelled": "撤销通知",
    "completion.requested": "办结申请",
    "completion.rejected": "办结驳回",
    "extension.requested": "延期申请",
    "extension.decided": "延期审批",
    "report.due_soon": "填报提醒",
    "report.missing": "缺报提醒",
    "report.submitted": "进展报送",
    "report.reviewed": "进展审核",
    "instruction.issued": "领导批示",
    "instruction.replied": "批示回复",
    "bulletin.published": "通报发布",
    "plan.published": "计划交办",
    "delivery.failed": "投递失败",
    "webhook.ping": "回调测试",
    "webhook.disabled": "回调地址停用",
    "digest.daily": "每日督办摘要",
    "notice.digest": "督办提醒汇总",
}

RECURRENCES: dict[str, str] = {"annual": "每年", "quarterly": "每季度", "monthly": "每月"}


def state(entity: str, value: str) -> str:
    """「已签收」 for ("assignment", "accepted"); an unknown value is shown as it is."""
    return STATES.get(entity, {}).get(str(value), str(value))


def action(entity: str, value: str) -> str:
    return ACTIONS.get(entity, {}).get(str(value), str(value))


def entity(value: str) -> str:
    return ENTITIES.get(value, "对象")


def join(items: Iterable[str]) -> str:
    """A Chinese list: 「签收、退回」; 「无」 when empty."""
    return "、".join(items) or "无"


def lookup(table: dict[str, str], value: str | None) -> str:
    if value is None:
        return ""
    return table.get(str(value), str(value))


def hours_text(hours: float) -> str:
    """「5天」 for 120, 「36小时」 for 36: a window as people say it."""
    if hours >= 24 and hours % 24 == 0:
        return f"{int(hours // 24)}天"
    return f"{hours:g}小时"


def date_text(value: date | str | None) -> str:
    """「2025年12月31日」, the way a document writes a date (ISO is for machines); 「—」 for none."""
    if value is None or value == "":
        return "—"
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.year}年{day.month}月{day.day}日"


_INNER = str.maketrans({"“": "‘", "”": "’", "‘": "“", "’": "”"})


def quoted(text: str) -> str:
    """Text in Chinese quotation marks, quotes inside it one level down:
    着力打造“涟-溧科创飞地” → “着力打造‘涟-溧科创飞地’”."""
    body = str(text)
    if '"' in body:
        # Straight quotes pair up as opening and closing marks, in order.
        parts = body.split('"')
        body = "".join(p + ("“" if i % 2 == 0 else "”") for i, p in enumerate(parts[:-1])) + parts[-1]
    return f"“{body.translate(_INNER)}”"
