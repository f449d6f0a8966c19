"""Retry timing: exponential backoff with jitter, honouring Retry-After. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

BASE_SECONDS = 30.0
CAP_SECONDS = 6 * 3600.0
# A receiver may not push us further out than this with Retry-After.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
# Endpoints (webhooks, chat robots) retry on the Standard Webhooks / Svix schedule: 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 10 h after the previous attempt — about 27.6 hours in all, so a
# receiver that is down for a day still gets every message once it is back.
ENDPOINT_SCHEDULE: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def backoff_seconds(
    attempts: int, *, jitter: float, base: float = BASE_SECONDS, cap: float = CAP_SECONDS
) -> float:
    """Delay after the `attempts`-th failed attempt; `jitter` in [0, 1) spreads it over [d/2, d)."""
    if attempts < 1:
        attempts = 1
    delay = min(cap, base * 2.0 ** (attempts - 1))
    return delay / 2 + delay / 2 * max(0.0, min(jitter, 1.0))


def next_attempt_at(
    attempts: int,
    now: datetime,
    *,
    max_attempts: int,
    jitter: float,
    retry_after: float | None = None,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
    schedule: tuple[float, ...] | None = None,
) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None when it is time to dead-letter.

    With a `schedule`, the n-th retry waits schedule[n-1] (jitter spreads it over [d, 1.2d], so the
    schedule's span is a floor: the last try comes after 27.6 h at the earliest) and the schedule's
    end is the last attempt, whatever max_attempts allows beyond it."""
    if attempts >= max_attempts:
        return None
    if schedule is not None:
        if attempts > len(schedule):
            return None
        d = schedule[max(attempts, 1) - 1]
        delay = d * (1.0 + 0.2 * max(0.0, min(jitter, 1.0)))
    else:
        delay = backoff_seconds(attempts, jitter=jitter, base=base, cap=cap)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
