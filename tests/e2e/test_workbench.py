"""The workbench (/app) in headless Chromium against a real uvicorn over a real migrated database.

One journey across roles — the office imports the seed plan in the browser, the unit head accepts,
the staff member reports with an attachment, the office approves, a leader issues a 批示, the unit
replies, the office downloads a bulletin — plus refusals, session refresh, screenshots at 1280 and
390 px, and an axe-core accessibility check.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from playwright.sync_api import expect
from sqlmodel import Session, func, select

from api.main import create_app
from duban.clock import FixedClock
from duban.db import make_engine, session_scope
from duban.models import Indicator, UnitKind
from duban.settings import get_settings
from notifier.runner import Runner
from tests.conftest import DEFAULT_NOW
from tests.factories import make_unit, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.committed]
# As generous as the pages' own timeout: CI runs these beside the rest of the suite on two cores.
expect.set_options(timeout=30000)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "services" / "duban" / "cli" / "demo_data" / "lianshui-2024-2025-plan.txt"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "workbench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "Workbench-Passw0rd"
USERS = {
    "wb_office": (["office"], None),
    "wb_leader": (["leader"], None),
    "wb_head": (["unit_head"], "县科技局"),
    "wb_staff": (["unit_staff"], "县科技局"),
    "wb_other": (["unit_head"], "县财政局"),
    "wb_admin": (["admin"], None),
}


# The browser drives the same REST API on either database, and the API's own tests cover both; so
# in a run with both, the pages (with their screenshots and axe checks) are driven on PostgreSQL
# only: on this 2-core machine the SQLite runs cost three minutes of CI for no behaviour of their own.
_BACKENDS = [b.strip() for b in os.environ.get("DUBAN_TEST_BACKENDS", "sqlite,postgresql").split(",")]
PAGES_BACKEND = "postgresql" if "postgresql" in _BACKENDS else "sqlite"


@pytest.fixture
def pages_backend(backend: str) -> None:
    """Skips before any database or server is made for a backend the pages are not driven on."""
    if backend != PAGES_BACKEND:
        pytest.skip(f"the workbench's pages are driven on {PAGES_BACKEND} in a run with both databases")


@dataclass
class Served:
    base: str
    clock: FixedClock
    engine: Any
    units: dict[str, int] = field(default_factory=dict)

    def notify(self) -> None:
        """One notifier pass (scan and deliver): fills the in-app inboxes from the outbox."""
        runner = Runner(engine=self.engine, clock=self.clock, settings=get_settings(), workers=1)
        try:
            runner.one_pass()
        finally:
            runner.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(pages_backend: None, committed_url: str) -> Iterator[Served]:
    """uvicorn on a free loopback port; the units and people exist, no plan yet (the office imports it)."""
    engine = make_engine(committed_url)
    units: dict[str, int] = {}
    with Session(engine, expire_on_commit=False) as session:
        for name in ("县科技局", "县财政局"):
            units[name] = make_unit(session, name=name, kind=UnitKind.department).id or 0
        for username, (roles, unit) in USERS.items():
            make_user(
                session,
                username=username,
                full_name=username,
                roles=roles,
                unit_id=units.get(unit or ""),
                password=PASSWORD,
            )
        session.commit()
    clock = FixedClock(DEFAULT_NOW)
    app = create_app()

    def factory() -> AbstractContextManager[Session]:
        return session_scope(engine)

    app.state.session_factory = factory
    app.state.clock = clock
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", clock, engine, units)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing and CI is set: install it (scripts/test.sh does)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Person:
    """One person's browser context (own storage, so own session) with console errors collected."""

    def __init__(
        self,
        browser: Any,
        base: str,
        username: str,
        *,
        width: int = 1280,
        mobile: bool = False,
        timezone: str = "Asia/Shanghai",
    ):
        self.base = base
        self.context = browser.new_context(
            viewport={"width": width, "height": 900 if width > 500 else 844},
            is_mobile=mobile,
            accept_downloads=True,
            locale="zh-CN",
            timezone_id=timezone,
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "console",
            lambda m: m.type == "error" and "status of 4" not in m.text and self.errors.append(m.text),
        )
        # Generous: CI runs these beside the rest of the suite on two cores.
        self.page.set_default_timeout(30000)
        self.username = username

    def sign_in(self, next_path: str = "/app") -> Any:
        page = self.page
        page.goto(self.base + next_path)
        page.wait_for_selector("#login-form")
        page.fill("#username", self.username)
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("header.top")
        return page

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_selector("header.top")
        return self.page


