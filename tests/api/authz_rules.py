"""Who may call what: one rule per route. test_authz_matrix fails for a route without a rule.

ALL = any signed-in user; PUBLIC = no sign-in needed; otherwise the roles admitted by the route's
role dependency (data-dependent checks, e.g. "own unit only", are tested per resource).
"""

from __future__ import annotations

ROLES = ("admin", "office", "leader", "unit_head", "unit_staff", "viewer")
ALL = frozenset(ROLES)
PUBLIC = frozenset({"anonymous", *ROLES})
ADMIN = frozenset({"admin"})
OFFICE = frozenset({"admin", "office"})
READ_ALL = frozenset({"admin", "office", "leader", "viewer"})
UNIT_ACT = frozenset({"admin", "office", "unit_head"})
UNIT_WRITE = frozenset({"admin", "office", "unit_head", "unit_staff"})
LEADER = frozenset({"admin", "office", "leader"})
USER_MANAGE = frozenset({"admin", "unit_head"})

RULES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ALL,
    ("GET", "/api/v1/auth/me"): ALL,
    ("POST", "/api/v1/service-accounts"): ADMIN,
    ("GET", "/api/v1/service-accounts"): ADMIN,
    ("DELETE", "/api/v1/service-accounts/{key_id}"): ADMIN,
    ("POST", "/api/v1/service-accounts/{account_id}/rotate-key"): ADMIN,
    ("GET", "/api/v1/units"): ALL,
    ("POST", "/api/v1/units"): ADMIN,
    ("PUT", "/api/v1/units/by-external-id/{external_id}"): ADMIN,
    ("GET", "/api/v1/units/{unit_id}"): ALL,
    ("PATCH", "/api/v1/units/{unit_id}"): ADMIN,
    ("DELETE", "/api/v1/units/{unit_id}"): ADMIN,
    ("GET", "/api/v1/unit-groups"): ALL,
    ("POST", "/api/v1/unit-groups"): ADMIN,
    ("GET", "/api/v1/unit-groups/{group_id}"): ALL,
    ("PATCH", "/api/v1/unit-groups/{group_id}"): ADMIN,
    ("DELETE", "/api/v1/unit-groups/{group_id}"): ADMIN,
    ("GET", "/api/v1/unit-aliases"): ALL,
    ("POST", "/api/v1/unit-aliases"): OFFICE,
    ("DELETE", "/api/v1/unit-aliases/{alias_id}"): OFFICE,
    ("GET", "/api/v1/users"): ALL,
    ("POST", "/api/v1/users"): USER_MANAGE,
    ("PUT", "/api/v1/users/by-external-id/{external_id}"): USER_MANAGE,
    ("POST", "/api/v1/users/me/password"): ALL,
    ("GET", "/api/v1/users/{user_id}"): ALL,
    ("PATCH", "/api/v1/users/{user_id}"): USER_MANAGE,
}

