"""`duban notifier run --dry-run`: what a pass would create and send, as a person reads it.

One row per message that would go out: when, what kind, which unit, to whom, over which channel,
and the message itself. Everything runs in one transaction that is rolled back: nothing is
written and nothing is sent.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from duban import labels
from duban.models import Delivery, Notification, OutboxEvent, Unit, User, WebhookEndpoint
from duban.settings import Settings
from notifier import fanout
from notifier.render import render
from notifier.scan import scan_deadlines

D = Delivery.__table__  # type: ignore[attr-defined]
E = OutboxEvent.__table__  # type: ignore[attr-defined]
N = Notification.__table__  # type: ignore[attr-defined]
_RECIPIENTS = {"unit": "单位", "unit_head": "单位负责人", "office": "领导小组办公室", "leader": "县领导"}


@dataclass(frozen=True)
class Row:
    time: str  # local, ISO 8601
    type: str
    kind: str
    unit: str
    recipient: str
    channel: str
    channel_label: str
    title: str
    summary: str  # the title, or when it names nothing beyond the kind, the title and the message
    text: str


def collect(session: Session, *, now: datetime, settings: Settings) -> tuple[dict[str, int], list[Row]]:
    """Scan and fan out inside the caller's transaction (which the caller rolls back)."""
    zone = ZoneInfo(settings.timezone)
    counts = scan_deadlines(session, now=now, settings=settings, record=False)
    while fanout.fan_out(session, now=now, settings=settings, limit=1000, commit=False).events:
        pass
    events = session.execute(
        sa.select(E.c.id, E.c.type, E.c.payload, E.c.unit_id).where(E.c.fanned_out_at == now).order_by(E.c.id)
    ).all()
    ids = [e.id for e in events]
    if not ids:
        return counts, []
    units: dict[int, str] = {}
    for uid, name in session.execute(sa.select(col(Unit.id), col(Unit.name))):
        units[uid] = name
    users = {
        uid: full_name or username
        for uid, full_name, username in session.execute(
            sa.select(col(User.id), col(User.full_name), col(User.username))
        )
    }
    endpoints = {
        eid: description or url
        for eid, description, url in session.execute(
            sa.select(col(WebhookEndpoint.id), col(WebhookEndpoint.description), col(WebhookEndpoint.url))
        )
    }
    sends: dict[int, list[tuple[datetime, str, str]]] = {i: [] for i in ids}
    for event_id, channel, target, endpoint_id, at in session.execute(
        sa.select(D.c.event_id, D.c.channel, D.c.target, D.c.endpoint_id, D.c.next_attempt_at).where(
            D.c.event_id.in_(ids), D.c.created_at == now
        )
    ):
        who = endpoints.get(endpoint_id, target) if endpoint_id is not None else target
        sends[event_id].append((at, str(channel), str(who)))
    for event_id, user_id in session.execute(
        sa.select(N.c.event_id, N.c.user_id).where(N.c.event_id.in_(ids), N.c.created_at == now)
    ):
        sends[event_id].append((now, "inbox", users.get(user_id, f"#{user_id}")))

    rows: list[Row] = []
    for e in events:
        data = dict((e.payload or {}).get("data") or {})
        rendered = render(e.type, data)
        unit = units.get(e.unit_id, "") if e.unit_id is not None else _name(data.get("unit"))
        group = _name(data.get("recipient")) or _RECIPIENTS.get(
            fanout.DEFAULT_RECIPIENT.get(e.type, "unit"), ""
        )
        for at, channel, who in sorted(sends[e.id]) or [(now, "", f"{group}（无接收人）")]:
            rows.append(
                Row(
                    time=_aware(at).astimezone(zone).isoformat(timespec="minutes"),
                    type=e.type,
                    kind=labels.lookup(labels.NOTIFICATION_KINDS, e.type),
                    unit=unit or "—",
                    recipient=who,
                    channel=channel,
                    channel_label=labels.lookup(labels.CHANNELS, channel) or "—",
                    title=rendered.title,
                    summary=_summary(rendered.title, rendered.lines),
                    text=rendered.text,
                )
            )
    rows.sort(key=lambda r: r.time)
    return counts, rows


def _summary(title: str, lines: list[str]) -> str:
    # 「【领导批示】」 alone says only the kind; the table shows what the leader wrote.
    return f"{title}{lines[-1]}" if title.endswith("】") and lines else title


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))


def _name(ref: Any) -> str:
    return str(ref.get("name") or "") if isinstance(ref, dict) else ""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(rows: list[Row], *, now: datetime, settings: Settings) -> str:
    """An aligned table (Chinese characters count double), the message last so it may run long."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    head = ["时间", "类型", "单位", "接收人", "渠道", "内容"]
    body = [
        [r.time[:16].replace("T", " "), r.kind, r.unit, r.recipient, r.channel_label, r.summary] for r in rows
    ]
    widths = [max(_width(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = [
        f"试运行：截至 {labels.date_text(local.date())} {local:%H:%M}（{settings.timezone}），"
        "以下通知将被创建和发送；未写入数据库，未发送任何消息。",
        "",
    ]
    for cells in [head, *body]:
        padded = [_pad(c, w) for c, w in zip(cells[:-1], widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]))
    lines += ["", f"共 {len(rows)} 条"]
    return "\n".join(lines)


def run(*, engine: Engine, now: datetime, settings: Settings, out: TextIO, as_json: bool = False) -> int:
    with Session(engine, expire_on_commit=False) as session:
        try:
            counts, rows = collect(session, now=now, settings=settings)
        finally:
            session.rollback()
    if as_json:
        out.write(
            json.dumps(
                {"as_of": now.isoformat(), "created": counts, "messages": [asdict(r) for r in rows]},
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    else:
        out.write(table(rows, now=now, settings=settings) + "\n")
    return 0