def _axe(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected <script>.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    run = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert run["passes"], "axe ran no checks"
    result = run["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def _not_blank(page: Any, path: Path) -> None:
    """Saves a screenshot and checks it shows something: many distinct colours, not one flat fill."""
    png = page.screenshot(path=str(path), full_page=True)
    assert len(png) > 15000, f"{path.name} looks blank ({len(png)} bytes)"
    colours = page.evaluate(
        """() => new Set([...document.querySelectorAll('body *')].slice(0, 400)
              .map(e => getComputedStyle(e).backgroundColor + getComputedStyle(e).color)).size"""
    )
    assert colours > 4, f"{path.name}: only {colours} colour combinations"
    text = page.evaluate("() => document.body.innerText.trim().length")
    assert text > 50, f"{path.name}: almost no text"


def _edit_draft_task(page: Any) -> None:
    """Task 1 of the draft: a co-unit removed and one added, a plan indicator tied to it and edited."""
    page.locator("tr[data-task-code='1'] [data-edit-task]").click()
    editor = page.locator(".task-editor").first
    expect(editor).to_be_visible()
    editor.locator("tr[data-unit='县招商办'] button", has_text="移除").click()
    editor.locator("select[id$='-role']").last.select_option("co")
    editor.locator("select[id$='-pick']").select_option(label="县财政局")
    editor.locator("button[id$='-add']").click()
    editor.locator("button[id$='-save']").click()
    expect(editor.locator(".msg.ok")).to_contain_text("已保存责任单位")
    units = page.locator("tr[data-task-code='1'] td[data-label=责任单位]")
    expect(units).to_contain_text("配合：县财政局")
    expect(units).not_to_contain_text("县招商办")
    # One of the plan's indicators (the seed's are not tied to tasks) linked to task 1, then edited.
    linker = editor.locator("select[id^='link-ind-']")
    name = linker.locator("option").nth(1).inner_text()
    linker.select_option(index=1)
    editor.locator(".task-indicators button", has_text="关联").click()
    item = editor.locator(".task-indicators li.indicator", has_text=name)
    expect(item).to_be_visible()
    item.locator("[data-edit-indicator]").click()
    form = editor.locator(".task-indicators form.indicator-form")
    form.locator("input[id$='-value']").fill("2.5")
    form.locator("select[id$='-owner']").select_option(label="县科技局")
    form.locator("button[type=submit]").click()
    expect(page.locator("tr[data-task-code='1'] td[data-label=指标与目标]")).to_contain_text("不低于 2.5")
    expect(editor.locator("[data-edit-indicator]")).to_be_focused()  # back where the edit began
    linked = editor.locator(".task-indicators li.indicator", has_text=name)
    expect(linked).to_contain_text("责任单位：县科技局")
    # 收起 from the keyboard: the editor closes and focus goes back to the row's 编辑 button.
    editor.locator(".buttons button", has_text="收起").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".task-editor")).to_have_count(0)
    expect(page.locator("tr[data-task-code='1'] [data-edit-task]")).to_be_focused()


def _pick_date(page: Any, row: str) -> None:
    """A task's deadline picked in the Chinese calendar, by mouse and then by keyboard."""
    toggle = page.locator(f"{row} .datebtn")
    toggle.click()
    pop = page.locator(".datepop")
    expect(pop).to_be_visible()
    expect(pop.locator("thead")).to_contain_text("一二三四五六日")
    pop.locator("select[aria-label=年]").select_option("2026")
    pop.locator("select[aria-label=月]").select_option("6")
    pop.locator("button[data-day='2026-06-29']").click()
    expect(pop).to_have_count(0)
    expect(page.locator(f"{row} input.date")).to_have_value("2026-06-29")
    expect(page.locator(f"{row} .datehint")).to_have_text("星期一")
    # Keyboard: open from the button, the picked day has focus, → moves a day, Enter picks it.
    page.locator(f"{row} .datebtn").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".datepop button[data-day='2026-06-29']")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".datepop button[data-day='2026-06-30']")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f"{row} input.date")).to_have_value("2026-06-30")
    expect(page.locator(f"{row} .datebtn")).to_be_focused()
    # Esc closes it with nothing changed.
    page.keyboard.press("Enter")
    expect(page.locator(".datepop")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".datepop")).to_have_count(0)


