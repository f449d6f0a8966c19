"""Fan-out: expand new outbox events into deliveries and inbox rows for their recipients.

One short transaction per batch; the recipients (people, units, endpoints) are loaded once per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from duban import calendar as cal
from duban import events, zones
from duban.db import rowcount
from duban.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    Plan,
    Role,
    Unit,
    UnitKind,
    User,
    WebhookEndpoint,
    overdue_basis_of,
)
from duban.outbox import subscribed
from duban.policy import QUIET_CHANNELS, Policy, load_policies
from duban.settings import Settings
from notifier.channels import inbox as inbox_channel
from notifier.render import render

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
PL = Plan.__table__  # type: ignore[attr-defined]
DEADLINE_TYPES = {t for t, m in events.EVENT_TYPES.items() if issubclass(m, events.DeadlineNotice)}
log = logging.getLogger("duban.notifier")
# Who hears about events the API writes, when the event does not name a recipient (design table).
DEFAULT_RECIPIENT = {
    "assignment.returned": "office",
    "completion.requested": "office",
    "extension.requested": "office",
    "report.submitted": "office",
    "delivery.failed": "office",
    "webhook.disabled": "office",
}
# Notices about failed deliveries stay inside Duban: a failing channel must not feed itself.
INTERNAL_ONLY = {"delivery.failed"}
# Told to people (inbox and e-mail), never to endpoints: an endpoint was disabled.
PEOPLE_ONLY = {"webhook.disabled"}
WEP = WebhookEndpoint.__table__  # type: ignore[attr-defined]
MACHINE_CHANNELS = {str(ChannelKind.webhook)}


def _summarised(event_type: str, data: dict[str, Any]) -> bool:
    """An item of a plan's publication (made, or withdrawn from the version it replaces), which its
    unit's people read in one summary message."""
    return event_type in ("assignment.assigned", "assignment.cancelled") and bool(data.get("publication"))


def _insert(session: Session, table: Any) -> Any:
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


# --- recipients


# Recipient groups drawn from the whole organisation rather than from the event's units.
WIDE_GROUPS = {"office": (Role.office, UnitKind.office), "leader": (Role.leader, UnitKind.leadership)}


