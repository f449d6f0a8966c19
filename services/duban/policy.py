"""Notification policy: the design's defaults, overridden per plan by the office."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from duban.models import NotificationPolicy

RECIPIENTS = ("unit", "unit_head", "office", "leader")
CHANNELS = ("inbox", "email", "webhook", "dingtalk", "wecom")
# Held back during quiet hours; webhooks are machine-to-machine and never wait.
QUIET_CHANNELS = frozenset({"email", "dingtalk", "wecom"})


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1, le=9)
    after_working_days: int = Field(ge=1, le=365)
    recipients: list[str] = Field(min_length=1)

    @field_validator("recipients")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return _check_recipients(v)


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: time = time(22, 0)
    end: time = time(7, 0)

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after `now` outside quiet hours."""
        local = now.astimezone(zone)
        if not self.contains(local.timetz().replace(tzinfo=None)):
            return now
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            from datetime import timedelta

            end += timedelta(days=1)
        return end.astimezone(now.tzinfo)


def _check_recipients(v: list[str]) -> list[str]:
    bad = [r for r in v if r not in RECIPIENTS]
    if bad:
        raise ValueError(f"unknown recipient(s) {bad}; choose from {list(RECIPIENTS)}")
    return list(dict.fromkeys(v))


class Policy(BaseModel):
    """What the scanner creates and how it is delivered. Every field has the design default."""

    model_config = ConfigDict(extra="forbid")
    due_soon_working_days: list[int] = Field(default_factory=lambda: [7, 3, 1])
    due_soon_recipients: list[str] = Field(default_factory=lambda: ["unit"])
    overdue_enabled: bool = True
    # "the unit and its head": the unit's users include its head; the head is named for clarity.
    overdue_recipients: list[str] = Field(default_factory=lambda: ["unit"])
    escalation_levels: list[EscalationLevel] = Field(
        default_factory=lambda: [
            EscalationLevel(level=1, after_working_days=3, recipients=["unit_head"]),
            EscalationLevel(level=2, after_working_days=7, recipients=["office"]),
            EscalationLevel(level=3, after_working_days=15, recipients=["leader"]),
        ]
    )
    report_reminders_enabled: bool = True
    report_due_soon_working_days: int = Field(default=3, ge=0, le=30)
    report_recipients: list[str] = Field(default_factory=lambda: ["unit"])
    digest_enabled: bool = True
    # Local hour from which the day's digest is created.
    digest_hour: int = Field(default=8, ge=0, le=23)
    # A full pass (the first, or after a policy, plan or calendar change) tells a unit of this
    # many notices of one kind in one `notice.digest` instead; 0 tells each one by one.
    digest_min_items: int = Field(default=20, ge=0, le=100_000)
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours)

    @field_validator("due_soon_working_days")
    @classmethod
    def _offsets(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 60 for d in v):
            raise ValueError("due-soon offsets are 1..60 working days")
        return sorted(set(v), reverse=True)

    @field_validator("due_soon_recipients", "overdue_recipients", "report_recipients")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        return _check_recipients(v)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CHANNELS]
        if bad:
            raise ValueError(f"unknown channel(s) {bad}; choose from {list(CHANNELS)}")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _levels(self) -> Policy:
        levels = [lv.level for lv in self.escalation_levels]
        if len(set(levels)) != len(levels):
            raise ValueError("escalation levels must be distinct")
        ordered = sorted(self.escalation_levels, key=lambda lv: lv.level)
        days = [lv.after_working_days for lv in ordered]
        if days != sorted(days):
            raise ValueError("a higher escalation level needs at least as many working days overdue")
        self.escalation_levels = ordered
        return self


DEFAULT_POLICY = Policy()


def parse(config: dict[str, Any] | None) -> Policy:
    """A stored override on top of the defaults (fields it omits keep their default)."""
    return Policy.model_validate(config or {})


def load_policies(session: Session) -> tuple[Policy, dict[int, Policy]]:
    """(default policy, {plan_id: override}); the stored default (plan_id NULL) replaces the design's."""
    rows = session.exec(select(NotificationPolicy).order_by(col(NotificationPolicy.id))).all()
    default = DEFAULT_POLICY
    for row in rows:
        if row.plan_id is None:
            default = parse(row.config)
    overrides = {
        row.plan_id: Policy.model_validate(
            {**default.model_dump(mode="json", exclude_unset=False), **row.config}
        )
        for row in rows
        if row.plan_id is not None
    }
    return default, overrides


def policy_for(session: Session, plan_id: int | None) -> Policy:
    default, overrides = load_policies(session)
    return overrides.get(plan_id, default) if plan_id is not None else default
