"""The deadline scanner: set-based INSERT … SELECT into the outbox, deduplicated by key.

Every notice is one statement over the indexed (state, due_date) / (plan_id, state) columns;
the working-day rules are turned into date cutoffs first (duban.calendar), so no open
assignment is ever loaded into Python. Repeating a scan — or running it on several replicas
at once — inserts nothing new, because every row carries a unique dedupe key and the insert
says ON CONFLICT (dedupe_key) DO NOTHING.
"""

from __future__ import annotations

import copy
import hashlib
import queue
import threading
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from duban import calendar as cal
from duban import calendar_store, events, links, periods, zones
from duban.db import rowcount
from duban.models import (
    OPEN_STATES,
    REPORT_IN_STATES,
    Assignment,
    NoticeChange,
    OutboxEvent,
    Plan,
    ProgressReport,
    ScanRun,
    Task,
    Unit,
    overdue_basis,
)
from duban.policy import Policy, load_policies
from duban.settings import Settings, get_settings

A = Assignment.__table__  # type: ignore[attr-defined]
P = Plan.__table__  # type: ignore[attr-defined]
T = Task.__table__  # type: ignore[attr-defined]
U = Unit.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
R = ProgressReport.__table__  # type: ignore[attr-defined]
S = ScanRun.__table__  # type: ignore[attr-defined]
NC = NoticeChange.__table__  # type: ignore[attr-defined]

OPEN = sorted(str(s) for s in OPEN_STATES)
# Up to this many changed assignments, a pass names them in its statements (an index look-up
# each); more (a bulk import), and it joins the claimed notice_change rows instead.
FEW_CHANGES = 5000
# The transaction-scoped advisory lock a recording pass holds (an arbitrary constant: "duban scan").
SCAN_LOCK = 0x6475_6261_6E5F_7363
RECIPIENT_NAMES = {
    "unit": "责任单位",
    "unit_head": "单位负责人",
    "office": "领导小组办公室",
    "leader": "县分管领导",
}
# plan_id, assignment_id or unit_id left empty, typed (a UNION of two NULLs would be text).
NO_ID = sa.cast(sa.null(), sa.Integer)
EVENT_COLUMNS = [
    "message_id",
    "type",
    "dedupe_key",
    "payload",
    "plan_id",
    "assignment_id",
    "unit_id",
    "created_at",
]


@dataclass
class ScanResult:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + max(n, 0)

    @property
    def created(self) -> int:
        return sum(self.counts.values())


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def insert(self) -> Any:
        return (postgresql if self.pg else sqlite).insert(E)

    def obj(self, *pairs: tuple[str, Any]) -> ColumnElement[Any]:
        args: list[Any] = []
        for key, value in pairs:
            args.append(sa.literal_column(f"'{key}'"))
            args.append(value)
        return (sa.func.json_build_object if self.pg else sa.func.json_object)(*args)

    def message_id(self) -> ColumnElement[Any]:
        if self.pg:
            return sa.literal_column("'msg_' || replace(gen_random_uuid()::text, '-', '')")
        return sa.literal_column("'msg_' || lower(hex(randomblob(16)))")

    def id_array(self, col: Any) -> ColumnElement[Any]:
        """The group's ids as a JSON array (an aggregate)."""
        if self.pg:
            return sa.func.json_agg(aggregate_order_by(col, col))
        return sa.func.json_group_array(col)

    def json_value(self, col: Any) -> ColumnElement[Any]:
        """A JSON array from a CTE's column inside a JSON object (SQLite has lost its JSON subtype)."""
        return col if self.pg else sa.func.json(col)

    @staticmethod
    def s(value: str) -> ColumnElement[Any]:
        return sa.cast(sa.literal(value), sa.String)

    @staticmethod
    def text(col: Any) -> ColumnElement[Any]:
        return sa.cast(col, sa.String)


def _default(model: type[BaseModel], name: str) -> ColumnElement[Any]:
    default = model.model_fields[name].get_default(call_default_factory=True)
    if default is None:
        return sa.null()
    if isinstance(default, bool | int):
        return sa.cast(sa.literal(default), sa.Integer)
    raise TypeError(f"{model.__name__}.{name}: give the scanner a value for a non-null default")


def data_of(q: _Sql, model: type[BaseModel], values: dict[str, Any]) -> ColumnElement[Any]:
    """A JSON object in SQL with exactly the model's fields, in its order: the scanner's payloads
    are the contract's payloads. An undeclared or a missing required field fails here, when the
    statement is built, not at an integrator's end."""
    fields = model.model_fields
    unknown = sorted(set(values) - set(fields))
    missing = sorted(n for n, f in fields.items() if f.is_required() and n not in values)
    if unknown or missing:
        raise ValueError(f"{model.__name__} payload: undeclared {unknown}, missing {missing}")
    return q.obj(*((n, values[n] if n in values else _default(model, n)) for n in fields))


