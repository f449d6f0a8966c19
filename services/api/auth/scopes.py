"""Scopes for service accounts, deny by default.

A route admits a service account only if it declares the scope the key must hold: either its role
dependency names one (`require_roles(..., scope="tasks:write")`, e.g. `OfficeUser`, `Reader`), or —
for routes that take any signed-in principal (`CurrentUser`) — `DECLARED` below does. A route
that declares nothing refuses every service account with 403, whatever its key holds: a new route
is closed to integrations until someone decides which scope it belongs to. Checked once per
request in `api.deps.get_current_user`; tests/api/authz_rules.py lists the expected scope of
every route and tests/api/test_authz_matrix.py proves it.
"""

from __future__ import annotations

from typing import Any

API_SCOPES = frozenset(
    {
        "tasks:read",
        "tasks:write",
        "webhooks:manage",
        "users:manage",
        "units:manage",
        "plans:import",
        "audit:read",
    }
)

# Routes whose dependency admits any signed-in principal, by endpoint ("module:function": the
# route object FastAPI hands a dependency carries the router's own path, not the mounted one).
# Not listed (the caller's own inbox, password, sign-out): humans only.
DECLARED: dict[str, str] = {
    "api.auth.router:me": "",  # any valid key may ask whose it is
    "api.user.router:list_users": "users:manage",
    "api.user.router:get_user": "users:manage",
    "api.unit.router:list_units": "tasks:read",
    "api.unit.router:get_unit": "tasks:read",
    "api.unit.router:list_groups": "tasks:read",
    "api.unit.router:get_group": "tasks:read",
    "api.unit.router:list_aliases": "tasks:read",
    "api.plan.router:list_plans": "tasks:read",
    "api.plan.router:get_plan": "tasks:read",
    "api.plan.router:list_sections": "tasks:read",
    "api.plan.router:get_section": "tasks:read",
    "api.plan.import_router:export_plan": "tasks:read",
    "api.task.router:list_tasks": "tasks:read",
    "api.task.router:get_task": "tasks:read",
    "api.assignment.router:list_assignments": "tasks:read",
    "api.assignment.router:get_assignment": "tasks:read",
    "api.assignment.router:get_history": "tasks:read",
    "api.stats.router:plan_stats": "tasks:read",
    "api.stats.router:section_stats": "tasks:read",
    "api.stats.router:task_stats": "tasks:read",
    "api.stats.router:unit_stats": "tasks:read",
    "api.board.router:board_data": "tasks:read",
    "api.calendar.router:list_years": "tasks:read",
    "api.calendar.router:list_days": "tasks:read",
    "api.event.router:list_event_types": "tasks:read",
    "api.event.router:get_event_type": "tasks:read",
}

_NOT_DECLARED = object()
_cache: dict[int, frozenset[str] | None] = {}


def endpoint_key(endpoint: Any) -> str:
    return f"{getattr(endpoint, '__module__', '')}:{getattr(endpoint, '__qualname__', '')}"


def _walk(dependant: Any) -> list[Any]:
    out = []
    for sub in dependant.dependencies:
        out.append(sub)
        out.extend(_walk(sub))
    return out


def required_scopes(route: Any) -> frozenset[str] | None:
    """The scopes a service account needs for `route`; None: the route is closed to them."""
    key = id(route)
    if key in _cache:
        return _cache[key]
    result: frozenset[str] | None = None
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        calls: list[Any] = [getattr(d.call, "required_scope", _NOT_DECLARED) for d in _walk(dependant)]
        # A role dependency without a scope on the way (e.g. unit heads only): humans only.
        if None not in calls:
            scopes = {c for c in calls if c is not _NOT_DECLARED}
            table = DECLARED.get(endpoint_key(getattr(route, "endpoint", None)))
            if table is not None:
                scopes.add(table)
            if scopes:
                result = frozenset(s for s in scopes if s)
    _cache[key] = result
    return result
