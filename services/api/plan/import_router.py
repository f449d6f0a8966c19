"""Plans in and out over REST: import a plan document, export the 任务分解表."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import CurrentUser, NowDep, SessionDep, SettingsDep, require_roles
from api.errors import ErrorEnvelope
from api.http import json_response
from api.plan import importing
from duban.errors import Unprocessable
from duban.models import Role, User
from plandoc import export_xlsx
from plandoc.interchange import ImportWarning

router = APIRouter(prefix="/plans", tags=["plans"])

ImportUser = Annotated[User, Depends(require_roles(Role.office, Role.admin, scope="plans:import"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    413: {"model": ErrorEnvelope},
    415: {"model": ErrorEnvelope},
    422: {"model": ErrorEnvelope},
}
_BODY_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": {"type": "object", "description": "计划交换格式 JSON"}},
            "text/plain": {"schema": {"type": "string", "description": "计划全文"}},
        },
        "required": True,
    }
}


class ImportPreview(BaseModel):
    dry_run: bool = True
    document: dict[str, Any]
    warnings: list[ImportWarning]
    summary: dict[str, Any]


class ImportReportPublic(BaseModel):
    dry_run: bool = False
    plan_id: int
    title: str
    state: str = Field(
        description="draft：草稿，核对后经 POST /plans/{id}/publish 交办；published：已一并交办"
    )
    supersedes_id: int | None = None
    withdrawn: int = Field(default=0, description="发布新版本时，被替代的旧版本中撤销的未办结事项数")
    units_notified: int = 0
    sections: int
    tasks: int
    targets: int
    indicators: int
    units_created: list[str] = Field(default_factory=list)
    groups_created: list[str] = Field(default_factory=list)
    assignments: int
    warnings: list[ImportWarning]


def _too_large(limit: int) -> importing.PayloadTooLarge:
    return importing.PayloadTooLarge(
        f"文件过大（上限 {limit // (1024 * 1024)} MB）", details={"max_bytes": limit}
    )


async def _read_upload(request: Request, limit: int) -> tuple[bytes | str, str | None]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise _too_large(limit)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable("请在表单中上传计划文件", code="import.file_required")
        data = await upload.read(limit + 1)
        await form.close()
        filename = upload.filename
    else:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise _too_large(limit)
        filename = {"application/json": "plan.json"}.get(content_type)
    if len(data) > limit:
        raise _too_large(limit)
    if not data.strip():
        raise Unprocessable("上传内容为空", code="import.empty")
    return data, filename


@router.post(
    "/import",
    status_code=201,
    response_model=ImportReportPublic,
    responses={200: {"model": ImportPreview, "description": "dry_run=true：预览，不写入"}, **_IMPORT_ERRORS},
    openapi_extra=_BODY_DOC,
)
async def import_plan(
    request: Request,
    user: ImportUser,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="只预览识别结果，不写入")] = False,
    publish: Annotated[bool, Query(description="导入后立即发布交办（缺省为草稿，核对后再发布）")] = False,
    new_version_of: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="作为该计划的新版本导入（同一文号重新印发）")
    ] = None,
    format: Annotated[str, Query(pattern="^(auto|text|docx|pdf|xlsx|json)$")] = "auto",
) -> Any:
    """Import a plan (a .txt/.docx/.pdf/.xlsx upload, or a text or JSON body) as a draft.

    A draft has no assignments and sends nothing; publish it with `POST /plans/{id}/publish`.
    A 文号 already imported answers 409 naming that plan, unless `new_version_of` names it.
    """
    data, filename = await _read_upload(request, settings.max_upload_bytes)

    def work() -> tuple[dict[str, Any], int]:
        result = importing.read_plan(data, fmt=format, filename=filename)
        if dry_run:
            out = importing.preview(session, result, now=now, new_version_of=new_version_of)
            return {"dry_run": True, **out}, 200
        report = importing.import_plan(
            session, result=result, actor=user, now=now, publish=publish, new_version_of=new_version_of
        )
        return {"dry_run": False, **report.to_dict()}, 201

    body, status = await run_in_threadpool(work)
    headers = {"Location": f"/api/v1/plans/{body['plan_id']}"} if status == 201 else None
    return json_response(body, status, headers=headers)


@router.get(
    "/{plan_id}/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "任务分解表"}, 404: {"model": ErrorEnvelope}},
)
def export_plan(plan_id: int, _user: CurrentUser, session: SessionDep) -> Response:
    """The plan's task breakdown (任务分解表) as .xlsx: one row per task and unit."""
    doc = importing.plan_to_document(session, plan_id)
    name = quote(f"{doc.plan.title or '计划'}-任务分解表.xlsx")
    return Response(
        export_xlsx(doc),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=plan-{plan_id}.xlsx; filename*=UTF-8''{name}"},
    )
