"""The event contract end to end: the demo plan scanned across its deadline, every outbox payload
validated against the schema the catalog publishes (issue 9 item 4, issue 13 item 4)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import jsonschema_rs
import pytest
from sqlmodel import Session, select

from duban import events
from duban.cli import demo
from duban.clock import FixedClock
from duban.models import OutboxEvent, WebhookEndpoint
from duban.settings import Settings
from notifier import claim, deliver, fanout
from notifier.scan import scan_deadlines
from tests.notifier.conftest import start_receiver

# What the demo's history (the API's writes) and a scan across 2025-12-31 must produce.
EXPECTED_TYPES = {
    "assignment.assigned",
    "assignment.accepted",
    "assignment.completed",
    "report.submitted",
    "report.reviewed",
    "assignment.due_soon",
    "assignment.overdue",
    "assignment.escalated",
    "report.due_soon",
    "report.missing",
    "digest.daily",
    "delivery.failed",
}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        webhook_allow_private=True,
        notifier_max_attempts=1,  # the first failure is final: delivery.failed is emitted at once
        public_url="https://duban.example.gov.cn",
        smtp_host="",
        timezone="Asia/Shanghai",
    )


def _deliver_all(
    session: Session, clock: FixedClock, settings: Settings, deliverer: deliver.Deliverer
) -> None:
    while fanout.fan_out(session, now=clock.now(), settings=settings).events:
        pass
    # In claimed batches, as the runner sends them (deliver_one per row costs a transaction each).
    while batch := claim.claim(session, now=clock.now(), limit=200, lease_seconds=120):
        deliver.deliver_batch(session, claim.load(session, batch), now=clock.now(), deliverer=deliverer)


def test_demo_scanned_across_the_deadline_emits_only_catalog_payloads(
    session: Session, settings: Settings
) -> None:
    receiver, server = start_receiver()
    receiver.respond = lambda r: (500, {}, b"down")  # the OA system is down: deliveries fail
    try:
        demo.build(session, now=demo.DEMO_ANCHOR)
        hook = session.exec(select(WebhookEndpoint)).one()
        hook.url = receiver.url + "/hook"
        session.add(hook)
        session.commit()

        clock = FixedClock(demo.DEMO_ANCHOR)
        deliverer = deliver.Deliverer(settings=settings, client=deliver.make_client(settings))
        try:
            # Every third morning from the demo's "now" (20 November) to a month past the plan's end.
            while clock.now() <= demo.PLAN_END + timedelta(days=31):
                scan_deadlines(session, now=clock.now(), settings=settings)
                session.commit()
                _deliver_all(session, clock, settings, deliverer)
                clock.advance(timedelta(days=3))
        finally:
            deliverer.client.close()
    finally:
        server.shutdown()
        server.server_close()

    rows = session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()  # type: ignore[arg-type]
    validators = {t: jsonschema_rs.validator_for(events.json_schema(t)) for t in events.EVENT_TYPES}
    bad: list[str] = []
    for row in rows:
        assert row.type in validators, row.type
        errors = [e.message for e in validators[row.type].iter_errors(row.payload)]
        if errors:
            bad.append(f"{row.type} #{row.id}: {errors[:3]}")
        # The same payload through the Pydantic model the API builds events from.
        events.validate(row.payload)
        assert row.payload["version"] == events.model_for(row.type).schema_version
    assert bad == []
    seen = Counter(r.type for r in rows)
    assert EXPECTED_TYPES <= set(seen), sorted(EXPECTED_TYPES - set(seen))
    # One link format everywhere: the workbench path.
    links = {r.payload["data"].get("link") for r in rows}
    assert all(link and link.startswith("/app/") for link in links), sorted(map(str, links))[:5]
    # Deadline notices were enriched at fan-out (due_at and the working-day figures are set).
    notices = [r for r in rows if r.type == "assignment.escalated"]
    assert notices and all(r.payload["data"]["due_at"] for r in notices)
    assert all(r.payload["data"]["working_days_overdue"] >= 3 for r in notices)


def test_a_schema_rejects_what_the_contract_does_not_declare() -> None:
    """The validation in the test above can fail: an undeclared field or a wrong type is refused."""
    payload = {
        "type": "digest.daily",
        "version": 1,
        "timestamp": "2026-01-05T09:00:00+08:00",
        "data": {
            "date": "2026-01-05",
            "recipient": {"id": None, "name": "领导小组办公室", "code": "office"},
            "open": 3,
            "overdue": 1,
            "due_soon": 0,
            "units": 2,
            "link": "/app/assignments",
        },
    }
    validator = jsonschema_rs.validator_for(events.json_schema("digest.daily"))
    assert validator.is_valid(payload)
    assert not validator.is_valid({**payload, "data": {**payload["data"], "items": []}})
    assert not validator.is_valid({**payload, "data": {**payload["data"], "open": "3"}})
    assert not validator.is_valid({**payload, "version": 2})
