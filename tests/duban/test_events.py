"""duban.events: strict models, one link format, validation before the outbox."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from duban import events, links, outbox
from duban.models import OutboxEvent

NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _assigned(**kw: object) -> events.AssignmentAssigned:
    base: dict[str, object] = {
        "plan": events.Ref(id=1, name="计划"),
        "task": events.Ref(id=2, name="任务", code="1"),
        "unit": events.Ref(id=3, name="县科技局"),
        "assignment_id": 42,
        "state": "assigned",
        "due_date": date(2025, 12, 31),
    }
    return events.AssignmentAssigned(**{**base, **kw})  # type: ignore[arg-type]


def test_models_are_strict() -> None:
    with pytest.raises(ValidationError):
        _assigned(days_before=3)
    with pytest.raises(ValidationError):
        events.Ref(id=1, colour="red")  # type: ignore[call-arg]
    for model in events.EVENT_TYPES.values():
        assert model.model_config.get("extra") == "forbid", model.__name__


def test_links_have_one_format() -> None:
    assert _assigned().link == "/app/assignments/42" == links.assignment(42)
    report = events.ReportSubmitted(
        **_assigned().model_dump(exclude={"link", "publication"}), report_id=7, period="2025-12"
    )
    assert report.link == "/app/reports/7"
    assert (
        links.absolute("/app/plans/3", "https://duban.example.gov.cn/")
        == "https://duban.example.gov.cn/app/plans/3"
    )
    assert links.absolute(None, "https://x") is None


def test_envelope_is_validated_and_versioned() -> None:
    payload = events.envelope_of(_assigned(), now=NOW)
    assert payload["type"] == "assignment.assigned" and payload["version"] == 1
    assert events.validate(payload).data.assignment_id == 42  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        events.validate({**payload, "data": {**payload["data"], "extra": 1}})
    with pytest.raises(events.UnknownEventType):
        events.validate({**payload, "type": "assignment.exploded"})


def test_enqueue_refuses_what_the_catalog_does_not_declare(session: Session) -> None:
    class Undeclared(events.EventData):
        type = "assignment.exploded"

    with pytest.raises(events.UnknownEventType):
        outbox.enqueue(session, event=Undeclared(), now=NOW)
    # model_construct skips validation; the outbox does not.
    broken = events.AssignmentAssigned.model_construct(**{**_assigned().__dict__, "assignment_id": "x"})
    with warnings.catch_warnings(), pytest.raises(ValidationError):
        warnings.simplefilter("ignore")  # pydantic warns while dumping the bad value
        outbox.enqueue(session, event=broken, now=NOW)
    row = outbox.enqueue(session, event=_assigned(), now=NOW)
    session.flush()
    assert session.exec(select(OutboxEvent)).one().payload == row.payload
    assert row.payload["data"]["link"] == "/app/assignments/42"


def test_scanner_payload_builder_checks_the_model() -> None:
    from notifier.scan import _Sql, data_of

    q = _Sql("sqlite")
    with pytest.raises(ValueError, match="undeclared"):
        data_of(q, events.Ref, {"id": 1, "name": "x", "colour": "red"})
    with pytest.raises(ValueError, match="missing"):
        data_of(q, events.DigestDaily, {"date": "2026-01-05"})