# Reports, attachments, extensions, instructions, comments and indicators.
UNIT_MEMBER = frozenset({"unit_head", "unit_staff"})
RULES.update(
    {
        ("POST", "/api/v1/assignments/{assignment_id}/reports"): UNIT_MEMBER,
        ("GET", "/api/v1/reports"): ALL,
        ("GET", "/api/v1/reports/{report_id}"): ALL,
        ("PATCH", "/api/v1/reports/{report_id}"): UNIT_MEMBER,
        ("POST", "/api/v1/reports/{report_id}/submit"): UNIT_MEMBER,
        ("POST", "/api/v1/reports/{report_id}/approve"): OFFICE,
        ("POST", "/api/v1/reports/{report_id}/reject"): OFFICE,
        ("POST", "/api/v1/reports/{report_id}/attachments"): UNIT_MEMBER,
        ("GET", "/api/v1/reports/{report_id}/attachments"): ALL,
        ("GET", "/api/v1/attachments/{attachment_id}"): ALL,
        ("DELETE", "/api/v1/attachments/{attachment_id}"): UNIT_MEMBER,
        ("POST", "/api/v1/assignments/{assignment_id}/extension-requests"): frozenset({"unit_head"}),
        ("GET", "/api/v1/extension-requests"): ALL,
        ("GET", "/api/v1/extension-requests/{request_id}"): ALL,
        ("POST", "/api/v1/extension-requests/{request_id}/approve"): OFFICE,
        ("POST", "/api/v1/extension-requests/{request_id}/reject"): OFFICE,
        ("POST", "/api/v1/tasks/{task_id}/instructions"): LEADER,
        ("GET", "/api/v1/instructions"): ALL,
        ("GET", "/api/v1/instructions/{instruction_id}"): ALL,
        ("POST", "/api/v1/instructions/{instruction_id}/replies"): UNIT_MEMBER,
        ("POST", "/api/v1/assignments/{assignment_id}/comments"): ALL - {"viewer"},
        ("GET", "/api/v1/assignments/{assignment_id}/comments"): ALL,
        ("GET", "/api/v1/indicators"): ALL,
        ("POST", "/api/v1/indicators"): OFFICE,
        ("GET", "/api/v1/indicators/{indicator_id}"): ALL,
        ("PATCH", "/api/v1/indicators/{indicator_id}"): OFFICE,
        ("DELETE", "/api/v1/indicators/{indicator_id}"): OFFICE,
        ("GET", "/api/v1/indicators/{indicator_id}/values"): ALL,
        ("POST", "/api/v1/indicators/{indicator_id}/values"): UNIT_WRITE,
    }
)

# Plans, sections, tasks, assignments and the audit log.
UNIT_HEAD = frozenset({"unit_head"})
AUDIT_READ = frozenset({"admin", "office", "viewer"})
RULES.update(
    {
        ("GET", "/api/v1/plans"): ALL,
        ("POST", "/api/v1/plans"): OFFICE,
        ("PUT", "/api/v1/plans/by-external-id/{external_id}"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}"): ALL,
        ("PATCH", "/api/v1/plans/{plan_id}"): OFFICE,
        ("DELETE", "/api/v1/plans/{plan_id}"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}/checks"): OFFICE,
        ("POST", "/api/v1/plans/{plan_id}/publish"): OFFICE,
        ("POST", "/api/v1/plans/{plan_id}/shift-deadlines"): OFFICE,
        ("POST", "/api/v1/plans/{plan_id}/unit-names"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}/sections"): ALL,
        ("POST", "/api/v1/plans/{plan_id}/sections"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}/sections/{section_id}"): ALL,
        ("PATCH", "/api/v1/plans/{plan_id}/sections/{section_id}"): OFFICE,
        ("DELETE", "/api/v1/plans/{plan_id}/sections/{section_id}"): OFFICE,
        ("GET", "/api/v1/tasks"): ALL,
        ("POST", "/api/v1/tasks"): OFFICE,
        ("PUT", "/api/v1/tasks/by-external-id/{external_id}"): OFFICE,
        ("GET", "/api/v1/tasks/{task_id}"): ALL,
        ("PATCH", "/api/v1/tasks/{task_id}"): OFFICE,
        ("DELETE", "/api/v1/tasks/{task_id}"): OFFICE,
        ("POST", "/api/v1/tasks/{task_id}/assignments"): OFFICE,
        ("GET", "/api/v1/assignments"): ALL,
        ("GET", "/api/v1/assignments/{assignment_id}"): ALL,
        ("PUT", "/api/v1/assignments/by-external-id/{external_id}"): OFFICE,
        ("POST", "/api/v1/bulk/tasks"): OFFICE,
        ("POST", "/api/v1/bulk/assignments"): OFFICE,
        ("GET", "/api/v1/assignments/{assignment_id}/history"): ALL,
        ("POST", "/api/v1/assignments/{assignment_id}/accept"): UNIT_HEAD,
        ("POST", "/api/v1/assignments/{assignment_id}/return"): UNIT_HEAD,
        ("POST", "/api/v1/assignments/{assignment_id}/request-completion"): UNIT_HEAD,
        ("POST", "/api/v1/assignments/{assignment_id}/approve"): OFFICE,
        ("POST", "/api/v1/assignments/{assignment_id}/reject"): OFFICE,
        ("POST", "/api/v1/assignments/{assignment_id}/cancel"): OFFICE,
        ("POST", "/api/v1/assignments/{assignment_id}/reassign"): OFFICE,
        ("GET", "/api/v1/audit"): AUDIT_READ,
    }
)

