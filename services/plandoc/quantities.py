"""Quantified goals: 达1.8%, 不少于1场, 50个以上, 11亿千瓦左右, 每年 / 累计."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from duban import comparators
from duban.comparators import Comparator

from .dates import find_deadlines
from .interchange import Cadence, IndicatorDoc, TargetDoc
from .units import paren_spans

# Longest units first; 个 must not swallow 个月, and nothing may be followed by 级 (50亿级 is a size class).
_UNITS = (
    "万亿元|亿千瓦时|亿千瓦|万千瓦|千瓦|亿元|万元|元|个百分点|百分点|%|％|‰|"
    "万名|万人次|万人|万户|万亩|万吨|万台|万套|万家|万个|万件|"
    "人次|名|人|个工作日|工作日|个(?!月)|家|件|项|场|次|所|座|套|台|辆|批|户|处|条|篇|部|种|类|亩|吨|公里|平方公里|倍"
)
_QUANTITY = re.compile(r"(?<![\d.])(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>" + _UNITS + r")(?!级)")
_CLAUSE_SPLIT = re.compile(r"[，,；;。：:\n]")
_SENTENCE_SPLIT = re.compile(r"(?<=[。；;！!？?])")
_GOAL_MARKERS = re.compile(
    r"不少于|不低于|以上|达到|达|力争|超过|左右|确保|争创|累计|每年|到\d{4}年|\d{4}年(?:底|前)"
)
_ACTION = re.compile(
    r"创建|创成|培育|建成|建设|新增|引进|招引|培养|实施|开展|组织|完成|选拔|资助|打造|获得|承担|达成|认定|"
    r"评选|遴选|培训|扶持|筹集|转化|服务|新培育|新招引|新引进|新建|改造|推广|孵化|举办"
)
# Policy parameters (subsidy rates, eligibility thresholds) are not goals.
_POLICY = re.compile(r"最高|返还|补贴|补助|贴息|申请条件|可申请|可按|不超过\d|标准确定|的标准|符合条件")
_LEAD_NOISE = re.compile(
    r"^(?:[—\-–\s“”\"'《》]+|到\d{4}年(?:底|末)?|\d{4}年(?:起)?(?:\d+年内)?|其中|力争|确保|实现|每年|累计|全年|"
    r"年均|均)+"
)
_TAIL_NOISE = re.compile(
    r"(?:分别达到|分别达|均达到|均达|达到|提高到|提高至|提升到|提升至|增长到|增加到|稳定在|保持在|控制在|"
    r"压缩至|压缩到|缩短至|缩短到|降低至|降低到|降至|减少至|减少到|下降至|下降到|"
    r"不少于|不低于|超过|至少|总体|达|约|为|和|及|[\"'《》\s])+$"
)


@dataclass(slots=True)
class Quantity:
    clause: str
    name: str
    value: float
    unit: str
    comparator: Comparator
    cadence: Cadence
    due: date | None


def _comparator(clause: str, start: int, end: int, previous: Comparator | None) -> Comparator:
    stated = comparators.from_context(clause[max(0, start - 4) : start], clause[end : end + 3])
    if stated is not None:
        return stated
    before = clause[max(0, start - 4) : start]
    if before.endswith(("和", "、", "及")) and previous is not None:
        return previous  # 分别达到65%和55%: the second value shares the first one's comparator
    return comparators.DEFAULT


def _unit(raw: str) -> str:
    return "%" if raw == "％" else raw


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    return any(s <= pos < e for s, e in spans)


def _sub_clauses(clause: str) -> list[str]:
    """Split "5名、市级科技企业家30名" after a quantity followed by 、 (one goal per piece)."""
    pieces: list[str] = []
    start = 0
    for m in _QUANTITY.finditer(clause):
        nxt = m.end()
        while nxt < len(clause) and clause[nxt] in "以上及下左右":
            nxt += 1
        if nxt < len(clause) and clause[nxt] == "、":
            pieces.append(clause[start:nxt])
            start = nxt + 1
    pieces.append(clause[start:])
    return [p for p in pieces if p.strip()]


def extract(
    text: str,
    *,
    default_due: date | None,
    issued_on: date | None,
    goals_only: bool,
) -> list[Quantity]:
    """Quantities in text with their cadence and horizon.

    goals_only: in task text keep only clauses that read as goals (a marker, an action verb, or a
    horizon in the sentence), not policy parameters.
    """
    found: list[Quantity] = []
    horizon: date | None = None
    for sentence in _SENTENCE_SPLIT.split(text):
        if not sentence.strip():
            continue
        # A horizon (到2020年，…) holds for the following sentences of the same paragraph too.
        horizon = find_deadlines(sentence, issued_on=issued_on, period_start=None).latest() or horizon
        sentence_has_horizon = horizon is not None or "每年" in sentence or "累计" in sentence
        cadence: Cadence = "once"
        prev_name = ""
        for clause in _CLAUSE_SPLIT.split(sentence):
            if "每年" in clause:
                cadence = "annual"
            elif "累计" in clause:
                cadence = "cumulative"
            elif re.search(r"到\d{4}年", clause):
                cadence = "once"
            if not _QUANTITY.search(clause):
                continue
            if goals_only and (
                _POLICY.search(clause)
                or not (sentence_has_horizon or _GOAL_MARKERS.search(clause) or _ACTION.search(clause))
            ):
                continue
            sibling = ""
            for piece in _sub_clauses(clause):
                got = _piece_quantities(piece, cadence, horizon or default_due, prev_name)
                if sibling:
                    for q in got:
                        q.name = _shared_head(sibling, q.name)
                found.extend(got)
                if got:
                    sibling = got[-1].name
                if found:
                    prev_name = found[-1].name
    return found


# A name that opens with its own scope (省级…, 市级…, 新…) names a different thing, not a sibling.
_OWN_SCOPE = re.compile(r"^(?:国家|国|省|市|县|区|镇|乡|全|各|新|其中)")


def _shared_head(sibling: str, name: str) -> str:
    """「国家知识产权示范企业1家、优势企业1家」: the second name shares the first one's qualifier
    (国家知识产权优势企业). When a shorter name after 、 ends like its sibling (same head noun,
    ≥ 2 characters), it takes the sibling's leading words that its own modifier replaces."""
    if not name or len(name) >= len(sibling) or _OWN_SCOPE.match(name):
        return name
    common = 0
    while common < len(name) and sibling[-1 - common] == name[-1 - common]:
        common += 1
    prefix = sibling[: len(sibling) - len(name)]
    if common < 2 or common == len(name) or len(prefix) < 2:
        return name
    return prefix + name


