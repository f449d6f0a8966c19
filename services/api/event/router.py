"""The event catalog: every outgoing event type with its versioned JSON Schema (issue 13).

The same schemas are in openapi.json under `webhooks`; both come from duban.events, so the
catalog is what the outbox validates against before it writes a payload. Any signed-in user may
read it; a service account needs `tasks:read` (api.auth.scopes.DECLARED).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser
from api.errors import ErrorEnvelope
from api.event.schemas import EventTypePublic
from duban import events
from duban.errors import NotFound

router = APIRouter(prefix="/events", tags=["events"])


@router.get("/types", response_model=list[EventTypePublic])
def list_event_types(user: CurrentUser) -> Any:  # noqa: ARG001 - the dependency is the check
    """Every event type Duban sends, with its version and the JSON Schema of the webhook body."""
    return events.catalog()


@router.get("/types/{event_type}", response_model=EventTypePublic, responses={404: {"model": ErrorEnvelope}})
def get_event_type(event_type: str, user: CurrentUser) -> Any:  # noqa: ARG001
    """One event type of the catalog."""
    found = [e for e in events.catalog() if e["type"] == event_type]
    if not found:
        raise NotFound("事件类型不存在", code="event.unknown_type", details={"type": event_type})
    return found[0]
