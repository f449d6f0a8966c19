from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.routing import APIRoute
from starlette.responses import Response

from api.attachment import service
from api.attachment.storage import Storage, get_storage, max_upload_bytes
from api.deps import NowDep, Reader, SessionDep, require_roles
from api.errors import ErrorEnvelope
from api.http import json_response
from api.report import service as report_service
from api.report.schemas import AttachmentBrief
from duban.models import Role, User


class _EarlyLimitRoute(APIRoute):
    """Refuse an upload whose declared length is already too large, before the body is parsed.

    FastAPI parses a multipart body before any dependency runs; without this a huge upload
    would be spooled to disk first and refused only afterwards.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            if request.method == "POST":
                declared = request.headers.get("content-length", "")
                provider = request.app.dependency_overrides.get(max_upload_bytes, max_upload_bytes)
                limit = provider()
                if declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
                    raise service.PayloadTooLarge(details={"max_bytes": limit})
            return await handler(request)

        return guarded


# Boundaries and part headers around the file; the exact size is checked after parsing.
_MULTIPART_OVERHEAD = 16 * 1024

router = APIRouter(tags=["attachments"], route_class=_EarlyLimitRoute)

StorageDep = Annotated[Storage, Depends(get_storage)]
UploadLimit = Annotated[int, Depends(max_upload_bytes)]
UnitMember = Annotated[User, Depends(require_roles(Role.unit_head, Role.unit_staff))]

_E: dict[int | str, dict[str, Any]] = {404: {"model": ErrorEnvelope}}
_UP: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope},
    404: {"model": ErrorEnvelope},
    409: {"model": ErrorEnvelope},
    413: {"model": ErrorEnvelope},
    415: {"model": ErrorEnvelope},
}


def _brief(a: Any) -> dict[str, Any]:
    return {c.key: getattr(a, c.key) for c in service.BRIEF_COLUMNS}


@router.post(
    "/reports/{report_id}/attachments", status_code=201, response_model=AttachmentBrief, responses=_UP
)
def upload_attachment(
    report_id: int,
    file: Annotated[UploadFile, File(description="PDF、PNG、JPEG、docx、xlsx 或纯文本")],
    user: UnitMember,
    session: SessionDep,
    storage: StorageDep,
    limit: UploadLimit,
    now: NowDep,
) -> Any:
    """Attach a file to a draft report; its type is decided from its content."""
    report = report_service.get_visible(session, user=user, report_id=report_id)
    # Read one byte past the limit: enough to know it is too large without holding more.
    data = file.file.read(limit + 1)
    attachment = service.upload(
        session=session,
        storage=storage,
        user=user,
        report=report,
        filename=file.filename,
        data=data,
        max_bytes=limit,
        now=now,
    )
    return json_response(_brief(attachment), 201)


@router.get("/reports/{report_id}/attachments", response_model=list[AttachmentBrief], responses=_E)
def list_attachments(report_id: int, user: Reader, session: SessionDep) -> Any:
    """The report's attachments."""
    report = report_service.get_visible(session, user=user, report_id=report_id)
    return json_response(
        service.list_for_owner(session, owner_type=service.REPORT_OWNER, owner_id=report.id or 0)
    )


@router.get(
    "/attachments/{attachment_id}",
    response_class=Response,
    responses={**_E, 200: {"content": {"application/octet-stream": {}}, "description": "附件内容"}},
)
def download_attachment(
    attachment_id: int, user: Reader, session: SessionDep, storage: StorageDep
) -> Response:
    """Download an attachment of a unit the caller may see."""
    attachment = service.get_visible(session, user=user, attachment_id=attachment_id)
    return Response(
        storage.get(attachment.storage_key),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": service.content_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{attachment.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.delete(
    "/attachments/{attachment_id}",
    status_code=204,
    responses={**_E, 403: {"model": ErrorEnvelope}, 409: {"model": ErrorEnvelope}},
)
def delete_attachment(
    attachment_id: int, user: UnitMember, session: SessionDep, storage: StorageDep, now: NowDep
) -> Response:
    """Remove an attachment you uploaded, while its report is still a draft."""
    attachment = service.get_visible(session, user=user, attachment_id=attachment_id)
    service.delete(session=session, storage=storage, user=user, attachment=attachment, now=now)
    return Response(status_code=204)