@dataclass
class Directory:
    """Active people and endpoints for one fan-out batch: the people of the batch's units, and
    those of the office and leader groups when the batch needs them (not the whole directory)."""

    users: list[tuple[int, int | None, list[str], str | None]]
    unit_kind: dict[int, str]
    unit_email: dict[int, str | None]
    endpoints: list[WebhookEndpoint]
    by_unit: dict[int, list[int]] = field(default_factory=dict)  # positions in users

    @classmethod
    def load(
        cls, session: Session, *, unit_ids: Iterable[int] | None = None, groups: Iterable[str] = ()
    ) -> Directory:
        """Everyone when `unit_ids` is None; else the users of those units and of the wide
        `groups` ("office", "leader") among the batch's recipients."""
        U, UN = User.__table__, Unit.__table__  # type: ignore[attr-defined]
        people = sa.select(U.c.id, U.c.unit_id, U.c.roles, U.c.email).where(
            U.c.is_active.is_(True), U.c.is_service_account.is_(False)
        )
        units_q = sa.select(UN.c.id, UN.c.kind, UN.c.contact_email)
        if unit_ids is not None:
            wanted = sorted(set(unit_ids))
            wide = [WIDE_GROUPS[g] for g in sorted(set(groups)) if g in WIDE_GROUPS]
            kinds = [str(kind) for _, kind in wide]
            # Roles are a JSON list of plain names: '"office"' with its quotes matches that
            # element only, on both databases.
            by_role = [sa.cast(U.c.roles, sa.String).like(f'%"{role}"%') for role, _ in wide]
            wide_units = sa.select(UN.c.id).where(UN.c.kind.in_(kinds)) if kinds else None
            people = people.where(
                sa.or_(
                    sa.false(),
                    *([U.c.unit_id.in_(wanted)] if wanted else []),
                    *([U.c.unit_id.in_(wide_units)] if wide_units is not None else []),
                    *by_role,
                )
            )
            units_q = units_q.where(
                sa.or_(
                    sa.false(),
                    *([UN.c.id.in_(wanted)] if wanted else []),
                    *([UN.c.kind.in_(kinds)] if kinds else []),
                    # The users' own units (a role-holder's unit kind decides nothing more, but
                    # resolve reads it).
                    UN.c.id.in_(people.with_only_columns(U.c.unit_id).scalar_subquery()),
                )
            )
        # Plain rows of the four columns resolve() reads, not ORM objects (40,000 at province scale).
        users = [(u.id, u.unit_id, list(u.roles or []), u.email) for u in session.execute(people)]
        units = session.execute(units_q).all()
        endpoints = list(
            session.execute(
                sa.select(WebhookEndpoint).where(col(WebhookEndpoint.is_active).is_(True))
            ).scalars()
        )
        by_unit: dict[int, list[int]] = {}
        for i, (_, unit_id, _, _) in enumerate(users):
            if unit_id is not None:
                by_unit.setdefault(unit_id, []).append(i)
        return cls(
            users=users,
            unit_kind={u.id: str(u.kind) for u in units},
            unit_email={u.id: u.contact_email for u in units},
            endpoints=endpoints,
            by_unit=by_unit,
        )

    def resolve(self, recipient: str, unit_ids: list[int]) -> tuple[list[int], list[str]]:
        """(user ids, e-mail addresses) for a recipient group."""
        picked: list[tuple[int, str | None]] = []
        emails: list[str] = []
        if recipient in ("unit", "unit_head"):
            wanted = (Role.unit_head,) if recipient == "unit_head" else (Role.unit_head, Role.unit_staff)
            # In directory order, whatever the order of unit_ids.
            for i in sorted({i for u in dict.fromkeys(unit_ids) for i in self.by_unit.get(u, ())}):
                uid, _, roles, email = self.users[i]
                if any(r in roles for r in wanted):
                    picked.append((uid, email))
        elif recipient in WIDE_GROUPS:
            role, unit_kind = WIDE_GROUPS[recipient]
            for uid, unit_id, roles, email in self.users:
                kind = self.unit_kind.get(unit_id or -1)
                if role in roles or (
                    kind == unit_kind and (recipient != "office" or Role.admin not in roles)
                ):
                    picked.append((uid, email))
        if recipient == "unit":
            emails.extend(e for u in unit_ids if (e := self.unit_email.get(u)))
        emails.extend(e for _, e in picked if e)
        return [uid for uid, _ in picked], list(dict.fromkeys(e.strip() for e in emails if e and "@" in e))

    def endpoints_for(
        self, event_type: str, unit_id: int | None, plan_id: int | None, item_type: Any = None
    ) -> list[WebhookEndpoint]:
        also = str(item_type) if event_type == "notice.digest" and item_type else None
        return [
            ep
            for ep in self.endpoints
            if subscribed(ep, event_type, unit_id, plan_id)
            # A digest spans its unit's plans: an endpoint of one plan takes it too (it names the
            # assignments; what the endpoint may read of them its API key decides), or it would
            # hear nothing of the notices the digest stands for.
            or (also is not None and subscribed(ep, also, unit_id, ep.plan_id))
        ]


def _recipients_of(event_type: str, unit_id: int | None, data: dict[str, Any]) -> tuple[str, list[int]]:
    """The event's recipient group and the units it concerns."""
    ref = data.get("recipient")
    if not isinstance(ref, dict):
        ref = {}
    recipient = str(ref.get("code") or DEFAULT_RECIPIENT.get(event_type, "unit"))
    unit_ids = [unit_id] if unit_id is not None else [int(u) for u in data.get("unit_ids") or []]
    return recipient, unit_ids


