from __future__ import annotations

from datetime import date

from api.indicator.forecast import evaluate
from duban import amounts


def test_counts_are_whole_and_amounts_keep_their_decimals() -> None:
    assert amounts.with_unit(0.55, "家") == "1家"
    assert amounts.with_unit(48.5, "个") == "49个"  # half up, as people round
    assert amounts.with_unit(3.71, "件") == "4件"
    # 万人高价值发明专利拥有量达3.71件: a rate in 件, not a count, keeps its decimals.
    assert amounts.with_unit(3.71, "件", target=3.71) == "3.71件"
    assert amounts.with_unit(2.5, "件", target=3.71) == "2.5件"
    assert amounts.with_unit(0.55, "家", target=1) == "1家"
    assert amounts.with_unit(1.8, "%") == "1.8%"
    assert amounts.with_unit(3.71, "万人") == "3.71万人"  # an amount of people in 万 is not a count
    assert amounts.with_unit(2500.0, "亿元") == "2500亿元"
    assert amounts.with_unit(None, "家") == "—"
    assert amounts.number(1 / 3) == "0.33"


def test_demo_values_stay_on_their_side_of_the_target() -> None:
    assert amounts.demo_value(1, 0.55, "家", reaching=False) == 0
    assert amounts.demo_value(1, 0.78, "家", reaching=True) == 1
    assert amounts.demo_value(50, 0.97, "个", reaching=True) == 49
    assert amounts.demo_value(1.8, 0.55, "%", reaching=False) == 0.99


def test_forecast_reason_writes_a_count_whole_with_its_unit() -> None:
    status = evaluate(
        target=50,
        comparator=">=",
        baseline=None,
        values=[(date(2025, 3, 31), 20.0), (date(2025, 6, 30), 30.0)],
        due=date(2025, 12, 31),
        today=date(2025, 7, 1),
        unit="个",
    )
    assert status.forecast is not None and not float(status.forecast).is_integer()
    assert status.reason == f"按当前趋势预计到期值{round(status.forecast)}个，可达到目标50个"
