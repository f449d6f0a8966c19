"""`duban notifier run --dry-run`: a table a person reads, or JSON, and nothing written or sent."""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from duban.clock import FixedClock
from duban.db import make_engine
from duban.settings import Settings
from notifier.runner import preview
from tests.notifier.conftest import Receiver, add_endpoint, make_world
from tests.notifier.test_runner import _counts

SH = ZoneInfo("Asia/Shanghai")
T = datetime(2025, 12, 22, 9, 0, tzinfo=SH)  # 7 working days before Wednesday 2025-12-31


@pytest.mark.committed
def test_dry_run_table_names_time_kind_unit_recipient_channel_and_text(
    committed_url: str, settings: Settings, receiver: Receiver
) -> None:
    engine = make_engine(committed_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            w = make_world(s)
            add_endpoint(s, receiver.url, event_types=["assignment.*"], description="县政府OA")
            unit, staff, head = w.unit.name, w.staff, w.head
        before = _counts(engine)
        out = io.StringIO()
        assert preview(engine=engine, clock=FixedClock(T), settings=settings, out=out) == 0
        text = out.getvalue()
        lines = text.splitlines()
        assert lines[0].startswith("试运行：截至 2025年12月22日 09:00（Asia/Shanghai）")
        header = next(ln for ln in lines if ln.startswith("时间"))
        assert header.split() == ["时间", "类型", "单位", "接收人", "渠道", "内容"]
        rows = [ln for ln in lines if ln.startswith("2025-12-22 09:00")]
        title = "还有7个工作日到期"
        # The unit's staff and head in their inbox, and the OA system over its webhook.
        for who, channel in (
            (staff.full_name or staff.username, "站内信"),
            (head.full_name or head.username, "站内信"),
            ("县政府OA", "回调"),
        ):
            assert any(
                "临期提醒" in r and unit in r and who in r and channel in r and title in r for r in rows
            ), (who, channel, text)
        assert "assignment." not in text and "dry-run" not in text  # no identifiers, no English
        # The columns line up for a reader: every row's channel starts where the header's does.
        col = _display_col(header, "渠道")
        assert all(_display_col(r, "站内信" if "站内信" in r else "回调") == col for r in rows)
        assert _counts(engine) == before and receiver.requests == []

        as_json = io.StringIO()
        preview(engine=engine, clock=FixedClock(T), settings=settings, out=as_json, as_json=True)
        body = json.loads(as_json.getvalue())
        assert body["created"]["assignment.due_soon"] == 1
        message = next(m for m in body["messages"] if m["channel"] == "webhook")
        assert message["type"] == "assignment.due_soon" and message["kind"] == "临期提醒"
        assert message["unit"] == unit and message["recipient"] == "县政府OA"
        assert message["time"] == "2025-12-22T09:00+08:00"
        assert title in message["title"] and "截止日期：2025年12月31日" in message["text"]
        assert _counts(engine) == before
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM outbox_event")).scalar_one() == 0
    finally:
        engine.dispose()


def _display_col(line: str, word: str) -> int:
    import unicodedata

    prefix = line[: line.index(word)]
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in prefix)
