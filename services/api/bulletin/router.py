from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.responses import Response

from api.bulletin import export, service
from api.deps import NowDep, OfficeUser, Reader, SessionDep
from api.errors import ErrorEnvelope
from api.http import json_response
from api.stats import service as stats
from duban import calendar, periods
from duban.db import columns
from duban.errors import Unprocessable
from duban.models import Bulletin

router = APIRouter(tags=["bulletins"])
_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    **_E,
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}


class BulletinCreate(BaseModel):
    period_kind: Literal["week", "month", "quarter", "half", "year"] = "month"
    period_start: date | None = Field(default=None, description="周期内任一日期；缺省为当前周期")


class BulletinSummary(BaseModel):
    id: int
    plan_id: int
    period_kind: str
    period_start: date
    period_end: date
    version: int
    title: str
    generated_at: Any
    published_at: Any = None


class BulletinPublic(BulletinSummary):
    content: dict[str, Any]
    markdown: str


_SUMMARY_COLS = columns(
    Bulletin.id,
    Bulletin.plan_id,
    Bulletin.period_kind,
    Bulletin.period_start,
    Bulletin.period_end,
    Bulletin.version,
    Bulletin.title,
    Bulletin.generated_at,
    Bulletin.published_at,
)


def _public(b: Bulletin, status_code: int = 200) -> Response:
    return json_response(
        BulletinPublic.model_validate(b, from_attributes=True).model_dump(mode="json"), status_code
    )


@router.post("/plans/{plan_id}/bulletins", status_code=201, response_model=BulletinPublic, responses=_W)
def generate_bulletin(
    plan_id: int, body: BulletinCreate, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Generate a new version of the plan's bulletin for a week, month, quarter, half or year (as of
    its end)."""
    plan = stats.get_plan(session, plan_id)
    period = periods.period_of(
        body.period_kind, body.period_start or calendar.local_date(now, stats.zone_of(plan))
    )
    return _public(service.generate(session, plan=plan, period=period, actor=user, now=now), 201)


@router.get("/bulletins", response_model=dict[str, list[BulletinSummary]])
def list_bulletins(
    user: Reader,
    session: SessionDep,
    plan_id: int | None = None,
    period_kind: str | None = None,
    published: bool | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> Any:
    """Bulletins, newest first (units see published ones only)."""
    stmt = select(*_SUMMARY_COLS).order_by(col(Bulletin.id).desc()).limit(limit)
    if plan_id is not None:
        stmt = stmt.where(Bulletin.plan_id == plan_id)
    if period_kind:
        stmt = stmt.where(Bulletin.period_kind == period_kind)
    if published is not None:
        stmt = stmt.where(
            col(Bulletin.published_at).is_not(None) if published else col(Bulletin.published_at).is_(None)
        )
    if not user.reads_all:
        stmt = stmt.where(col(Bulletin.published_at).is_not(None))
    items = [
        BulletinSummary.model_validate(dict(r)).model_dump(mode="json")
        for r in session.execute(stmt).mappings().all()
    ]
    return json_response({"items": items})


def _export(bulletin: Bulletin, fmt: str) -> Response:
    name = f"bulletin-{bulletin.plan_id}-{bulletin.period_kind}-{bulletin.period_start}-v{bulletin.version}"
    if fmt == "docx":
        body, media = export.to_docx(bulletin.content), export.DOCX_TYPE
    elif fmt == "xlsx":
        body, media = export.to_xlsx(bulletin.content), export.XLSX_TYPE
    elif fmt == "md":
        body, media = bulletin.markdown.encode(), "text/markdown; charset=utf-8"
    else:
        raise Unprocessable(
            "导出格式只能是 .docx、.xlsx 或 .md", code="bulletin.invalid_format", details={"format": fmt}
        )
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


@router.get("/bulletins/{bulletin_id}.docx", response_class=Response, responses=_E)
def export_bulletin_docx(bulletin_id: int, user: Reader, session: SessionDep) -> Response:
    """The bulletin as a Word document (header, headings, tables) for editing and printing."""
    return _export(service.get(session, bulletin_id=bulletin_id, user=user), "docx")


@router.get("/bulletins/{bulletin_id}.xlsx", response_class=Response, responses=_E)
def export_bulletin_xlsx(bulletin_id: int, user: Reader, session: SessionDep) -> Response:
    """The bulletin's tables as an Excel workbook."""
    return _export(service.get(session, bulletin_id=bulletin_id, user=user), "xlsx")


@router.get("/bulletins/{bulletin_id}.md", response_class=Response, responses=_E)
def export_bulletin_md(bulletin_id: int, user: Reader, session: SessionDep) -> Response:
    """The bulletin as Markdown."""
    return _export(service.get(session, bulletin_id=bulletin_id, user=user), "md")


@router.get(
    "/bulletins/{bulletin_id}/export",
    response_class=Response,
    responses={**_E, 422: {"model": ErrorEnvelope}},
)
def export_bulletin(
    bulletin_id: int, user: Reader, session: SessionDep, format: Literal["docx", "xlsx", "md"] = "docx"
) -> Response:
    """The bulletin in the chosen format (docx, xlsx or md)."""
    return _export(service.get(session, bulletin_id=bulletin_id, user=user), format)


@router.get("/bulletins/{bulletin_id}", response_model=BulletinPublic, responses=_E)
def get_bulletin(bulletin_id: int, user: Reader, session: SessionDep) -> Any:
    """One bulletin version: content as data and as Markdown."""
    return _public(service.get(session, bulletin_id=bulletin_id, user=user))


@router.post("/bulletins/{bulletin_id}/publish", response_model=BulletinPublic, responses=_W)
def publish_bulletin(bulletin_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Publish: sets published_at and sends bulletin.published to subscribers (OA webhook) via the outbox."""
    bulletin = service.publish(
        session, bulletin=service.get(session, bulletin_id=bulletin_id, user=user), actor=user, now=now
    )
    return _public(bulletin)
