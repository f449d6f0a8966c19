from __future__ import annotations

from datetime import date, timedelta

import pytest

from api.indicator.forecast import evaluate, forecast_at, linear_trend, rag_for, shortfall
from duban.comparators import progress as progress_of

D0 = date(2025, 1, 1)


def d(days: int) -> date:
    return D0 + timedelta(days=days)


# Three points off one line: x̄=10, ȳ=8, Sxx=200, Sxy=(-10)(-8)+(10)(6)=140 → slope 0.7/day;
# at day 30: 8 + 0.7·20 = 22.
BENT = [(d(0), 0.0), (d(10), 10.0), (d(20), 14.0)]
# Exactly 1 per day: 10, 20, 30 → 40 at day 30.
STRAIGHT = [(d(0), 10.0), (d(10), 20.0), (d(20), 30.0)]
# Lower is better: 100 → 90 in 10 days → 70 at day 30.
FALLING = [(d(0), 100.0), (d(10), 90.0)]


def test_linear_trend_hand_computed() -> None:
    trend = linear_trend(BENT)
    assert trend is not None and trend[0] == pytest.approx(1.0)
    assert trend[1] == pytest.approx(0.7)
    assert forecast_at(BENT, d(30)) == pytest.approx(22.0)
    assert forecast_at(STRAIGHT, d(30)) == pytest.approx(40.0)
    assert linear_trend([(d(0), 1.0), (d(0), 2.0)]) is None


@pytest.mark.parametrize(
    ("values", "comparator", "target", "rag", "forecast", "words"),
    [
        (STRAIGHT, ">=", 40.0, "green", 40.0, "可达到目标"),
        (STRAIGHT, ">=", 42.0, "yellow", 40.0, "差4.8%"),  # 2/42 = 4.76% < 10%
        (STRAIGHT, ">=", 50.0, "red", 40.0, "差20.0%"),  # 10/50
        (BENT, ">=", 22.0, "green", 22.0, "可达到目标"),
        (BENT, ">=", 24.0, "yellow", 22.0, "差8.3%"),  # 2/24
        (BENT, ">=", 25.0, "red", 22.0, "进度滞后"),  # 3/25 = 12%
        (FALLING, "<=", 70.0, "green", 70.0, "可达到目标"),
        (FALLING, "<=", 65.0, "yellow", 70.0, "存在风险"),  # 5/65 = 7.7%
        (FALLING, "<=", 60.0, "red", 70.0, "差16.7%"),  # 10/60
    ],
)
def test_forecast_rag_table(
    values: list[tuple[date, float]], comparator: str, target: float, rag: str, forecast: float, words: str
) -> None:
    status = evaluate(
        target=target, comparator=comparator, baseline=None, values=values, due=d(30), today=d(21)
    )
    assert status.rag == rag
    assert status.forecast == pytest.approx(forecast)
    assert words in status.reason


@pytest.mark.parametrize(
    ("values", "due", "today", "rag", "words"),
    [
        ([], d(30), d(5), "yellow", "尚无填报数据"),
        ([], d(30), d(31), "red", "仍无填报数据"),
        ([(d(0), 5.0)], d(30), d(5), "yellow", "数据不足"),
        ([(d(0), 5.0), (d(10), 8.0)], None, d(11), "yellow", "未设截止日期"),
        ([(d(0), 10.0), (d(20), 30.0)], d(25), d(26), "red", "已过截止日期，目标未达成"),
        ([(d(0), 10.0), (d(20), 45.0)], d(25), d(26), "green", "已按期达到目标"),
        ([(d(0), 41.0)], d(30), d(5), "green", "已达到目标值"),
    ],
)
def test_edge_cases(
    values: list[tuple[date, float]], due: date | None, today: date, rag: str, words: str
) -> None:
    status = evaluate(target=40.0, comparator=">=", baseline=None, values=values, due=due, today=today)
    assert status.rag == rag
    assert words in status.reason


def test_progress_from_baseline_and_from_zero() -> None:
    assert progress_of(30.0, target=40.0, comparator=">=", baseline=None) == 0.75
    assert progress_of(30.0, target=40.0, comparator=">=", baseline=20.0) == 0.5
    assert progress_of(90.0, target=60.0, comparator="<=", baseline=100.0) == 0.25
    assert progress_of(10.0, target=5.0, comparator="<=", baseline=None) == 0.5
    assert progress_of(10.0, target=40.0, comparator=">=", baseline=20.0) == 0.0
    assert progress_of(50.0, target=40.0, comparator=">=", baseline=None) == 1.0
    status = evaluate(target=40.0, comparator=">=", baseline=20.0, values=STRAIGHT, due=d(30), today=d(21))
    assert status.progress == 0.5


def test_shortfall_and_alias() -> None:
    assert shortfall(45.0, target=50.0) == pytest.approx(0.1)
    # Exactly 10% short is behind, not at risk.
    rising = [(d(0), 15.0), (d(10), 25.0)]  # 1 per day → 45 at day 30, 10% short of 50
    status = rag_for(target=50.0, comparator=">=", baseline=None, values=rising, due=d(30), today=d(11))
    assert status.forecast == 45.0
    assert status.rag == "red"
    # 左右 ("~") is a comparator like the others; only an unknown one is a programming error.
    approx = evaluate(target=50.0, comparator="~", baseline=None, values=rising, due=d(30), today=d(11))
    assert approx.rag == "red" and approx.forecast == 45.0
    assert (
        evaluate(target=46.0, comparator="~", baseline=None, values=rising, due=d(30), today=d(11)).rag
        == "green"
    )
    with pytest.raises(ValueError):
        evaluate(target=1.0, comparator="!=", baseline=None, values=[], due=None, today=D0)
