from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plandoc import parse_text, to_json

# CJK, the numbering and bracket characters the reader keys on, digits and separators.
_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
    st.sampled_from(
        list("一二三四五六七八九十、（）()：:，,；;。.１２３4567890年月日底前每以上达不少于")
        + list("负责牵头配合参与会同下同落实各镇街|\n 〔〕号%")
    ),
    st.characters(),
)
_PIECES = st.sampled_from(
    [
        "一、",
        "（一）",
        "1.",
        "（1）",
        "（责任单位：",
        "牵头单位：",
        "配合单位：",
        "按职责分工负责）",
        "本项及以下工作均需各镇街、经济开发区落实，下同",
        "到2025年",
        "2025年6月底前",
        "年底前",
        "印发之日起30日内",
        "序号\n",
        "任务名称\n任务内容\n牵头部门\n配合部门\n时间节点\n",
        "指标名称\n单位\n",
        "1\n",
        "县农业农村局\n",
        "县发改委、各乡镇\n",
        "2019年3月\n",
        "长期坚持\n",
        "（责任单位：区相关行政执法部门，区城管局牵头）\n",
        "附件2\n",
        " | ",
        "不少于1场",
        "30亿元以上",
        "主要目标",
        "\n",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(_ALPHABET, max_size=40), _PIECES), max_size=30))
def test_parse_text_never_raises(pieces: list[str]) -> None:
    result = parse_text("".join(pieces))
    to_json(result)
