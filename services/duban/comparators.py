"""Indicator comparators: the one owner of "不低于", "左右", ">=" and whether a value meets a target.

The stored form is a symbol (`Indicator.comparator`, `TaskTarget.comparator`, the interchange
format): ">=", ">", "<=", "<", "=" or "~" (左右, approximately). Plan documents say it in words
before or after the number (不少于50个, 50个以上, 11亿千瓦左右, 控制在5%以内); people read it back as
words (目标不低于1.8%). Everything that parses, shows or evaluates a comparator goes through here,
so the importer, the API, stats, bulletins and assessments cannot disagree about one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

Comparator = Literal[">=", ">", "<=", "<", "=", "~"]
SYMBOLS: tuple[Comparator, ...] = get_args(Comparator)
DEFAULT: Comparator = ">="
# 左右 is met within this share of the target either side (11亿千瓦左右: 10.45–11.55).
APPROX_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class Wording:
    word: str  # the people's word: 不低于, 左右
    after: bool = False  # written after the number (50个以上, 11亿千瓦左右)


WORDING: dict[Comparator, Wording] = {
    ">=": Wording("不低于"),
    ">": Wording("超过"),
    "<=": Wording("不超过"),
    "<": Wording("低于"),
    "=": Wording("达到"),
    "~": Wording("左右", after=True),
}

# Plan-document phrasings. After the number, longest first (及以上 before 以上).
WORDS_AFTER: tuple[tuple[str, Comparator], ...] = (
    ("及以上", ">="),
    ("以上", ">="),
    ("多", ">="),
    ("及以下", "<="),
    ("以下", "<="),
    ("以内", "<="),
    ("左右", "~"),
)
# Before the number (the text just before it ends with one of these).
WORDS_BEFORE: tuple[tuple[tuple[str, ...], Comparator], ...] = (
    (("不少于", "不低于", "至少", "不下于", "不小于"), ">="),
    (("不超过", "不高于", "不大于", "控制在", "以内"), "<="),
    (("超过", "高于", "大于", "多于"), ">"),
    (("低于", "少于", "小于"), "<"),
    (("约", "稳定在", "保持在"), "~"),
)
# Other spellings accepted on input (API bodies, spreadsheet cells): symbols and words.
_ALIASES: dict[str, Comparator] = {
    "==": "=",
    "≥": ">=",
    "≤": "<=",
    "＞": ">",
    "＜": "<",
    "＝": "=",
    "≈": "~",
    "约": "~",
    "达": ">=",
    "达到": ">=",
    "不少于": ">=",
    "不低于": ">=",
    "以上": ">=",
    "及以上": ">=",
    "超过": ">",
    "高于": ">",
    "不超过": "<=",
    "不高于": "<=",
    "以内": "<=",
    "以下": "<=",
    "及以下": "<=",
    "低于": "<",
    "少于": "<",
    "左右": "~",
    "等于": "=",
}


def normalize(value: object) -> Comparator | None:
    """The symbol for a symbol or a word ("≥", "不低于", "==" → ">="/"="); None when unknown."""
    if value is None:
        return None
    text = str(value).strip()
    if text in SYMBOLS:
        return text
    return _ALIASES.get(text)


def _coerce(value: object) -> object:
    # Unknown input passes through unchanged, so validation names the allowed symbols.
    return normalize(value) or value


# The type of a comparator in request bodies: a symbol, or a word or alias that maps to one.
ComparatorIn = Annotated[Comparator, BeforeValidator(_coerce)]


def parse(value: object, *, default: Comparator = DEFAULT) -> Comparator:
    """Like `normalize`, with a default for empty or unknown input (readers of loose documents)."""
    return normalize(value) or default


def from_context(before: str, after: str) -> Comparator | None:
    """The comparator a document states around a number: `before` ends just before it, `after`
    starts just after its unit. None when neither side says one."""
    for word, comparator in WORDS_AFTER:
        if after.startswith(word):
            return comparator
    for words, comparator in WORDS_BEFORE:
        if before.endswith(words):
            return comparator
    return None


def word(comparator: str) -> str:
    """People's word for a comparator: 「不低于」."""
    return WORDING[parse(comparator)].word


def phrase(comparator: str, amount: str) -> str:
    """The target as people write it: 不低于1.8%, 11亿千瓦左右."""
    w = WORDING[parse(comparator)]
    return f"{amount}{w.word}" if w.after else f"{w.word}{amount}"


def lower_is_better(comparator: str) -> bool:
    return parse(comparator) in ("<=", "<")


def meets(value: float, *, target: float, comparator: str) -> bool:
    """Whether `value` meets the target; unknown comparators raise ValueError (a bug, not input)."""
    c = normalize(comparator)
    if c == ">=":
        return value >= target or math.isclose(value, target)
    if c == ">":
        return value > target
    if c == "<=":
        return value <= target or math.isclose(value, target)
    if c == "<":
        return value < target
    if c == "=":
        return math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-9)
    if c == "~":
        gap, limit = abs(value - target), APPROX_TOLERANCE * abs(target)
        return gap <= limit or math.isclose(gap, limit) or math.isclose(value, target)
    raise ValueError(f"unknown comparator {comparator!r}")


def progress(latest: float, *, target: float, comparator: str, baseline: float | None) -> float | None:
    """Share of the way from the baseline (or from zero) to the target, clamped to [0, 1]."""
    if meets(latest, target=target, comparator=comparator):
        return 1.0
    if baseline is not None and not math.isclose(target, baseline):
        share = (latest - baseline) / (target - baseline)
    elif parse(comparator) in (">=", ">", "~") and target != 0:
        share = latest / target  # how far up from zero
    elif lower_is_better(comparator) and latest > 0:
        share = target / latest
    else:
        return None  # "=" without a baseline has no direction
    return round(min(1.0, max(0.0, share)), 4)
