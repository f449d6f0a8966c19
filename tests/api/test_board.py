from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.board import service as board_service
from api.main import create_app
from duban.clock import FixedClock
from duban.db import make_engine, session_scope
from duban.models import BoardToken
from duban.settings import get_settings
from tests.api.conftest import AsRole
from tests.api.sv_fixture import build
from tests.conftest import DEFAULT_NOW
from tests.factories import make_user

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_board_page_is_self_contained(client: TestClient) -> None:
    r = client.get("/board")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    html = r.text
    assert "<script src" not in html and "<link" not in html  # inline CSS and JS only
    assert "/api/v1/board/data" in html and "/api/v1/auth/token" in html and "sessionStorage" in html


def test_board_tokens_create_list_use_revoke(client: TestClient, as_role: AsRole, session: Session) -> None:
    f = build(session)
    office = as_role("office")
    assert (
        client.post("/api/v1/board-tokens", json={"name": "大屏"}, headers=as_role("viewer")).status_code
        == 403
    )
    r = client.post(
        "/api/v1/board-tokens", json={"name": "指挥中心大屏", "plan_id": f.plan.id}, headers=office
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert created["board_url"] == f"/board?token={token}"
    stored = session.exec(select(BoardToken)).one()
    assert stored.token_hash != token and token not in stored.token_hash  # stored hashed
    listed = client.get("/api/v1/board-tokens", headers=office).json()["items"]
    assert [x["name"] for x in listed] == ["指挥中心大屏"] and "token" not in listed[0]

    data = client.get("/api/v1/board/data", params={"token": token})
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["summary"]["plan"]["id"] == f.plan.id and body["refresh_seconds"] == 60
    assert [(s["code"], s["rag"]) for s in body["sections"]] == [
        ("一", "red"),
        ("二", "yellow"),
        ("三", "green"),
    ]
    assert [u["name"] for u in body["units"]] == ["县科技局", "县财政局", "高沟镇"]
    assert [o["reason"] for o in body["overdue"]] == ["逾期10个工作日", "逾期不足1个工作日"]
    assert len(body["indicators"]) == 2
    same = client.get("/api/v1/board/data", headers={"X-Board-Token": token})
    assert same.status_code == 200
    # Read-only: the token authenticates nothing else.
    assert client.get(f"/api/v1/stats/plans/{f.plan.id}", params={"token": token}).status_code == 401

    assert client.delete(f"/api/v1/board-tokens/{created['id']}", headers=office).status_code == 204
    revoked = client.get("/api/v1/board/data", params={"token": token})
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "board_token.invalid"
    assert client.get("/api/v1/board/data").status_code == 401


def test_board_data_for_a_signed_in_unit_user_is_scoped(
    client: TestClient, as_role: AsRole, session: Session
) -> None:
    f = build(session)
    body = client.get(
        "/api/v1/board/data", params={"plan_id": f.plan.id}, headers=as_role("unit_head", unit=f.finance)
    ).json()
    assert [u["name"] for u in body["units"]] == ["县财政局"]
    assert [o["unit_name"] for o in body["overdue"]] == ["县财政局"]
    assert body["summary"]["total"] == 3


# --- the page in a real browser ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_board(committed_url: str) -> Iterator[tuple[str, str, int]]:
    """uvicorn on a free port over a committed database with the fixture plan: (base url, token, plan id)."""
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as session:
        f = build(session)
        make_user(session, username="board_office", roles=["office"], password="Board-Passw0rd")
        make_user(
            session, username="board_town", roles=["unit_staff"], unit_id=f.town.id, password="Board-Passw0rd"
        )
        session.commit()
        office = make_user(session, roles=["office"])
        _, token = board_service.create_token(
            session, actor=office, name="大屏", plan_id=f.plan.id, settings=get_settings(), now=DEFAULT_NOW
        )
        plan_id = f.plan.id or 0
    app = create_app()

    def factory() -> AbstractContextManager[Session]:
        return session_scope(engine)

    app.state.session_factory = factory
    app.state.clock = FixedClock(DEFAULT_NOW)
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
        yield f"http://127.0.0.1:{port}", token, plan_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(x) for x in css[css.index("(") + 1 : -1].split(",")[:3])


def _contrast(color: str, background: str, opacity: str, tile_opacity: str) -> float:
    """WCAG contrast of text over its tile, the text's opacity blended in as the browser paints it."""
    alpha = float(opacity) * float(tile_opacity)
    fg, bg = _rgb(color), _rgb(background)
    fg = tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True))

    def luminance(c: tuple[float, ...]) -> float:
        lin = [(v / 255 / 12.92) if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing and CI is set: install it (scripts/test.sh does)")
        pytest.skip(f"{CHROMIUM} is not installed")


@pytest.mark.e2e
@pytest.mark.committed
def test_board_in_headless_chromium(served_board: tuple[str, str, int], backend: str) -> None:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    base, token, _plan_id = served_board
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # A wall screen with a read-only board token.
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/board?token={token}")
            page.wait_for_selector("#sections .tile")
            tiles = page.locator("#sections .tile")
            assert tiles.count() == 3
            assert "（一）实施创新主体培育攻坚行动" in tiles.nth(0).inner_text()
            assert tiles.nth(0).get_attribute("data-rag") == "red"
            assert page.locator("#units .tile.red").count() == 2
            first = page.locator("#overdue tr.overdue-item").first.inner_text()
            assert "县科技局" in first and "逾期10个工作日" in first
            assert page.locator("#indicators tr.indicator").count() == 2
            assert "token=" not in page.url  # dropped from the address bar once read
            page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
            for rag in ("red", "yellow", "green"):
                for text in page.locator(f".tile.{rag} div").all():
                    style = text.evaluate(
                        "e => { const s = getComputedStyle(e), t = getComputedStyle(e.closest('.tile'));"
                        " return [s.color, t.backgroundColor, s.opacity, t.opacity]; }"
                    )
                    assert _contrast(*style) >= 4.5, (rag, text.inner_text(), style)
            if backend == "sqlite":
                phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
                phone.goto(f"{base}/board?token={token}")
                phone.wait_for_selector("#sections .tile.red")
                width = phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, width  # no sideways scrolling on a phone
                phone.screenshot(path=str(ARTIFACTS / "board-phone.png"), full_page=True)

            # A unit user signs in with a normal account and sees only its own unit.
            page = browser.new_page()
            page.goto(f"{base}/board")
            page.wait_for_selector("#login-form")
            page.fill("#username", "board_town")
            page.fill("#password", "wrong-password")
            page.click("#login-form button")
            page.wait_for_selector("#error:not(:empty)")  # (the page's CSP forbids wait_for_function's eval)
            assert page.locator("#error").inner_text()
            page.fill("#password", "Board-Passw0rd")
            page.click("#login-form button")
            page.wait_for_selector("#units .tile")
            assert page.locator("#units .tile").all_inner_texts()[0].startswith("高沟镇")
            assert page.locator("#units .tile").count() == 1
            assert page.evaluate("() => sessionStorage.getItem('duban.access_token')")
        finally:
            browser.close()