def _ref(q: _Sql, id_: Any, name: Any, code: Any | None = None) -> ColumnElement[Any]:
    return data_of(q, events.Ref, {"id": id_, "name": name, "code": code if code is not None else sa.null()})


class Scanner:
    def __init__(
        self,
        session: Session,
        *,
        now: datetime,
        settings: Settings,
        zone: ZoneInfo | None = None,
        result: ScanResult | None = None,
        since: datetime | None = None,
        mark: int | None = None,
        changed: bool | Sequence[int] = True,
        jobs: list[Job] | None = None,
    ) -> None:
        self.session = session
        # Where the notices' statements go when they are to run later, spread over connections
        # (`run_jobs`); None: each runs when it is built.
        self.jobs = jobs
        self.now = now
        # Incremental: the previous pass's clock and this pass's claim of notice_change rows
        # (`changed`: whether it claimed any, or the assignment ids when they are few). A notice
        # is new only for an assignment claimed (changed since) or one a cutoff passed since `since`.
        self.since = since
        self.mark = mark
        self.changed = changed
        self.settings = settings
        # Deadlines are local dates of their plan's zone; the digest is the installation's day.
        self.zone = zone or zones.default(settings)
        self.today = cal.local_date(now, self.zone)
        self.q = _Sql(session.get_bind().dialect.name)
        self.result = result if result is not None else ScanResult()
        self.now_iso = now.isoformat()
        self.link_prefix = links.prefix("assignments")

    def on(self, session: Session, result: ScanResult) -> Scanner:
        """This scanner's cutoffs over another connection, counting into `result`."""
        other = copy.copy(self)
        other.session, other.result, other.jobs = session, result, None
        return other

    def later(self, group: str, method: Callable[..., Any], **kwargs: Any) -> None:
        """`method(self, **kwargs)` now, or as a job of `group` (see Job)."""
        if self.jobs is None:
            method(self, **kwargs)
        else:
            self.jobs.append(Job(group, self, method, kwargs))

    def _notice(self, kind: str, *, stage: str, recipient: str, **kwargs: Any) -> None:
        self.later(
            _notice_name(kind, stage, recipient),
            Scanner._assignment_notice,
            kind=kind,
            stage=stage,
            recipient=recipient,
            **kwargs,
        )

    # --- building blocks
    def _new(self, *crossed: Sequence[ColumnElement[bool]]) -> list[Sequence[ColumnElement[bool]]]:
        """The rows a notice may be new for, as conditions of one statement each: all rows in a full
        pass; else the changed ones and each index range in `crossed` (due dates a cutoff passed
        since the previous pass). Apart, not OR-ed, so that every statement is an index range or a
        join on the claimed ids: a pass costs what is due or changed, not what is open. A notice
        in two of them is inserted once (the dedupe key)."""
        if self.since is None:
            return [()]
        if not self.changed:
            return list(crossed)
        if isinstance(self.changed, bool) or not self.q.pg:
            changed = A.c.id.in_(sa.select(NC.c.assignment_id).where(NC.c.claim == self.mark))
        else:
            # The few ids themselves: the statement is then planned as primary-key look-ups
            # whatever the statistics of the (queue-like) notice_change table say.
            changed = A.c.id == sa.any_(sa.literal(list(self.changed), type_=postgresql.ARRAY(sa.Integer)))
        return [(changed,), *crossed]

    def _payload(self, kind: str, data: ColumnElement[Any]) -> ColumnElement[Any]:
        version = sa.cast(sa.literal(events.model_for(kind).schema_version), sa.Integer)
        return self.q.obj(
            ("type", self.q.s(kind)),
            ("version", version),
            ("timestamp", self.q.s(self.now_iso)),
            ("data", data),
        )

    def _run(self, kind: str, select: sa.Select[Any] | sa.CompoundSelect[Any]) -> int:
        stmt = (
            self.q.insert()
            .from_select(EVENT_COLUMNS, select)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        n = self._inserted(self.session.execute(stmt, execution_options={"preserve_rowcount": True}))
        self.result.add(kind, n)
        return n

    def _inserted(self, result: Any) -> int:
        n = rowcount(result)
        if n < 0:
            # sqlite3 counts only statements that start with INSERT; one with a CTE starts WITH.
            n = int(self.session.execute(sa.select(sa.func.changes())).scalar_one())
        return n

    def _assignment_notice(
        self,
        kind: str,
        *,
        stage: str,
        recipient: str,
        where: Sequence[ColumnElement[bool]],
        level: int | None = None,
        extra: Sequence[tuple[str, Any]] = (),
        digest_min: int = 0,
        met_by: ColumnElement[Any] | None = None,
        cutoff: date | None = None,
        part: str = "",
        listing: dict[str, Any] | None = None,
    ) -> int:
        """One notice (`kind`, `stage`, `recipient`) for every open assignment `where` selects.

        In a full pass with `digest_min`, a unit with at least that many such assignments gets one
        `notice.digest` naming them instead (`met_by` ≤ `cutoff`: what the pass counted in). `part`
        tells apart, in the digests' keys, statements of one notice over different assignments
        (report reminders of plans with different cadences whose periods coincide). `listing`: the
        GET /assignments filters that list what a digest counts, for its link (with the unit's id)."""
        q = self.q
        data = data_of(
            q,
            events.model_for(kind),
            {
                "plan": _ref(q, P.c.id, P.c.title, P.c.doc_no),
                "task": _ref(q, T.c.id, T.c.title, T.c.code),
                "unit": _ref(q, U.c.id, U.c.name),
                "assignment_id": A.c.id,
                "state": A.c.state,
                "due_date": A.c.due_date,
                "level": sa.cast(sa.literal(level), sa.Integer) if level is not None else sa.null(),
                "recipient": _ref(q, sa.null(), q.s(RECIPIENT_NAMES[recipient]), q.s(recipient)),
                "link": q.s(self.link_prefix) + q.text(A.c.id),
                "overdue_from": A.c.overdue_from,
                **dict(extra),
            },
        )
        # kind:assignment:due date:stage:recipient — a new due date (extension) yields new keys.
        key = (
            q.s(f"{kind}:") + q.text(A.c.id) + q.s(":") + q.text(A.c.due_date) + q.s(f":{stage}:{recipient}")
        )
        due = [A.c.state.in_(OPEN), A.c.due_date.is_not(None), *where]
        select = sa.select(
            q.message_id(),
            q.s(kind),
            key,
            self._payload(kind, data),
            A.c.plan_id,
            A.c.id,
            A.c.unit_id,
            sa.literal(self.now, type_=E.c.created_at.type),
        ).select_from(
            A.join(P, P.c.id == A.c.plan_id).join(T, T.c.id == A.c.task_id).join(U, U.c.id == A.c.unit_id)
        )
        # Not what an earlier digest of the same notice counted in (a changed assignment it named).
        due.extend(self._not_digested(kind, stage, recipient, met_by))
        if self.since is not None or digest_min <= 0:
            return self._run(kind, select.where(*due))
        return self._digested(
            kind,
            select,
            due=due,
            key=key,
            stage=stage,
            recipient=recipient,
            level=level,
            digest_min=digest_min,
            met_by=met_by,
            cutoff=cutoff,
            part=part,
            listing=listing,
        )

    def _not_digested(
        self, kind: str, stage: str, recipient: str, met_by: ColumnElement[Any] | None
    ) -> list[ColumnElement[bool]]:
        """The assignment is in no earlier digest of this notice: none of its unit's names it with a
        date (`met_by`) up to the digest's cutoff — a later due date (an extension) is a new notice,
        as a new key is. No condition at all where no such digest was ever written (the usual case)."""
        prefix = _digest_prefix(kind, stage, recipient)
        if not self._sent(*_digests_of(E, prefix)):
            return []
        D = E.alias("earlier")
        named = D.c.payload["data"]["assignment_ids"]
        if self.q.pg:
            listed: ColumnElement[bool] = sa.cast(named, postgresql.JSONB).contains(sa.func.to_jsonb(A.c.id))
        else:
            ids = sa.func.json_each(D.c.payload, "$.data.assignment_ids").table_valued("value").alias("named")
            # Two levels in: the assignment and the digest come from the enclosing statements.
            listed = sa.exists(
                sa.select(sa.literal(1)).select_from(ids).where(ids.c.value == A.c.id).correlate_except(ids)
            )
        counted = [*_digests_of(D, prefix), D.c.unit_id == A.c.unit_id, listed]
        if met_by is not None:
            # SQLite keeps dates as ISO text (and a CAST to DATE there would make it a number).
            cut = D.c.payload["data"]["cutoff"].as_string()
            counted.append(met_by <= (sa.cast(cut, sa.Date) if self.q.pg else cut))
        return [~sa.exists().where(*counted)]

    def _sent(self, *where: ColumnElement[bool]) -> bool:
        return self.session.execute(sa.select(E.c.id).where(*where).limit(1)).first() is not None

    def _digested(
        self,
        kind: str,
        items: sa.Select[Any],
        *,
        due: list[ColumnElement[bool]],
        key: ColumnElement[Any],
        stage: str,
        recipient: str,
        level: int | None,
        digest_min: int,
        met_by: ColumnElement[Any] | None,
        cutoff: date | None,
        part: str,
        listing: dict[str, Any] | None,
    ) -> int:
        """A full pass's notices of one kind, stage and recipient: a digest for each unit with at
        least `digest_min` of them, one notice each for the rest; one statement.

        Each once: an assignment already told one by one (its notice's key exists) or named by an
        earlier digest of the same kind, stage and recipient (`_not_digested`) is left out. A
        first pass has neither to look for, and does not."""
        q = self.q
        prefix = _digest_prefix(kind, stage, recipient)
        new = list(due)
        if self._sent(E.c.type == kind):
            new.append(~sa.exists().where(E.c.dedupe_key == key))
        found = sa.select(A.c.id.label("id"), A.c.unit_id.label("unit_id")).where(*new).cte("found")
        per_unit = (
            sa.select(found.c.unit_id, sa.func.count().label("n"), q.id_array(found.c.id).label("ids"))
            .group_by(found.c.unit_id)
            .cte("per_unit")
        )
        data = data_of(
            q,
            events.NoticeDigest,
            {
                "item_type": q.s(kind),
                "stage": q.s(stage),
                "level": sa.cast(sa.literal(level), sa.Integer) if level is not None else sa.null(),
                "recipient": _ref(q, sa.null(), q.s(RECIPIENT_NAMES[recipient]), q.s(recipient)),
                "unit": _ref(q, U.c.id, U.c.name),
                "count": per_unit.c.n,
                "assignment_ids": q.json_value(per_unit.c.ids),
                "cutoff": q.s(cutoff.isoformat()) if cutoff is not None else sa.null(),
                # The list of what it counts (still open) for the unit, its id appended last.
                "link": (
                    q.s(links.assignments(**listing, unit_id="")) + q.text(per_unit.c.unit_id)
                    if listing is not None
                    else q.s(links.assignments())
                ),
            },
        )
        created_at = sa.literal(self.now, type_=E.c.created_at.type)
        suffix = f":{self.now_iso}" + (f":{part}" if part else "")
        digests = (
            sa.select(
                q.message_id(),
                q.s("notice.digest"),
                q.s(prefix) + q.text(per_unit.c.unit_id) + q.s(suffix),
                self._payload("notice.digest", data),
                NO_ID,
                NO_ID,
                per_unit.c.unit_id,
                created_at,
            )
            .select_from(per_unit.join(U, U.c.id == per_unit.c.unit_id))
            .where(per_unit.c.n >= digest_min)
        )
        few = sa.select(found.c.id).join(per_unit, per_unit.c.unit_id == found.c.unit_id)
        singles = items.where(A.c.id.in_(few.where(per_unit.c.n < digest_min)))
        stmt = (
            q.insert()
            .from_select(EVENT_COLUMNS, digests.union_all(singles))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        n = self._inserted(self.session.execute(stmt, execution_options={"preserve_rowcount": True}))
        if n:
            written = sa.select(sa.func.count()).where(
                *_digests_of(E, prefix),
                E.c.created_at == created_at,
                E.c.dedupe_key.endswith(suffix, autoescape=True),
            )
            d = int(self.session.execute(written).scalar_one())
            self.result.add("notice.digest", d)
            self.result.add(kind, n - d)
        return n

    # --- notices
    def deadlines(self, policy: Policy, scope: ColumnElement[bool]) -> None:
        today = self.today
        since = self.since
        # Due soon: only the latest stage reached is created; earlier ones a late scan skips.
        lower = today - timedelta(days=1)
        for d in sorted(policy.due_soon_working_days):
            cutoff = cal.latest_due_date_due_soon(self.now, d, self.zone)
            if cutoff > lower:
                before = cal.latest_due_date_due_soon(since, d, self.zone) if since else None
                for new in self._new(*([(A.c.due_date > before,)] if before and before < cutoff else [])):
                    for recipient in policy.due_soon_recipients:
                        self._notice(
                            "assignment.due_soon",
                            stage=f"{d}wd",
                            recipient=recipient,
                            where=[scope, A.c.due_date > lower, A.c.due_date <= cutoff, *new],
                            extra=[("days_before", sa.cast(sa.literal(d), sa.Integer))],
                            digest_min=policy.digest_min_items,
                            met_by=A.c.due_date,
                            cutoff=cutoff,
                            listing={"state": OPEN, "overdue": "false", "due_before": cutoff.isoformat()},
                        )
            lower = max(lower, cutoff)
        overdue_cutoff = cal.latest_due_date_overdue_by(self.now, 0, self.zone)
        # Assigned after its due date (a plan published late): the publication message said so,
        # so no separate overdue notice; escalations count from the day of assignment.
        due_when_assigned = sa.or_(A.c.overdue_from.is_(None), A.c.overdue_from <= A.c.due_date)
        basis = overdue_basis(A)
        if policy.overdue_enabled:
            before = cal.latest_due_date_overdue_by(since, 0, self.zone) if since else None
            for new in self._new(*([(A.c.due_date > before,)] if before and before < overdue_cutoff else [])):
                for recipient in policy.overdue_recipients:
                    self._notice(
                        "assignment.overdue",
                        stage="due",
                        recipient=recipient,
                        where=[scope, A.c.due_date <= overdue_cutoff, due_when_assigned, *new],
                        digest_min=policy.digest_min_items,
                        met_by=A.c.due_date,
                        cutoff=overdue_cutoff,
                        listing={"overdue": "true"},
                    )
        # Escalations: every level reached is created, each once, even when the scan is late.
        for lv in policy.escalation_levels:
            cutoff = cal.latest_due_date_overdue_by(self.now, lv.after_working_days, self.zone)
            crossed: list[tuple[ColumnElement[bool], ...]] = []
            if since:
                # The later of the due date and overdue_from passed the level's cutoff since:
                # two index ranges, one on each column.
                before = cal.latest_due_date_overdue_by(since, lv.after_working_days, self.zone)
                if before < cutoff:
                    crossed = [
                        (A.c.due_date > before,),
                        (A.c.overdue_from > before, A.c.overdue_from <= cutoff),
                    ]
            for new in self._new(*crossed):
                for recipient in lv.recipients:
                    self._notice(
                        "assignment.escalated",
                        stage=f"L{lv.level}",
                        recipient=recipient,
                        level=lv.level,
                        where=[scope, A.c.due_date <= cutoff, basis <= cutoff, *new],
                        extra=[
                            ("threshold_working_days", sa.cast(sa.literal(lv.after_working_days), sa.Integer))
                        ],
                        digest_min=policy.digest_min_items,
                        met_by=basis,
                        cutoff=cutoff,
                        listing={"min_working_days_overdue": lv.after_working_days},
                    )

    def reports(
        self, plan_ids: Sequence[int], cadence: str, due_day: int, policy: Policy, *, part: str = ""
    ) -> None:
        """Report reminders of plans that share a cadence, a due day and a policy: one statement
        per notice for all of them, not one per plan. `part` names the group in its digests' keys:
        another group's period may have the same key."""
        if not policy.report_reminders_enabled or not plan_ids:
            return
        q = self.q
        submitted = [str(s) for s in REPORT_IN_STATES]
        active = _report_notices(self.today, cadence, due_day, policy)
        # What was already active at the previous pass was created then for every assignment it
        # applied to; since, only changed assignments (a new one, a rejected report) can need it.
        before = (
            _report_notices(cal.local_date(self.since, self.zone), cadence, due_day, policy)
            if self.since
            else {}
        )
        in_plans = A.c.plan_id == plan_ids[0] if len(plan_ids) == 1 else A.c.plan_id.in_(plan_ids)
        for kind, (period, deadline) in active.items():
            has_report = sa.exists().where(
                R.c.assignment_id == A.c.id, R.c.period == period, R.c.state.in_(submitted)
            )
            where = [
                in_plans,
                ~has_report,
                A.c.assigned_at < sa.literal(cal.end_of_day(deadline, self.zone), type_=A.c.assigned_at.type),
            ]
            # A period that came into force since the previous pass is new for every assignment.
            for new in self._new() if before.get(kind) == (period, deadline) else [()]:
                for recipient in policy.report_recipients:
                    self._notice(
                        kind,
                        stage=f"report-{period}",
                        recipient=recipient,
                        where=[*where, *new],
                        extra=[("period", q.s(period)), ("report_due_date", q.s(deadline.isoformat()))],
                        digest_min=policy.digest_min_items,
                        part=part,
                        listing={"report_missing": period},
                    )

    def digest(self, policy: Policy) -> None:
        if not policy.digest_enabled or not cal.is_working_day(self.today):
            return
        if self.now.astimezone(self.zone).hour < policy.digest_hour:
            return
        day = self.today.isoformat()
        office_key = f"digest.daily:{day}:office"
        # Once a day: after the first scan of the day has written it, skip the aggregate entirely.
        if self.session.execute(sa.select(E.c.id).where(E.c.dedupe_key == office_key)).first() is not None:
            return
        q = self.q
        overdue_cut = cal.latest_due_date_overdue_by(self.now, 0, self.zone)
        soon_days = max(policy.due_soon_working_days or [7])
        soon_cut = cal.latest_due_date_due_soon(self.now, soon_days, self.zone)
        n_open = sa.func.count()
        n_overdue = sa.func.sum(sa.case((A.c.due_date <= overdue_cut, 1), else_=0))
        n_soon = sa.func.sum(
            sa.case((sa.and_(A.c.due_date > overdue_cut, A.c.due_date <= soon_cut), 1), else_=0)
        )
        per_unit = (
            sa.select(
                A.c.unit_id.label("unit_id"),
                n_open.label("n_open"),
                n_overdue.label("n_overdue"),
                n_soon.label("n_soon"),
            )
            .where(A.c.state.in_(OPEN))
            .group_by(A.c.unit_id)
            .cte("per_unit")
        )
        link = q.s(links.assignments())

        def data(
            recipient: ColumnElement[Any], n1: Any, n2: Any, n3: Any, units: Any = sa.null()
        ) -> ColumnElement[Any]:
            values = {
                "date": q.s(day),
                "recipient": recipient,
                "open": n1,
                "overdue": n2,
                "due_soon": n3,
                # The window the count covers, so the text says the policy's number.
                "due_soon_days": sa.cast(sa.literal(soon_days), sa.Integer),
            }
            return data_of(q, events.DigestDaily, {**values, "units": units, "link": link})

        unit_recipient = _ref(q, U.c.id, U.c.name, q.s("unit"))
        units = (
            sa.select(
                q.message_id(),
                q.s("digest.daily"),
                q.s(f"digest.daily:{day}:unit:") + q.text(per_unit.c.unit_id),
                self._payload(
                    "digest.daily",
                    data(unit_recipient, per_unit.c.n_open, per_unit.c.n_overdue, per_unit.c.n_soon),
                ),
                NO_ID,
                NO_ID,
                per_unit.c.unit_id,
                sa.literal(self.now, type_=E.c.created_at.type),
            )
            .select_from(per_unit.join(U, U.c.id == per_unit.c.unit_id))
            .where(per_unit.c.n_open > 0)
        )
        office_recipient = _ref(q, sa.null(), q.s(RECIPIENT_NAMES["office"]), q.s("office"))
        total = (
            sa.select(
                q.message_id(),
                q.s("digest.daily"),
                q.s(office_key),
                self._payload(
                    "digest.daily",
                    data(
                        office_recipient,
                        sa.func.coalesce(sa.func.sum(per_unit.c.n_open), 0),
                        sa.func.coalesce(sa.func.sum(per_unit.c.n_overdue), 0),
                        sa.func.coalesce(sa.func.sum(per_unit.c.n_soon), 0),
                        sa.func.count(per_unit.c.unit_id),
                    ),
                ),
                NO_ID,
                NO_ID,
                NO_ID,
                sa.literal(self.now, type_=E.c.created_at.type),
            )
            .select_from(per_unit)
            .where(sa.true())
            # The office hears nothing on a day with nothing open.
            .having(sa.func.count(per_unit.c.unit_id) > 0)
        )
        # One statement: the units' counts are read once for their digests and the office's.
        self._run("digest.daily", units.union_all(total))


def _notice_name(kind: str, stage: str, recipient: str) -> str:
    """What a notice's keys, its digests' included, all contain: one name, one set of keys."""
    return f"{kind}:{stage}:{recipient}"


def _digest_prefix(kind: str, stage: str, recipient: str) -> str:
    return f"notice.digest:{_notice_name(kind, stage, recipient)}:"


@dataclass
class Job:
    """One notice's statement of a pass, to run on whichever connection is free. Every key a job
    writes contains its `group` (the notice's kind, stage and recipient), so jobs of different
    groups never insert the same key: on separate connections none waits for another's
    uncommitted row. Jobs of one group (the report groups of several cadences) run on one."""

    group: str
    scanner: Scanner
    method: Callable[..., Any]
    kwargs: dict[str, Any]

    def run(self, session: Session, result: ScanResult) -> None:
        self.method(self.scanner.on(session, result), **self.kwargs)


# A report reminder reads every open row beside the reports, a due-soon notice writes its rows one
# by one: the longest first, so that the last to finish is a short one.
_FIRST = {"report.missing": 0, "report.due_soon": 1, "assignment.due_soon": 2}


def run_jobs(jobs: Sequence[Job], session: Session, helpers: Sequence[Session], result: ScanResult) -> None:
    """Run the jobs over `session` and each of `helpers` at once, each connection taking the next
    group as it is free; PostgreSQL runs no INSERT … SELECT in parallel itself (15), so this is
    how a full pass uses more than one core. The helpers commit their share once every job has
    succeeded — before the caller commits `session`, which holds the pass's lock and its ScanRun —
    and roll back if any failed. A pass whose own commit fails after theirs is followed by a full
    one that finds their keys and digests: each notice still once."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group, []).append(job)
    pending: queue.SimpleQueue[list[Job]] = queue.SimpleQueue()
    for name in sorted(groups, key=lambda g: _FIRST.get(g.split(":", 1)[0], len(_FIRST))):
        pending.put(groups[name])
    failed: list[BaseException] = []
    results = [ScanResult() for _ in (session, *helpers)]

    def work(conn: Session, counted: ScanResult) -> None:
        while not failed:
            try:
                group = pending.get_nowait()
            except queue.Empty:
                return
            try:
                for job in group:
                    job.run(conn, counted)
            except BaseException as exc:
                failed.append(exc)

    threads = [
        threading.Thread(target=work, args=(h, r), name="scan", daemon=True)
        for h, r in zip(helpers, results[1:], strict=True)
    ]
    for t in threads:
        t.start()
    work(session, results[0])
    for t in threads:
        t.join()
    for h in helpers:
        if failed:
            h.rollback()
        else:
            h.commit()
    if failed:
        raise failed[0]
    for counted in results:
        for kind, n in counted.counts.items():
            result.add(kind, n)


def _escaped(prefix: str) -> str:
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _digests_of(table: Any, prefix: str) -> list[ColumnElement[bool]]:
    """The digests of one notice, as the partial index ix_outbox_event_digest_unit_key reads them:
    its predicate as written there (a literal, so the planner can match it), the key's prefix a
    constant range (escaped: `_` in the kinds is no wildcard)."""
    return [
        table.c.type == sa.literal_column("'notice.digest'"),
        table.c.dedupe_key.like(sa.literal(_escaped(prefix) + "%", literal_execute=True), escape="/"),
    ]


def _report_notices(today: date, cadence: str, due_day: int, policy: Policy) -> dict[str, tuple[str, date]]:
    """The report notices in force on `today`: {kind: (period, deadline)}."""
    upcoming, past = report_deadlines(today, cadence, due_day)
    out: dict[str, tuple[str, date]] = {}
    start = cal.add_working_days(upcoming[1], -policy.report_due_soon_working_days)
    if start <= today <= upcoming[1]:
        out["report.due_soon"] = upcoming
    if past[1] < today:
        out["report.missing"] = past
    return out


def report_deadlines(today: date, cadence: str, due_day: int) -> tuple[tuple[str, date], tuple[str, date]]:
    """(the next reporting deadline on or after today, the last one before today) as (period, date)."""
    candidates = [
        (p.key, cal.effective_due_date(periods.due_date(p, due_day=due_day)))
        for p in periods.around(cadence, today)
    ]
    upcoming = next(c for c in candidates if c[1] >= today)
    past = [c for c in candidates if c[1] < today][-1]
    return upcoming, past


def scan_deadlines(
    session: Session,
    *,
    now: datetime,
    settings: Settings | None = None,
    policies: tuple[Policy, dict[int, Policy]] | None = None,
    record: bool = True,
    helpers: Sequence[Session] = (),
) -> dict[str, int]:
    """Create every notice due at `now`; returns the number created per kind. The caller commits.

    `helpers`, other sessions on the same PostgreSQL database, share a full recording pass's
    statements (`run_jobs`) and are committed here; an incremental pass, which reads this
    transaction's claim of changes, runs on `session` alone, as SQLite always does."""
    started = _time.perf_counter()
    settings = settings or get_settings()
    default, overrides = policies if policies is not None else load_policies(session)
    current = calendar_store.refresh(session)  # the cutoffs below use the office's current holiday table
    result = ScanResult()
    plans = session.execute(
        sa.select(P.c.id, P.c.report_cadence, P.c.report_due_day, P.c.timezone).order_by(P.c.id)
    ).all()
    fingerprint = _fingerprint(default, overrides, plans, current.stamp, zones.default_name(settings))
    # Incremental when the previous pass saw the same policies, plans and calendar and lies
    # before `now`: then only a changed assignment, or one a cutoff passed since, can need a notice.
    since: datetime | None = None
    run: ScanRun | None = None
    changed: bool | list[int] = True
    if record:
        # One recording pass at a time across replicas (PostgreSQL; SQLite has one writer anyway):
        # a replica that finds another's pass under way skips its own, which would redo the same
        # work and wait on the other's keys; its next pass is then incremental after that one.
        if (
            session.get_bind().dialect.name == "postgresql"
            and not session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(SCAN_LOCK))).scalar_one()
        ):
            return {}
        last = session.execute(
            sa.select(S.c.as_of, S.c.mode, S.c.fingerprint).order_by(S.c.id.desc()).limit(1)
        ).first()
        if last is not None and last.mode is not None and last.fingerprint == fingerprint:
            as_of = last.as_of if last.as_of.tzinfo else last.as_of.replace(tzinfo=UTC)
            since = as_of if as_of <= now else None
        run = ScanRun(
            started_at=now,
            as_of=now,
            duration_ms=0,
            created=0,
            mode="incremental" if since else "full",
            fingerprint=fingerprint,
        )
        session.add(run)
        session.flush()
        # The changes committed before this statement: an incremental pass claims them (and looks
        # at their assignments), a full pass, which looks at everything, drops them. A write
        # committed later appends a row this pass does not touch, and the next pass sees it. A
        # pass that never commits leaves them as they were.
        if since:
            claim = sa.update(NC).where(NC.c.claim.is_(None)).values(claim=run.id)
            n = rowcount(session.execute(claim, execution_options={"preserve_rowcount": True}))
            changed = n > 0
            if 0 < n <= FEW_CHANGES:
                claimed = sa.select(NC.c.assignment_id).where(NC.c.claim == run.id).distinct()
                changed = list(session.execute(claimed).scalars())
        else:
            session.execute(sa.delete(NC).where(NC.c.claim.is_(None)))
    mark = run.id if run is not None else None
    parallel = (
        bool(helpers)
        and run is not None
        and since is None
        and session.get_bind().dialect.name == "postgresql"
    )
    jobs: list[Job] | None = [] if parallel else None
    by_zone: dict[str, list[Any]] = {zones.default_name(settings): []}
    for plan in plans:
        by_zone.setdefault(plan.timezone or zones.default_name(settings), []).append(plan)
    several = len(by_zone) > 1
    override_ids = sorted(overrides)
    for zone_name, zone_plans in by_zone.items():
        ids = [p.id for p in zone_plans]
        if several and not ids:
            continue
        scanner = Scanner(
            session,
            now=now,
            settings=settings,
            zone=zones.zone(zone_name),
            result=result,
            since=since,
            mark=mark,
            changed=changed,
            jobs=jobs,
        )
        # One zone (the usual case): no plan filter, the statements stay as they were.
        in_zone = A.c.plan_id.in_(ids) if several else sa.true()
        default_scope = sa.and_(in_zone, A.c.plan_id.not_in(override_ids)) if override_ids else in_zone
        scanner.deadlines(default, default_scope)
        for plan_id in override_ids:
            if plan_id in ids:
                scanner.deadlines(overrides[plan_id], A.c.plan_id == plan_id)
        # Report cadences are per plan: one statement per cadence, due day and policy, for all the
        # plans that share them (at province scale 500 plans, usually one group).
        groups: dict[tuple[str, int, int], list[int]] = {}
        for plan in zone_plans:
            key = (str(plan.report_cadence), int(plan.report_due_day), plan.id if plan.id in overrides else 0)
            groups.setdefault(key, []).append(plan.id)
        for (cadence, due_day, override), plan_ids in groups.items():
            part = f"{cadence}-{due_day}-{override}" + (f"-{zone_name}" if several else "")
            scanner.reports(
                plan_ids, cadence, due_day, overrides[override] if override else default, part=part
            )
    daily = Scanner(session, now=now, settings=settings, result=result, jobs=jobs)
    daily.later("digest.daily", Scanner.digest, policy=default)
    if jobs:
        run_jobs(jobs, session, helpers, result)
    if run is not None and since:
        session.execute(sa.delete(NC).where(NC.c.claim == run.id))
    if run is not None:
        run.duration_ms = int((_time.perf_counter() - started) * 1000)
        run.created = result.created
        session.flush()
    return dict(result.counts)


def _fingerprint(
    default: Policy, overrides: dict[int, Policy], plans: Sequence[Any], stamp: str, zone: str
) -> str:
    """What every cutoff of a pass depends on besides the clock and the assignments themselves."""
    parts = [
        default.model_dump_json(),
        *(f"{pid}:{overrides[pid].model_dump_json()}" for pid in sorted(overrides)),
        *(f"{p.id}:{p.report_cadence}:{p.report_due_day}:{p.timezone}" for p in plans),
        stamp,
        zone,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