def _import_seed(
    office: Person,
    *,
    fix: bool = False,
    shift: bool = False,
    edit: bool = False,
    at_draft: Callable[[Any], None] | None = None,
) -> int:
    """Upload → preview with warnings → a draft → names and dates fixed → 交办 (publish)."""
    page = office.go("/app/intake")
    page.set_input_files("#intake-file", str(SEED))
    page.wait_for_selector("#import-preview")
    preview = page.inner_text("#import-preview")
    assert "强化高科技项目招引" in preview
    assert page.eval_on_selector_all(
        "#import-preview input", "els => els.some(e => e.value.includes('县科技局'))"
    )
    if fix:
        # The office fixes a task's units in the preview, re-checks, and imports the fixed document.
        cell = page.locator("tr[data-task-code='2'] input[id$='co_units']")
        cell.fill("县财政局")
        cell.press("Tab")
        page.click("#recheck-import")
        page.wait_for_selector("#import-preview ~ .msg.ok, .msg.ok")
        assert page.locator("tr[data-task-code='2'] input[id$='co_units']").input_value() == "县财政局"
    page.click("#do-import")
    # A draft: nothing assigned yet, its warnings inline.
    draft = page.locator("#draft")
    expect(draft).to_be_visible()
    plan_id = int(draft.get_attribute("data-plan") or 0)
    expect(page.locator("#draft .head")).to_contain_text("草稿")
    expect(page.locator("#draft-tasks")).to_contain_text("强化高科技项目招引")
    # The units nobody can sign in for yet are named (the seed's, not the two with people).
    nousers = page.locator("#draft-nousers")
    expect(nousers).to_contain_text("县工信局")
    expect(nousers).not_to_contain_text("县科技局")
    if at_draft:
        at_draft(page)
    # Each unconfirmed name: its best suggestion, or a new unit when there is none.
    names = page.locator("#draft-names li[data-name]")
    for _ in range(60):
        if page.locator("#names-ok").count():
            break
        item = names.first
        name = item.get_attribute("data-name")
        item.locator("button[type=submit]").click()
        expect(page.locator(f"#draft-names li[data-name='{name}']")).to_have_count(0)
    expect(page.locator("#names-ok")).to_be_visible()
    if shift:
        # Every date a year later, then one task's date set by hand.
        before = page.locator("tr[data-task-code='1'] input.date").input_value()
        page.fill("#shift-years", "1")
        page.click("#shift-form button[type=submit]")
        expect(page.locator("#shift-form .msg.ok")).to_contain_text("已顺延")
        after = page.locator("tr[data-task-code='1'] input.date")
        expect(after).to_have_value(str(int(before[:4]) + 1) + before[4:])

    # The field shows the date at once and saves it in the background: the reload below waits for
    # the save of 2026-06-30 to be answered (under load it came after the reload: 2026-06-29 shown).
    def saved(r: Any) -> bool:
        return (
            r.request.method == "PATCH" and "/tasks/" in r.url and "2026-06-30" in (r.request.post_data or "")
        )

    with page.expect_response(saved):
        if edit:
            _edit_draft_task(page)
            _pick_date(page, "tr[data-task-code='3']")
        else:
            # Typed as people write it; read as 2026-06-30 and saved when the field is left.
            due = page.locator("tr[data-task-code='3'] input.date")
            due.fill("2026年6月30日")
            due.press("Tab")
    expect(page.locator("tr[data-task-code='3'] input.date")).to_have_value("2026-06-30")
    page.reload()  # saved, not only shown
    expect(page.locator("tr[data-task-code='3'] input.date")).to_have_value("2026-06-30")
    # 交办: a confirmation dialog, then every unit told once.
    page.click("#publish-plan")
    dialog = page.locator("dialog.dialog")
    expect(dialog).to_contain_text("确认交办")
    dialog.locator("button[type=submit]").click()
    done = page.locator("#publish-done")
    expect(done).to_contain_text("已交办")
    expect(done).to_contain_text("生成交办事项")
    page.click("#publish-done a")
    page.wait_for_selector("#breakdown-table")
    assert "/app/breakdown?plan=" in page.url
    assert int(page.url.split("plan=")[1].split("&")[0]) == plan_id
    return plan_id


