from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import col

from api import external
from api.deps import CurrentUser, NowDep, OfficeUser, SessionDep
from api.errors import ErrorEnvelope
from api.http import check_if_match, etag_of, json_response
from api.pagination import Page, paginate
from api.plan import publishing, schemas, service
from duban.models import Plan, PlanState, Section

router = APIRouter(prefix="/plans", tags=["plans"])

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_W: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}
_U: dict[int | str, dict[str, Any]] = {**_E, **_W, 412: {"model": ErrorEnvelope}}


def _plan_response(session: Any, user: Any, plan: Plan, now: Any, status_code: int = 200) -> Response:
    body = service.detail(session, user=user, plan_id=plan.id or 0, now=now)
    return json_response(body, status_code, headers={"ETag": etag_of("plan", plan.id, plan.version)})


def _section_response(section: Section, status_code: int = 200) -> Response:
    body = schemas.SectionPublic.model_validate(section, from_attributes=True).model_dump(mode="json")
    return json_response(body, status_code, headers={"ETag": etag_of("section", section.id, section.version)})


@router.get("", response_model=Page[schemas.PlanPublic])
def list_plans(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    q: Annotated[str | None, Query(max_length=100, description="标题或文号包含")] = None,
    external_id: Annotated[str | None, Query(max_length=100, description="外部编号")] = None,
    external_source_id: Annotated[int | None, Query(description=external.SOURCE_DOC)] = None,
    state: Annotated[PlanState | None, Query(description="draft 草稿 / published 已发布")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Any:
    """Plans, newest first, each with its status derived from its assignments (drafts: office only)."""
    stmt = external.filter_list(
        service.visible_plans(user), Plan, user=user, external_id=external_id, source_id=external_source_id
    )
    if state is not None:
        stmt = stmt.where(col(Plan.state) == state)
    if q:
        stmt = stmt.where(
            col(Plan.title).contains(q, autoescape=True) | col(Plan.doc_no).contains(q, autoescape=True)
        )
    page = paginate(session, stmt, order=[(col(Plan.id), "desc")], limit=limit, cursor=cursor)
    service.public(session, user=user, rows=page["items"], now=now)
    return json_response(page)


@router.post(
    "",
    status_code=201,
    response_model=schemas.PlanDetail,
    responses={**_W, 200: {"model": schemas.PlanDetail, "description": "外部编号已存在：已更新"}},
)
def create_plan(body: schemas.PlanCreate, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Create a plan (201); a repeated `external_id` of the caller updates that plan instead (200)."""
    plan, created = service.create(session, actor=user, data=body.model_dump(), now=now)
    return _plan_response(session, user, plan, now, 201 if created else 200)


@router.put(
    "/by-external-id/{external_id}",
    response_model=schemas.PlanDetail,
    responses={**_W, 201: {"model": schemas.PlanDetail, "description": "已创建"}},
)
def put_plan_by_external_id(
    external_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: schemas.PlanPut,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Create (201) or update (200) the plan the caller knows by `external_id`."""
    data = {**body.model_dump(), "external_id": external_id}
    plan, created = service.create(session, actor=user, data=data, now=now)
    return _plan_response(session, user, plan, now, 201 if created else 200)


@router.get("/{plan_id}", response_model=schemas.PlanDetail, responses=_E)
def get_plan(plan_id: int, user: CurrentUser, session: SessionDep, now: NowDep) -> Any:
    """One plan with its sections and derived status."""
    return _plan_response(session, user, service.get(session, plan_id=plan_id), now)


@router.patch("/{plan_id}", response_model=schemas.PlanDetail, responses=_U)
def update_plan(
    plan_id: int,
    body: schemas.PlanUpdate,
    request: Request,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a plan (title, period, time zone, report cadence…); send `If-Match` with its ETag."""
    plan = service.get(session, plan_id=plan_id)
    check_if_match(request, kind="plan", entity_id=plan.id, version=plan.version)
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in ("doc_no", "issuer", "issued_on", "period_start", "period_end")
    }
    plan = service.update(session, actor=user, plan=plan, changes=changes, now=now)
    return _plan_response(session, user, plan, now)


@router.delete("/{plan_id}", status_code=204, responses={**_E, **_W})
def delete_plan(plan_id: int, user: OfficeUser, session: SessionDep, now: NowDep) -> Response:
    """Delete a plan that has not been assigned yet."""
    service.remove(session, actor=user, plan=service.get(session, plan_id=plan_id), now=now)
    return Response(status_code=204)


@router.get(
    "/{plan_id}/checks", response_model=schemas.PublishChecks, responses={**_E, 403: {"model": ErrorEnvelope}}
)
def plan_checks(plan_id: int, _user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """Before publishing: unconfirmed unit names with suggestions, past deadlines, tasks without units."""
    return json_response(publishing.checks(session, plan=service.get(session, plan_id=plan_id), now=now))


@router.post("/{plan_id}/publish", response_model=schemas.PublishResult, responses=_U)
def publish_plan(plan_id: int, request: Request, user: OfficeUser, session: SessionDep, now: NowDep) -> Any:
    """交办: create every assignment of the draft in one transaction; each unit gets one message.

    Refused (409) while unit names are unconfirmed or when the plan is already published.
    """
    plan = service.get(session, plan_id=plan_id)
    check_if_match(request, kind="plan", entity_id=plan.id, version=plan.version)
    body = publishing.publish(session, plan=plan, actor=user, now=now)
    return json_response(body, headers={"ETag": etag_of("plan", plan.id, plan.version)})


@router.post("/{plan_id}/shift-deadlines", response_model=schemas.DeadlineShiftResult, responses=_U)
def shift_deadlines(
    plan_id: int,
    body: schemas.DeadlineShift,
    request: Request,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Move every date of a draft (tasks, targets, indicators, period) by years, months and days."""
    plan = service.get(session, plan_id=plan_id)
    check_if_match(request, kind="plan", entity_id=plan.id, version=plan.version)
    out = publishing.shift_deadlines(session, plan=plan, actor=user, now=now, **body.model_dump())
    return json_response(out, headers={"ETag": etag_of("plan", plan.id, plan.version)})


@router.post("/{plan_id}/unit-names", response_model=schemas.NameResolutionResult, responses=_U)
def resolve_unit_name(
    plan_id: int, body: schemas.NameResolution, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Say which unit a name in the draft means: an existing unit (kept as its alias) or a new one."""
    plan = service.get(session, plan_id=plan_id)
    out = publishing.resolve_name(session, plan=plan, actor=user, now=now, **body.model_dump())
    return json_response(out)


@router.get("/{plan_id}/sections", response_model=list[schemas.SectionPublic], responses=_E)
def list_sections(plan_id: int, _user: CurrentUser, session: SessionDep) -> Any:
    """The plan's sections (重点任务) in document order."""
    service.get(session, plan_id=plan_id)
    return json_response(service.list_sections(session, plan_id=plan_id))


@router.post("/{plan_id}/sections", status_code=201, response_model=schemas.SectionPublic, responses=_U)
def create_section(
    plan_id: int, body: schemas.SectionCreate, user: OfficeUser, session: SessionDep, now: NowDep
) -> Any:
    """Add a section; its code is kept as the document writes it (一, 二…)."""
    plan = service.get(session, plan_id=plan_id)
    section = service.create_section(session, actor=user, plan=plan, data=body.model_dump(), now=now)
    return _section_response(section, 201)


@router.get("/{plan_id}/sections/{section_id}", response_model=schemas.SectionPublic, responses=_E)
def get_section(plan_id: int, section_id: int, _user: CurrentUser, session: SessionDep) -> Any:
    """One section."""
    return _section_response(service.get_section(session, plan_id=plan_id, section_id=section_id))


@router.patch("/{plan_id}/sections/{section_id}", response_model=schemas.SectionPublic, responses=_U)
def update_section(
    plan_id: int,
    section_id: int,
    body: schemas.SectionUpdate,
    request: Request,
    user: OfficeUser,
    session: SessionDep,
    now: NowDep,
) -> Any:
    """Change a section's code, title or position."""
    section = service.get_section(session, plan_id=plan_id, section_id=section_id)
    check_if_match(request, kind="section", entity_id=section.id, version=section.version)
    section = service.update_section(
        session, actor=user, section=section, changes=body.model_dump(exclude_unset=True), now=now
    )
    return _section_response(section)


@router.delete("/{plan_id}/sections/{section_id}", status_code=204, responses={**_E, **_W})
def delete_section(
    plan_id: int, section_id: int, user: OfficeUser, session: SessionDep, now: NowDep
) -> Response:
    """Delete an empty section."""
    section = service.get_section(session, plan_id=plan_id, section_id=section_id)
    service.remove_section(session, actor=user, section=section, now=now)
    return Response(status_code=204)
