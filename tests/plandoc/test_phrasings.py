"""Small documents, one per phrasing the reader must understand."""

from __future__ import annotations

from datetime import date

from plandoc import ImportResult, parse_text
from plandoc.interchange import TaskDoc

HEADER = "某县人民政府办公室关于印发某县科技创新行动计划的通知\n某政办发〔2024〕12号\n"
SIGNATURE = "某县人民政府办公室\n2024年3月1日\n（此件公开发布）\n"


def _tasks(text: str, **kw: date) -> tuple[list[TaskDoc], ImportResult]:
    result = parse_text(text, **kw)
    return result.document.tasks(), result


def test_header_fields() -> None:
    result = parse_text(
        HEADER
        + SIGNATURE
        + "某县科技创新行动计划（2024—2026年）\n一、重点任务\n（一）建平台。（县科技局负责）"
    )
    plan = result.document.plan
    assert plan.title == "某县科技创新行动计划（2024—2026年）"
    assert plan.doc_no == "某政办发〔2024〕12号"
    assert plan.issuer == "某县人民政府办公室"
    assert plan.issued_on == date(2024, 3, 1)
    assert plan.period is not None and plan.period.end == date(2026, 12, 31)


def test_issued_on_hint_when_the_text_has_no_date() -> None:
    tasks, result = _tasks(
        "一、任务\n（一）制定办法。印发之日起30日内出台。（县财政局负责）", issued_on_hint=date(2024, 5, 1)
    )
    assert result.document.plan.issued_on == date(2024, 5, 1)
    assert tasks[0].due == date(2024, 5, 31)


def test_main_goals_comparators_and_cadence() -> None:
    text = (
        "二、主要目标\n"
        "到2025年，研发投入强度达2.5%，高新技术企业不少于120家，力争新增上市企业2家，"
        "单位GDP能耗下降控制在3%以内，人才总量稳定在5万人左右。每年新增专利500件以上。累计建成孵化器10个。\n"
        "三、重点任务\n（一）建平台。（县科技局负责）"
    )
    result = parse_text(text)
    got = [(i.name, i.target, i.unit, i.comparator, i.cadence, i.due) for i in result.document.indicators]
    end = date(2025, 12, 31)
    assert got == [
        ("研发投入强度", 2.5, "%", ">=", "once", end),
        ("高新技术企业", 120, "家", ">=", "once", end),
        ("新增上市企业", 2, "家", ">=", "once", end),
        ("单位GDP能耗下降", 3, "%", "<=", "once", end),
        ("人才总量", 5, "万人", "~", "once", end),
        ("新增专利", 500, "件", ">=", "annual", end),
        ("建成孵化器", 10, "个", ">=", "cumulative", end),
    ]


def test_four_numbering_levels_and_subtasks() -> None:
    text = (
        "一、重点任务\n（一）平台建设\n"
        "1.建设实验室。到2025年建成2个。（责任单位：县科技局）\n"
        "（1）2024年6月底前完成选址。（责任单位：县自然资源局）\n"
        "（2）2024年底前开工。\n"
        "2.建设孵化器。（责任单位：县工信局）\n"
        "（二）人才引育\n3.引进人才。（责任单位：县委人才办）"
    )
    tasks, result = _tasks(text)
    assert [t.code for t in tasks] == ["1", "2", "3"]
    assert [s.code for s in result.document.sections] == ["一", "二"]
    subs = tasks[0].subtasks
    assert [(s.code, s.due, s.lead_units) for s in subs] == [
        ("1", date(2024, 6, 30), ["县自然资源局"]),
        ("2", date(2024, 12, 31), []),
    ]
    assert result.warnings == []


def test_flat_list() -> None:
    text = (
        "一、对成效明显的县，给予奖励。（县财政局负责）\n"
        "二、对表现突出的镇，优先支持。（县发改委负责）\n"
        "三、其他。（县政府办负责）"
    )
    tasks, _ = _tasks(text)
    assert [(t.code, t.lead_units) for t in tasks] == [
        ("一", ["县财政局"]),
        ("二", ["县发改委"]),
        ("三", ["县政府办"]),
    ]


def test_title_is_the_first_sentence() -> None:
    tasks, _ = _tasks("一、任务\n（一）强化项目招引。围绕主导产业招商。加强要素保障。（县商务局负责）")
    assert tasks[0].title == "强化项目招引"
    assert tasks[0].description == "围绕主导产业招商。加强要素保障。"


def test_unit_phrasings() -> None:
    text = (
        "一、任务\n"
        "（一）甲。（牵头单位：县科技局；配合单位：县财政局、县工信局）\n"
        "（二）乙。（县发改委牵头，县统计局、县财政局参与）\n"
        "（三）丙。（县教育局牵头，县人社局配合）\n"
        "（四）丁。（县卫健委、县医保局负责）\n"
        "（五）戊。（县住建局会同有关部门负责）\n"
        "（六）己。（县商务局、县市场监管局按职责分工负责）\n"
        "（七）庚。（县农业农村局、县水利局牵头负责）\n"
        "（八）辛。（县公安局、县司法局负责，排在第一位的部门为牵头部门）\n"
        "（九）壬。（各镇街按职责分工负责）\n"
    )
    tasks, result = _tasks(text)
    assert [(t.lead_units, t.co_units, t.implementing_units) for t in tasks] == [
        (["县科技局"], ["县财政局", "县工信局"], []),
        (["县发改委"], ["县统计局", "县财政局"], []),
        (["县教育局"], ["县人社局"], []),
        (["县卫健委"], ["县医保局"], []),
        (["县住建局"], ["有关部门"], []),
        (["县商务局"], ["县市场监管局"], []),
        (["县农业农村局", "县水利局"], [], []),
        (["县公安局"], ["县司法局"], []),
        (["各镇街"], [], []),
    ]
    assert [(w.code, w.text) for w in result.warnings] == [("unit.generic", "有关部门")]