def _balance_quotes(name: str) -> str:
    if name.startswith("“") and name.count("“") > name.count("”"):
        name = name[1:]
    close = name.find("”")
    if close >= 0 and "“" not in name[:close]:
        name = "“" + name  # “一件事”集成办理事项: the lead noise took the opening quote of a name
    if name.endswith("“"):
        name = name[:-1]
    return name


def _piece_quantities(piece: str, cadence: Cadence, due: date | None, prev_name: str) -> list[Quantity]:
    spans = paren_spans(piece)
    matches = [m for m in _QUANTITY.finditer(piece) if not _inside(spans, m.start())]
    if not matches:
        return []
    # "1000万元以上技改项目50个": a quantity followed by 以上/以下 and more words is a qualifier.
    kept = []
    for i, m in enumerate(matches):
        tail = piece[m.end() :]
        is_last = i == len(matches) - 1
        if not is_last and tail.startswith(("以上", "以下")) and len(tail) > 2 and tail[2] not in "和、及":
            continue
        kept.append(m)
    out: list[Quantity] = []
    previous: Comparator | None = None
    first = kept[0]
    name = _balance_quotes(_TAIL_NOISE.sub("", _LEAD_NOISE.sub("", piece[: first.start()].strip())))
    if piece.lstrip().startswith("其中") and prev_name:
        name = f"{prev_name}：{name}" if name else prev_name
    if not name:
        name = _LEAD_NOISE.sub("", piece[first.end() :]).strip("以上下左右及，, ") or piece.strip()
    for m in kept:
        comparator = _comparator(piece, m.start(), m.end(), previous)
        previous = comparator
        out.append(
            Quantity(
                clause=piece.strip(),
                name=name,
                value=float(m.group("value")),
                unit=_unit(m.group("unit")),
                comparator=comparator,
                cadence=cadence,
                due=due,
            )
        )
    return out


def targets_in(text: str, *, default_due: date | None, issued_on: date | None) -> list[TargetDoc]:
    return [
        TargetDoc(
            text=q.clause, value=q.value, unit=q.unit, comparator=q.comparator, due=q.due, cadence=q.cadence
        )
        for q in extract(text, default_due=default_due, issued_on=issued_on, goals_only=True)
    ]


def indicators_in(text: str, *, default_due: date | None, issued_on: date | None) -> list[IndicatorDoc]:
    return [
        IndicatorDoc(
            name=q.name,
            target=q.value,
            unit=q.unit,
            comparator=q.comparator,
            due=q.due,
            cadence=q.cadence,
            source_text=q.clause,
        )
        for q in extract(text, default_due=default_due, issued_on=issued_on, goals_only=False)
    ]


# A goal said without a number: 逐年增长, 显著提升, 位于全市前列, 更加完善.
_TREND = re.compile(
    r"逐年|稳步|持续|显著|明显|大幅|进一步|不断|更加|增长|提升|提高|增加|增强|下降|降低|减少|优化|完善|"
    r"前列|领先|突破|翻番|凸显|扩大|加快|健全|形成|实现"
)


def unquantified_goals(text: str) -> list[str]:
    """Clauses of a goal paragraph that state a goal but give no number to measure it by."""
    out: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(text):
        for clause in _CLAUSE_SPLIT.split(sentence):
            clause = clause.strip(" —-–")
            clause = _LEAD_NOISE.sub("", clause).strip() if not clause.startswith("“") else clause
            if len(clause) < 4 or _QUANTITY.search(clause) or not _TREND.search(clause):
                continue
            if re.search(r"\d", clause):
                continue
            if clause not in out:
                out.append(clause)
    return out