# Webhooks, the inbox, notification policies and dead letters (notifier API).
RULES.update(
    {
        ("POST", "/api/v1/webhooks"): OFFICE,
        ("GET", "/api/v1/webhooks"): OFFICE,
        ("GET", "/api/v1/webhooks/{webhook_id}"): OFFICE,
        ("PATCH", "/api/v1/webhooks/{webhook_id}"): OFFICE,
        ("DELETE", "/api/v1/webhooks/{webhook_id}"): OFFICE,
        ("POST", "/api/v1/webhooks/{webhook_id}/secret/rotate"): OFFICE,
        ("POST", "/api/v1/webhooks/{webhook_id}/ping"): OFFICE,
        ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): OFFICE,
        ("POST", "/api/v1/webhooks/{webhook_id}/redeliver"): OFFICE,
        ("GET", "/api/v1/notifications"): ALL,
        ("GET", "/api/v1/notifications/unread-count"): ALL,
        ("POST", "/api/v1/notifications/read-all"): ALL,
        ("POST", "/api/v1/notifications/{notification_id}/read"): ALL,
        ("GET", "/api/v1/plans/{plan_id}/notification-policy"): READ_ALL,
        ("PUT", "/api/v1/plans/{plan_id}/notification-policy"): OFFICE,
        ("GET", "/api/v1/notification-policies/default"): READ_ALL,
        ("PUT", "/api/v1/notification-policies/default"): OFFICE,
        ("GET", "/api/v1/deliveries"): OFFICE,
        ("GET", "/api/v1/deliveries/{delivery_id}"): OFFICE,
        ("POST", "/api/v1/deliveries/{delivery_id}/redrive"): OFFICE,
    }
)

# Supervision: statistics, board tokens and the board, bulletins, scoring rules and assessments.
RULES.update(
    {
        ("GET", "/api/v1/stats/plans/{plan_id}"): ALL,
        ("GET", "/api/v1/stats/plans/{plan_id}/sections"): ALL,
        ("GET", "/api/v1/stats/plans/{plan_id}/tasks"): ALL,
        ("GET", "/api/v1/stats/plans/{plan_id}/units"): ALL,
        ("GET", "/api/v1/stats/plans/{plan_id}/indicators"): ALL,
        ("GET", "/api/v1/stats/plans/{plan_id}/overdue"): ALL,
        ("POST", "/api/v1/board-tokens"): OFFICE,
        ("GET", "/api/v1/board-tokens"): OFFICE,
        ("DELETE", "/api/v1/board-tokens/{token_id}"): OFFICE,
        ("GET", "/board"): PUBLIC,
        # A board token or any signed-in user (scoped to the user's unit).
        ("GET", "/api/v1/board/data"): ALL,
        ("POST", "/api/v1/plans/{plan_id}/bulletins"): OFFICE,
        ("GET", "/api/v1/bulletins"): ALL,
        ("GET", "/api/v1/bulletins/{bulletin_id}"): ALL,
        ("GET", "/api/v1/bulletins/{bulletin_id}.docx"): ALL,
        ("GET", "/api/v1/bulletins/{bulletin_id}.xlsx"): ALL,
        ("GET", "/api/v1/bulletins/{bulletin_id}.md"): ALL,
        ("GET", "/api/v1/bulletins/{bulletin_id}/export"): ALL,
        ("POST", "/api/v1/bulletins/{bulletin_id}/publish"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}/scoring-rules"): ALL,
        ("PUT", "/api/v1/plans/{plan_id}/scoring-rules"): OFFICE,
        ("POST", "/api/v1/plans/{plan_id}/assessments"): OFFICE,
        ("GET", "/api/v1/assessments"): READ_ALL,
        ("GET", "/api/v1/assessments/{assessment_id}"): ALL,
        ("GET", "/api/v1/assessments/{assessment_id}.xlsx"): ALL,
        ("POST", "/api/v1/assessments/{assessment_id}/publish"): OFFICE,
    }
)

# Plan import and the task breakdown export.
RULES.update(
    {
        ("POST", "/api/v1/plans/import"): OFFICE,
        ("GET", "/api/v1/plans/{plan_id}/export.xlsx"): ALL,
    }
)

