"""An exact cache of the figures: the aggregate rows of a plan as one viewer may see them today.

The GROUP BY over a plan's assignments is most of what a dashboard costs, and between two writes
to the plan it gives the same rows. An entry holds the rows with what they were computed from —
the plan's change generation (`duban.models.StatsGeneration`, kept by database triggers in every
writer's transaction) and the calendar's stamp — read in the same statement as the rows, so from
the same snapshot. It answers a later request only when

- the key is the same: database, plan, grouping, what the viewer may see, the local day and
  reporting period, the plan's period and time zone (everything else the statement binds);
- one statement finds the generation and the calendar stamp unchanged (nothing the rows read
  was written since, by anyone: the api, the importer, psql);
- no deadline lies between the instant it was computed and now: it is valid while every
  `due_at` that had passed still has, and none of the rest has (the earliest such deadline
  ends it), the only way time moves a figure within a day.

Rebuilt figures (`at=` in the past) are never cached. Per process; a miss costs nothing extra.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session

from duban import calendar_store
from duban.models import StatsGeneration

SIZE = 512

_G = StatsGeneration.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Entry:
    generation: int
    calendar: str | None
    due_before: datetime | None  # the latest deadline already passed when computed
    due_after: datetime | None  # the earliest deadline not yet passed
    rows: list[dict[str, Any]]
    # What callers derived from the rows alone (with inputs they key it by): the encoded summary
    # of api.stats.service.summary_body. It lives and dies with the entry.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False)

    def covers(self, now: datetime) -> bool:
        """The rows' `due_at < now` tests come out as they did (see _aggregates' past_due)."""
        return (self.due_before is None or self.due_before < now) and (
            self.due_after is None or now <= self.due_after
        )


_entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
_lock = threading.Lock()
# Hits and misses since the start (tests, and the benchmark's account of what it measured).
counts = {"hit": 0, "miss": 0, "stale": 0}


def check_columns(plan_id: int | sa.BindParameter[int]) -> list[Any]:
    """The plan's change generation and the calendar stamp, as columns of the statement they check."""
    total = func.coalesce(func.sum(_G.c.generation), 0)
    generation = sa.select(total).where(_G.c.plan_id == plan_id).scalar_subquery()
    return [
        generation.label("stats_generation"),
        calendar_store.stamp_statement().scalar_subquery().label("calendar_stamp"),
    ]


Check = tuple[int, str | None]


def lookup(
    session: Session, key: tuple[Any, ...], *, plan_id: int, now: datetime, check: Check | None = None
) -> list[dict[str, Any]] | None:
    """The cached rows for `key` if they still hold at `now`, else None.

    `check` is the generation and stamp when the caller read them already (with the plan's row,
    `api.stats.service.get_plan_checked`); otherwise one statement reads them.
    """
    entry = _entries.get(key)
    if entry is None or not entry.covers(now):
        counts["miss"] += 1
        return None
    if check is None:
        check = session.execute(sa.select(*check_columns(plan_id))).one()
    found = find(key, now=now, check=check)
    return found.rows if found is not None else None


def find(key: tuple[Any, ...], *, now: datetime, check: Check) -> Entry | None:
    """The entry for `key` if it still holds at `now` under `check` (read by the caller), else None.

    No statement: what the event loop may ask (api.stats.router) before any threadpool hop."""
    entry = _entries.get(key)
    if entry is None or not entry.covers(now):
        counts["miss"] += 1
        return None
    if (check[0], check[1]) != (entry.generation, entry.calendar):
        counts["stale"] += 1
        return None
    counts["hit"] += 1
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
    return entry


def remember(key: tuple[Any, ...], rows: list[dict[str, Any]]) -> Entry | None:
    """Keep rows computed with `check_columns` and the deadline bounds (`due_before`, `due_after`)."""
    if not rows:  # nothing to check against; an empty plan is cheap anyway
        return None
    before = [r["due_before"] for r in rows if r["due_before"] is not None]
    after = [r["due_after"] for r in rows if r["due_after"] is not None]
    entry = Entry(
        generation=int(rows[0]["stats_generation"]),
        calendar=rows[0]["calendar_stamp"],
        due_before=max(before, default=None),
        due_after=min(after, default=None),
        rows=rows,
    )
    with _lock:
        _entries[key] = entry
        _entries.move_to_end(key)
        while len(_entries) > SIZE:
            _entries.popitem(last=False)
    return entry


def clear() -> None:
    with _lock:
        _entries.clear()
