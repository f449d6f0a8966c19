"""Import warnings: stable English codes, messages in Simplified Chinese for the office."""

from __future__ import annotations

from duban import labels

from .interchange import ImportWarning, TaskDoc
from .units import is_generic

_TEXT_LIMIT = 200


def note(code: str, message: str, *, line: int | None = None, text: str = "") -> ImportWarning:
    return ImportWarning(code=code, message=message, line=line, text=text[:_TEXT_LIMIT])


def unplaced(line: int | None, text: str) -> ImportWarning:
    return note(
        "line.unplaced", "该段文字未能归入任何任务，请人工核对是否包含任务或时限要求", line=line, text=text
    )


def unquantified_goal(line: int | None, text: str) -> ImportWarning:
    return note(
        "goal.unquantified",
        f"目标{labels.quoted(text if len(text) <= 40 else text[:40] + '…')}没有可计量的数值，"
        "未建为主要指标，请人工确定如何跟踪",
        line=line,
        text=text,
    )


def ambiguous_deadline(line: int | None, phrase: str) -> ImportWarning:
    return note(
        "deadline.ambiguous",
        f"时限表述“{phrase}”无法换算为具体日期（缺少印发日期或起算年份），请人工确定",
        line=line,
        text=phrase,
    )


def check_task_units(task: TaskDoc, out: list[ImportWarning]) -> None:
    label = f"任务{task.code}" if task.code else f"任务“{task.title[:20]}”"
    if not task.all_units():
        out.append(
            note(
                "task.no_unit",
                f"{label}未写明责任单位，请在交办前指定",
                line=task.source_line,
                text=task.title,
            )
        )
    elif not task.lead_units:
        out.append(
            note(
                "task.no_lead",
                f"{label}未写明牵头单位，请在交办前指定",
                line=task.source_line,
                text=task.title,
            )
        )
    for name in task.all_units():
        if is_generic(name):
            out.append(
                note(
                    "unit.generic",
                    f"{label}的责任单位“{name}”为泛指表述，未对应具体单位，已按原文保留，请在交办前明确",
                    line=task.source_line,
                    text=name,
                )
            )
