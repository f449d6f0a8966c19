"""The office's holiday table: coverage per year, one year's notice loaded as data, days in a range."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.calendar.schemas import NoticeDay, YearNotice
from duban import calendar, calendar_store, zones
from duban.calendar import EPOCH, PACKAGE_YEARS, SPAN_END, Calendar
from duban.errors import Unprocessable
from duban.models import OPEN_STATES, Assignment, CalendarOverride, OverrideKind, Plan, User
from duban.uow import unit_of_work

MAX_DAYS_RANGE = 400
# The package names its holidays in English; people read Chinese.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _check_year(year: int) -> None:
    if not EPOCH.year <= year <= SPAN_END.year:
        raise Unprocessable(
            f"年份须在{EPOCH.year}至{SPAN_END.year}之间",
            code="calendar.year_out_of_range",
            details={"year": year, "min": EPOCH.year, "max": SPAN_END.year},
        )


def _days(items: list[NoticeDay | date]) -> dict[date, str]:
    out: dict[date, str] = {}
    for item in items:
        day, name = (item.date, item.name) if isinstance(item, NoticeDay) else (item, "")
        out[day] = name or out.get(day, "")
    return out


def _summary(rows: list[CalendarOverride]) -> dict[str, Any] | None:
    if not rows:
        return None
    return {
        "source": rows[0].source,
        "rest_days": sorted(r.day.isoformat() for r in rows if r.kind == OverrideKind.rest),
        "work_days": sorted(r.day.isoformat() for r in rows if r.kind == OverrideKind.work),
    }


def set_year(
    session: Session, *, actor: User | None, year: int, notice: YearNotice, now: datetime
) -> dict[str, Any]:
    """Replace the office's table for `year` with the notice's days (merged over the package).

    Open assignments whose deadline now falls on a rest day move to the next working day, each
    audited: the rule "a deadline on a rest day moves" holds for deadlines set before the
    notice was known, too. Deadlines never move earlier (a unit keeps the day it was told).
    """
    _check_year(year)
    rest, work = _days(notice.rest_days), _days(notice.work_days)
    outside = sorted(d.isoformat() for d in rest.keys() | work.keys() if d.year != year)
    if outside:
        raise Unprocessable(
            f"日期不在{year}年内：{'、'.join(outside[:5])}",
            code="calendar.day_outside_year",
            details={"year": year, "dates": outside},
        )
    both = sorted(d.isoformat() for d in rest.keys() & work.keys())
    if both:
        raise Unprocessable(
            f"同一天不能既放假又上班：{'、'.join(both[:5])}",
            code="calendar.day_conflict",
            details={"dates": both},
        )
    source = notice.source.strip()
    with unit_of_work(session, actor=actor, now=now) as uow:
        conn = session.connection()
        stored = calendar_store.lock_state(conn)
        previous = calendar.current()
        if previous.stamp != stored:
            overrides = calendar_store.load_overrides(conn)
            previous = Calendar(overrides, stamp=stored) if overrides else calendar.package_calendar()
        old = list(session.exec(select(CalendarOverride).where(CalendarOverride.year == year)))
        before = _summary(old)
        for row in old:
            session.delete(row)
        session.flush()  # the old days go before the new ones take their unique dates
        for kind, days in ((OverrideKind.rest, rest), (OverrideKind.work, work)):
            for day, name in sorted(days.items()):
                session.add(
                    CalendarOverride(
                        year=year,
                        day=day,
                        kind=kind,
                        name=name,
                        source=source,
                        created_at=now,
                        created_by_id=actor.id if actor else None,
                    )
                )
        uow.flush()
        cal = calendar_store.sync(session, now=now, previous=previous)
        moved = _move_deadlines(session, uow, cal, year)
        new_rows = list(session.exec(select(CalendarOverride).where(CalendarOverride.year == year)))
        uow.record(
            action="calendar.set_year",
            entity_type="calendar_year",
            entity_id=year,
            before=before,
            after={**(_summary(new_rows) or {}), "moved_assignments": moved},
        )
    calendar.use(cal)
    out = coverage_of(session, year=year)
    out["moved_assignments"] = moved
    return out


def _move_deadlines(session: Session, uow: Any, cal: Calendar, year: int) -> int:
    stmt = (
        select(Assignment, Plan.timezone)
        .join(Plan, col(Plan.id) == col(Assignment.plan_id))
        .where(
            col(Assignment.state).in_([str(s) for s in OPEN_STATES]),
            col(Assignment.due_date) >= date(year, 1, 1),
            col(Assignment.due_date) <= date(year, 12, 31),
        )
    )
    moved = 0
    for assignment, zone in session.exec(stmt):
        due = assignment.due_date
        if due is None or cal.is_working_day(due):
            continue
        uow.track(assignment, action="assignment.due_moved_by_calendar")
        new_due = cal.next_working_day(due)
        assignment.due_date = new_due
        assignment.due_at = calendar.end_of_day(new_due, zones.of(zone))
        moved += 1
    return moved


def _office_rows(session: Session, year: int | None = None) -> dict[int, dict[str, Any]]:
    ov = CalendarOverride
    stmt = sa.select(
        col(ov.year), col(ov.kind), sa.func.count(), sa.func.max(ov.source), sa.func.max(ov.created_at)
    ).group_by(col(ov.year), col(ov.kind))
    if year is not None:
        stmt = stmt.where(col(ov.year) == year)
    out: dict[int, dict[str, Any]] = {}
    for y, kind, n, source, at in session.execute(stmt):
        row = out.setdefault(
            y, {"office_rest_days": 0, "office_work_days": 0, "source": source, "updated_at": at}
        )
        row["office_rest_days" if kind == OverrideKind.rest else "office_work_days"] = n
        if at and (row["updated_at"] is None or at > row["updated_at"]):
            row["updated_at"] = at
    return out


def _coverage_row(year: int, office: dict[str, Any] | None) -> dict[str, Any]:
    coverage = "office" if office else ("package" if year in PACKAGE_YEARS else "none")
    return {
        "year": year,
        "coverage": coverage,
        "office_rest_days": 0,
        "office_work_days": 0,
        "source": None,
        "updated_at": None,
        **(office or {}),
    }


def coverage_of(session: Session, *, year: int) -> dict[str, Any]:
    return _coverage_row(year, _office_rows(session, year).get(year))


def years(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Coverage of every year from the package's first to two years past today (or the office's last)."""
    office = _office_rows(session)
    today = calendar.local_date(now, zones.default())
    last = max([max(PACKAGE_YEARS), today.year + 2, *office])
    return [_coverage_row(y, office.get(y)) for y in range(min(PACKAGE_YEARS), last + 1)]


