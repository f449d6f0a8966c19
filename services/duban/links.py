"""Links in events and notifications: workbench pages, one format, built here only.

A link is the workbench path of the thing an event is about ("/app/assignments/42"), with
history routing (no "#"). Events carry the path, so a payload does not change with the address
an installation is served at; channels that leave Duban (e-mail, chat robots) make it absolute
with `absolute`. The scanner builds the same paths in SQL from `prefix`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

APP = "/app"

Page = Literal["assignments", "reports", "plans", "bulletins", "instructions", "deliveries", "assessments"]


def prefix(page: Page) -> str:
    """ "/app/assignments/": what an id is appended to (in Python or in SQL)."""
    return f"{APP}/{page}/"


def page(page: Page, id_: int | None = None) -> str:
    return f"{APP}/{page}" if id_ is None else f"{prefix(page)}{id_}"


def assignment(id_: int) -> str:
    return page("assignments", id_)


def assignments(**query: str | int | list[str]) -> str:
    """The assignments list, filtered as GET /assignments is: "/app/assignments?overdue=true"."""
    path = page("assignments")
    return f"{path}?{urlencode(query, doseq=True)}" if query else path


def report(id_: int) -> str:
    return page("reports", id_)


def plan(id_: int) -> str:
    return page("plans", id_)


def bulletin(id_: int) -> str:
    return page("bulletins", id_)


def instruction(id_: int) -> str:
    return page("instructions", id_)


def delivery(id_: int) -> str:
    return page("deliveries", id_)


def absolute(link: str | None, public_url: str) -> str | None:
    """The link as an address people can open from outside Duban (e-mail, chat)."""
    if not link or not link.startswith("/"):
        return link
    return public_url.rstrip("/") + link
