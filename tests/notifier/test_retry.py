from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from duban.policy import Policy, QuietHours
from notifier.retry import backoff_seconds, next_attempt_at, parse_retry_after

NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected"),
    [
        (1, 0.0, 15.0),
        (1, 0.999999, 30.0),
        (2, 0.0, 30.0),
        (3, 0.5, 90.0),
        (10, 0.0, 7680.0),
        (20, 0.0, 10800.0),
    ],
)
def test_backoff_doubles_with_jitter_and_cap(attempts: int, jitter: float, expected: float) -> None:
    assert backoff_seconds(attempts, jitter=jitter) == pytest.approx(expected, rel=1e-5)


def test_next_attempt_and_dead_letter() -> None:
    assert next_attempt_at(1, NOW, max_attempts=3, jitter=0.0) == NOW + timedelta(seconds=15)
    assert next_attempt_at(3, NOW, max_attempts=3, jitter=0.0) is None


def test_retry_after_extends_but_is_bounded() -> None:
    assert next_attempt_at(1, NOW, max_attempts=8, jitter=0.0, retry_after=600) == NOW + timedelta(
        seconds=600
    )
    assert next_attempt_at(1, NOW, max_attempts=8, jitter=0.0, retry_after=1) == NOW + timedelta(seconds=15)
    assert next_attempt_at(1, NOW, max_attempts=8, jitter=0.0, retry_after=10**9) == NOW + timedelta(days=1)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Mon, 05 Jan 2026 01:02:00 GMT", NOW) == 120.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_quiet_hours_wrap_midnight() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    q = QuietHours()
    assert q.contains(time(22, 0)) and q.contains(time(3, 0)) and not q.contains(time(7, 0))
    sh = ZoneInfo("Asia/Shanghai")
    late = datetime(2026, 1, 5, 23, 30, tzinfo=sh)
    assert q.ends_after(late, sh) == datetime(2026, 1, 6, 7, 0, tzinfo=sh)
    early = datetime(2026, 1, 6, 6, 0, tzinfo=sh)
    assert q.ends_after(early, sh) == datetime(2026, 1, 6, 7, 0, tzinfo=sh)
    noon = datetime(2026, 1, 6, 12, 0, tzinfo=sh)
    assert q.ends_after(noon, sh) == noon


def test_policy_validation() -> None:
    p = Policy.model_validate({"due_soon_working_days": [1, 7, 3, 3]})
    assert p.due_soon_working_days == [7, 3, 1]
    with pytest.raises(ValueError):
        Policy.model_validate({"channels": ["fax"]})
    with pytest.raises(ValueError):
        Policy.model_validate(
            {
                "escalation_levels": [
                    {"level": 1, "after_working_days": 9, "recipients": ["office"]},
                    {"level": 2, "after_working_days": 3, "recipients": ["leader"]},
                ]
            }
        )
    with pytest.raises(ValueError):
        Policy.model_validate({"overdue_recipients": ["everyone"]})
