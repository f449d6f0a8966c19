"""Responsible-unit clauses: （责任单位：…）, （X牵头，Y配合）, （X会同有关部门负责） and friends."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

OPEN = "(（【"
CLOSE = ")）】"

# Groups whose 、 is part of the name: "各区、县级市" is one group, not "各区" and "县级市".
_PROTECTED_GROUP = re.compile(
    r"各(?:有关)?区、县级市"
    r"|各省、自治区、直辖市(?:人民政府)?"
    r"|各(?:有关)?市、县(?:、区)?(?:人民政府)?"
    r"|各(?:有关)?县、市、区"
    r"|各(?:有关)?镇、街道?"
)
_GENERIC = re.compile(
    r"^(?:各|其他|其它)?(?:有关|相关|项目牵头|配合|成员|责任)?(?:部门|单位|方面|机构)"
    r"(?:和|及|、)?(?:部门|单位|机构)?$"
    # 区相关行政执法部门, 县直有关单位: a kind of unit, not one unit.
    r"|^(?:各|其他|其它)?(?:省|市|州|区|县|镇|乡|街道|市直|县直|区直)(?:各(?:有关|相关)?|有关|相关)\S{0,8}?(?:部门|单位|机构)$"
)
# A role written after one name of a list: 区相关行政执法部门，区城管局牵头 / 区应急管理局（牵头）.
_NAME_ROLE = re.compile(
    r"^(?P<name>.+?)\s*[(（〔【]?(?P<role>牵头负责|牵头|配合|协同|协助|参与|支撑)[)）〕】]?$"
)
_NAME_ROLE_STRIP = re.compile(r"\s*[(（〔【]?(?:牵头负责|牵头|配合|协同|协助|参与|支撑)[)）〕】]?$")
# Labelled parts of a unit clause that name no unit: （责任单位：县发改委；完成时限：2025年9月底前）.
_OTHER_LABEL = re.compile(
    r"[;；,，]?\s*(?:完成时限|完成时间|时间节点|时限要求|时限|进度要求|责任领导|分管领导|牵头领导|联系人)\s*[:：][^;；]*"
)
_TERRITORIAL_SUFFIX = ("开发区", "高新区", "试点城市政府", "试点城市", "试点地区")

_LABEL = re.compile(
    r"(?P<label>责任单位|责任部门|主责单位|牵头单位|牵头部门|推进单位|配合单位|配合部门|协办单位|协办部门|参与单位|参与部门"
    r"|支撑单位|支撑部门|协同单位|协同部门|落实单位)"
    r"\s*[:：]"
)
_VERB = re.compile(
    r"^(?P<units>.+?)\s*(?P<verb>牵头负责|牵头|按职责分工负责|分工负责|共同负责|负责落实|负责|配合|参与|协助|协同|指导|落实"
    r"|会同(?P<with>.+?)(?:按职责分工负责|共同负责|负责))$"
)
_CARRY = re.compile(
    r"(?P<this>本项及)?以下(?:各项)?(?:工作|任务)?均(?:需|由|要)?(?P<units>[^。;；]+?)(?:负责)?落实"
    r"(?:[,，]?\s*(?:下同|不再列出|不再一一列出))?"
)
_RULE = re.compile(
    r"(?:列第一位者?为牵头单位|排在第一位的(?:部门|单位)为牵头(?:部门|单位)|排名第一的(?:为)?牵头(?:部门|单位)"
    r"|列在第一位的(?:部门|单位)为牵头(?:部门|单位)|第一个(?:部门|单位)为牵头(?:部门|单位))"
    r"(?:[,，]?\s*下同)?"
)
# "等有关部门" ends a named list and adds a generic co-unit; "高等学校" must not be split.
_ETC = re.compile(r"等(?=(?:有关|相关|其他)?(?:部门|单位|方面|机构)|$)")
_TRAILING_NOISE = re.compile(r"[\s,，;；。、]+$|^[\s,，;；。、]+")
_SEGMENT_SPLIT = re.compile(r"[,，;；。]")
_MAX_UNIT_LEN = 25


@dataclass(slots=True)
class Attribution:
    lead: list[str] = field(default_factory=list)
    co: list[str] = field(default_factory=list)
    implementing: list[str] = field(default_factory=list)
    # Units that every later task also carries (下同 / 以下均需…落实).
    carry: list[str] = field(default_factory=list)
    carry_includes_this: bool = False
    lead_rule: bool = False
    # 完成时限：2025年9月底前 written inside the clause: kept as the task's text, not dropped with it.
    extra: list[str] = field(default_factory=list)

    def units(self) -> list[str]:
        return [*self.lead, *self.co, *self.implementing]


def paren_spans(text: str) -> list[tuple[int, int]]:
    """Top-level balanced parenthesis spans (start of the opener, index after the closer)."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in OPEN:
            if depth == 0:
                start = i
            depth += 1
        elif ch in CLOSE and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
    return spans


