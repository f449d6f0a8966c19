from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any, Literal, cast

from fastapi import APIRouter, Query
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.responses import Response

from api.assessment import service
from api.assessment.service import ScoringConfig
from api.deps import NowDep, OfficeUser, ReadAllUser, Reader, SessionDep
from api.errors import ErrorEnvelope
from api.http import json_response
from api.stats.xlsx import print_setup, safe_cell
from duban.models import Assessment

router = APIRouter(tags=["assessments"])
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    **_E,
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


class ScoringRulePublic(BaseModel):
    id: int | None = None
    plan_id: int
    version: int
    config: ScoringConfig
    created_at: Any = None


class AssessmentCreate(BaseModel):
    period_kind: Literal["week", "month", "quarter", "half", "year"] = "month"
    period_start: date | None = Field(default=None, description="周期内任一日期；缺省为当前周期")


class ScoreLine(BaseModel):
    rule: str
    rule_name: str
    item: dict[str, Any] | None = None
    quantity: float
    points: float
    text: str


class UnitScore(BaseModel):
    unit_id: int
    unit_name: str
    score: float
    rank: int
    breakdown: list[ScoreLine]


class AssessmentPublic(BaseModel):
    id: int
    plan_id: int
    plan_title: str | None = None
    rule_id: int
    rule_version: int | None = None
    rule: dict[str, Any] | None = None
    period_kind: str
    period_start: date
    period_end: date
    period_label: str
    computed_at: Any
    published_at: Any = None
    scores: list[UnitScore]


@router.get("/plans/{plan_id}/scoring-rules", response_model=ScoringRulePublic, responses=_E)
def get_scoring_rules(plan_id: int, _user: Reader, session: SessionDep) -> Any:
    """The plan's current scoring rules (the defaults, version 0, until the office sets its own)."""
    plan = service.get_plan(session, plan_id)
    rule = service.current_rule(session, plan=plan)
    if rule is None:
        return json_response(
            {
                "id": None,
                "plan_id": plan.id,
                "version": 0,
                "config": ScoringConfig().model_dump(),
                "created_at": None,
            }
        )
    return json_response(
        {
            "id": rule.id,
            "plan_id": rule.plan_id,
            "version": rule.version,
            "config": rule.config,
            "created_at": rule.created_at.isoformat(),
        }
    )


@router.put("/plans/{plan_id}/scoring-rules", response_model=ScoringRulePublic, responses=_W)
def put_scoring_rules(
    plan_id: int, body: ScoringConfig, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Set the scoring rules: a new version; results computed under earlier versions keep theirs."""
    rule = service.put_rule(
        session, plan=service.get_plan(session, plan_id), config=body, actor=user, now=now
    )
    return json_response(
        {
            "id": rule.id,
            "plan_id": rule.plan_id,
            "version": rule.version,
            "config": rule.config,
            "created_at": rule.created_at.isoformat(),
        }
    )


@router.post("/plans/{plan_id}/assessments", status_code=201, response_model=AssessmentPublic, responses=_W)
def create_assessment(
    plan_id: int, body: AssessmentCreate, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Score every responsible unit for a period, with a line-by-line breakdown and a ranking."""
    plan = service.get_plan(session, plan_id)
    period = service.period_from(body.period_kind, body.period_start, plan=plan, now=now)
    assessment = service.create(session, plan=plan, period=period, actor=user, now=now)
    return json_response(service.detail(session, assessment=assessment, user=user), 201)


@router.get("/assessments", response_model=dict[str, list[dict[str, Any]]])
def list_assessments(
    _user: ReadAllUser,
    session: SessionDep,
    plan_id: int | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> Any:
    """Computed assessments, newest first."""
    stmt = select(Assessment).order_by(col(Assessment.id).desc()).limit(limit)
    if plan_id is not None:
        stmt = stmt.where(Assessment.plan_id == plan_id)
    items = [
        {
            "id": a.id,
            "plan_id": a.plan_id,
            "rule_id": a.rule_id,
            "period_kind": a.period_kind,
            "period_start": a.period_start.isoformat(),
            "period_end": a.period_end.isoformat(),
            "computed_at": a.computed_at.isoformat(),
            "published_at": a.published_at.isoformat() if a.published_at else None,
        }
        for a in session.exec(stmt).all()
    ]
    return json_response({"items": items})


@router.get("/assessments/{assessment_id}.xlsx", responses=_E, response_class=Response)
def export_assessment_xlsx(assessment_id: int, user: Reader, session: SessionDep) -> Response:
    """The assessment as a workbook: ranking, then every line of every unit's breakdown."""
    data = service.detail(
        session, assessment=service.get(session, assessment_id=assessment_id, user=user), user=user
    )
    wb = Workbook()
    ws = cast(Worksheet, wb.active)  # a new workbook has one worksheet
    ws.title = "排名"
    ws.append(
        [safe_cell(f"{data['plan_title']} {data['period_label']}考核结果（规则第{data['rule_version']}版）")]
    )
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["名次", "单位", "得分"])
    for s in data["scores"]:
        ws.append([s["rank"], safe_cell(s["unit_name"]), s["score"]])
    detail = wb.create_sheet("得分明细")
    detail.append(["单位", "规则", "任务编号", "任务", "交办编号", "数量", "分值", "说明"])
    for s in data["scores"]:
        for line in s["breakdown"]:
            item = line.get("item") or {}
            detail.append(
                [
                    safe_cell(s["unit_name"]),
                    safe_cell(line["rule_name"]),
                    safe_cell(item.get("task_code")),
                    safe_cell(item.get("task_title") or item.get("name")),
                    item.get("assignment_id"),
                    line["quantity"],
                    line["points"],
                    safe_cell(line["text"]),
                ]
            )
    for sheet in (ws, detail):
        for cell in sheet[2 if sheet is ws else 1]:
            cell.font = Font(bold=True)
    print_setup(ws, title_rows="2:2")
    print_setup(detail, title_rows="1:1")
    buf = BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="assessment-{assessment_id}.xlsx"'},
    )


@router.get("/assessments/{assessment_id}", response_model=AssessmentPublic, responses=_E)
def get_assessment(assessment_id: int, user: Reader, session: SessionDep) -> Any:
    """One assessment with every unit's score, rank and breakdown (a unit sees its own, once published)."""
    assessment = service.get(session, assessment_id=assessment_id, user=user)
    return json_response(service.detail(session, assessment=assessment, user=user))


@router.post("/assessments/{assessment_id}/publish", response_model=AssessmentPublic, responses=_W)
def publish_assessment(assessment_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Publish the result; later rule changes and recomputations leave it as it is."""
    assessment = service.publish(
        session, assessment=service.get(session, assessment_id=assessment_id, user=user), actor=user, now=now
    )
    return json_response(service.detail(session, assessment=assessment, user=user))