def test_workbench_journey_across_roles(served: Served, browser: Any, backend: str, tmp_path: Path) -> None:
    base = served.base
    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)

    # The office signs in and imports the seed plan: upload → preview with warnings → import.
    office = Person(browser, base, "wb_office")
    office.sign_in()
    assert office.page.url.endswith("/app/breakdown")  # the office's home
    plan_id = _import_seed(office, edit=True)
    table = office.page.inner_text("#breakdown-table")
    assert "（一）实施创新主体培育攻坚行动" in table and "县科技局" in table
    page = office.go(f"/app/plans/{plan_id}")  # an item link opens the screen that shows it
    page.wait_for_selector("#breakdown-table")
    assert page.url.endswith(f"/app/breakdown?plan={plan_id}")
    served.notify()  # assignment notices into the units' inboxes

    # The unit head: the inbox has unread notices whose links open the assignment (deep link).
    head = Person(browser, base, "wb_head")
    page = head.sign_in()
    assert page.url.endswith("/app/tasks")
    page.wait_for_selector("#tasks-table")
    assert int(page.inner_text("[data-tab=accept] .count")) > 0
    assert "剩余" in page.inner_text("#tasks-table")  # working days left, from the API
    page.click("a[href='/app/inbox']")
    page.wait_for_selector("#inbox-unread")
    assert int(page.inner_text("#inbox-unread")) > 0
    assert page.locator("#unread-count").count() == 1
    # One 交办 notice per unit for the published plan, listing its tasks; it opens 我的待办.
    notice = page.locator(
        ".inbox li.unread[data-target^='/app/assignments'] button.notice", has_text="计划交办"
    )
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("强化高科技项目招引")
    notice.click()
    page.wait_for_selector("#tasks-table")
    assert page.url.endswith("/app/tasks")
    page.go_back()  # browser history works
    page.wait_for_selector(".inbox")
    page.go_forward()
    page.wait_for_selector("#tasks-table")

    # The list links notifications name (the daily digest's /app/assignments) open the right screen.
    page.goto(f"{base}/app/assignments")
    page.wait_for_selector("#tasks-table")
    assert page.url.endswith("/app/tasks")

    # Accept task 1 (强化高科技项目招引), the current period.
    page.goto(f"{base}/app/tasks?tab=accept")
    row = page.locator("#tasks-table tr", has_text="强化高科技项目招引").last
    assignment_id = int(row.get_attribute("data-id"))
    row.locator("a").click()
    page.wait_for_selector("article.assignment[data-state=assigned]")
    page.click("[data-action=accept]")
    page.wait_for_selector("article.assignment[data-state=accepted]")
    assert "签收" in page.inner_text("#history")

    # The staff member reports progress with an attachment (picker), saves a draft, then submits.
    staff = Person(browser, base, "wb_staff")
    page = staff.sign_in(f"/app/assignments/{assignment_id}")  # deep link survives sign-in
    page.wait_for_selector("#report-form")
    page.fill("#report-text", "已对接高科技项目12个，签约3个。")
    page.fill("#report-percent", "40")
    # The indicator the office tied to task 1 on the draft is reported with it.
    indicator = page.locator("#report-form fieldset input[id^='ind-']")
    expect(indicator).to_have_count(1)
    expect(page.locator("#report-form fieldset")).to_contain_text("目标 ≥ 2.5")
    indicator.fill("1.6")
    page.click("#save-draft")
    page.wait_for_selector("#report-form .msg.ok")
    attachment = tmp_path / "进展佐证.pdf"
    attachment.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 200_000)
    page.set_input_files("#report-files", str(attachment))
    # Auto-waiting assertions: the upload finishes, then the draft's attachment list is refreshed.
    expect(page.locator(".uploads li.done")).to_contain_text("进展佐证.pdf")
    expect(page.locator("#report-attachments")).to_contain_text("进展佐证.pdf")
    # A reload opens the draft in the form, whole (text and attachment), not also as a stale list item.
    page.reload()
    expect(page.locator("#report-attachments")).to_contain_text("进展佐证.pdf")
    expect(page.locator("#report-text")).to_have_value("已对接高科技项目12个，签约3个。")
    expect(page.locator("li.report")).to_have_count(0)
    page.click("#submit-report")
    submitted = page.locator("li.report[data-state=submitted]")
    expect(submitted).to_contain_text("进展佐证.pdf")
    expect(submitted).to_contain_text("已对接高科技项目12个")
    # The form is empty again for the next report, not the sent one shown as a draft.
    expect(page.locator("#report-form-title")).to_have_text("填报本期进展")
    expect(page.locator("#report-text")).to_have_value("")

    # The office approves it in the one review queue — with the page open past the access token's
    # life: the approval (a JSON POST) is refused 401, the token refreshed, and the POST retried whole.
    page = office.go("/app/review")
    item = page.locator("#review-queue li[data-kind=report]", has_text="强化高科技项目招引")
    expect(item).to_be_visible()
    served.clock.advance(timedelta(minutes=get_settings().access_token_minutes + 5))
    item.locator("[data-decide=approve]").click()
    expect(item.locator(".msg.ok")).to_contain_text("已通过")

    # A leader finds it through the RAG picture and issues a 批示 on the assignment.
    leader = Person(browser, base, "wb_leader")
    page = leader.sign_in()
    assert page.url.endswith("/app/overview")
    page.wait_for_selector("#section-tiles .tile")
    assert page.locator("#section-tiles .tile").count() == 5
    page.locator("#section-tiles .tile").first.locator("button").click()
    page.locator("#section-tasks .tile", has_text="强化高科技项目招引").locator("button").click()
    page.locator(f"#section-tasks table.drill a[href='/app/assignments/{assignment_id}']").click()
    page.wait_for_selector("#instruction-form")
    expect(page.locator("li.report[data-state=approved]")).to_contain_text("进展佐证.pdf")
    page.fill("#instruction-text", "请加快签约项目落地，月底前报送进展。")
    page.click("#instruction-form button[type=submit]")
    page.wait_for_selector("li.instruction")

    # The unit replies to the 批示.
    page = head.go("/app/instructions")
    page.wait_for_selector(".card.pending")
    page.locator(".card.pending a").first.click()
    page.wait_for_selector("li.instruction form")
    page.fill("li.instruction input", "已部署，月底前报送。")
    page.click("li.instruction form button")
    page.wait_for_selector("li.instruction .reply")
    assert "已部署" in page.inner_text("li.instruction .reply")

    # The office generates a bulletin, previews it and downloads the Word file.
    page = office.go(f"/app/bulletins?plan={plan_id}")
    page.click("#generate-bulletin")
    page.wait_for_selector("#bulletin-preview .markdown h2")
    assert "通报" in page.inner_text("#bulletin-preview")
    with page.expect_download() as info:
        page.click("#download-docx")
    download = info.value
    saved = tmp_path / "bulletin.docx"
    download.save_as(saved)
    assert download.suggested_filename.endswith(".docx") and saved.read_bytes()[:2] == b"PK"
    page.click("#publish-bulletin")
    page.wait_for_selector("#bulletin-preview .tag.green")

    # The access token expires; the next request refreshes it without the user noticing.
    served.clock.advance(timedelta(minutes=get_settings().access_token_minutes + 5))
    page = office.go("/app/review")
    page.wait_for_selector("#review-queue, .empty")
    assert "/app/login" not in page.url

    for person in (office, head, staff, leader):
        assert person.errors == [], (person.username, person.errors)


