"""Deadline phrases: 到2025年, 2025年6月底前, 年底前, 印发之日起30日内, 每年 …"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from .interchange import Recurrence

_Y = r"(?P<y>\d{4})"
_BY = r"(?:到|至|截至|截止到?|于|在)\s*"
# Order matters: earlier patterns claim their span so later, looser ones cannot re-read it.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "range",
        re.compile(
            _Y + r"年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?\s*[至到—\-~－]\s*(?:(?P<y2>\d{4})年)?"
            r"(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日"
        ),
    ),
    ("start", re.compile(r"(?:从|自)" + _Y + r"年(?:(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})日)?)?起")),
    ("years_from", re.compile(_Y + r"年起\s*(?P<n>\d{1,2})\s*年内")),
    ("day", re.compile(_Y + r"年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:前|之前|以前|止)")),
    ("day", re.compile(_BY + _Y + r"年(?P<m>\d{1,2})月(?P<d>\d{1,2})日")),
    ("month_end", re.compile(_Y + r"年(?P<m>\d{1,2})月(?:底|末|份)(?:前|之前|以前)?")),
    # 到2019年3月 / 于2019年3月完成: by the end of that month.
    ("month_end", re.compile(_BY + _Y + r"年(?P<m>\d{1,2})月(?!\d{0,2}日|\d)")),
    # 2025年第三季度 / 2025年三季度末前: by the end of that quarter.
    ("quarter", re.compile(_Y + r"年第?(?P<q>[一二三四1-4１-４])季度(?:末|底)?(?:前|之前|以前)?")),
    ("half", re.compile(_Y + r"年(?:上半年|年中)")),
    ("year_end", re.compile(_Y + r"年(?:年底|底|末|年末|下半年|内)")),
    (
        "year",
        re.compile(
            r"(?:到|至|截至|截止到?|于|在)\s*" + _Y + r"年|" + _Y.replace("y", "yb") + r"年(?:前|以前|之前)"
        ),
    ),
    ("issued_rel", re.compile(r"印发之日起\s*(?P<n>\d{1,3})\s*(?P<u>日|天|个工作日|个月)内")),
    ("years_rel", re.compile(r"(?<![\d年])(?P<n>\d{1,2})\s*年内")),
    ("bare_year_end", re.compile(r"(?<![\d年])(?:年底前|年内|年底)")),
    # No year written (12月31日前, 6月底前, 第三季度): the plan's own year. 每年3月底前 is a cadence
    # (年 before the month), not this.
    ("bare_day", re.compile(r"(?<![\d年])(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:前|之前|以前|止)")),
    ("bare_month_end", re.compile(r"(?<![\d年])(?P<m>\d{1,2})月(?:底|末)(?:前|之前|以前)?")),
    ("bare_quarter", re.compile(r"(?<![\d年每])第?(?P<q>[一二三四1-4１-４])季度(?:末|底)?(?:前|之前|以前)?")),
]
_WRITTEN_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4}
_RECURRENCE: list[tuple[Recurrence, re.Pattern[str]]] = [
    ("annual", re.compile(r"(?<!人)每年|每一年|年年")),
    ("quarterly", re.compile(r"每季度?|每个季度")),
    ("monthly", re.compile(r"每月|每个月")),
]
_ONGOING = re.compile(r"^(?:长期|持续|长期坚持|持续推进|长期推进|常态化)$|长期坚持|[(（]长期[)）]")


@dataclass(slots=True)
class Deadlines:
    dates: list[date] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    ongoing: bool = False

    def latest(self) -> date | None:
        return max(self.dates) if self.dates else None


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def find_deadlines(
    text: str, *, issued_on: date | None, period_start: date | None, base_year: int | None = None
) -> Deadlines:
    """Every deadline stated in the text, resolved against the issue date and the plan period.

    base_year: the year a deadline without one (年内, 12月31日前) falls in; the issue year unless the
    caller knows the plan's own year (a one-year 工作要点)."""
    if base_year is None and issued_on is not None:
        base_year = issued_on.year
    out = Deadlines(ongoing=bool(_ONGOING.search(text)))
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            year = base_year
            if kind.startswith("bare_") and kind != "bare_year_end":
                # 2019年3月底前完成试点，6月底前全面推开: the year written last before it.
                written = _WRITTEN_YEAR.findall(text, 0, m.start())
                year = int(written[-1]) if written else base_year
            d = _resolve(kind, m, issued_on=issued_on, period_start=period_start, base_year=year)
            if d is None and kind != "start":
                out.ambiguous.append(m.group(0))
            elif d is not None:
                out.dates.append(d)
    return out


