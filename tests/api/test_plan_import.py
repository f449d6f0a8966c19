from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.assignment import service as assignment_service
from api.plan import importing
from duban import db as duban_db
from duban.cli import main as cli_main
from duban.migrate import ROOT
from duban.models import (
    Assignment,
    AuditEntry,
    Indicator,
    OutboxEvent,
    Plan,
    Section,
    Task,
    TaskUnit,
    Unit,
    UnitAlias,
    UnitGroup,
    UnitKind,
    UnitRole,
)
from duban.settings import get_settings
from plandoc import export_xlsx, parse
from tests.api.conftest import AsRole
from tests.conftest import DEFAULT_NOW
from tests.factories import make_unit
from tests.language import english_words

SEED = ROOT / "services" / "duban" / "cli" / "demo_data" / "lianshui-2024-2025-plan.txt"
CORPUS = ROOT.parent / "shared" / "corpus" / "plans"
LEADS = {
    "1": "县科技局", "2": "县科技局", "3": "县科技局", "4": "县科技局", "5": "县科技局", "6": "县科技局",
    "7": "县委人才办", "8": "县工信局", "9": "县人社局", "10": "县工信局", "11": "县工信局", "12": "县科技局",
    "13": "县科技局", "14": "县金融监管局", "15": "县市场监管局",
}  # fmt: skip
ANNUAL = {"1", "3", "7", "11", "12", "14"}


def seed_result() -> Any:
    return parse(SEED.read_bytes(), filename=SEED.name)


def counts(session: Session) -> dict[str, int]:
    return {
        m.__name__: session.exec(select(func.count()).select_from(m)).one()
        for m in (
            Plan,
            Section,
            Task,
            TaskUnit,
            Unit,
            UnitGroup,
            Indicator,
            Assignment,
            AuditEntry,
            OutboxEvent,
        )
    }


def towns_and_zone(session: Session) -> tuple[list[Unit], Unit]:
    towns = [
        make_unit(session, name="高沟镇", kind=UnitKind.town),
        make_unit(session, name="唐集镇", kind=UnitKind.town),
        make_unit(session, name="涟城街道", kind=UnitKind.street),
    ]
    zone = make_unit(session, name="县经济开发区管委会", kind=UnitKind.zone)
    session.add(UnitAlias(alias="经济开发区", unit_id=zone.id or 0))
    session.commit()
    return towns, zone


def test_kind_is_guessed_from_the_name() -> None:
    assert importing.guess_kind("高沟镇") == UnitKind.town
    assert importing.guess_kind("涟城街道") == UnitKind.street
    assert importing.guess_kind("经济开发区") == UnitKind.zone
    assert importing.guess_kind("县科技创新工作领导小组办公室") == UnitKind.office
    assert importing.guess_kind("县科技局") == UnitKind.department