def days(session: Session, *, start: date, end: date) -> list[dict[str, Any]]:
    if end < start:
        raise Unprocessable("结束日期早于开始日期", code="calendar.bad_range")
    if (end - start).days >= MAX_DAYS_RANGE:
        raise Unprocessable(
            f"一次最多查询{MAX_DAYS_RANGE}天",
            code="calendar.range_too_long",
            details={"max_days": MAX_DAYS_RANGE},
        )
    cal = calendar_store.refresh(session)
    out = []
    day = start
    while day <= end:
        out.append(_day(cal, day))
        day += timedelta(days=1)
    return out


def _day(cal: Calendar, day: date) -> dict[str, Any]:
    working = cal.is_working_day(day)
    weekend = day.weekday() >= 5
    override = cal.overrides.get(day)
    name: str | None = None
    if override is not None:
        source = "office"
        name = override.name or None
    elif day.year in PACKAGE_YEARS:
        source = "package"
        english = chinese_calendar.holidays.get(day) or chinese_calendar.workdays.get(day)
        name = HOLIDAY_NAMES.get(english, english) if english else None
    else:
        source = "weekday"
    if working:
        kind = "adjusted_workday" if weekend else "workday"
    else:
        kind = "holiday" if override is not None or name or not weekend else "weekend"
    return {
        "date": day,
        "is_working_day": working,
        "kind": kind,
        "name": name,
        "source": source,
        "coverage": cal.coverage(day.year),
        "working_ordinal": cal.ordinal(day),
    }
