from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select
from sqlmodel import Session, col, select

from api.assignment.service import scoped
from api.attachment import sniff
from api.attachment.storage import Storage
from api.report import service as report_service
from api.report.shared import require_own_unit
from duban.db import columns
from duban.errors import Conflict, DubanError, Forbidden, NotFound
from duban.models import Attachment, ProgressReport, User
from duban.uow import unit_of_work

log = logging.getLogger("duban.api")

REPORT_OWNER = "progress_report"
ALLOWED_TYPES = sorted(sniff.EXTENSIONS)
BRIEF_COLUMNS = columns(
    Attachment.id,
    Attachment.filename,
    Attachment.content_type,
    Attachment.size,
    Attachment.sha256,
    Attachment.uploaded_by_id,
    Attachment.created_at,
)


class PayloadTooLarge(DubanError):
    status_code = 413
    code = "attachment.too_large"
    message = "附件超过大小限制"


class UnsupportedMediaType(DubanError):
    status_code = 415
    code = "attachment.unsupported_type"
    message = "不支持的附件类型，仅限 PDF、OFD、PNG、JPEG、纯文本和 .docx、.doc、.wps、.xlsx、.xls 文档"


def visible_attachments(user: User, *columns: Any) -> Select[Any]:
    stmt = select(*columns) if columns else select(Attachment)
    return scoped(stmt, user, Attachment.unit_id)


def get_visible(session: Session, *, user: User, attachment_id: int) -> Attachment:
    found = session.exec(visible_attachments(user).where(col(Attachment.id) == attachment_id)).first()  # type: ignore[call-overload]
    if found is None:
        raise NotFound("附件不存在", code="attachment.not_found")
    attachment: Attachment = found
    return attachment


def list_for_owner(session: Session, *, owner_type: str, owner_id: int) -> list[dict[str, Any]]:
    """Callers reach the owner through its own scoped loader first."""
    stmt = select(*BRIEF_COLUMNS).where(Attachment.owner_type == owner_type, Attachment.owner_id == owner_id)
    return [dict(r) for r in session.execute(stmt.order_by(col(Attachment.id))).mappings()]


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB" if n >= 1024 else f"{n} 字节"


def _check_editable(report: ProgressReport) -> None:
    if report.state not in report_service.EDITABLE:
        raise Conflict(
            "报告已提交或已审核，附件不能再修改",
            code="attachment.report_locked",
            details={"report_state": str(report.state)},
        )


def upload(
    *,
    session: Session,
    storage: Storage,
    user: User,
    report: ProgressReport,
    filename: str | None,
    data: bytes,
    max_bytes: int,
    now: datetime,
) -> Attachment:
    require_own_unit(user, report.unit_id, code="attachment.not_own_unit")
    _check_editable(report)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"附件不能超过 {_human(max_bytes)}", details={"max_bytes": max_bytes})
    content_type = sniff.detect(data, filename)
    if content_type is None:
        raise UnsupportedMediaType(details={"allowed": ALLOWED_TYPES})
    key = storage.put(data, now=now)
    try:
        attachment = Attachment(
            owner_type=REPORT_OWNER,
            owner_id=report.id or 0,
            unit_id=report.unit_id,
            filename=sniff.safe_filename(filename, content_type),
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=key,
            uploaded_by_id=user.id,
            created_at=now,
        )
        with unit_of_work(session, actor=user, now=now) as uow:
            uow.add(attachment, action="attachment.upload")
    except BaseException:
        storage.delete(key)
        raise
    return attachment


def delete(*, session: Session, storage: Storage, user: User, attachment: Attachment, now: datetime) -> None:
    if attachment.uploaded_by_id != user.id:
        raise Forbidden("只有上传人可以删除附件", code="attachment.not_uploader")
    if attachment.owner_type == REPORT_OWNER:
        report = session.get(ProgressReport, attachment.owner_id)
        if report is not None:
            _check_editable(report)
    key = attachment.storage_key
    with unit_of_work(session, actor=user, now=now) as uow:
        uow.delete(attachment, action="attachment.delete")
    # After the commit: a failed transaction must not lose the bytes of a row that still exists.
    try:
        storage.delete(key)
    except OSError:
        log.warning("attachment file not removed", extra={"storage_key": key})


def content_disposition(filename: str) -> str:
    """RFC 6266 with an ASCII fallback and the UTF-8 name in RFC 5987 `filename*`."""
    fallback = (
        "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename) or "download"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