def test_seed_imports_with_units_groups_recurrence_and_indicators(session: Session, now: datetime) -> None:
    towns, zone = towns_and_zone(session)
    result = seed_result()
    report = importing.import_plan(session, result=result, actor=None, now=now, publish=True)

    assert (report.sections, report.tasks) == (5, 15)
    plan = session.get(Plan, report.plan_id)
    assert plan is not None and plan.doc_no == "涟政办发〔2024〕7号"
    assert (plan.period_start, plan.period_end) == (date(2024, 1, 1), date(2025, 12, 31))
    tasks = session.exec(select(Task).where(Task.plan_id == plan.id).order_by(col(Task.position))).all()
    assert [t.code for t in tasks] == [str(i) for i in range(1, 16)]
    group = session.exec(select(UnitGroup).where(UnitGroup.name == "各镇街")).one()
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    for task in tasks:
        assert task.due_date == date(2025, 12, 31)
        assert (str(task.recurrence) if task.recurrence else None) == (
            "annual" if task.code in ANNUAL else None
        )
        rows = session.exec(
            select(TaskUnit).where(TaskUnit.task_id == task.id).order_by(col(TaskUnit.position))
        ).all()
        leads = [names[r.unit_id] for r in rows if r.role == UnitRole.lead and r.unit_id]
        assert leads == [LEADS[task.code]], task.code
        implementing = [(r.unit_id, r.group_id) for r in rows if r.role == UnitRole.implementing]
        assert implementing == [(None, group.id), (zone.id, None)], task.code  # 经济开发区 via its alias
        # Every lead, co and implementing unit (the group expanded) has its assignments.
        expected_units = {r.unit_id for r in rows if r.unit_id} | {t.id for t in towns}
        periods = {"2024", "2025"} if task.code in ANNUAL else {""}
        got = set(
            session.execute(
                select(Assignment.unit_id, Assignment.period).where(Assignment.task_id == task.id)
            ).all()
        )
        assert got == {(u, p) for u in expected_units for p in periods}, task.code
    assert report.assignments == session.exec(select(func.count()).select_from(Assignment)).one()
    indicators = session.exec(select(Indicator).where(Indicator.plan_id == plan.id)).all()
    assert len(indicators) == len(result.document.indicators) == report.indicators >= 10
    assert {i.name for i in indicators} >= {"全社会研发投入占GDP比重", "有效期国家高新技术企业"}
    rd = next(i for i in indicators if i.name == "全社会研发投入占GDP比重")
    assert (rd.target_value, rd.unit, rd.due_date) == (1.8, "%", date(2025, 12, 31))
    # Only explained warnings: the departments the database did not know yet.
    assert {w.code for w in report.warnings} == {"unit.created", "goal.unquantified"}
    created = [w.text for w in report.warnings if w.code == "unit.created"]
    assert sorted(created) == sorted(report.units_created)
    assert "县科技局" in report.units_created and "经济开发区" not in report.units_created
    assert session.exec(select(Unit).where(Unit.name == "县科技局")).one().kind == UnitKind.department
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "plan.import")).one()


def test_without_towns_the_group_is_reported_empty(session: Session, now: datetime) -> None:
    report = importing.import_plan(session, result=seed_result(), actor=None, now=now)
    codes = {w.code for w in report.warnings}
    assert codes == {"unit.created", "group.empty", "goal.unquantified"}
    zone = session.exec(select(Unit).where(Unit.name == "经济开发区")).one()
    assert zone.kind == UnitKind.zone
    assert session.exec(select(func.count()).select_from(Assignment)).one() == 0


