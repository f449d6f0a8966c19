"""County and city plans in styles the seed and the shared corpus lack (a probe of the reader).

- fullwidth_unit_lines.txt: a 实施方案 behind its 通知, typed with full-width digits, goals in the
  preamble, each （一） task with its unit line below it (`责任单位：县城管局（牵头），…`,
  `牵头单位：…` / `配合单位：…` on two lines), deadlines 第三季度, 12月31日前, 年内, 长期坚持, 每季度;
- work_points.txt: a one-year 工作要点 numbered 1. 2. across parts, goals on a 主要目标： line;
- headed_projects.txt: 民生实事 projects, each （一） heading the task and one paragraph under it
  closed by its own unit parenthesis;
- a .docx responsibility table (序号 | 重点任务 | 工作措施 | 责任单位 | 完成时限) and an office's own
  .xlsx breakdown with a title row above its header.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook

from plandoc import ImportResult, parse, parse_text
from plandoc.dates import find_deadlines
from plandoc.interchange import TaskDoc

CORPUS = Path(__file__).resolve().parent / "corpus"


def shape(name: str) -> ImportResult:
    return parse_text((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))


def by_code(result: ImportResult) -> dict[str, TaskDoc]:
    return {t.code: t for t in result.document.tasks()}


def units(task: TaskDoc) -> tuple[list[str], list[str], list[str]]:
    return task.lead_units, task.co_units, task.implementing_units


def test_implementation_plan_behind_its_notice_with_full_width_digits() -> None:
    result = shape("fullwidth_unit_lines")
    doc = result.document
    # The plan is what the notice issues, not the notice; its 文号 reads the same as one typed in ASCII.
    assert doc.plan.title == "青溪县城乡人居环境整治提升实施方案"
    assert (doc.plan.doc_no, doc.plan.issuer, doc.plan.issued_on) == (
        "青政办发〔2025〕18号",
        "青溪县人民政府办公室",
        date(2025, 3, 12),
    )
    # 到２０２５年，…达到９５％以上 in the preamble: the plan's goals.
    assert [(i.name, i.target, i.unit, i.comparator, i.due) for i in doc.indicators] == [
        ("全县农村生活垃圾无害化处理率", 95, "%", ">=", date(2025, 12, 31)),
        ("农村卫生厕所普及率", 85, "%", ">=", date(2025, 12, 31)),
        ("城市生活污水集中收集率", 70, "%", ">=", date(2025, 12, 31)),
    ]
    tasks = by_code(result)
    assert [(t.code, t.title) for t in tasks.values()] == [
        ("一", "推进农村生活垃圾治理"),
        ("二", "实施农村厕所革命"),
        ("三", "开展城区污水管网改造"),
        ("四", "加强村容村貌整治"),
        ("五", "健全长效管护机制"),
        ("六", "开展污染源排查"),
    ]
    assert units(tasks["一"]) == (["县城管局"], ["县财政局", "县农业农村局"], ["各乡镇人民政府"])
    assert units(tasks["二"]) == (["县农业农村局"], ["县卫健委", "县财政局", "县住建局"], [])
    assert units(tasks["三"]) == (["县住建局"], ["县发改委", "县财政局", "经济开发区管委会"], [])
    assert units(tasks["四"]) == (["县委农办"], ["县妇联"], ["各乡镇人民政府"])
    assert units(tasks["六"]) == (["市生态环境局青溪分局"], ["县水利局"], [])
    assert tasks["一"].due == date(2025, 6, 30)
    assert tasks["二"].due == date(2025, 9, 30)  # ２０２５年第三季度
    assert tasks["三"].due == date(2025, 12, 31)  # １２月３１日前, in the year of issue
    assert tasks["六"].due == date(2025, 12, 31)  # 年内
    assert tasks["四"].recurrence == "quarterly"
    assert tasks["五"].ongoing and tasks["五"].due is None  # 长期坚持
    assert [(g.value, g.unit) for g in tasks["二"].targets] == [(3000, "户")]
    assert [(g.value, g.unit) for g in tasks["三"].targets] == [(25, "公里")]
    assert result.warnings == []  # 三、保障措施 holds no tasks and no deadlines


def test_one_year_work_points_numbered_across_parts() -> None:
    result = shape("work_points")
    doc = result.document
    assert doc.plan.title == "桐河市2025年优化营商环境工作要点"
    period = doc.plan.period
    assert period is not None and (period.start, period.end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert [(i.name, i.target, i.unit, i.comparator) for i in doc.indicators] == [
        ("全市政务服务事项网上可办率", 98, "%", ">="),
        ("企业开办时间", 1, "个工作日", "<="),  # 压缩至１个工作日以内
        ("新增市场主体", 1.2, "万户", ">="),  # １．２万户
    ]
    assert [s.code for s in doc.sections] == ["一", "二", "三"]
    tasks = by_code(result)
    assert list(tasks) == [str(n) for n in range(1, 9)]
    assert units(tasks["1"]) == (["市政务服务管理局"], ["市大数据局"], ["各县（市、区）人民政府"])
    assert units(tasks["5"])[1] == ["人民银行桐河市分行", "国家金融监督管理总局桐河监管分局"]
    end = date(2025, 12, 31)
    assert [t.due for t in tasks.values()] == [
        date(2025, 6, 30),
        end,  # no deadline written: the plan's year
        None,  # 长期坚持
        date(2025, 6, 30),  # ２０２５年第二季度前
        end,  # 每季度, through the year
        end,  # 年内: the plan's own year, though the text has no issue date
        end,  # １２月３１日前
        end,
    ]
    assert tasks["3"].ongoing and tasks["5"].recurrence == "quarterly"
    # 市直有关部门 and 市直各行政执法部门 are kinds of units, kept as written and named
    assert [(w.code, w.text) for w in result.warnings] == [
        ("unit.generic", "市直有关部门"),
        ("unit.generic", "市直各行政执法部门"),
    ]


def test_headings_that_are_projects_with_their_units_closing_the_paragraph() -> None:
    result = shape("headed_projects")
    doc = result.document
    assert [(s.code, s.title) for s in doc.sections] == [("二", "项目内容")]
    tasks = by_code(result)
    assert [(t.code, t.title) for t in tasks.values()] == [
        ("一", "义务教育学校扩容工程"),
        ("二", "老旧小区改造"),
        ("三", "城乡公交一体化"),
        ("四", "农村饮水安全巩固提升"),
        ("五", "基层医疗能力提升"),
    ]
    first = tasks["一"]
    assert first.description.startswith("新建、改扩建中小学校4所")
    assert units(first) == (["县教育局"], ["县发改委", "县财政局", "县住建局", "县自然资源局"], [])
    assert [(g.value, g.unit) for g in first.targets] == [(4, "所"), (2400, "个")]
    assert units(tasks["二"]) == (["县住建局"], ["县财政局", "城关镇"], ["各相关社区"])
    assert units(tasks["四"]) == (["县水利局"], [], ["各乡镇人民政府"])
    assert [t.due for t in tasks.values()] == [
        date(2025, 8, 31),
        date(2025, 11, 30),
        date(2025, 12, 31),
        date(2025, 10, 31),
        date(2025, 12, 31),  # 年底前, in the plan's year
    ]
    assert [(i.name, i.target) for i in doc.indicators] == [("群众满意度", 90)]
    assert result.warnings == []


def test_several_paragraphs_with_units_under_a_heading_are_still_a_section() -> None:
    text = (
        "一、重点任务\n（一）平台建设\n建设实验室。（县科技局负责）\n建设孵化器。（县工信局负责）\n"
        "（二）人才引育\n引进人才。（县委人才办负责）\n"
    )
    result = parse_text(text)
    assert [s.title for s in result.document.sections] == ["平台建设", "人才引育"]
    assert [t.title for t in result.document.tasks()] == ["建设实验室", "建设孵化器", "引进人才"]


@pytest.mark.parametrize(
    ("phrase", "due"),
    [
        ("2025年第三季度完成", date(2025, 9, 30)),
        ("2025年一季度末前完成", date(2025, 3, 31)),
        ("第四季度完成验收", date(2024, 12, 31)),
        ("12月31日前全部完工", date(2024, 12, 31)),
        ("6月底前完成摸底", date(2024, 6, 30)),
        ("2026年3月底前完成试点，9月底前全面推开", date(2026, 9, 30)),  # the year written last
        ("年内完成", date(2024, 12, 31)),
    ],
)
def test_deadlines_without_a_year_take_the_plans_year(phrase: str, due: date) -> None:
    assert find_deadlines(phrase, issued_on=date(2024, 3, 1), period_start=None).latest() == due


@pytest.mark.parametrize("phrase", ["每年3月底前报送", "每季度开展一次", "每月5日前报送"])
def test_a_cadence_is_not_a_deadline(phrase: str) -> None:
    assert find_deadlines(phrase, issued_on=date(2024, 3, 1), period_start=None).dates == []


def test_a_deadline_without_a_year_and_nothing_to_take_it_from_is_reported() -> None:
    result = parse_text("关于推进某项工作的方案\n一、重点任务\n（一）甲。12月31日前完成。（县科技局负责）\n")
    assert [w.code for w in result.warnings] == ["deadline.ambiguous"]
    assert result.document.tasks()[0].due is None


def _docx(paragraphs: list[str], table: list[list[str]], after: list[str]) -> bytes:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    for text in after:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


RESPONSIBILITY_TABLE = [
    ["序号", "重点任务", "工作措施", "责任单位", "完成时限"],
    [
        "1",
        "企业信息变更一件事",
        "整合市场监管、税务、社保等变更事项，实现一表申请。",
        "县市场监管局（牵头），县税务局、县人社局",
        "2025年第三季度",
    ],
    [
        "2",
        "新生儿出生一件事",
        "实现出生医学证明、户口登记、医保参保等联办。",
        "县卫健委（牵头），县公安局、县医保局、各乡镇人民政府",
        "2025年6月底前",
    ],
    ["3", "政务服务效能监测", "每季度通报各单位办件质效情况。", "县政府办（牵头），县数据局", "每季度"],
    ["4", "窗口服务规范化建设", "统一窗口设置和服务标准。", "县行政审批局、经济开发区管委会", "长期坚持"],
    ["5", "退休一件事", "整合退休审批、养老金核定等事项。", "县人社局（牵头），县社保中心", "12月31日前"],
]


def test_docx_responsibility_table_names_its_tasks_in_the_key_task_column() -> None:
    data = _docx(
        [
            "清河县2025年“高效办成一件事”改革重点任务责任分工方案",
            "为深化政务服务改革，制定本方案。到2025年底，“一件事”集成办理事项达到30项以上，群众满意率不低于98%。",
            "一、重点任务分工",
        ],
        RESPONSIBILITY_TABLE,
        ["二、保障措施", "各责任单位要于每季度末报送工作进展。"],
    )
    result = parse(data, filename="分工方案.docx")
    doc = result.document
    assert [(i.name, i.target, i.comparator) for i in doc.indicators] == [
        ("“一件事”集成办理事项", 30, ">="),
        ("群众满意率", 98, ">="),
    ]
    assert [(s.code, s.title) for s in doc.sections] == [("一", "重点任务分工")]
    tasks = by_code(result)
    assert [(t.code, t.title) for t in tasks.values()] == [
        ("1", "企业信息变更一件事"),
        ("2", "新生儿出生一件事"),
        ("3", "政务服务效能监测"),
        ("4", "窗口服务规范化建设"),
        ("5", "退休一件事"),
    ]
    assert tasks["1"].description == "整合市场监管、税务、社保等变更事项，实现一表申请。"
    assert units(tasks["1"]) == (["县市场监管局"], ["县税务局", "县人社局"], [])
    assert units(tasks["2"]) == (["县卫健委"], ["县公安局", "县医保局"], ["各乡镇人民政府"])
    assert units(tasks["4"]) == (["县行政审批局"], ["经济开发区管委会"], [])
    assert [t.due for t in tasks.values()] == [
        date(2025, 9, 30),
        date(2025, 6, 30),
        date(2025, 12, 31),  # 每季度: how often, through the plan's year
        None,  # 长期坚持
        date(2025, 12, 31),  # 12月31日前
    ]
    assert tasks["3"].recurrence == "quarterly" and not tasks["3"].ongoing
    assert tasks["4"].ongoing
    assert result.warnings == []


def test_office_spreadsheet_with_a_title_row_above_its_header() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Sheet1"
    ws.append(["平江县2025年重点项目建设任务分解表"])
    ws.merge_cells("A1:F1")
    ws.append(["序号", "重点任务", "具体工作", "牵头单位", "配合单位", "完成时限"])
    ws.append(
        [1, "城市更新", "完成老旧小区改造１０个", "县住建局", "县财政局、城关镇", "２０２５年１１月底前"]
    )
    ws.append(
        [2, "乡村振兴", "建成高标准农田２万亩", "县农业农村局", "县财政局、各乡镇人民政府", "2025年第四季度"]
    )
    ws.append([3, "营商环境", "开展“万人助万企”活动", "县工信局", "县直有关部门", "长期坚持"])
    ws.append(
        [4, "安全生产", "开展安全生产大检查", "县应急管理局", "各乡镇人民政府、经济开发区管委会", "每月"]
    )
    buf = io.BytesIO()
    wb.save(buf)
    result = parse(buf.getvalue(), filename="分解表.xlsx")
    doc = result.document
    assert doc.plan.title == "平江县2025年重点项目建设任务分解表"
    assert doc.plan.period is not None and doc.plan.period.end == date(2025, 12, 31)
    tasks = by_code(result)
    assert [(t.code, t.title) for t in tasks.values()] == [
        ("1", "完成老旧小区改造１０个"),
        ("2", "建成高标准农田２万亩"),
        ("3", "开展“万人助万企”活动"),
        ("4", "开展安全生产大检查"),
    ]
    assert [s.title for s in doc.sections] == ["城市更新", "乡村振兴", "营商环境", "安全生产"]
    assert units(tasks["2"]) == (["县农业农村局"], ["县财政局"], ["各乡镇人民政府"])
    assert [t.due for t in tasks.values()] == [
        date(2025, 11, 30),
        date(2025, 12, 31),
        None,
        date(2025, 12, 31),
    ]
    assert tasks["4"].recurrence == "monthly"
    assert [(g.value, g.unit) for g in tasks["1"].targets] == [(10, "个")]
    assert [(w.code, w.text) for w in result.warnings] == [("unit.generic", "县直有关部门")]


@pytest.mark.parametrize(
    ("clause", "lead", "co", "due", "kept"),
    [
        # a deadline written inside the unit clause is the task's, not lost with the clause
        ("（责任单位：县发改委、县财政局；完成时限：2025年9月底前）", ["县发改委"], ["县财政局"],
         date(2025, 9, 30), "完成时限：2025年9月底前"),
        ("（牵头单位：县发改委；配合单位：县财政局；完成时限：长期坚持）", ["县发改委"], ["县财政局"], None,
         "完成时限：长期坚持"),
        ("（责任领导：张三；责任单位：县水利局）", ["县水利局"], [], date(2025, 12, 31), "责任领导：张三"),
        ("【责任单位：县发改委、县财政局】", ["县发改委"], ["县财政局"], date(2025, 12, 31), ""),
        ("（责任单位：县财政局、县发改委〔牵头〕）", ["县发改委"], ["县财政局"], date(2025, 12, 31), ""),
    ],
)  # fmt: skip
def test_unit_clauses_with_other_labels_and_brackets(
    clause: str, lead: list[str], co: list[str], due: date | None, kept: str
) -> None:
    result = parse_text(f"某县2025年工作要点\n一、重点任务\n（一）推进甲项工作。{clause}\n")
    task = result.document.tasks()[0]
    assert (task.title, task.lead_units, task.co_units, task.due) == ("推进甲项工作", lead, co, due)
    assert task.description == kept
    assert result.warnings == []