def is_generic(name: str) -> bool:
    return bool(_GENERIC.match(name))


def is_territorial(name: str) -> bool:
    if is_generic(name):
        return False
    return name.startswith("各") or name.endswith(_TERRITORIAL_SUFFIX)


# How the names of units end: 县农业农村局, 县委农办, 团县委, 各乡镇, 县供电公司, 县公安局交警大队 …
_UNIT_END = re.compile(
    r"(?:局|委|办|部|院|厅|署|中心|政府|镇|乡|街道|公司|会|队|所|站|社|室|团|处|馆|校|集团|组|庭"
    r"|联|协|开发区|高新区|办事处|管委会|银行|支行|分行|商行|部门|单位|机构|方面)$"
)
# A cell that begins with a verb is a task, whatever its last character (举办农民丰收节推介会).
_VERB_START = re.compile(
    r"^(?:推进|推动|加强|加快|建设|建立|开展|举办|实施|打造|培育|完善|提升|深化|强化|落实|组织|完成|制定|新建|创建|"
    r"健全|优化|扩大|支持|鼓励|引导|促进|做好|抓好|全面|持续|积极|大力|着力|探索|开发|发展|召开|编制|出台)"
)


def looks_like_units(text: str) -> bool:
    """A table cell that lists units (县自然资源局、县水利局), not a sentence or a date."""
    if not text or len(text) > 200 or any(c in text for c in "。：:；;！？") or re.search(r"\d{4}", text):
        return False
    names = split_units(text)
    return bool(names) and all(
        len(n) <= _MAX_UNIT_LEN
        and not _VERB_START.match(n)
        and (_UNIT_END.search(_NAME_ROLE_STRIP.sub("", n)) is not None or n.startswith("各"))
        for n in names
    )


def marked_lead(names: list[str]) -> tuple[list[str], list[str]] | None:
    """区相关行政执法部门、区城管局（牵头） in a 责任单位 cell: (leads, the others); None when no name is
    marked with its role."""
    marked = [(_NAME_ROLE.match(n), n) for n in names]
    if not any(m is not None and m.group("role").startswith("牵头") for m, _ in marked):
        return None
    leads = [m.group("name") for m, _ in marked if m is not None and m.group("role").startswith("牵头")]
    others = [
        m.group("name") if m is not None else n
        for m, n in marked
        if m is None or m.group("name") not in leads
    ]
    return leads, others


def split_units(text: str) -> list[str]:
    """Split a 、/，-separated list, keeping protected groups and parenthesised parts whole."""
    protected = [(m.start(), m.end()) for m in _PROTECTED_GROUP.finditer(text)]
    names: list[str] = []
    buf: list[str] = []
    depth = 0
    p = 0
    for i, ch in enumerate(text):
        while p < len(protected) and protected[p][1] <= i:
            p += 1
        inside_group = p < len(protected) and protected[p][0] <= i < protected[p][1]
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE and depth:
            depth -= 1
        if depth == 0 and not inside_group and ch in "、,，;；":
            names.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    names.append("".join(buf))
    return [n for n in (_TRAILING_NOISE.sub("", n) for n in names) if n]


def _named_and_generic(units_text: str) -> list[str]:
    m = _ETC.search(units_text)
    if m is None:
        return split_units(units_text)
    named = split_units(units_text[: m.start()])
    rest = units_text[m.end() :].strip()
    return [*named, rest] if rest else named


def _valid(names: Iterable[str]) -> bool:
    return all(0 < len(n) <= _MAX_UNIT_LEN and not any(c in n for c in "的:：") for n in names)


def _add(target: list[str], names: Iterable[str]) -> None:
    for name in names:
        if name not in target:
            target.append(name)


def _assign(att: Attribution, names: list[str], role: str) -> None:
    """role: lead (all lead), first (first leads when none yet), co, implementing."""
    for name in names:
        if role == "implementing":
            _add(att.implementing, [name])
        elif role == "lead":
            _add(att.lead, [name])
        elif role == "first" and not att.lead:
            _add(att.lead, [name])
        elif is_territorial(name):
            _add(att.implementing, [name])
        else:
            _add(att.co, [name])


