"""duban.comparators: one set of comparators, parsed from symbols and Chinese words, shown as words."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from duban import comparators
from duban.comparators import ComparatorIn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">=", ">="),
        ("==", "="),
        ("≥", ">="),
        ("不低于", ">="),
        ("以上", ">="),
        ("不超过", "<="),
        ("以内", "<="),
        ("左右", "~"),
        ("约", "~"),
        ("~", "~"),
        (" < ", "<"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert comparators.normalize(text) == expected
    assert TypeAdapter(ComparatorIn).validate_python(text) == expected


def test_unknown_is_none_or_default_and_rejected_in_bodies() -> None:
    assert comparators.normalize("大约是") is None
    assert comparators.parse("大约是") == ">=" and comparators.parse(None) == ">="
    with pytest.raises(ValidationError):
        TypeAdapter(ComparatorIn).validate_python("!=")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("新增专利不少于", "", ">="),
        ("", "以上的企业", ">="),
        ("", "及以下", "<="),
        ("控制在", "", "<="),
        ("", "左右", "~"),
        ("稳定在", "", "~"),
        ("超过", "", ">"),
        ("低于", "", "<"),
        ("达到", "", None),
    ],
)
def test_from_context(before: str, after: str, expected: str | None) -> None:
    assert comparators.from_context(before, after) == expected


def test_wording_for_people() -> None:
    assert comparators.word(">=") == "不低于"
    assert comparators.phrase(">=", "1.8%") == "不低于1.8%"
    assert comparators.phrase("~", "11亿千瓦") == "11亿千瓦左右"
    assert comparators.phrase("<=", "5%") == "不超过5%"
    assert comparators.phrase("==", "3个") == "达到3个"
    assert set(comparators.WORDING) == set(comparators.SYMBOLS)


@pytest.mark.parametrize(
    ("value", "comparator", "met"),
    [
        (11.5, "~", True),  # within 5% of 11
        (10.45, "~", True),
        (10.4, "~", False),
        (11.6, "~", False),
        (11.0, ">=", True),
        (10.99, ">=", False),
        (11.0, ">", False),
        (11.0, "<=", True),
        (11.0, "=", True),
        (11.0, "==", True),
    ],
)
def test_meets(value: float, comparator: str, met: bool) -> None:
    assert comparators.meets(value, target=11.0, comparator=comparator) is met


def test_meets_rejects_an_unknown_comparator() -> None:
    with pytest.raises(ValueError, match="unknown comparator"):
        comparators.meets(1.0, target=1.0, comparator="!=")


def test_progress_toward_an_approximate_target() -> None:
    assert comparators.progress(5.5, target=11.0, comparator="~", baseline=None) == 0.5
    assert comparators.progress(10.6, target=11.0, comparator="~", baseline=None) == 1.0
    assert comparators.progress(2.0, target=3.0, comparator="=", baseline=None) is None
