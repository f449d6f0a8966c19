from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.attachment.sniff import DOC, DOCX, OFD, PDF, PNG, TEXT, WPS, XLS, XLSX, detect, safe_filename
from api.attachment.storage import LocalStorage, get_storage, max_upload_bytes
from duban.models import AssignmentState, Unit
from tests.api.conftest import AsRole
from tests.factories import make_assignment, make_plan, make_task, make_unit
from tests.office_files import excel_97, msi_installer, ofd, word_97

PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def ooxml(main: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", f'<Types><Override ContentType="application/{main}"/></Types>')
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.fixture
def storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    store = LocalStorage(tmp_path / "files")
    app.dependency_overrides[get_storage] = lambda: store
    app.dependency_overrides[max_upload_bytes] = lambda: 4096
    return store


@pytest.fixture
def units(session: Session) -> tuple[Unit, Unit, int]:
    plan = make_plan(session)
    unit, other = make_unit(session), make_unit(session)
    assignment = make_assignment(
        session, task=make_task(session, plan=plan), unit=unit, state=AssignmentState.accepted
    )
    session.commit()
    return unit, other, assignment.id


def _report(client: TestClient, assignment_id: int, headers: dict[str, str]) -> int:
    r = client.post(
        f"/api/v1/assignments/{assignment_id}/reports",
        json={"period": "2025-11", "text": "进展"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    rid: int = r.json()["id"]
    return rid


def _upload(
    client: TestClient,
    rid: int,
    headers: dict[str, str],
    name: str,
    data: bytes,
    ctype: str = "application/octet-stream",
) -> Any:
    return client.post(
        f"/api/v1/reports/{rid}/attachments", files={"file": (name, data, ctype)}, headers=headers
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF_BYTES, PDF),
        (PNG_BYTES, PNG),
        (b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        (ooxml("vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"), DOCX),
        (ooxml("vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"), XLSX),
        ("第一季度进展：完成。\n".encode(), TEXT),
        (EXE_BYTES, None),
        (ooxml("zip"), None),
        (b"PK\x03\x04broken", None),
        (b"", None),
        (b"text\x00with nul", None),
        # Office 97–2003 and the national layout format, by their structure.
        (word_97(), DOC),
        (excel_97(), XLS),
        (ofd(), OFD),
        (ofd(namespace=False), OFD),
        # Compound files that are not documents, or documents that carry a program.
        (msi_installer(), None),
        (word_97(macros=True), None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, None),
        (word_97()[:3000], None),
        (ofd(extra={"Doc_0/Attachs/setup.exe": EXE_BYTES}), None),
        (ooxml("vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")[:-1], None),
    ],
)
def test_detect_from_content(data: bytes, expected: str | None) -> None:
    assert detect(data) == expected
    assert detect(data, "伪装.wps") == (WPS if expected == DOC else expected)


def test_a_name_never_makes_a_type() -> None:
    """The name only picks between types the bytes prove: an executable called .doc stays refused."""
    for name in ("通知.doc", "表.xls", "报告.wps", "公文.ofd"):
        assert detect(EXE_BYTES, name) is None
        assert detect(msi_installer(), name) is None
    assert detect(excel_97(), "表.wps") == XLS


def test_office_files_upload_and_download(
    app: FastAPI, client: TestClient, as_role: AsRole, storage: LocalStorage, units: tuple[Unit, Unit, int]
) -> None:
    app.dependency_overrides[max_upload_bytes] = lambda: 64 * 1024
    unit, _, assignment_id = units
    staff = as_role("unit_staff", unit=unit)
    rid = _report(client, assignment_id, staff)
    for name, data, expected in (
        ("进展报告.doc", word_97(), DOC),
        ("进展报告.wps", word_97(), WPS),
        ("任务分解表.xls", excel_97(), XLS),
        ("盖章件.ofd", ofd(), OFD),
    ):
        r = _upload(client, rid, staff, name, data)
        assert r.status_code == 201, (name, r.text)
        assert r.json()["content_type"] == expected and r.json()["filename"] == name
        down = client.get(f"/api/v1/attachments/{r.json()['id']}", headers=staff)
        assert down.content == data and down.headers["content-type"] == expected
    for name, data in (
        ("安装包.doc", msi_installer()),
        ("宏.doc", word_97(macros=True)),
        ("setup.xls", EXE_BYTES),
        ("夹带.ofd", ofd(extra={"run.js": b"alert(1)"})),
    ):
        r = _upload(client, rid, staff, name, data)
        assert r.status_code == 415, (name, r.text)
        assert r.json()["error"]["code"] == "attachment.unsupported_type"
        assert "OFD" in r.json()["error"]["message"] and ".xls" in r.json()["error"]["message"]


def test_safe_filename() -> None:
    assert safe_filename("../../etc/进展\x00报告.pdf", PDF) == "进展报告.pdf"
    assert safe_filename("C:\\Users\\a\\汇报.docx", DOCX) == "汇报.docx"
    assert safe_filename("...", PDF) == "附件.pdf"
    assert safe_filename(None, TEXT) == "附件.txt"
    long = safe_filename("长" * 300 + ".pdf", PDF)
    assert len(long) == 255 and long.endswith(".pdf")


def test_upload_download_list_delete(
    client: TestClient, as_role: AsRole, storage: LocalStorage, units: tuple[Unit, Unit, int]
) -> None:
    unit, other, assignment_id = units
    staff = as_role("unit_staff", unit=unit)
    rid = _report(client, assignment_id, staff)
    r = _upload(client, rid, staff, "../涟水 进展报告.pdf", PDF_BYTES, "image/png")
    assert r.status_code == 201, r.text
    att = r.json()
    assert (
        att["filename"] == "涟水 进展报告.pdf"
        and att["content_type"] == PDF
        and att["size"] == len(PDF_BYTES)
    )
    assert len(att["sha256"]) == 64

    down = client.get(f"/api/v1/attachments/{att['id']}", headers=staff)
    assert down.status_code == 200 and down.content == PDF_BYTES
    assert down.headers["content-type"] == PDF
    assert down.headers["content-disposition"] == (
        'attachment; filename="__ ____.pdf"; '
        "filename*=UTF-8''%E6%B6%9F%E6%B0%B4%20%E8%BF%9B%E5%B1%95%E6%8A%A5%E5%91%8A.pdf"
    )
    listed = client.get(f"/api/v1/reports/{rid}/attachments", headers=staff).json()
    assert [a["id"] for a in listed] == [att["id"]]
    assert [a["id"] for a in client.get(f"/api/v1/reports/{rid}", headers=staff).json()["attachments"]] == [
        att["id"]
    ]

    # Another unit: not found, whether it downloads, lists or deletes; the office may read.
    outsider = as_role("unit_staff", unit=other)
    assert client.get(f"/api/v1/attachments/{att['id']}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/reports/{rid}/attachments", headers=outsider).status_code == 404
    assert client.delete(f"/api/v1/attachments/{att['id']}", headers=outsider).status_code == 404
    assert _upload(client, rid, outsider, "a.pdf", PDF_BYTES).status_code == 404
    assert client.get(f"/api/v1/attachments/{att['id']}", headers=as_role("office")).status_code == 200

    colleague = as_role("unit_head", unit=unit)
    r = client.delete(f"/api/v1/attachments/{att['id']}", headers=colleague)
    assert r.status_code == 403 and r.json()["error"]["code"] == "attachment.not_uploader"
    assert client.delete(f"/api/v1/attachments/{att['id']}", headers=staff).status_code == 204
    assert client.get(f"/api/v1/attachments/{att['id']}", headers=staff).status_code == 404
    assert not any(p.is_file() for p in storage.root.rglob("*"))


def test_size_and_type_limits(
    client: TestClient, as_role: AsRole, storage: LocalStorage, units: tuple[Unit, Unit, int]
) -> None:
    unit, _, assignment_id = units
    staff = as_role("unit_staff", unit=unit)
    rid = _report(client, assignment_id, staff)
    big = _upload(client, rid, staff, "big.pdf", PDF_BYTES + b"0" * 5000, PDF)
    assert big.status_code == 413 and big.json()["error"]["code"] == "attachment.too_large"
    assert big.json()["error"]["message"] == "附件不能超过 4 KB"
    huge = _upload(client, rid, staff, "huge.pdf", PDF_BYTES + b"0" * 40_000, PDF)
    # Refused from Content-Length, before parsing (the default message, not the measured one).
    assert huge.status_code == 413 and huge.json()["error"]["message"] == "附件超过大小限制"
    exe = _upload(client, rid, staff, "通知.pdf", EXE_BYTES, PDF)
    assert exe.status_code == 415 and exe.json()["error"]["code"] == "attachment.unsupported_type"
    assert _upload(client, rid, staff, "a.docx", ooxml("zip"), DOCX).status_code == 415
    text = _upload(client, rid, staff, "说明.txt", "情况说明".encode(), "text/plain")
    assert text.status_code == 201 and text.json()["content_type"] == TEXT
    assert _upload(client, rid, staff, "shot.png", PNG_BYTES).status_code == 201
    missing = client.post(f"/api/v1/reports/{rid}/attachments", headers=staff)
    assert missing.status_code == 422
    assert len([p for p in storage.root.rglob("*") if p.is_file()]) == 2


def test_attachments_are_locked_once_submitted(
    client: TestClient, as_role: AsRole, storage: LocalStorage, units: tuple[Unit, Unit, int]
) -> None:
    unit, _, assignment_id = units
    staff = as_role("unit_staff", unit=unit)
    rid = _report(client, assignment_id, staff)
    att = _upload(client, rid, staff, "a.pdf", PDF_BYTES).json()
    assert client.post(f"/api/v1/reports/{rid}/submit", headers=staff).status_code == 200
    r = client.delete(f"/api/v1/attachments/{att['id']}", headers=staff)
    assert r.status_code == 409 and r.json()["error"]["code"] == "attachment.report_locked"
    assert _upload(client, rid, staff, "b.pdf", PDF_BYTES).status_code == 409
