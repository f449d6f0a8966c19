"""Numbers as people read them: a count of firms, projects or people is a whole number.

「0.55家」 or 「48.5个」 on a bulletin makes the whole document look machine-made. Indicators whose
unit counts things (家, 个, 件, 项, 人…) are shown as whole numbers wherever a person reads them
(forecasts, bulletins, the board, the demo's values); amounts (%, 亿元, 万千瓦) keep their decimals.
The stored values are untouched: this only decides how they are written.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field

# The largest value a target, a baseline or a reported figure may have (a thousand trillion: 10^15
# 元 is far beyond any county's budget). Beyond it, differences and trends overflow to ∞/NaN, which
# JSON cannot carry: one such row broke every list that showed it.
MAX_MAGNITUDE = 10**15
Amount = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]

# Measure words for things that come whole. 万人 or 万户 are amounts (1.5万人 is fine), so only the
# bare measure word counts.
COUNT_UNITS = frozenset(
    {
        "家",
        "个",
        "件",
        "项",
        "人",
        "名",
        "位",
        "户",
        "所",
        "座",
        "条",
        "台",
        "套",
        "部",
        "篇",
        "本",
        "次",
        "场",
        "批",
        "支",
        "只",
        "辆",
        "处",
        "家次",
        "人次",
        "项次",
        "期",
        "门",
        "款",
    }
)


def is_countable(unit: str | None, target: float | None = None) -> bool:
    """A count of whole things. A fractional target (万人高价值发明专利拥有量达3.71件) makes the
    measure word a rate's unit, not a count: such values keep their decimals."""
    if target is not None and not float(target).is_integer():
        return False
    return (unit or "").strip() in COUNT_UNITS


def whole(value: float) -> int:
    """Half up, as people round (48.5 → 49), not banker's rounding."""
    if abs(value) >= MAX_MAGNITUDE:
        return int(value)  # no fraction left to round, and beyond Decimal's default precision
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def number(value: float | None, unit: str | None = None, *, target: float | None = None) -> str:
    """The value as written in a document: 「49」 for a count, 「1.8」 or 「2500」 for an amount."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if is_countable(unit, target):
        return str(whole(value))
    rounded = round(float(value), 2)
    if rounded.is_integer():
        return str(int(rounded))
    return f"{rounded:.2f}".rstrip("0").rstrip(".")


def with_unit(value: float | None, unit: str | None, *, target: float | None = None) -> str:
    """「49个」, 「1.8%」; 「—」 when there is no value. `target`: the indicator's, see is_countable."""
    text = number(value, unit, target=target)
    return text if text == "—" else f"{text}{unit or ''}"


def demo_value(target: float, share: float, unit: str | None, *, reaching: bool) -> float:
    """A made-up value at `share` of the target: whole for a count (up when the story has it
    reaching the target, down when it falls short), two decimals otherwise."""
    raw = target * share
    if is_countable(unit, target):
        return float(math.ceil(raw - 1e-9) if reaching else math.floor(raw + 1e-9))
    return round(raw, 2)