def enrich(event_type: str, data: dict[str, Any], created_at: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Exact working-day figures as of the moment the notice was created (computed once, then stored).

    Through the event's model, so the stored payload stays exactly what the catalog declares.
    """
    if event_type not in DEADLINE_TYPES or not data.get("due_date"):
        return data
    due = date.fromisoformat(str(data["due_date"]))
    today = cal.local_date(created_at, zone)
    # Overdue time counts from the later of the due date and the day the unit was told of it.
    counted_from = overdue_basis_of(due, _date_or_none(data.get("overdue_from"))) or due
    figures: dict[str, Any] = {
        "due_at": cal.end_of_day(due, zone).isoformat(),
        "working_days_overdue": cal.working_days_overdue(counted_from, created_at, zone),
        # "D working days before due" starts on the working day D before the due date, so from
        # then on the working days *after* today up to the due date are D: the 7-day reminder
        # reads 7.
        "working_days_left": cal.working_days_between(today, due) if due >= today else 0,
    }
    # Figures resting on a year without known holidays say so (render adds a clause).
    uncovered = cal.uncovered_years(min(due, today), max(due, today))
    if uncovered:
        figures["calendar_uncovered_years"] = uncovered
    try:
        return events.model_for(event_type).model_validate({**data, **figures}).model_dump(mode="json")
    except ValidationError as exc:
        # Delivered as written: a notice with an odd field is better than a lost one; tests and
        # the catalog check keep this branch cold.
        log.error("outbox payload does not match its schema", extra={"type": event_type, "error": str(exc)})
        return {**data, **figures}


def _date_or_none(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# --- fan-out


def _delivery(
    event_id: int, channel: ChannelKind, target: str, due: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "channel": str(channel),
        "target": target,
        "endpoint_id": None,
        "assignment_id": None,
        "recipient_user_id": None,
        "status": str(DeliveryStatus.pending),
        "attempts": 0,
        "next_attempt_at": due,
        "lease_until": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


# The enriched payloads of a batch, written back in one executemany.
_SET_PAYLOAD = (
    sa.update(E)
    .where(E.c.id == sa.bindparam("event_id"))
    .values(payload=sa.bindparam("payload", type_=E.c.payload.type))
)


@dataclass
class FanOutResult:
    events: int = 0
    deliveries: int = 0
    inbox: int = 0  # inbox rows offered (a person's row already there is not written twice)
    planned: list[dict[str, Any]] = field(default_factory=list)


def fan_out(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    limit: int = 500,
    policies: tuple[Policy, dict[int, Policy]] | None = None,
    commit: bool = True,
) -> FanOutResult:
    """Expand up to `limit` new outbox events into deliveries and inbox rows, in one transaction."""
    zone = zones.default(settings)
    pick = sa.select(E.c.id).where(E.c.fanned_out_at.is_(None)).order_by(E.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.execute(pick).scalars())
    result = FanOutResult()
    if not ids:
        if commit:
            session.commit()
        return result
    default, overrides = policies if policies is not None else load_policies(session)
    rows = session.execute(
        sa.select(
            E.c.id,
            E.c.type,
            E.c.payload,
            E.c.plan_id,
            E.c.unit_id,
            E.c.assignment_id,
            E.c.endpoint_id,
            E.c.created_at,
        )
        .where(E.c.id.in_(ids))
        .order_by(E.c.id)
    ).all()
    # Only the people this batch can reach: its events' units, and the wide groups it names.
    need_units: set[int] = set()
    need_groups: set[str] = set()
    for r in rows:
        recipient, unit_ids = _recipients_of(r.type, r.unit_id, dict((r.payload or {}).get("data") or {}))
        need_units.update(unit_ids)
        need_groups.add(recipient)
    directory = Directory.load(session, unit_ids=need_units, groups=need_groups)
    plan_ids = {r.plan_id for r in rows if r.plan_id is not None}
    plan_zones = (
        dict(session.execute(sa.select(PL.c.id, PL.c.timezone).where(PL.c.id.in_(plan_ids))).all())
        if plan_ids
        else {}
    )
    addressed = {r.endpoint_id for r in rows if r.endpoint_id is not None}
    addressed_kind = (
        dict(session.execute(sa.select(WEP.c.id, WEP.c.kind).where(WEP.c.id.in_(addressed))).all())
        if addressed
        else {}
    )
    deliveries: list[dict[str, Any]] = []
    inbox: list[dict[str, Any]] = []
    enriched: list[dict[str, Any]] = []
    for row in rows:
        policy = overrides.get(row.plan_id, default) if row.plan_id is not None else default
        payload = dict(row.payload or {})
        created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        # The working-day figures count in the plan's zone, as the scanner's cutoffs did.
        plan_zone = zones.of(plan_zones.get(row.plan_id), settings)
        data = enrich(row.type, dict(payload.get("data") or {}), created_at, plan_zone)
        if data is not payload.get("data"):
            payload["data"] = data
            enriched.append({"event_id": row.id, "payload": payload})
        if row.endpoint_id is not None:
            # Addressed to one endpoint (a test ping): that endpoint only, whatever it subscribes to.
            kind = addressed_kind.get(row.endpoint_id)
            if kind is not None:
                deliveries.append(
                    _delivery(row.id, ChannelKind(str(kind)), f"endpoint:{row.endpoint_id}", now, now)
                    | {"endpoint_id": row.endpoint_id}
                )
            continue
        recipient, unit_ids = _recipients_of(row.type, row.unit_id, data)
        user_ids, emails = directory.resolve(recipient, unit_ids)
        rendered = render(row.type, data)
        channels = set(policy.channels)
        if _summarised(row.type, data):
            # People hear of a publication once per unit (plan.published); systems get every item.
            channels &= MACHINE_CHANNELS
        if "inbox" in channels:
            inbox.extend(
                inbox_channel.rows(
                    event_id=row.id, event_type=row.type, user_ids=user_ids, rendered=rendered, now=now
                )
            )
        if row.type in INTERNAL_ONLY:
            continue
        quiet_until = policy.quiet_hours.ends_after(now, zone) if policy.quiet_hours else now

        def add(
            channel: ChannelKind,
            target: str,
            *,
            endpoint_id: int | None = None,
            row: Any = row,
            quiet_until: datetime = quiet_until,
        ) -> None:
            # Quiet hours hold chat and e-mail from the start; webhooks never wait.
            due = quiet_until if str(channel) in QUIET_CHANNELS else now
            item = _delivery(row.id, channel, target, due, now)
            if endpoint_id is not None:
                # Per endpoint, one assignment's events go out in order (the claim holds later ones).
                item |= {"endpoint_id": endpoint_id, "assignment_id": row.assignment_id}
            deliveries.append(item)

        # No SMTP server configured: e-mail is not a channel of this installation.
        if "email" in channels and settings.smtp_host:
            for address in emails:
                add(ChannelKind.email, address[:255])
        if row.type in PEOPLE_ONLY:
            continue
        # A digest reaches the endpoints that take the notices it stands for, too.
        for ep in directory.endpoints_for(row.type, row.unit_id, row.plan_id, data.get("item_type")):
            kind = str(ep.kind)
            if kind in channels:
                add(ChannelKind(kind), f"endpoint:{ep.id}", endpoint_id=ep.id)
    if enriched:
        session.execute(_SET_PAYLOAD, enriched)
    inbox_channel.add(session, inbox)
    result.inbox = len(inbox)
    if deliveries:
        stmt = (
            _insert(session, D)
            .values(deliveries)
            .on_conflict_do_nothing(index_elements=["event_id", "channel", "target"])
        )
        result.deliveries = (
            rowcount(session.execute(stmt, execution_options={"preserve_rowcount": True})) or 0
        )
        result.planned = deliveries
    session.execute(sa.update(E).where(E.c.id.in_(ids)).values(fanned_out_at=now))
    result.events = len(ids)
    if commit:
        session.commit()
    return result