def test_import_is_all_or_nothing(session: Session, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    towns_and_zone(session)
    before = counts(session)
    real = assignment_service.assign
    calls = {"n": 0}

    def failing(**kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full")
        return real(**kw)

    monkeypatch.setattr(assignment_service, "assign", failing)
    with pytest.raises(RuntimeError):
        importing.import_plan(session, result=seed_result(), actor=None, now=now, publish=True)
    session.expire_all()
    assert counts(session) == before
    assert before["Plan"] == 0 and before["Task"] == 0


def test_dry_run_preview_changes_nothing(session: Session) -> None:
    before = counts(session)
    out = importing.preview(session, seed_result(), now=DEFAULT_NOW)
    assert counts(session) == before
    assert out["summary"]["tasks"] == 15 and len(out["document"]["sections"]) == 5
    # The same warnings as the import itself gives (no town yet: 各镇街 has no members).
    assert {w["code"] for w in out["warnings"]} == {"unit.created", "goal.unquantified", "group.empty"}
    assert any(w["text"] == "县科技局" for w in out["warnings"])


def test_duplicate_and_missing_codes_are_made_unique(session: Session, now: datetime) -> None:
    first = [{"code": "1", "title": "任务甲", "lead_units": ["县科技局"]}]
    second = [
        {"code": "1", "title": "任务乙", "lead_units": ["各有关单位"]},
        {"title": "任务丙", "lead_units": ["各乡镇"]},
    ]
    doc = {
        "plan": {"title": "测试计划"},
        "sections": [
            {"code": "一", "title": "甲", "tasks": first},
            {"code": "一", "title": "乙", "tasks": second},
        ],
    }  # fmt: skip
    report = importing.import_plan(
        session, result=importing.read_plan(json.dumps(doc)), actor=None, now=now, publish=True
    )
    tasks = session.exec(
        select(Task).where(Task.plan_id == report.plan_id).order_by(col(Task.position))
    ).all()
    assert len({t.code for t in tasks}) == 3
    labels = session.exec(select(TaskUnit.label).where(col(TaskUnit.label).is_not(None))).all()
    assert labels == ["各有关单位"]
    codes = [w.code for w in report.warnings]
    assert "task.unassigned" in codes and "group.created" in codes
    assert report.assignments == 1


@pytest.mark.parametrize(
    ("data", "filename", "status"),
    [
        (b"PK\x03\x04 not really a zip", "plan.docx", {415, 422}),
        (b"{ not json", "plan.json", {422}),
        (b'{"sections": "nope"}', "plan.json", {422}),
        ("只有一句话，没有任何任务。".encode(), "plan.txt", {422}),
    ],
)
def test_bad_files_are_typed_errors(data: bytes, filename: str, status: set[int], session: Session,
                                    now: datetime) -> None:  # fmt: skip
    from duban.errors import DubanError

    with pytest.raises(DubanError) as info:
        importing.import_plan(
            session, result=importing.read_plan(data, filename=filename), actor=None, now=now
        )
    assert info.value.status_code in status


# --- REST ------------------------------------------------------------------------------------------


def test_rest_upload_of_a_utf16_or_gbk_text_is_read(client: TestClient, as_role: AsRole) -> None:
    """Notepad's 「Unicode」 (UTF-16 with its mark) and GBK: read, not refused 415."""
    text = SEED.read_text(encoding="utf-8")
    for data in (text.encode("utf-16"), text.encode("gbk")):
        files = {"file": ("计划.txt", data, "text/plain")}
        r = client.post(
            "/api/v1/plans/import", params={"dry_run": "true"}, files=files, headers=as_role("office")
        )
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["tasks"] == 15
    # A format it cannot read still says why, in Chinese.
    files = {"file": ("计划.zip", b"PK\x03\x04garbage", "application/octet-stream")}
    r = client.post("/api/v1/plans/import", files=files, headers=as_role("office"))
    assert r.status_code == 415 and r.json()["error"]["details"]["reason"] == "压缩包已损坏"


def test_rest_upload_dry_run_then_commit(client: TestClient, as_role: AsRole, session: Session) -> None:
    headers = as_role("office")
    files = {"file": ("lianshui.txt", SEED.read_bytes(), "text/plain")}
    r = client.post("/api/v1/plans/import", params={"dry_run": "true"}, files=files, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["summary"]["tasks"] == 15
    assert body["document"]["plan"]["doc_no"] == "涟政办发〔2024〕7号"
    assert session.exec(select(func.count()).select_from(Plan)).one() == 0

    r = client.post("/api/v1/plans/import", files=files, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tasks"] == 15 and body["sections"] == 5 and body["plan_id"]
    assert r.headers["location"] == f"/api/v1/plans/{body['plan_id']}"
    assert client.get(f"/api/v1/plans/{body['plan_id']}", headers=headers).status_code == 200


def test_rest_text_and_json_bodies(client: TestClient, as_role: AsRole) -> None:
    headers = as_role("admin")
    r = client.post("/api/v1/plans/import", content=SEED.read_text("utf-8").encode(),
                    headers={**headers, "Content-Type": "text/plain; charset=utf-8"})  # fmt: skip
    assert r.status_code == 201, r.text
    doc = {"plan": {"title": "JSON 计划"}, "sections": [{"code": "一", "title": "甲", "tasks": [
        {"code": "1", "title": "任务", "lead_units": ["县科技局"], "due": "2025-06-30"}]}]}  # fmt: skip
    r = client.post("/api/v1/plans/import", json=doc, params={"publish": "true"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["assignments"] == 1


def test_rest_rejects_bad_input_without_500(
    client: TestClient, as_role: AsRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = as_role("office")
    cases = [
        ({"files": {"file": ("x.docx", b"PK\x03\x04garbage", "application/octet-stream")}}, {415, 422}),
        ({"files": {"file": ("x.json", b"{oops", "application/json")}}, {422}),
        ({"content": b"", "headers": {"Content-Type": "text/plain"}}, {422}),
        ({"files": {"other": ("x.txt", b"abc", "text/plain")}}, {422}),
        ({"content": "没有任务的文字".encode(), "headers": {"Content-Type": "text/plain"}}, {422}),
    ]
    for kw, statuses in cases:
        extra = kw.pop("headers", {})
        r = client.post("/api/v1/plans/import", headers={**headers, **extra}, **kw)
        assert r.status_code in statuses, (kw, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 1000)
    r = client.post("/api/v1/plans/import", headers=headers,
                    files={"file": ("big.txt", SEED.read_bytes(), "text/plain")})  # fmt: skip
    assert r.status_code == 413 and r.json()["error"]["code"] == "import.too_large"


def test_rest_import_needs_office(client: TestClient, as_role: AsRole) -> None:
    for role in ("unit_head", "viewer", "leader"):
        r = client.post("/api/v1/plans/import", files={"file": ("p.txt", SEED.read_bytes(), "text/plain")},
                        headers=as_role(role))  # fmt: skip
        assert r.status_code == 403, role


def test_xlsx_export_then_import_keeps_the_structure(
    client: TestClient, as_role: AsRole, session: Session, now: datetime
) -> None:
    towns_and_zone(session)
    first = importing.import_plan(session, result=seed_result(), actor=None, now=now)
    r = client.get(f"/api/v1/plans/{first.plan_id}/export.xlsx", headers=as_role("viewer"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    again = importing.read_plan(r.content, filename="export.xlsx")
    second = importing.import_plan(session, result=again, actor=None, now=now, new_version_of=first.plan_id)
    assert second.units_created == [] and (second.sections, second.tasks) == (5, 15)
    a = importing.plan_to_document(session, first.plan_id or 0)
    b = importing.plan_to_document(session, second.plan_id or 0)
    assert a.sections == b.sections
    assert a.plan == b.plan
    assert [i.name for i in a.indicators] == [i.name for i in b.indicators]
    assert client.get("/api/v1/plans/999999/export.xlsx", headers=as_role("viewer")).status_code == 404


# --- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(committed_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the CLI (settings and the global engine) at a committed database of its own."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", committed_url)
    get_settings.cache_clear()
    duban_db.set_engine(None)
    yield committed_url
    duban_db.get_engine().dispose()
    duban_db.set_engine(None)
    get_settings.cache_clear()


def _count_plans() -> int:
    with duban_db.session_scope() as s:
        return s.exec(select(func.count()).select_from(Plan)).one()


def test_cli_import_dry_run_commit_and_export(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli_main(["plan", "import", str(SEED), "--dry-run", "--json"]) == 0
    printed = capsys.readouterr().out
    out = json.loads(printed)
    assert len(out["document"]["sections"]) == 5 and out["summary"]["tasks"] == 15
    # The real clock: the seed's 2025 deadlines have passed; no town yet, so 各镇街 is empty.
    codes = {"unit.created", "goal.unquantified", "group.empty", "deadline.past"}
    assert {w["code"] for w in out["warnings"]} == codes
    assert _count_plans() == 0
    assert _count_plans() == 0

    assert cli_main(["plan", "import", str(SEED), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "强化高科技项目招引" in text
    # Every unit by its role, every indicator by its full name, and the goals with no number.
    assert "    牵头：县科技局；配合：县招商办、" in text and "；落实：各镇街、经济开发区" in text
    assert "国家知识产权示范企业：不低于1家，2025年12月31日前" in text
    assert "国家知识产权优势企业：不低于1家" in text and "万人高价值发明专利拥有量：不低于3.71件" in text
    assert "未量化的目标（13 条" in text and "  - 科技财政支出逐年增长" in text
    assert "2025-12-31" not in text and ">=" not in text
    assert _count_plans() == 0

    assert cli_main(["plan", "import", str(SEED)]) == 0
    text = capsys.readouterr().out
    assert "已导入计划" in text and "任务 15 项" in text
    assert _count_plans() == 1

    target = tmp_path / "breakdown.xlsx"
    with duban_db.session_scope() as s:
        plan_id = s.exec(select(Plan.id)).one()
    assert cli_main(["plan", "export", str(plan_id), "-o", str(target)]) == 0
    assert parse(target.read_bytes(), filename="x.xlsx").document.tasks()[0].lead_units == ["县科技局"]
    assert cli_main(["plan", "export", "999999", "-o", str(target)]) == 1
    # What the dry run prints imports back unchanged, as a draft, then publishes.
    dry = tmp_path / "dry-run.json"
    dry.write_text(printed, encoding="utf-8")
    capsys.readouterr()
    assert cli_main(["plan", "import", str(dry), "--json", "--new-version-of", str(plan_id)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state"] == "draft" and report["tasks"] == 15 and report["assignments"] == 0
    assert report["supersedes_id"] == plan_id
    # The same warnings as its dry run, less the units the first import has since created.
    assert [w["code"] for w in report["warnings"]] == [
        w["code"] for w in out["warnings"] if w["code"] != "unit.created"
    ]
    assert cli_main(["plan", "import", str(SEED)]) == 1
    assert "plan.duplicate_doc_no" in capsys.readouterr().err
    assert cli_main(["plan", "publish", str(report["plan_id"])]) == 0
    assert "已发布计划" in capsys.readouterr().out
    assert cli_main(["plan", "publish", str(report["plan_id"])]) == 1
    assert "plan.not_draft" in capsys.readouterr().err


def test_cli_reports_unreadable_input(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli_main(["plan", "import", str(tmp_path / "missing.txt")]) == 1
    assert "无法读取文件" in capsys.readouterr().err
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 broken")
    assert cli_main(["plan", "import", str(bad)]) == 1
    assert "无法导入" in capsys.readouterr().err
    assert _count_plans() == 0


# --- corpus ----------------------------------------------------------------------------------------

CORPUS_FILES = sorted(CORPUS.glob("*.txt")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="shared corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem[:24])
def test_corpus_plans_import(path: Path, session: Session, now: datetime) -> None:
    result = importing.read_plan(path.read_bytes(), filename=path.name)
    expected = sum(1 for _ in importing._walk(result.document.tasks()))
    report = importing.import_plan(session, result=result, actor=None, now=now)
    assert report.tasks == expected > 0
    stored = session.exec(select(func.count()).select_from(Task).where(Task.plan_id == report.plan_id)).one()
    assert stored == expected
    assert BytesIO(export_xlsx(importing.plan_to_document(session, report.plan_id or 0))).getvalue()


# --- documents it cannot read: a Chinese reason, for the API and the CLI alike ---------------------


def _unreadable_documents() -> list[tuple[str, bytes, int, str]]:
    from pypdf import PdfWriter

    def pdf(encrypt: bool) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(200, 200)
        if encrypt:
            writer.encrypt("secret")
        buf = BytesIO()
        writer.write(buf)
        return buf.getvalue()

    word = BytesIO()
    from docx import Document

    Document().save(word)
    return [
        ("计划.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), 415, "另存为 .docx"),
        ("计划.docx", b"\x00\x01random bytes, not a zip" * 20, 415, "内容不是 .docx 文档"),
        ("计划.pdf", b"%PDF-1.4\n%broken\n", 422, "PDF 文件已损坏"),
        ("扫描件.pdf", pdf(encrypt=False), 422, "扫描件"),
        ("加密.pdf", pdf(encrypt=True), 422, "已加密"),
        ("照片.png", b"\x89PNG\r\n\x1a\n" + bytes(100), 415, "图片文件不能导入"),
        ("计划.json", b'{"plan": ', 422, "计划 JSON 无法解析"),
        # A .docx named .xlsx is read as the Word document it is (no tasks in an empty one).
        ("分解表.xlsx", word.getvalue(), 422, "未识别出任何任务"),
    ]


def test_rest_unreadable_documents_say_why_in_chinese(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    headers = as_role("office")
    for name, data, status, words in _unreadable_documents():
        for dry_run in ("true", "false"):
            r = client.post(
                "/api/v1/plans/import",
                params={"dry_run": dry_run},
                files={"file": (name, data, "application/octet-stream")},
                headers=headers,
            )
            assert r.status_code == status, (name, r.text)
            error = r.json()["error"]
            assert words in error["message"], (name, error)
            assert english_words(error["message"]) == [] and "Traceback" not in r.text
    assert session.exec(select(func.count()).select_from(Plan)).one() == 0


def test_cli_unreadable_documents_say_why_without_a_traceback(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, data, _status, words in _unreadable_documents():
        path = tmp_path / name
        path.write_bytes(data)
        assert cli_main(["plan", "import", str(path), "--dry-run"]) == 1
        captured = capsys.readouterr()
        assert words in captured.err, (name, captured.err)
        assert "Traceback" not in captured.err and "EOF marker" not in captured.err
    assert cli_main(["plan", "import", str(tmp_path)]) == 1
    assert "这是一个目录" in capsys.readouterr().err
    assert cli_main(["plan", "import", str(tmp_path / "没有.txt")]) == 1
    assert "文件不存在" in capsys.readouterr().err
    assert _count_plans() == 0
