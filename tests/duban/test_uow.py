from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from duban import audit
from duban.db import make_engine
from duban.errors import Conflict
from duban.models import AuditEntry, OutboxEvent, Plan
from duban.uow import unit_of_work
from tests.factories import make_plan

NOW = datetime(2025, 12, 1, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.committed


def _counts(session: Session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(AuditEntry)).one(),
        session.exec(select(func.count()).select_from(OutboxEvent)).one(),
    )


def test_second_writer_with_a_stale_copy_gets_409_and_leaves_nothing(committed_url: str) -> None:
    engine = make_engine(committed_url)
    with Session(engine) as s:
        plan = make_plan(s)
        s.commit()
        plan_id = plan.id
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        # Both read version 1; ending the read transactions keeps the loaded copies (no expiry) and
        # releases SQLite's BEGIN IMMEDIATE lock.
        a = first.get(Plan, plan_id)
        first.commit()
        b = second.get(Plan, plan_id)
        second.commit()
        assert a is not None and b is not None
        with unit_of_work(first, actor=None, now=NOW) as uow:
            uow.track(a, action="plan.update")
            a.title = "第一次修改"
        before = _counts(first)
        first.commit()
        with pytest.raises(Conflict) as caught, unit_of_work(second, actor=None, now=NOW) as uow:
            uow.track(b, action="plan.update")
            b.title = "第二次修改"
        assert caught.value.code == "plan.concurrent_update" and caught.value.status_code == 409
    with Session(engine) as s:
        fresh = s.get(Plan, plan_id)
        assert fresh is not None and fresh.title == "第一次修改" and fresh.version == 2
        assert _counts(s) == before
    engine.dispose()


def test_an_error_inside_rolls_back_the_change_its_audit_and_its_events(committed_url: str) -> None:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        plan = make_plan(s)
        s.commit()
        before = _counts(s)
        with pytest.raises(RuntimeError), unit_of_work(s, actor=None, now=NOW) as uow:
            uow.track(plan, action="plan.update")
            plan.title = "不应保存"
            uow.record(action="plan.note", entity_type="plan", entity_id=plan.id)
            uow.flush()
            raise RuntimeError("the rule said no")
        assert _counts(s) == before
        assert s.get(Plan, plan.id).title != "不应保存"  # type: ignore[union-attr]
    engine.dispose()


def test_each_entity_has_its_own_chain_and_verify_names_edits_and_removals(committed_url: str) -> None:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        plans = [make_plan(s) for _ in range(2)]
        s.commit()
        for i in range(3):
            for plan in plans:
                with unit_of_work(s, actor=None, now=NOW) as uow:
                    uow.track(plan, action="plan.update")
                    plan.title = f"{plan.id}-{i}"
        rows = s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
        first_of = {}
        for row in rows:
            if row.entity_id not in first_of:
                first_of[row.entity_id] = row
                assert row.prev_hash == audit.GENESIS
        # Interleaved writes to two plans: each links to its own previous entry, not the global one.
        by_entity = [r for r in rows if r.entity_id == str(plans[0].id)]
        assert [r.prev_hash for r in by_entity[1:]] == [r.hash for r in by_entity[:-1]]
        assert audit.verify(s).broken_id is None and audit.verify(s).checked == 6
        middle = by_entity[1]
        s.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": middle.id})
        s.commit()
        result = audit.verify(s)
        assert result.broken_id == by_entity[2].id and "prev_hash" in (result.reason or "")
    engine.dispose()


def test_a_fork_of_one_entity_chain_is_refused_by_the_database(committed_url: str) -> None:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        with unit_of_work(s, actor=None, now=NOW) as uow:
            uow.record(action="x.one", entity_type="thing", entity_id=1)
        entry = s.exec(select(AuditEntry)).one()
        fork = AuditEntry(
            at=NOW,
            action="x.fork",
            entity_type="thing",
            entity_id="1",
            prev_hash=entry.prev_hash,
            hash="f" * 64,
        )
        s.add(fork)
        with pytest.raises(Exception, match="(?i)unique"):
            s.commit()
        s.rollback()
    engine.dispose()


def test_entries_of_the_first_wave_global_chain_still_verify(committed_url: str) -> None:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        prev = audit.GENESIS
        for i in range(3):
            e = AuditEntry(
                at=NOW,
                action="legacy",
                entity_type="plan",
                entity_id=str(i),
                prev_hash=prev,
                hash="",
                scheme=audit.GLOBAL_CHAIN,
            )
            e.hash = prev = audit.compute_hash(e)
            s.add(e)
        s.commit()
        with unit_of_work(s, actor=None, now=NOW) as uow:
            uow.record(action="plan.update", entity_type="plan", entity_id=1)
        assert audit.verify(s).broken_id is None and audit.verify(s).checked == 4
        newest = s.exec(select(AuditEntry).where(AuditEntry.action == "plan.update")).one()
        legacy_one = s.exec(
            select(AuditEntry).where(AuditEntry.entity_id == "1", AuditEntry.scheme == 1)
        ).one()
        assert newest.prev_hash == legacy_one.hash
        s.execute(text("UPDATE audit_entry SET action = 'edited' WHERE id = :i"), {"i": legacy_one.id})
        s.commit()
        assert audit.verify(s).broken_id == legacy_one.id
    engine.dispose()
