from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import HTMLResponse

from api.board import service
from api.deps import NowDep, SessionDep, SettingsDep, TokenDep, get_current_user
from api.errors import ErrorEnvelope
from api.http import json_response
from duban.models import BoardToken, User

# The page, at the root and without the blanket auth dependency: it signs in by itself.
router = APIRouter(tags=["board"])
# Under /api/v1, also without the blanket dependency: a board token or a bearer token authenticates.
api_router = APIRouter(tags=["board"])

_PAGE = Path(__file__).with_name("page.html")
# Inline script and style only; the page talks to its own origin. no-referrer keeps a board token
# in the address bar from leaking to other sites.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@lru_cache(maxsize=1)
def _page() -> str:
    return _PAGE.read_text(encoding="utf-8")


@router.get("/board", response_class=HTMLResponse)
def board_page() -> HTMLResponse:
    """The status board: one self-contained page over the REST API (sign in, or `?token=`)."""
    return HTMLResponse(_page(), headers=_HEADERS)


def _viewer(
    request: Request,
    session: Any,
    settings: Any,
    now: Any,
    bearer: str | None,
    token: str | None,
    x_board_token: str | None,
) -> tuple[User | None, BoardToken | None]:
    board_token = x_board_token or token
    if board_token:
        return None, service.authenticate(session, token=board_token, settings=settings, now=now)
    return get_current_user(request, session, bearer, settings, now), None


@api_router.get("/board/data", responses={401: {"model": ErrorEnvelope}, 404: {"model": ErrorEnvelope}})
def board_data(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    bearer: TokenDep,
    plan_id: int | None = None,
    token: Annotated[str | None, Query(description="看板令牌（只读）")] = None,
    x_board_token: Annotated[str | None, Header()] = None,
) -> Any:
    """Everything the board shows, read-only: by board token (whole plan) or bearer token (scoped)."""
    user, board_token = _viewer(request, session, settings, now, bearer, token, x_board_token)
    return json_response(service.board_data(session, plan_id=plan_id, user=user, token=board_token, now=now))