def test_group_names_are_not_split() -> None:
    tasks, _ = _tasks(
        "一、任务\n（一）甲。（牵头单位：市人社局，配合单位：市财政局，各区、县级市）\n"
        "（二）乙。（省发展改革委、省财政厅，各省、自治区、直辖市人民政府按职责分工负责）"
    )
    assert tasks[0].implementing_units == ["各区、县级市"]
    assert tasks[1].co_units == ["省财政厅"]
    assert tasks[1].implementing_units == ["各省、自治区、直辖市人民政府"]


def test_carried_clauses() -> None:
    text = (
        "一、任务\n"
        "（一）甲。（县科技局负责。本项及以下工作均需各镇街、经济开发区落实，下同）\n"
        "（二）乙。（县工信局负责）\n"
        "二、任务\n（三）丙。（县财政局指导，试点镇负责落实。以下均需试点镇落实，不再列出）\n（四）丁。（县商务局指导）"
    )
    tasks, _ = _tasks(text)
    assert [t.implementing_units for t in tasks] == [
        ["各镇街", "经济开发区"],
        ["各镇街", "经济开发区"],
        ["试点镇", "各镇街", "经济开发区"],
        ["各镇街", "经济开发区", "试点镇"],
    ]


def test_several_tasks_in_one_paragraph_and_non_unit_parentheses() -> None:
    text = (
        "一、主要任务\n（一）推进减量。\n"
        "推广绿色包装（含快递包装），减少一次性用品。（县商务局指导）建设回收网点，到2025年建成30个。"
        "（县供销社牵头，县商务局参与）\n"
    )
    tasks, result = _tasks(text)
    assert [t.title for t in tasks] == [
        "推广绿色包装（含快递包装），减少一次性用品",
        "建设回收网点，到2025年建成30个",
    ]
    assert [t.lead_units for t in tasks] == [["县商务局"], ["县供销社"]]
    assert tasks[1].due == date(2025, 12, 31)
    assert [(g.value, g.unit) for g in tasks[1].targets] == [(30, "个")]
    assert result.warnings == []


def test_deadline_phrasings() -> None:
    text = (
        HEADER + SIGNATURE + "一、任务\n"
        "（一）甲。到2025年完成。（县科技局负责）\n"
        "（二）乙。2025年6月底前完成。（县科技局负责）\n"
        "（三）丙。年底前完成。（县科技局负责）\n"
        "（四）丁。每年开展一次评估。（县科技局负责）\n"
        "（五）戊。印发之日起30日内制定细则。（县科技局负责）\n"
        "（六）己。长期坚持，持续推进。（县科技局负责）\n"
        "（七）庚。2025年3月15日前报送。（县科技局负责）\n"
        "（八）辛。每季度通报一次。（县科技局负责）\n"
    )
    tasks, result = _tasks(text)
    assert [(t.due, t.recurrence) for t in tasks] == [
        (date(2025, 12, 31), None),
        (date(2025, 6, 30), None),
        (date(2024, 12, 31), None),
        (None, "annual"),
        (date(2024, 3, 31), None),
        (None, None),
        (date(2025, 3, 15), None),
        (None, "quarterly"),
    ]
    assert result.warnings == []


def test_plan_period_is_the_default_deadline() -> None:
    tasks, _ = _tasks(
        "某县行动计划（2024-2025年）\n一、任务\n（一）甲。（县科技局负责）\n（二）乙。长期坚持。（县科技局负责）"
    )
    assert [t.due for t in tasks] == [date(2025, 12, 31), None]


def test_flattened_table() -> None:
    text = (
        "附件\n清单\n序号\n改革举措\n主 要 内 容\n指导部门\n推广范围\n"
        "一、第一类（共2项）\n1\n举措甲\n内容甲。\n科技部、财政部\n全国\n2\n举措乙\n内容乙。\n教育部\n8个区域\n"
        "二、第二类（共2项）\n3\n举措丙\n内容丙。\n商务部\n全国\n"
    )
    tasks, result = _tasks(text)
    assert [(t.code, t.title, t.lead_units, t.co_units) for t in tasks] == [
        ("1", "举措甲", ["科技部"], ["财政部"]),
        ("2", "举措乙", ["教育部"], []),
        ("3", "举措丙", ["商务部"], []),
    ]
    assert tasks[1].description == "内容乙。\n推广范围：8个区域"
    assert [w.code for w in result.warnings] == ["section.count_mismatch"]


def test_warnings_instead_of_guesses() -> None:
    text = (
        "一、重点任务\n"
        "（一）建设平台。年底前建成。\n"  # no unit; 年底前 without an issue date
        "（二）完善机制。（各有关单位负责）\n"
        "（三）强化保障。（县财政局负责）\n"
        "另外，各地要于2024年9月底前报送进展。\n"  # after a closed task: placed nowhere
    )
    tasks, result = _tasks(text)
    assert tasks[0].all_units() == [] and tasks[0].due is None
    assert tasks[1].lead_units == ["各有关单位"]
    assert [(w.code, w.line) for w in result.warnings] == [
        ("deadline.ambiguous", 2),
        ("task.no_unit", 2),
        ("unit.generic", 3),
        ("line.unplaced", 5),
    ]
    assert all(w.message and not w.message.isascii() for w in result.warnings)
