"""Login throttling: one counter per account and one per address, each moved by a single UPSERT.

An attempt first *reserves* a slot on both counters, in one short transaction, before the
password is checked; the row locks (PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) order
concurrent reservations, so 40 simultaneous guesses get exactly `limit` evaluations — no
check-then-insert race. The reservation that reaches the limit also closes the counter for a
back-off that doubles with every further failure (capped); a refused attempt changes nothing.

- Per account (`login_max_failures`): slows guessing one account's password; other accounts
  from the same address are unaffected, and a right password works again once the back-off
  has passed (a correct login clears the account's counter).
- Per address (`login_address_max_failures`): far higher, an office behind one NAT shares one
  address; a correct login gives its slot back, so only failures add up.

Counters are forgotten `login_window_minutes` after their last attempt and back-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from duban.errors import TooManyRequests
from duban.models import LoginThrottle
from duban.settings import Settings

_T = LoginThrottle.__table__  # type: ignore[attr-defined]
_CLEANUP_BATCH = 100


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int


def _counters(*, username: str, address: str, settings: Settings) -> list[_Counter]:
    # Always the address first: one order for every transaction, so two never wait on each other.
    return [
        _Counter(f"address:{address[:64]}", settings.login_address_max_failures),
        _Counter(f"account:{username[:128]}", settings.login_max_failures),
    ]


def backoff_seconds(failures: int, *, limit: int, settings: Settings) -> int:
    """Closed for this long after the `failures`-th failure (`failures` >= `limit`)."""
    doublings = min(failures - limit, 20)
    return int(min(settings.login_backoff_max_seconds, settings.login_backoff_seconds * 2**doublings))


def _ts(value: datetime) -> sa.BindParameter[datetime]:
    return sa.bindparam(None, value, type_=_T.c.last_at.type)


def _reserve(session: Session, counter: _Counter, *, settings: Settings, now: datetime) -> datetime | None:
    """Count one attempt; the time the counter is closed until if it refuses this one, else None."""
    cutoff = now - timedelta(minutes=settings.login_window_minutes)
    c = _T.c
    expired = sa.and_(c.last_at < _ts(cutoff), sa.or_(c.locked_until.is_(None), c.locked_until < _ts(cutoff)))
    locked = sa.and_(c.locked_until.is_not(None), c.locked_until > _ts(now))
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_T)
    stmt = (
        insert.values(key=counter.key, failures=1, last_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "failures": sa.case((expired, 1), (locked, c.failures), else_=c.failures + 1),
                "last_at": sa.case((locked, c.last_at), else_=_ts(now)),
                "locked_until": sa.case((expired, None), else_=c.locked_until),
            },
        )
        .returning(c.failures, c.locked_until)
    )
    locked_until: datetime | None
    failures, locked_until = session.execute(stmt).one()
    if locked_until is not None and locked_until > now:
        return locked_until  # closed: not counted, not evaluated
    if failures >= counter.limit:
        # This attempt is evaluated; close the counter now, so the ones racing it wait. A
        # correct password reopens it (see `succeeded`).
        wait = backoff_seconds(failures, limit=counter.limit, settings=settings)
        session.execute(
            sa.update(_T).where(c.key == counter.key).values(locked_until=now + timedelta(seconds=wait))
        )
    return None


def admit(session: Session, *, username: str, address: str, settings: Settings, now: datetime) -> None:
    """Reserve this attempt on both counters and commit, or raise 429 having changed nothing."""
    for counter in _counters(username=username, address=address, settings=settings):
        locked_until = _reserve(session, counter, settings=settings, now=now)
        if locked_until is not None:
            session.rollback()  # the other counter's reservation too
            retry_after = max(1, math.ceil((locked_until - now).total_seconds()))
            raise TooManyRequests(
                "登录失败次数过多，请稍后再试",
                code="auth.too_many_attempts",
                headers={"Retry-After": str(retry_after)},
                details={"retry_after": retry_after},
            )
    session.commit()


def succeeded(session: Session, *, username: str, address: str, settings: Settings) -> None:
    """A correct login: the account starts afresh, the address gets its slot back (in the caller's commit)."""
    address_counter, account_counter = _counters(username=username, address=address, settings=settings)
    c = _T.c
    session.execute(sa.delete(_T).where(c.key == account_counter.key))
    remaining = sa.case((c.failures > 0, c.failures - 1), else_=0)
    session.execute(
        sa.update(_T)
        .where(c.key == address_counter.key)
        .values(
            failures=remaining,
            locked_until=sa.case((remaining < address_counter.limit, None), else_=c.locked_until),
        )
    )


def forget_stale(session: Session, *, settings: Settings, now: datetime) -> None:
    """Lazily drop a batch of counters nobody has touched for a window (in the caller's commit)."""
    cutoff = now - timedelta(minutes=settings.login_window_minutes)
    c = _T.c
    stale = (
        sa.select(c.key)
        .where(c.last_at < _ts(cutoff), sa.or_(c.locked_until.is_(None), c.locked_until < _ts(cutoff)))
        .limit(_CLEANUP_BATCH)
    )
    session.execute(sa.delete(_T).where(c.key.in_(stale.scalar_subquery())))
