"""A full pass spread over several connections writes what one connection writes, once, and
commits nothing when a part of it fails (issue 14 item 4: a province's first pass)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from duban.db import make_engine
from duban.settings import Settings
from notifier import scan
from notifier.scan import scan_deadlines
from tests.factories import make_unit
from tests.notifier.conftest import make_world
from tests.notifier.test_scan_digest import many

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 13, 9, tzinfo=SH)
pytestmark = pytest.mark.committed


@pytest.fixture
def engine_with_world(committed_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(committed_url)
    with Session(engine, expire_on_commit=False) as s:
        make_world(s)
        many(s, make_unit(s), 24)  # a digest of each notice
        many(s, make_unit(s), 3)  # told one by one
    yield engine
    engine.dispose()


def used(session: Session) -> list[str]:
    """What the session's transactions did: "begin", then "commit" or "rollback"."""
    seen: list[str] = []
    sa.event.listen(session, "after_begin", lambda *_: seen.append("begin"))
    sa.event.listen(session, "after_commit", lambda *_: seen.append("commit"))
    sa.event.listen(session, "after_rollback", lambda *_: seen.append("rollback"))
    return seen


def written(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(
            (r.type, r.dedupe_key) for r in conn.execute(sa.text("SELECT type, dedupe_key FROM outbox_event"))
        )


def test_two_connections_write_what_one_writes_and_a_repeat_nothing(
    engine_with_world: sa.Engine, settings: Settings
) -> None:
    engine = engine_with_world
    with Session(engine) as s:
        alone = scan_deadlines(s, now=NOW, settings=settings)
        keys_alone = sorted(
            (r.type, r.dedupe_key) for r in s.execute(sa.text("SELECT type, dedupe_key FROM outbox_event"))
        )
        s.rollback()
    assert written(engine) == [] and sum(alone.values()) > 0

    with Session(engine) as s, Session(engine) as helper:
        seen = used(helper)
        together = scan_deadlines(s, now=NOW, settings=settings, helpers=[helper])
        s.commit()
    assert together == alone
    assert written(engine) == keys_alone
    # PostgreSQL: the helper took a share and committed it; SQLite (one writer): it is not used.
    assert seen == (["begin", "commit"] if engine.dialect.name == "postgresql" else [])

    with Session(engine) as s, Session(engine) as helper:
        # A full pass again (no earlier pass to be incremental after): each notice once.
        s.execute(sa.text("DELETE FROM scan_run"))
        again = scan_deadlines(s, now=NOW, settings=settings, helpers=[helper])
        s.commit()
    assert sum(again.values()) == 0 and written(engine) == keys_alone


def test_a_failed_part_commits_nothing_on_any_connection(
    engine_with_world: sa.Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_with_world

    def broken(self: scan.Scanner, policy: object) -> None:
        raise RuntimeError("digest failed")

    # The daily digest runs last: by then the other connection has written its share.
    monkeypatch.setattr(scan.Scanner, "digest", broken)
    with Session(engine) as s, Session(engine) as helper:
        seen = used(helper)
        with pytest.raises(RuntimeError, match="digest failed"):
            scan_deadlines(s, now=NOW, settings=settings, helpers=[helper])
        s.rollback()
    assert written(engine) == []
    # Whatever share the helper took (usually some), it did not commit it.
    assert "commit" not in seen
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM scan_run")).scalar_one() == 0


def test_jobs_of_one_notice_share_a_connection() -> None:
    ran: list[tuple[str, int]] = []

    class Fake:
        def on(self, session: object, result: object) -> Fake:
            return self

    def record(self: object, *, name: str) -> None:
        ran.append((name, threading.get_ident()))

    jobs = [
        scan.Job(group, Fake(), record, {"name": group})  # type: ignore[arg-type]
        for group in ["report.missing:report-2025-12:unit", "assignment.overdue:due:unit"] * 3
    ]

    class Quiet:
        def commit(self) -> None: ...
        def rollback(self) -> None: ...

    result = scan.ScanResult()
    scan.run_jobs(jobs, Quiet(), [Quiet()], result)  # type: ignore[arg-type]
    assert len(ran) == 6
    for group in {g for g, _ in ran}:
        assert len({t for g, t in ran if g == group}) == 1
