"""A small hand-computed plan shared by the supervision tests.

Now (conftest) is Monday 2025-12-01 09:00 Asia/Shanghai. Reports are monthly, due on the 25th.

| id | task | unit | state                | due        | notes                                          |
|----|------|------|----------------------|------------|------------------------------------------------|
| a1 | T1   | 科技 | accepted             | 2025-11-14 | overdue 10 working days (Nov 17–28)            |
| a2 | T1   | 财政 | assigned             | 2025-11-28 | overdue < 1 working day (weekend since)        |
| a3 | T2   | 科技 | completed 2025-10-20 | 2025-10-31 | on time (early)                                |
| a4 | T2   | 财政 | completed 2025-11-05 | 2025-10-31 | late                                           |
| a5 | T3   | 高沟 | completed 2025-10-15 | 2025-10-31 | after an extension from 2025-09-30             |
| a6 | T3   | 科技 | accepted, 10 %       | 2025-12-31 | behind (time elapsed 95 %); December report in |
| a7 | T3   | 财政 | cancelled            | 2025-12-31 |                                                |
| a8 | T2   | 高沟 | completion_requested | 2025-12-31 | 90 %, not behind                               |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from duban.models import AssignmentState, Plan, Section, Unit, UnitKind
from tests.api.sv_factories import (
    make_sv_assignment,
    make_sv_indicator,
    make_sv_indicator_value,
)
from tests.factories import make_plan, make_report, make_section, make_task, make_unit


@dataclass
class SvPlan:
    plan: Plan
    s1: Section
    s2: Section
    s3: Section
    tech: Unit
    finance: Unit
    town: Unit
    a: dict[str, Any]
    indicators: dict[str, Any]


def _at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h - 8, tzinfo=UTC)  # local (UTC+8) hour h


def build(session: Session) -> SvPlan:
    plan = make_plan(
        session,
        title="涟水县科技创新行动计划（2024—2025年）",
        doc_no="涟政办发〔2024〕7号",
        period_start=date(2024, 1, 1),
        period_end=date(2025, 12, 31),
    )
    s1 = make_section(session, plan=plan, code="一", title="实施创新主体培育攻坚行动", position=1)
    s2 = make_section(session, plan=plan, code="二", title="实施创新平台提升行动", position=2)
    s3 = make_section(session, plan=plan, code="三", title="实施科技人才集聚行动", position=3)
    t1 = make_task(session, plan=plan, section=s1, code="1", title="强化高科技项目招引", position=1)
    t2 = make_task(session, plan=plan, section=s1, code="2", title="培育高新技术企业", position=2)
    t3 = make_task(session, plan=plan, section=s2, code="3", title="建设研发机构", position=3)
    tech = make_unit(session, name="县科技局", kind=UnitKind.department)
    finance = make_unit(session, name="县财政局", kind=UnitKind.department)
    town = make_unit(session, name="高沟镇", kind=UnitKind.town)
    done = AssignmentState.completed
    a = {
        "a1": make_sv_assignment(
            session,
            task=t1,
            unit=tech,
            state=AssignmentState.accepted,
            due_date=date(2025, 11, 14),
            percent_done=50,
        ),
        "a2": make_sv_assignment(
            session, task=t1, unit=finance, state=AssignmentState.assigned, due_date=date(2025, 11, 28)
        ),
        "a3": make_sv_assignment(
            session,
            task=t2,
            unit=tech,
            state=done,
            due_date=date(2025, 10, 31),
            completed_at=_at(2025, 10, 20),
            percent_done=100,
        ),
        "a4": make_sv_assignment(
            session,
            task=t2,
            unit=finance,
            state=done,
            due_date=date(2025, 10, 31),
            completed_at=_at(2025, 11, 5),
            percent_done=100,
        ),
        "a5": make_sv_assignment(
            session,
            task=t3,
            unit=town,
            state=done,
            due_date=date(2025, 10, 31),
            original_due_date=date(2025, 9, 30),
            extension_count=1,
            completed_at=_at(2025, 10, 15),
            percent_done=100,
        ),
        "a6": make_sv_assignment(
            session,
            task=t3,
            unit=tech,
            state=AssignmentState.accepted,
            due_date=date(2025, 12, 31),
            percent_done=10,
        ),
        "a7": make_sv_assignment(
            session, task=t3, unit=finance, state=AssignmentState.cancelled, due_date=date(2025, 12, 31)
        ),
        "a8": make_sv_assignment(
            session,
            task=t2,
            unit=town,
            state=AssignmentState.completion_requested,
            due_date=date(2025, 12, 31),
            percent_done=90,
        ),
    }
    make_report(session, assignment=a["a6"], period="2025-12", submitted_at=_at(2025, 12, 1, 8))
    rd = make_sv_indicator(
        session,
        plan=plan,
        name="全社会研发投入占GDP比重",
        target_value=1.8,
        unit="%",
        comparator=">=",
        baseline_value=1.2,
        due_date=date(2025, 12, 31),
        owner_unit_id=tech.id,
    )
    hi = make_sv_indicator(
        session,
        plan=plan,
        name="高新技术企业数",
        target_value=50,
        unit="家",
        comparator=">=",
        baseline_value=30,
        due_date=date(2025, 12, 31),
        owner_unit_id=town.id,
    )
    make_sv_indicator_value(session, indicator=rd, period_end=date(2025, 6, 30), value=1.5)
    make_sv_indicator_value(session, indicator=hi, period_end=date(2025, 6, 30), value=45)
    make_sv_indicator_value(session, indicator=hi, period_end=date(2025, 9, 30), value=52)
    session.commit()
    return SvPlan(plan, s1, s2, s3, tech, finance, town, a, {"rd": rd, "hi": hi})
