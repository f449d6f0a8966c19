"""Document shapes the reader had not met in the seed and the shared corpus (issue 10, item 5).

Each shape has a small document of its own under tests/plandoc/corpus/, written for these tests in
the genre's wording; tests/api/test_plan_import_shapes.py imports the same files through the API.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from plandoc import ImportResult, parse_text
from plandoc.dates import parse_due_cell
from plandoc.interchange import TaskDoc
from plandoc.tables import cell_kind

CORPUS = Path(__file__).resolve().parent / "corpus"


def shape(name: str) -> ImportResult:
    return parse_text((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))


def by_code(result: ImportResult) -> dict[str, TaskDoc]:
    tasks = result.document.tasks()
    out = {t.code: t for t in tasks}
    assert len(out) == len(tasks), [t.code for t in tasks]
    return out


# --- numbering that starts again in every section -----------------------------------------------


def test_numbering_restarted_per_section_is_named_by_its_section() -> None:
    result = shape("restart_numbering")
    doc = result.document
    assert [s.code for s in doc.sections] == ["一", "二", "三"]
    assert [t.code for t in doc.tasks()] == ["一.1", "一.2", "一.3", "二.1", "二.2", "三.1", "三.2"]
    tasks = by_code(result)
    assert tasks["二.1"].title == "强化用地保障"
    assert (tasks["二.2"].lead_units, tasks["二.2"].co_units) == (["区金融监管局"], ["人民银行青河支行"])
    assert tasks["一.2"].due == date(2025, 6, 30)
    assert tasks["三.2"].due == date(2025, 9, 30)
    assert tasks["一.3"].due == date(2025, 12, 31)  # the plan's year, from 2025年度 in the title
    assert result.warnings == []


def test_numbering_straight_through_keeps_its_codes() -> None:
    text = (
        "一、重点任务\n（一）平台\n1．建平台。（县科技局负责）\n2．建载体。（县工信局负责）\n"
        "（二）人才\n3．引人才。（县委人才办负责）\n"
    )
    assert [t.code for t in parse_text(text).document.tasks()] == ["1", "2", "3"]


def test_restarted_numbering_across_parts_and_sections() -> None:
    # Tasks numbered （一）（二） again in each 一、 part: the part names them.
    text = (
        "一、重点任务\n（一）建平台。（县科技局负责）\n（二）建载体。（县工信局负责）\n"
        "二、保障措施\n（一）加强组织领导。（县政府办负责）\n（二）强化督查考核。（县督查室负责）\n"
    )
    result = parse_text(text)
    assert [(s.code, [t.code for t in s.tasks]) for s in result.document.sections] == [
        ("一", ["一.一", "一.二"]),
        ("二", ["二.一", "二.二"]),
    ]
    assert result.warnings == []


def test_codes_that_cannot_be_told_apart_are_reported() -> None:
    # Two tasks 1 under one heading: qualifying by section cannot separate them, so say so.
    result = parse_text("一、重点任务\n1．甲。（县科技局负责）\n1．乙。（县工信局负责）\n")
    assert [t.code for t in result.document.tasks()] == ["一.1", "一.1"]
    assert [(w.code, w.line) for w in result.warnings] == [("task.code_duplicate", 3)]


# --- the plan period and deadlines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "period"),
    [
        ("青河区2025年度优化营商环境工作要点", (2025, 2025)),
        ("某市全民健身实施计划（2019—2021）", (2019, 2021)),
        ("某县数字乡村建设行动方案（2024-2025年）", (2024, 2025)),
        ("某县“十四五”科技创新规划（2021年—2025年）", (2021, 2025)),
        ("关于推进人才集聚工程的实施意见", None),
    ],
)
def test_plan_period_from_the_title(title: str, period: tuple[int, int] | None) -> None:
    plan = parse_text(f"{title}\n一、重点任务\n（一）甲。（县科技局负责）\n").document.plan
    assert plan.title == title
    got = (plan.period.start, plan.period.end) if plan.period else None
    assert got == ((date(period[0], 1, 1), date(period[1], 12, 31)) if period else None)


@pytest.mark.parametrize(
    ("cell", "due"),
    [
        ("2027年", date(2027, 12, 31)),
        ("2028年底", date(2028, 12, 31)),
        ("2019年3月", date(2019, 3, 31)),
        ("2024年2月", date(2024, 2, 29)),
        ("2024—2025年", date(2025, 12, 31)),
        ("2025年6月底前", date(2025, 6, 30)),
        ("2025年12月31日", date(2025, 12, 31)),
        ("长期坚持", None),
        ("持续推进", None),
    ],
)
def test_deadline_cells(cell: str, due: date | None) -> None:
    assert parse_due_cell(cell) == (due, True)


def test_deadlines_in_task_text() -> None:
    text = (
        "某县行动计划（2024-2025年）\n一、重点任务\n"
        "（一）甲。到2027年建成。（县科技局负责）\n"
        "（二）乙。2028年底前全面完成。（县科技局负责）\n"
        "（三）丙。于2019年3月完成验收。（县科技局负责）\n"
        "（四）丁。长期坚持。（县科技局负责）\n"
        "（五）戊。按计划推进。（县科技局负责）\n"
    )
    tasks = parse_text(text).document.tasks()
    assert [t.due for t in tasks] == [
        date(2027, 12, 31),
        date(2028, 12, 31),
        date(2019, 3, 31),
        None,  # 长期坚持: no deadline, not the plan's end
        date(2025, 12, 31),
    ]


# --- the document's own 文号 ------------------------------------------------------------------------


def test_own_doc_no_not_the_ones_cited() -> None:
    plan = shape("restart_numbering").document.plan
    assert plan.doc_no == "青政办发〔2025〕8号"  # not 国发〔2024〕3号 nor 青政发〔2023〕21号 cited below it


def test_a_cited_doc_no_is_not_taken_when_the_document_has_none() -> None:
    text = (CORPUS / "restart_numbering.txt").read_text(encoding="utf-8").replace("青政办发〔2025〕8号\n", "")
    assert parse_text(text).document.plan.doc_no is None


def test_own_doc_no_on_a_header_line_with_other_text() -> None:
    text = (
        "某县人民政府办公室文件\n"
        "某政办发〔2024〕12号　　　　签发人：王某\n"
        "某县人民政府办公室关于印发某县行动计划的通知\n"
        "各镇人民政府：根据《国务院关于印发某某规划的通知》（国发〔2023〕5号）要求，现印发给你们。\n"
        "一、重点任务\n（一）甲。（县科技局负责）\n"
    )
    assert parse_text(text).document.plan.doc_no == "某政办发〔2024〕12号"


def test_a_citation_above_the_own_doc_no_line_is_skipped() -> None:
    text = (
        "转发《省政府办公厅关于某某工作的通知》（苏政办发〔2024〕30号）的通知\n"
        "某政办发〔2024〕40号\n"
        "一、重点任务\n（一）甲。（县科技局负责）\n"
    )
    assert parse_text(text).document.plan.doc_no == "某政办发〔2024〕40号"


# --- unit roles: 支撑 / 协同, several leads, a generic unit beside a marked lead ---------------------


def test_support_and_coordinating_units_are_co_units() -> None:
    result = shape("unit_roles")
    tasks = by_code(result)
    got = {code: (t.lead_units, t.co_units, t.implementing_units) for code, t in tasks.items()}
    assert got == {
        "一": (["区城管局"], ["区自然资源和规划局", "区住建局"], []),  # 支撑单位
        "二": (["区城管局"], ["区相关行政执法部门"], []),  # 区相关行政执法部门，区城管局牵头
        "三": (["区城管局", "区市场监管局"], [], ["各街道"]),  # two leads; 各街道协同 carries it out
        "四": (["区城管局", "区交通运输局", "区公安分局交警大队"], ["区住建局"], ["各街道"]),  # 协同单位
        "五": (["区城管局"], ["区教育局", "区商务局"], ["各街道"]),
        "六": (["区市场监管局"], ["区城管局", "区生态环境分局", "区供电公司"], []),  # 协同部门, 支撑部门
        "七": (["区应急管理局"], ["区相关行政执法部门"], []),  # 区应急管理局（牵头）
    }
    # the generic unit is kept as written and named in a warning, never made the lead
    assert [(w.code, w.line, w.text) for w in result.warnings] == [
        ("unit.generic", 7, "区相关行政执法部门"),
        ("unit.generic", 12, "区相关行政执法部门"),
    ]


@pytest.mark.parametrize(
    ("clause", "lead", "co"),
    [
        ("区相关行政执法部门按职责分工负责，区城管局牵头", ["区城管局"], ["区相关行政执法部门"]),
        ("区相关行政执法部门、区城管局牵头", ["区城管局"], ["区相关行政执法部门"]),
        ("推进单位：县发改委；责任单位：县财政局", ["县发改委"], ["县财政局"]),
        ("县科技局、县工信局牵头，县财政局协同", ["县科技局", "县工信局"], ["县财政局"]),
        ("责任单位：县相关部门、县住建局", ["县相关部门"], ["县住建局"]),  # nothing marked: first listed
    ],
)
def test_lead_phrasings(clause: str, lead: list[str], co: list[str]) -> None:
    task = parse_text(f"一、重点任务\n（一）甲。（{clause}）\n").document.tasks()[0]
    assert (task.lead_units, task.co_units) == (lead, co)


# --- a （一） heading that is the task, its units on the next line ------------------------------------


def test_headings_that_are_tasks_with_units_on_the_next_line() -> None:
    result = shape("heading_tasks")
    doc = result.document
    assert doc.plan.period is not None
    assert (doc.plan.period.start, doc.plan.period.end) == (date(2019, 1, 1), date(2021, 12, 31))
    assert doc.plan.doc_no == "南府发〔2019〕6号"  # not 国发〔2016〕37号 cited in the preamble
    assert [(s.code, s.title) for s in doc.sections] == [("一", "主要任务")]
    tasks = by_code(result)
    assert [(t.code, t.title) for t in tasks.values()] == [
        ("一", "增加全民健身场地设施供给"),
        ("二", "广泛开展全民健身赛事活动"),
        ("三", "推进全民健身和全民健康深度融合"),
        ("四", "加强青少年体育工作"),
    ]
    first = tasks["一"]
    assert first.lead_units == ["市体育局"]
    assert first.co_units == ["市发展改革委", "市自然资源和规划局", "市住房城乡建设局"]
    assert first.implementing_units == ["各县（市、区）人民政府"]
    assert first.description == (
        "统筹规划建设公共体育设施，到2021年，全市人均体育场地面积达到2.2平方米以上。\n每年新建社区多功能运动场10个以上。"
    )
    assert first.recurrence == "annual" and first.due == date(2021, 12, 31)
    assert [(g.value, g.unit) for g in first.targets] == [(10, "个")]
    assert (tasks["三"].lead_units, tasks["三"].co_units) == (["市卫生健康委"], ["市体育局", "市医保局"])
    assert tasks["三"].due == date(2019, 3, 31)
    assert (tasks["四"].lead_units, tasks["四"].co_units) == (
        ["市教育局"],
        ["市体育局"],
    )  # 责任单位：… unbracketed
    assert tasks["四"].due is None  # 长期坚持
    assert result.warnings == []  # 二、保障措施 holds no tasks and no deadlines


def test_heading_task_with_its_units_after_the_text() -> None:
    text = (
        "一、主要任务\n（一）加快充电设施建设\n到2025年新建公共充电桩500个。\n（责任单位：县发改委、县供电公司）\n"
        "（二）优化充电服务\n（责任单位：县交通运输局）\n推行“一张网”服务。\n"
    )
    result = parse_text(text)
    tasks = result.document.tasks()
    assert [(t.code, t.title, t.lead_units) for t in tasks] == [
        ("一", "加快充电设施建设", ["县发改委"]),
        ("二", "优化充电服务", ["县交通运输局"]),
    ]
    assert tasks[0].description == "到2025年新建公共充电桩500个。"
    assert tasks[0].due == date(2025, 12, 31)
    assert result.warnings == []


def test_sections_whose_paragraphs_carry_their_own_units_stay_sections() -> None:
    # 国办发〔2018〕128号's shape: （一） groups paragraphs, each closed by its own parenthesis.
    text = (
        "一、主要任务\n（一）推进源头减量\n"
        "推广绿色设计。（县工信局负责）\n建设回收网点。（县商务局负责）\n"
        "（二）强化利用\n推进秸秆利用。（县农业农村局负责）\n"
    )
    doc = parse_text(text).document
    assert [(s.code, [t.title for t in s.tasks]) for s in doc.sections] == [
        ("一", ["推广绿色设计", "建设回收网点"]),
        ("二", ["推进秸秆利用"]),
    ]


# --- 任务分解表 flattened one cell per line, with merged cells ----------------------------------------


def _rows(result: ImportResult) -> list[tuple[str, str, list[str], list[str], list[str], date | None]]:
    return [
        (t.code, t.title, t.lead_units, t.co_units, t.implementing_units, t.due)
        for t in result.document.tasks()
    ]


def test_breakdown_table_with_merged_cells_and_an_indicator_grid() -> None:
    result = shape("breakdown_table")
    doc = result.document
    assert doc.plan.doc_no == "清政办发〔2024〕15号"  # not 市委农发〔2024〕1号 cited in the notice
    assert [(s.code, s.title) for s in doc.sections] == [("二", "任务分解")]  # the part the table stands in
    assert _rows(result) == [
        ("1", "粮食安全", ["县农业农村局"], ["县发改委", "县财政局", "县统计局"], [], date(2024, 12, 31)),
        # 任务名称 and 牵头部门 printed once for rows 1–2 (and the lead once for 4–5): carried down
        ("2", "粮食安全", ["县农业农村局"], ["县自然资源局", "县水利局"], [], date(2024, 10, 31)),
        ("3", "粮食安全", ["县自然资源局"], [], ["各乡镇"], None),  # 长期坚持
        ("4", "产业发展", ["县农业农村局"], ["县商务局", "县市场监管局"], [], date(2027, 12, 31)),
        ("5", "产业发展", ["县农业农村局"], ["县市场监管局", "县文旅局"], [], date(2028, 12, 31)),
        ("6", "乡村建设", ["县农业农村局"], ["县卫健委"], ["各乡镇"], date(2024, 3, 31)),
    ]
    tasks = by_code(result)
    assert tasks["2"].description == "新建高标准农田5万亩，改造提升2万亩。"
    # the indicator grid (序号/指标名称/单位/…) is reported, not read as tasks; a lone unit cell that
    # could be the lead or the co unit is named for the office to check
    assert [(w.code, w.line) for w in result.warnings] == [
        ("table.not_tasks", 9),
        ("table.cell_merged", 37),
        ("table.cell_merged", 52),
    ]
    assert "“任务名称”、“牵头部门”" in result.warnings[1].message
    # the prose after the table (三、保障措施) is prose again, not a table row
    assert all(w.code != "line.unplaced" for w in result.warnings)


def test_breakdown_table_with_tuijin_and_zeren_columns() -> None:
    result = shape("breakdown_table_tuijin")
    doc = result.document
    assert [(s.code, s.title) for s in doc.sections] == [("一", "数字产业化行动"), ("二", "产业数字化行动")]
    assert _rows(result) == [
        ("1", "培育数字核心产业", ["区工信局"], ["区商务局", "区投促中心"], [], date(2026, 12, 31)),
        ("2", "培育数字核心产业", ["区工信局"], ["区发改委", "区自然资源局"], [], date(2025, 12, 31)),
        ("3", "数字基础设施", ["区工信局"], ["区住建局", "区城管局"], ["各街道"], date(2026, 12, 31)),
        ("4", "制造业数字化转型", ["区工信局"], ["区科技局"], [], None),
        ("5", "农业数字化", ["区农业农村局"], [], ["各街道"], date(2025, 6, 30)),
    ]
    assert [(w.code, w.line) for w in result.warnings] == [("table.cell_merged", 24), ("table.not_tasks", 49)]
    assert [i.target for i in doc.indicators] == [12]


def test_a_row_whose_cells_fit_one_way_only_is_read_without_a_warning() -> None:
    text = (
        "序号\n任务名称\n任务内容\n牵头部门\n配合部门\n时间节点\n"
        "1\n项目建设\n开工建设重点项目20个。\n县发改委\n县财政局\n2025年6月\n"
        "2\n竣工投产重点项目10个。\n县工信局\n县发改委\n2025年底\n"  # only the 任务名称 is merged
    )
    result = parse_text(text)
    assert _rows(result) == [
        ("1", "项目建设", ["县发改委"], ["县财政局"], [], date(2025, 6, 30)),
        ("2", "项目建设", ["县工信局"], ["县发改委"], [], date(2025, 12, 31)),
    ]
    assert result.warnings == []


def test_a_row_that_fits_no_column_layout_is_reported() -> None:
    text = (
        "序号\n任务名称\n任务内容\n牵头部门\n配合部门\n时间节点\n"
        "1\n项目建设\n开工建设重点项目20个。\n县发改委\n县财政局\n2025年6月\n"
        "2\n2025年底\n2026年底\n"
    )
    result = parse_text(text)
    assert [(w.code, w.line) for w in result.warnings][:1] == [("table.row_incomplete", 13)]


def test_warnings_name_the_task_by_its_qualified_code() -> None:
    text = "一、重点任务\n（一）平台\n1．建平台。（县科技局负责）\n（二）人才\n1．引人才。\n"
    result = parse_text(text)
    assert [t.code for t in result.document.tasks()] == ["一.1", "二.1"]
    assert [w.message for w in result.warnings] == ["任务二.1未写明责任单位，请在交办前指定"]


def test_a_task_over_several_content_rows_its_number_and_name_merged() -> None:
    text = (
        "某县2024年度重点工作任务分解表\n序号\n任务名称\n任务内容\n牵头部门\n配合部门\n时间节点\n"
        "1\n粮食安全\n全年粮食播种面积稳定在120万亩以上。\n县农业农村局\n县发改委\n2024年12月\n"
        "新建高标准农田5万亩，改造提升2万亩。\n县自然资源局\n2025年6月\n"  # 序号 and 任务名称 merged
        "2\n产业发展\n培育市级以上农业产业化龙头企业3家。\n县农业农村局\n县商务局\n2027年\n"
    )
    result = parse_text(text)
    assert _rows(result) == [
        (
            "1",
            "粮食安全",
            ["县农业农村局"],
            ["县发改委", "县自然资源局"],
            [],
            date(2025, 6, 30),
        ),  # its last row
        ("2", "产业发展", ["县农业农村局"], ["县商务局"], [], date(2027, 12, 31)),
    ]
    first = result.document.tasks()[0]
    assert first.description == "全年粮食播种面积稳定在120万亩以上。\n新建高标准农田5万亩，改造提升2万亩。"
    assert [(w.code, w.line) for w in result.warnings] == [("table.cell_merged", 14)]


def test_heading_tasks_with_two_unit_lines_or_units_on_the_heading() -> None:
    text = (
        "一、主要任务\n"
        "（一）推进老旧小区改造\n牵头单位：县住建局\n配合单位：县发改委、县财政局、各街道\n"
        "2025年底前完成改造30个小区。\n"
        "（二）完善社区服务设施（责任单位：县发改委牵头，县民政局、县统计局配合）\n"
        "每年新建社区养老服务站5个。\n"
        "（三）提升物业服务（责任单位：县住建局）\n"
        "推进物业服务覆盖。（县市场监管局负责）\n"  # its own units: a task of its own
    )
    result = parse_text(text)
    got = [(t.code, t.title, t.lead_units, t.co_units, t.implementing_units) for t in result.document.tasks()]
    assert got == [
        ("一", "推进老旧小区改造", ["县住建局"], ["县发改委", "县财政局"], ["各街道"]),
        ("二", "完善社区服务设施", ["县发改委"], ["县民政局", "县统计局"], []),
        ("三", "提升物业服务", ["县住建局"], [], []),
        ("1", "推进物业服务覆盖", ["县市场监管局"], [], []),  # unnumbered: counted
    ]
    tasks = result.document.tasks()
    assert tasks[0].description == "2025年底前完成改造30个小区。" and tasks[0].due == date(2025, 12, 31)
    assert tasks[1].description == "每年新建社区养老服务站5个。" and tasks[1].recurrence == "annual"
    assert result.warnings == []


def test_cells_printed_empty_are_empty() -> None:
    text = (
        "某县2025年度项目建设任务分解表\n序号\n任务名称\n任务内容\n牵头部门\n配合部门\n时间节点\n"
        "1\n项目建设\n开工建设重点项目20个。\n县发改委\n/\n2025年6月\n"
        "2\n竣工投产重点项目10个。\n县工信局\n—\n/\n"  # 任务名称 merged; no co unit, no date
    )
    result = parse_text(text)
    assert _rows(result) == [
        ("1", "项目建设", ["县发改委"], [], [], date(2025, 6, 30)),
        ("2", "项目建设", ["县工信局"], [], [], date(2025, 12, 31)),  # the plan's year
    ]
    assert result.warnings == []


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("县自然资源局、县水利局", "units"),
        ("县妇联、县科协、团县委", "units"),
        ("各乡镇（街道）", "units"),
        ("县农商行", "units"),
        ("粮食安全", "short"),
        ("举办农民丰收节推介会", "short"),  # a task, though it ends like a unit name
        ("新建高标准农田5万亩，改造提升2万亩。", "long"),
        ("2024年10月底", "date"),
        ("2024年—2025年", "date"),
        ("长期坚持", "date"),
        ("到2025年建成5个", "short"),
        ("/", "blank"),
    ],
)
def test_cell_kinds(cell: str, kind: str) -> None:
    assert cell_kind(cell) == kind