def _strip_verb(value: str) -> str:
    for suffix in ("按职责分工负责", "分工负责", "共同负责", "负责"):
        if value.endswith(suffix):
            return value[: -len(suffix)]
    return value


def _parse_labelled(body: str, att: Attribution) -> bool:
    matches = list(_LABEL.finditer(body))
    if not matches:
        return False
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        value = _TRAILING_NOISE.sub("", _strip_verb(_TRAILING_NOISE.sub("", body[m.end() : end])))
        names = _named_and_generic(value)
        if not _valid(names):
            return False
        label = m.group("label")
        if label.startswith(("牵头", "推进")):
            _assign(att, names, "lead")
        elif label.startswith(("责任", "主责")):
            _assign_marked(att, names)
        elif label.startswith("落实"):
            _assign(att, names, "implementing")
        else:
            _assign(att, names, "co")
    return bool(att.units())


def _assign_marked(att: Attribution, names: list[str]) -> None:
    """A 责任单位 list: the first listed leads, unless a name carries its own role
    (区相关行政执法部门，区城管局牵头): then the marked one leads and the others support it."""
    marked = [(_NAME_ROLE.match(n), n) for n in names]
    if not any(m is not None for m, _ in marked):
        _assign(att, names, "first")
        return
    for m, name in marked:
        if m is None:
            _assign(att, [name], "co")
        elif m.group("role").startswith("牵头"):
            _assign(att, [m.group("name")], "lead")
        else:
            _assign(att, [m.group("name")], "co")


def _parse_verbs(body: str, att: Attribution) -> bool:
    segments = [s.strip() for s in _SEGMENT_SPLIT.split(body)]
    segments = [s for s in segments if s]
    if not segments:
        return False
    pending: list[list[str]] = []  # verb-less segments take the next segment's verb
    first: list[str] = []  # leads only by being listed first
    for seg in segments:
        m = _VERB.match(seg)
        if m is None:
            names = _named_and_generic(seg)
            if not _valid(names):
                return False
            pending.append(names)
            continue
        verb = m.group("verb")
        names = _named_and_generic(m.group("units"))
        groups = [*pending, names]
        pending = []
        if not all(_valid(g) for g in groups):
            return False
        for group in groups:
            if verb.startswith("会同"):
                _assign(att, group, "lead")
                _assign(att, _named_and_generic(m.group("with") or ""), "co")
            elif verb.startswith("牵头"):
                _assign(att, group, "lead")
            elif verb in ("配合", "参与", "协助", "协同"):
                _assign(att, group, "co")
            elif verb in ("负责落实", "落实"):
                _assign(att, group, "implementing")
            else:
                first.extend(n for n in group if not att.lead)
                _assign(att, group, "first")
    explicit = [n for n in att.lead if n not in first]
    if explicit and first:
        # 区相关行政执法部门按职责分工负责，区城管局牵头: the one marked 牵头 leads, not the first listed.
        att.lead = explicit
        _assign(att, first, "co")
    return not pending and bool(att.units())


def labelled_line(text: str) -> Attribution | None:
    """A line that is only a unit clause without parentheses: 责任单位：市教育局、市体育局."""
    if _LABEL.match(text) is None:
        return None
    return parse_attribution(text)


def parse_attribution(content: str) -> Attribution | None:
    """Parse the inside of a parenthesis; None when it is not a list of responsible units."""
    body = content.strip()
    att = Attribution()
    if _LABEL.search(body):
        for m in reversed(list(_OTHER_LABEL.finditer(body))):
            att.extra.insert(0, m.group(0).strip(" ;；,，"))
            body = body[: m.start()] + body[m.end() :]
    carry = _CARRY.search(body)
    if carry is not None:
        names = split_units(carry.group("units"))
        if not _valid(names):
            return None
        att.carry = names
        att.carry_includes_this = carry.group("this") is not None
        body = body[: carry.start()] + body[carry.end() :]
    rule = _RULE.search(body)
    if rule is not None:
        att.lead_rule = True
        body = body[: rule.start()] + body[rule.end() :]
    body = _TRAILING_NOISE.sub("", body)
    if not body:
        if att.carry:
            return att
        return None
    if _LABEL.search(body):
        ok = _parse_labelled(body, att)
    else:
        ok = _parse_verbs(body, att)
    if not ok:
        return None
    named = [n for n in att.lead if not is_generic(n)]
    if named and len(named) < len(att.lead):
        # 区相关行政执法部门、区城管局牵头: a kind of unit cannot lead beside a named one.
        generic = [n for n in att.lead if n not in named]
        att.lead = named
        _assign(att, generic, "co")
    return att