def test_workbench_refusals_screens_and_accessibility(served: Served, browser: Any, backend: str) -> None:
    base = served.base
    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    office = Person(browser, base, "wb_office")
    office.sign_in()
    drafts: dict[str, Any] = {}

    def draft_screens(page: Any) -> None:
        # The draft as the office first sees it, at 1280 and 390 px: not blank, no serious axe finding;
        # then with task 1's editor open, and with the calendar open (a sheet at the bottom on a phone).
        for width, name in ((1280, "draft"), (390, "draft-390")):
            page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
            if width < 500:
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
            if backend == PAGES_BACKEND:
                _not_blank(page, ARTIFACTS / f"{name}.png")
                drafts[name] = _axe(page)
            page.locator("tr[data-task-code='1'] [data-edit-task]").click()
            expect(page.locator(".task-editor")).to_be_visible()
            if backend == PAGES_BACKEND and width > 500:  # the editor on its own, for docs/screenshots
                shot = ARTIFACTS / "draft-task-editor.png"
                bar = "document.getElementById('publish-bar').style.visibility"
                page.evaluate(f"{bar} = 'hidden'")  # the sticky bar would cover the middle
                page.locator("tr.editor").screenshot(path=str(shot))
                page.evaluate(f"{bar} = ''")
            page.locator("tr[data-task-code='1'] .datebtn").click()
            expect(page.locator(".datepop")).to_be_visible()
            if width < 500:
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, name + "-editor"
                box = page.locator(".datepop").bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            if backend == PAGES_BACKEND:
                page.locator(".task-editor").scroll_into_view_if_needed()
                _not_blank(page, ARTIFACTS / f"{name}-editor.png")
                drafts[name + "-editor"] = _axe(page)
                if width > 500:
                    page.locator(".datepop").screenshot(path=str(ARTIFACTS / "datepicker.png"))
            page.keyboard.press("Escape")
            page.locator("tr[data-task-code='1'] [data-edit-task]").click()
            expect(page.locator(".task-editor")).to_have_count(0)
        page.set_viewport_size({"width": 1280, "height": 900})

    _import_seed(office, fix=True, shift=True, at_draft=draft_screens)
    assert all(found == [] for found in drafts.values()), drafts
    row = office.page.locator("#breakdown-table tr", has_text="加快培育创新型企业集群")
    assert "县财政局" in row.inner_text()

    head = Person(browser, base, "wb_head")
    page = head.sign_in()
    page.wait_for_selector("#tasks-table")
    own_id = int(page.locator("#tasks-table tr[data-id]").first.get_attribute("data-id"))

    # Another unit's item by URL: the API's own Chinese message, not a code.
    other = Person(browser, base, "wb_other")
    page = other.sign_in(f"/app/assignments/{own_id}")
    page.wait_for_selector(".msg.error")
    assert "交办事项不存在" in page.inner_text(".msg.error")

    # An illegal action from a stale page: accepted in one tab, then returned in another.
    stale = head.context.new_page()
    stale.goto(f"{base}/app/assignments/{own_id}")
    stale.wait_for_selector("[data-action=return]")
    page = head.go(f"/app/assignments/{own_id}")
    page.click("[data-action=accept]")
    page.wait_for_selector("article.assignment[data-state=accepted]")
    stale.click("[data-action=return]")
    stale.fill("#action-reason", "不属于本单位职责")
    stale.click("#confirm-action")
    stale.wait_for_selector(".actions-bar .msg.error")
    assert "已被他人修改，请刷新" in stale.inner_text(".actions-bar .msg.error")
    # An extension to a date before the current due date is refused with the API's message.
    page.click("#ask-extension")
    page.fill("#ext-date", "2020-01-01")
    page.fill("#ext-reason", "测试")
    page.click("form[aria-label=申请延期] button[type=submit]")
    page.wait_for_selector("section[aria-labelledby=ext-title] .msg.error")
    refusal = page.inner_text("section[aria-labelledby=ext-title] .msg.error")
    assert refusal and not refusal.startswith("请求失败")  # a sentence from the API, not a status line

    # Screenshots at 1280 px and 390 px, checked not blank; axe-core finds no serious violations.
    leader = Person(browser, base, "wb_leader")
    leader.sign_in()
    phone = Person(browser, base, "wb_head", width=390, mobile=True)
    phone.sign_in()
    screens = [
        (office, "/app/breakdown", "#breakdown-table", "breakdown"),
        (office, "/app/review", "#review-queue, .empty", "review"),
        (head, "/app/tasks?tab=all", "#tasks-table", "tasks"),
        (head, f"/app/assignments/{own_id}", "#report-form", "assignment"),
        (head, "/app/inbox", ".inbox, .empty", "inbox"),
        (leader, "/app/overview", "#section-tiles .tile", "overview"),
        (phone, "/app/tasks?tab=all", "#tasks-table", "tasks-390"),
        (phone, f"/app/assignments/{own_id}", "#report-form", "assignment-390"),
    ]
    problems = {}
    for person, path, ready, name in screens:
        page = person.go(path)
        page.wait_for_selector(ready)
        if person is phone:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (name, width)  # no sideways scrolling on a phone
        if backend == PAGES_BACKEND:
            _not_blank(page, shots / f"{name}.png")
            found = _axe(page)
            if found:
                problems[name] = found
    assert problems == {}, problems

    # Print: the breakdown table alone, without the app's header and buttons.
    page = office.go("/app/breakdown")
    page.wait_for_selector("#breakdown-table")
    page.emulate_media(media="print")
    assert not page.is_visible("header.top") and not page.is_visible("button[data-assign]")
    assert page.is_visible("#breakdown-table") and page.is_visible(".print-only")
    if backend == PAGES_BACKEND:
        page.pdf(path=str(shots / "breakdown-print.pdf"))
    page.emulate_media(media="screen")

    # Keyboard: the skip link is the first stop and moves focus to the content.
    page = head.go("/app/tasks")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # The unit head adds a staff member to the unit (本单位人员), who can then sign in to the unit's work.
    page = head.go("/app/users")
    assert page.inner_text("h1") == "本单位人员"
    page.fill("#nu-username", "wb_new_staff")
    page.fill("#nu-password", PASSWORD)
    page.click("form[aria-label=新建用户] button[type=submit]")
    page.wait_for_selector("#users-table >> text=wb_new_staff")
    newcomer = Person(browser, base, "wb_new_staff")
    newcomer.sign_in()
    newcomer.page.wait_for_selector("#tasks-table")
    assert "我的待办" in newcomer.page.inner_text("h1")
    # The newcomer changes the password the head set: a wrong current one is refused with the API's
    # message and keeps the session; the change itself ends every session, and the page signs in anew.
    page = newcomer.page
    page.click("#change-password")
    page.fill("#pw-current", "not-the-password")
    page.fill("#pw-new", PASSWORD + "-2")
    page.fill("#pw-again", PASSWORD + "-2")
    page.click("#password-form button[type=submit]")
    expect(page.locator("#password-form .msg.error")).to_have_text("当前密码不正确")
    expect(page.locator("#sign-out")).to_be_visible()
    page.fill("#pw-current", PASSWORD)
    page.click("#password-form button[type=submit]")
    expect(page.locator("#password-form .msg.ok")).to_contain_text("密码已修改")
    newcomer.go("/app/tasks").wait_for_selector("#tasks-table")
    assert "/app/login" not in page.url

    # Signing out ends the session: a deep link then asks to sign in again, and returns there after.
    page = head.go("/app/tasks")
    page.click("#sign-out")
    page.wait_for_selector("#login-form")
    page.goto(f"{base}/app/assignments/{own_id}")
    page.wait_for_selector("#login-form")
    assert "next=" in page.url
    page.fill("#username", "wb_head")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("article.assignment")
    assert page.url.endswith(f"/app/assignments/{own_id}")

    # The sign-in page refuses a wrong password with the API's message.
    anon = Person(browser, base, "wb_head")
    anon.page.goto(base + "/app/login")
    anon.page.fill("#username", "wb_head")
    anon.page.fill("#password", "wrong")
    anon.page.click("#login-form button[type=submit]")
    anon.page.wait_for_selector("#login-error")
    assert anon.page.inner_text("#login-error")