def _quarter_end(year: int, q: str) -> date:
    n = _QUARTER.get(q) or int(q)
    return month_end(year, 3 * n)


def _resolve(
    kind: str, m: re.Match[str], *, issued_on: date | None, period_start: date | None, base_year: int | None
) -> date | None:
    g = m.groupdict()
    try:
        if kind == "quarter":
            return _quarter_end(int(g["y"]), g["q"])
        if kind.startswith("bare_") and base_year is None:
            return None
        if kind == "bare_day":
            return _safe(base_year, int(g["m"]), int(g["d"])) if base_year else None
        if kind == "bare_month_end":
            month = int(g["m"])
            return month_end(base_year, month) if base_year and 1 <= month <= 12 else None
        if kind == "bare_quarter":
            return _quarter_end(base_year, g["q"]) if base_year else None
        if kind == "range":
            year = int(g["y2"]) if g["y2"] else int(g["y"])
            return _safe(year, int(g["m2"]), int(g["d2"]))
        if kind == "start":
            return None
        if kind == "years_from":
            return date(int(g["y"]) + int(g["n"]) - 1, 12, 31)
        if kind == "day":
            return _safe(int(g["y"]), int(g["m"]), int(g["d"]))
        if kind == "month_end":
            month = int(g["m"])
            return month_end(int(g["y"]), month) if 1 <= month <= 12 else None
        if kind == "half":
            return date(int(g["y"]), 6, 30)
        if kind == "year_end":
            return date(int(g["y"]), 12, 31)
        if kind == "year":
            return date(int(g["y"] or g["yb"]), 12, 31)
        if kind == "issued_rel":
            if issued_on is None:
                return None
            n = int(g["n"])
            if g["u"] == "个月":
                return _add_months(issued_on, n)
            return issued_on + timedelta(days=n)
        if kind == "years_rel":
            if period_start is not None:
                return date(period_start.year + int(g["n"]) - 1, 12, 31)
            if issued_on is not None:
                return _add_months(issued_on, 12 * int(g["n"]))
            return None
        if kind == "bare_year_end":
            return date(base_year, 12, 31) if base_year is not None else None
    except (ValueError, OverflowError):
        return None
    return None


def find_recurrence(text: str) -> Recurrence | None:
    best: tuple[int, Recurrence] | None = None
    for recurrence, pattern in _RECURRENCE:
        m = pattern.search(text)
        if m is not None and (best is None or m.start() < best[0]):
            best = (m.start(), recurrence)
    return best[1] if best else None


# 2027年, 2024—2025年, 2019年3月 (the end of that month): a 时间节点 cell's own shorthand.
_CELL_YEAR = re.compile(r"(?:\d{4}\s*年?\s*[-—–~～至到]\s*)?(?P<y>\d{4})\s*年?(?:底|末)?(?:前|之前|以前)?")
_CELL_MONTH = re.compile(r"(?P<y>\d{4})\s*[年.\-/]\s*(?P<m>\d{1,2})\s*月?(?:前|之前|以前)?")
_CELL_DATE = re.compile(r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$")


def parse_due_cell(
    text: str, *, issued_on: date | None = None, base_year: int | None = None
) -> tuple[date | None, bool]:
    """A 完成时限 cell: (date, understood). 长期/持续 is understood and has no date."""
    value = text.strip()
    if not value:
        return None, True
    m = _CELL_DATE.match(value)
    if m is not None:
        d = _safe(int(m["y"]), int(m["m"]), int(m["d"]))
        return d, d is not None
    if _ONGOING.search(value):
        return None, True
    found = find_deadlines(value, issued_on=issued_on, period_start=None, base_year=base_year)
    if found.dates:
        return found.latest(), True
    bare = _CELL_YEAR.fullmatch(value)
    if bare is not None:
        return date(int(bare["y"]), 12, 31), True
    month = _CELL_MONTH.fullmatch(value)
    if month is not None and 1 <= int(month["m"]) <= 12:
        return month_end(int(month["y"]), int(month["m"])), True
    return None, False