# The calendar: everyone reads it; the office loads a year's holiday notice.
RULES.update(
    {
        ("GET", "/api/v1/calendar/years"): ALL,
        ("PUT", "/api/v1/calendar/years/{year}"): OFFICE,
        ("GET", "/api/v1/calendar/days"): ALL,
    }
)


# What a service account (API key) needs per route: deny by default. HUMANS_ONLY: no key gets in,
# whatever its scopes; ANY_KEY: any valid key. Routes that are PUBLIC in RULES ignore keys and
# are not listed.
HUMANS_ONLY = None
ANY_KEY = ""
READ, WRITE = "tasks:read", "tasks:write"
SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v1/assessments"): READ,
    ("GET", "/api/v1/assessments/{assessment_id}"): READ,
    ("GET", "/api/v1/assessments/{assessment_id}.xlsx"): READ,
    ("POST", "/api/v1/assessments/{assessment_id}/publish"): WRITE,
    ("GET", "/api/v1/assignments"): READ,
    ("GET", "/api/v1/assignments/{assignment_id}"): READ,
    ("PUT", "/api/v1/assignments/by-external-id/{external_id}"): WRITE,
    ("POST", "/api/v1/assignments/{assignment_id}/accept"): HUMANS_ONLY,
    ("POST", "/api/v1/assignments/{assignment_id}/approve"): WRITE,
    ("POST", "/api/v1/assignments/{assignment_id}/cancel"): WRITE,
    ("GET", "/api/v1/assignments/{assignment_id}/comments"): READ,
    ("POST", "/api/v1/assignments/{assignment_id}/comments"): HUMANS_ONLY,
    ("POST", "/api/v1/assignments/{assignment_id}/extension-requests"): HUMANS_ONLY,
    ("GET", "/api/v1/assignments/{assignment_id}/history"): READ,
    ("POST", "/api/v1/assignments/{assignment_id}/reassign"): WRITE,
    ("POST", "/api/v1/assignments/{assignment_id}/reject"): WRITE,
    ("POST", "/api/v1/assignments/{assignment_id}/reports"): HUMANS_ONLY,
    ("POST", "/api/v1/assignments/{assignment_id}/request-completion"): HUMANS_ONLY,
    ("POST", "/api/v1/assignments/{assignment_id}/return"): HUMANS_ONLY,
    ("DELETE", "/api/v1/attachments/{attachment_id}"): HUMANS_ONLY,
    ("GET", "/api/v1/attachments/{attachment_id}"): READ,
    ("GET", "/api/v1/audit"): "audit:read",
    ("POST", "/api/v1/auth/logout"): HUMANS_ONLY,
    ("GET", "/api/v1/auth/me"): ANY_KEY,
    ("POST", "/api/v1/bulk/tasks"): WRITE,
    ("POST", "/api/v1/bulk/assignments"): WRITE,
    ("GET", "/api/v1/board-tokens"): WRITE,
    ("POST", "/api/v1/board-tokens"): WRITE,
    ("DELETE", "/api/v1/board-tokens/{token_id}"): WRITE,
    ("GET", "/api/v1/board/data"): READ,
    ("GET", "/api/v1/calendar/years"): READ,
    ("PUT", "/api/v1/calendar/years/{year}"): WRITE,
    ("GET", "/api/v1/calendar/days"): READ,
    ("GET", "/api/v1/bulletins"): READ,
    ("GET", "/api/v1/bulletins/{bulletin_id}"): READ,
    ("GET", "/api/v1/bulletins/{bulletin_id}.docx"): READ,
    ("GET", "/api/v1/bulletins/{bulletin_id}.md"): READ,
    ("GET", "/api/v1/bulletins/{bulletin_id}.xlsx"): READ,
    ("GET", "/api/v1/bulletins/{bulletin_id}/export"): READ,
    ("POST", "/api/v1/bulletins/{bulletin_id}/publish"): WRITE,
    ("GET", "/api/v1/deliveries"): "webhooks:manage",
    ("GET", "/api/v1/deliveries/{delivery_id}"): "webhooks:manage",
    ("POST", "/api/v1/deliveries/{delivery_id}/redrive"): "webhooks:manage",
    ("GET", "/api/v1/extension-requests"): READ,
    ("GET", "/api/v1/extension-requests/{request_id}"): READ,
    ("POST", "/api/v1/extension-requests/{request_id}/approve"): WRITE,
    ("POST", "/api/v1/extension-requests/{request_id}/reject"): WRITE,
    ("GET", "/api/v1/indicators"): READ,
    ("POST", "/api/v1/indicators"): WRITE,
    ("DELETE", "/api/v1/indicators/{indicator_id}"): WRITE,
    ("GET", "/api/v1/indicators/{indicator_id}"): READ,
    ("PATCH", "/api/v1/indicators/{indicator_id}"): WRITE,
    ("GET", "/api/v1/indicators/{indicator_id}/values"): READ,
    ("POST", "/api/v1/indicators/{indicator_id}/values"): WRITE,
    ("GET", "/api/v1/instructions"): READ,
    ("GET", "/api/v1/instructions/{instruction_id}"): READ,
    ("POST", "/api/v1/instructions/{instruction_id}/replies"): HUMANS_ONLY,
    ("GET", "/api/v1/notification-policies/default"): HUMANS_ONLY,
    ("PUT", "/api/v1/notification-policies/default"): HUMANS_ONLY,
    ("GET", "/api/v1/notifications"): HUMANS_ONLY,
    ("POST", "/api/v1/notifications/read-all"): HUMANS_ONLY,
    ("GET", "/api/v1/notifications/unread-count"): HUMANS_ONLY,
    ("POST", "/api/v1/notifications/{notification_id}/read"): HUMANS_ONLY,
    ("GET", "/api/v1/plans"): READ,
    ("POST", "/api/v1/plans"): WRITE,
    ("PUT", "/api/v1/plans/by-external-id/{external_id}"): WRITE,
    ("POST", "/api/v1/plans/import"): "plans:import",
    ("DELETE", "/api/v1/plans/{plan_id}"): WRITE,
    ("GET", "/api/v1/plans/{plan_id}"): READ,
    ("PATCH", "/api/v1/plans/{plan_id}"): WRITE,
    ("GET", "/api/v1/plans/{plan_id}/checks"): WRITE,
    ("POST", "/api/v1/plans/{plan_id}/publish"): WRITE,
    ("POST", "/api/v1/plans/{plan_id}/shift-deadlines"): WRITE,
    ("POST", "/api/v1/plans/{plan_id}/unit-names"): WRITE,
    ("POST", "/api/v1/plans/{plan_id}/assessments"): WRITE,
    ("POST", "/api/v1/plans/{plan_id}/bulletins"): WRITE,
    ("GET", "/api/v1/plans/{plan_id}/export.xlsx"): READ,
    ("GET", "/api/v1/plans/{plan_id}/notification-policy"): HUMANS_ONLY,
    ("PUT", "/api/v1/plans/{plan_id}/notification-policy"): HUMANS_ONLY,
    ("GET", "/api/v1/plans/{plan_id}/scoring-rules"): READ,
    ("PUT", "/api/v1/plans/{plan_id}/scoring-rules"): WRITE,
    ("GET", "/api/v1/plans/{plan_id}/sections"): READ,
    ("POST", "/api/v1/plans/{plan_id}/sections"): WRITE,
    ("DELETE", "/api/v1/plans/{plan_id}/sections/{section_id}"): WRITE,
    ("GET", "/api/v1/plans/{plan_id}/sections/{section_id}"): READ,
    ("PATCH", "/api/v1/plans/{plan_id}/sections/{section_id}"): WRITE,
    ("GET", "/api/v1/reports"): READ,
    ("GET", "/api/v1/reports/{report_id}"): READ,
    ("PATCH", "/api/v1/reports/{report_id}"): HUMANS_ONLY,
    ("POST", "/api/v1/reports/{report_id}/approve"): WRITE,
    ("GET", "/api/v1/reports/{report_id}/attachments"): READ,
    ("POST", "/api/v1/reports/{report_id}/attachments"): HUMANS_ONLY,
    ("POST", "/api/v1/reports/{report_id}/reject"): WRITE,
    ("POST", "/api/v1/reports/{report_id}/submit"): HUMANS_ONLY,
    ("GET", "/api/v1/service-accounts"): HUMANS_ONLY,
    ("POST", "/api/v1/service-accounts"): HUMANS_ONLY,
    ("DELETE", "/api/v1/service-accounts/{key_id}"): HUMANS_ONLY,
    ("POST", "/api/v1/service-accounts/{account_id}/rotate-key"): HUMANS_ONLY,
    ("GET", "/api/v1/stats/plans/{plan_id}"): READ,
    ("GET", "/api/v1/stats/plans/{plan_id}/indicators"): READ,
    ("GET", "/api/v1/stats/plans/{plan_id}/overdue"): READ,
    ("GET", "/api/v1/stats/plans/{plan_id}/sections"): READ,
    ("GET", "/api/v1/stats/plans/{plan_id}/tasks"): READ,
    ("GET", "/api/v1/stats/plans/{plan_id}/units"): READ,
    ("GET", "/api/v1/tasks"): READ,
    ("POST", "/api/v1/tasks"): WRITE,
    ("PUT", "/api/v1/tasks/by-external-id/{external_id}"): WRITE,
    ("DELETE", "/api/v1/tasks/{task_id}"): WRITE,
    ("GET", "/api/v1/tasks/{task_id}"): READ,
    ("PATCH", "/api/v1/tasks/{task_id}"): WRITE,
    ("POST", "/api/v1/tasks/{task_id}/assignments"): WRITE,
    ("POST", "/api/v1/tasks/{task_id}/instructions"): HUMANS_ONLY,
    ("GET", "/api/v1/unit-aliases"): READ,
    ("POST", "/api/v1/unit-aliases"): WRITE,
    ("DELETE", "/api/v1/unit-aliases/{alias_id}"): WRITE,
    ("GET", "/api/v1/unit-groups"): READ,
    ("POST", "/api/v1/unit-groups"): HUMANS_ONLY,
    ("DELETE", "/api/v1/unit-groups/{group_id}"): HUMANS_ONLY,
    ("GET", "/api/v1/unit-groups/{group_id}"): READ,
    ("PATCH", "/api/v1/unit-groups/{group_id}"): HUMANS_ONLY,
    ("GET", "/api/v1/units"): READ,
    ("POST", "/api/v1/units"): "units:manage",
    ("PUT", "/api/v1/units/by-external-id/{external_id}"): "units:manage",
    ("DELETE", "/api/v1/units/{unit_id}"): HUMANS_ONLY,
    ("GET", "/api/v1/units/{unit_id}"): READ,
    ("PATCH", "/api/v1/units/{unit_id}"): "units:manage",
    ("GET", "/api/v1/users"): "users:manage",
    ("POST", "/api/v1/users"): "users:manage",
    ("PUT", "/api/v1/users/by-external-id/{external_id}"): "users:manage",
    ("POST", "/api/v1/users/me/password"): HUMANS_ONLY,
    ("GET", "/api/v1/users/{user_id}"): "users:manage",
    ("PATCH", "/api/v1/users/{user_id}"): "users:manage",
    ("GET", "/api/v1/webhooks"): "webhooks:manage",
    ("POST", "/api/v1/webhooks"): "webhooks:manage",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "webhooks:manage",
    ("GET", "/api/v1/webhooks/{webhook_id}"): "webhooks:manage",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "webhooks:manage",
    ("POST", "/api/v1/webhooks/{webhook_id}/secret/rotate"): "webhooks:manage",
    ("POST", "/api/v1/webhooks/{webhook_id}/ping"): "webhooks:manage",
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): "webhooks:manage",
    ("POST", "/api/v1/webhooks/{webhook_id}/redeliver"): "webhooks:manage",
}

# The event catalog: any signed-in user; a service account with tasks:read.
RULES.update(
    {
        ("GET", "/api/v1/events/types"): ALL,
        ("GET", "/api/v1/events/types/{event_type}"): ALL,
    }
)
SCOPES.update(
    {
        ("GET", "/api/v1/events/types"): READ,
        ("GET", "/api/v1/events/types/{event_type}"): READ,
    }
)