def _check_screens(people_paths: list[tuple[Person, str, str, str]], backend: str) -> dict[str, Any]:
    """Each page: ready, no sideways scrolling on a phone, not blank, no serious axe violation."""
    problems: dict[str, Any] = {}
    for person, path, ready, name in people_paths:
        page = person.go(path)
        page.wait_for_selector(ready)
        if page.viewport_size["width"] < 500:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (name, width)
        if backend == PAGES_BACKEND:
            _not_blank(page, ARTIFACTS / f"{name}.png")
            found = _axe(page)
            if found:
                problems[name] = found
    return problems


def test_workbench_office_screens(served: Served, browser: Any, backend: str) -> None:
    """Comments, indicators, scoring rules, board links, service accounts, the audit log, the holiday
    calendar and the extension-reject dialog — in a browser whose own zone is not the plan's."""
    base = served.base
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The office works from a laptop set to Los Angeles: times still read as Beijing time.
    office = Person(browser, base, "wb_office", timezone="America/Los_Angeles")
    office.sign_in()
    plan_id = _import_seed(office)

    # 事项清单: a digest's link (filters of GET /assignments) lists one unit's items, said in words.
    keji = served.units["县科技局"]
    listing = f"/app/assignments?state=assigned&unit_id={keji}"
    page = office.go(listing)
    expect(page.locator("#assignments-table")).to_contain_text("强化高科技项目招引")
    expect(page.locator("#as-filter")).to_contain_text("县科技局 · 待签收")
    assert set(page.locator("#assignments-table td[data-label=责任单位]").all_inner_texts()) == {"县科技局"}
    assert page.url.endswith(listing)  # the office stays on the list, filters in the URL
    page.locator("#assignments-table tbody tr a").first.click()
    page.wait_for_selector("article.assignment")
    page = office.go(f"/app/assignments?report_missing=2025-13&unit_id={keji}")
    expect(page.locator(".msg.error")).to_contain_text("报告期格式无效")

    # 审计日志: the import, at 09:00 Beijing time (01:00 UTC; 17:00 the day before in Los Angeles).
    page = office.go("/app/audit?entity_type=plan")
    row = page.locator("#audit-table tbody tr").first
    expect(row).to_contain_text("2025/12/01 09:00")
    row.locator("button").click()
    expect(row).to_contain_text("哈希")
    page.select_option("#au-entity", "assignment")
    page.click("#audit-filter button[type=submit]")
    expect(page.locator("#audit-table")).to_contain_text("交办事项")
    assert "entity_type=assignment" in page.url

    # 指标: values, progress, forecast and RAG; the office reports a value for a period picked by the
    # indicator's cadence (the first one made quarterly here: a year and a quarter, not a typed code).
    with Session(served.engine) as session:
        first_id = session.exec(select(func.min(Indicator.id)).where(Indicator.plan_id == plan_id)).one()
        session.get(Indicator, first_id).cadence = "quarterly"  # type: ignore[union-attr]
        session.commit()
    page = office.go(f"/app/indicators?plan={plan_id}")
    expect(page.locator("#indicators-table tbody tr").first).to_be_visible()
    assert "绿灯" in page.inner_text("#ind-summary")
    first = page.locator("#indicators-table tbody tr").first
    first.locator("button").click()
    expect(page.locator("#indicator-values")).to_contain_text("各期数值")
    # It starts on the current quarter (the browser's own clock, in the plan's zone).
    here = datetime.now(ZoneInfo("Asia/Shanghai"))
    expect(page.locator("#value-period")).to_have_value(str(here.year))
    expect(page.locator("#value-form select[aria-label=季度]")).to_have_value(f"Q{(here.month - 1) // 3 + 1}")
    page.select_option("#value-period", "2025")
    page.select_option("#value-form select[aria-label=季度]", label="第三季度")
    page.fill("#value-number", "12")
    page.click("#value-form button[type=submit]")
    expect(page.locator("#indicator-values")).to_contain_text("已填报")
    expect(page.locator("#indicator-values table")).to_contain_text("2025-Q3")

    # 考核规则: the office changes a rule; it becomes version 1.
    page = office.go(f"/app/assessments?plan={plan_id}")
    expect(page.locator("#rules-version")).to_contain_text("默认规则")
    page.fill("#rule-base", "90")
    page.click("#rules-form button[type=submit]")
    expect(page.locator("#rules-form .msg.ok")).to_contain_text("第 1 版")
    page.reload()
    expect(page.locator("#rule-base")).to_have_value("90")

    # 看板链接: made once, opens the read-only board, then revoked.
    page = office.go("/app/boards")
    page.fill("#bt-name", "会议室大屏")
    page.click("#board-form button[type=submit]")
    link = page.locator("#board-link code").inner_text()
    assert "/board?token=" in link
    expect(page.locator("#board-tokens")).to_contain_text("会议室大屏")
    page.locator("#board-tokens tr[data-token] button").click()
    expect(page.locator("#board-tokens")).to_contain_text("已作废")

    # 节假日: New Year 2026 is a holiday (the package); the office loads 2027's notice as text.
    page = office.go("/app/calendar?year=2026&month=1")
    expect(page.locator("[data-date='2026-01-01']")).to_have_attribute("data-kind", "holiday")
    expect(page.locator("[data-date='2026-01-04']")).to_have_attribute("data-kind", "adjusted_workday")
    page.goto(f"{base}/app/calendar?year=2027&month=1")
    expect(page.locator("tr[data-year='2027']")).to_contain_text("未覆盖")
    page.fill(
        "#calendar-text",
        "source: 国办发明电〔2026〕1号\n休 2027-01-01..2027-01-03 元旦\n班 2027-01-09 元旦调休",
    )
    page.click("#calendar-form button[type=submit]")
    expect(page.locator("#calendar-form .msg.ok")).to_contain_text("休 3 天")
    expect(page.locator("tr[data-year='2027']")).to_contain_text("办公室载入")
    expect(page.locator("[data-date='2027-01-09']")).to_have_attribute("data-kind", "adjusted_workday")
    page.fill("#calendar-text", "休 2026-01-01 错年")
    page.click("#calendar-form button[type=submit]")
    expect(page.locator("#calendar-form .msg.error")).to_contain_text("不在 2027 年")

    # 服务账号 (administrator): the key is shown once; revoked.
    admin = Person(browser, base, "wb_admin")
    page = admin.sign_in("/app/accounts")
    page.fill("#sa-name", "oa-sync")
    page.fill("#sa-full", "县OA系统")
    page.click("#account-form button[type=submit]")
    expect(page.locator("#api-key code")).not_to_be_empty()
    row = page.locator("#accounts-table tr", has_text="oa-sync")
    expect(row).to_contain_text("读取计划")
    row.locator("button").click()
    expect(row).to_contain_text("已吊销")

    # Comments on an assignment, seen by both sides; an extension refused through the dialog.
    head = Person(browser, base, "wb_head")
    page = head.sign_in("/app/tasks?tab=accept")
    # The same kind of link for the unit opens 我的待办 in the tab it means.
    page = head.go(f"/app/assignments?overdue=true&unit_id={keji}")
    page.wait_for_selector("[data-tab=overdue][aria-pressed=true]")
    assert page.url.endswith("/app/tasks?tab=overdue")
    page = head.go("/app/tasks?tab=accept")
    row = page.locator("#tasks-table tr", has_text="强化高科技项目招引").last
    assignment_id = int(row.get_attribute("data-id"))
    page = head.go(f"/app/assignments/{assignment_id}")
    # Accepted, and a first report sent straight away (the form makes the draft and submits it): the
    # form then stands empty for the next one, not showing the sent report as a draft.
    page.click("[data-action=accept]")
    page.wait_for_selector("article.assignment[data-state=accepted]")
    page.fill("#report-text", "已梳理项目清单。")
    page.click("#submit-report")
    expect(page.locator("li.report[data-state=submitted]")).to_contain_text("已梳理项目清单。")
    expect(page.locator("#report-form-title")).to_have_text("填报本期进展")
    expect(page.locator("#report-text")).to_have_value("")
    page.fill("#comment-text", "项目清单已报县科技局。")
    page.press("#comment-text", "Enter")
    expect(page.locator("#comments")).to_contain_text("项目清单已报县科技局。")
    expect(page.locator("#comments")).to_contain_text("wb_head")
    page.click("#ask-extension")
    page.fill("#ext-date", "2026-03-31")
    page.fill("#ext-reason", "项目审批周期较长")
    page.click("form[aria-label=申请延期] button[type=submit]")
    expect(page.locator("li[data-extension]")).to_contain_text("待审核")

    page = office.go(f"/app/assignments/{assignment_id}")
    expect(page.locator("#comments")).to_contain_text("项目清单已报县科技局。")
    reject = page.locator("[data-reject-extension]")
    reject.click()
    dialog = page.locator("dialog.dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # cancelled: nothing decided, focus back on the button
    expect(dialog).to_have_count(0)
    assert page.evaluate("document.activeElement.dataset.rejectExtension") is not None
    page.keyboard.press("Enter")  # opens it again from the keyboard
    expect(dialog).to_be_visible()
    page.keyboard.type("理由不充分，请按期办结")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("li[data-extension]")).to_contain_text("已驳回")
    expect(page.locator("li[data-extension]")).to_contain_text("理由不充分")

    phone = Person(browser, base, "wb_office", width=390, mobile=True)
    phone.sign_in()
    problems = _check_screens(
        [
            (office, listing, "#assignments-table", "assignments-listing"),
            (office, f"/app/indicators?plan={plan_id}", "#indicators-table", "indicators"),
            (office, f"/app/assessments?plan={plan_id}", "#rules-form", "assessment-rules"),
            (office, "/app/boards", "#board-tokens", "boards"),
            (office, "/app/audit", "#audit-table", "audit"),
            (office, "/app/calendar?year=2027&month=1", "#calendar-month", "calendar"),
            (office, f"/app/assignments/{assignment_id}", "#comments", "assignment-comments"),
            (admin, "/app/accounts", "#accounts-table", "accounts"),
            (phone, f"/app/indicators?plan={plan_id}", "#indicators-table", "indicators-390"),
            (phone, "/app/audit", "#audit-table", "audit-390"),
            (phone, "/app/calendar?year=2027&month=1", "#calendar-month", "calendar-390"),
            (phone, "/app/boards", "#board-tokens", "boards-390"),
            (phone, listing, "#assignments-table", "assignments-listing-390"),
        ],
        backend,
    )
    assert problems == {}, problems
    for person in (office, admin, head, phone):
        assert person.errors == [], (person.username, person.errors)
