"""The eight real documents in shared/corpus/plans (see its INDEX.md for what each exercises)."""

from __future__ import annotations

from datetime import date

from plandoc import ImportResult
from plandoc.interchange import TaskDoc

from .shared import parse_corpus


def _by_code(result: ImportResult) -> dict[str, TaskDoc]:
    return {t.code: t for t in result.document.tasks()}


def _codes(result: ImportResult, code: str) -> list[str]:
    return [w.code for w in result.warnings if w.code == code]


def test_01_explicit_lead_and_co_units_and_district_group() -> None:
    result = parse_corpus("01")
    tasks = _by_code(result)
    assert list(tasks) == [str(n) for n in range(2, 46)]  # 1. is the goal paragraph, not a task
    assert result.document.plan.title == "关于推进人才集聚工程的实施意见"
    assert result.document.plan.doc_no is None
    t2 = tasks["2"]
    assert t2.title == "战略性主导产业紧缺人才开发项目"
    assert t2.lead_units == ["市发展改革委"]
    assert t2.co_units == ["市委组织部", "市人力资源和社会保障局"]
    assert t2.implementing_units == ["各区、县级市"]  # one group, not 各区 + 县级市
    assert tasks["3"].lead_units == ["市委组织部"]
    assert (tasks["3"].co_units, tasks["3"].implementing_units) == (["市国资委"], [])
    assert tasks["29"].lead_units == ["市人力资源和社会保障局"]
    assert tasks["29"].co_units == [] and tasks["29"].implementing_units == []
    assert tasks["19"].implementing_units == ["各有关区、县级市"]
    assert tasks["35"].co_units[-1] == "越秀区"
    # generic co-units are kept as written and warned, never invented into units
    assert tasks["10"].co_units == ["各有关单位"]
    assert tasks["43"].co_units == ["各项目牵头单位"]
    generic = [w for w in result.warnings if w.code == "unit.generic"]
    assert len(generic) == 15
    assert {w.text for w in generic} == {"各有关单位", "各项目牵头单位"}
    assert all(w.code in ("unit.generic", "goal.unquantified") for w in result.warnings)
    assert all("县级市" not in u or u.startswith("各") for t in tasks.values() for u in t.all_units())
    # "11.121人才梯队项目" is item 11 followed by a name starting with 121
    assert tasks["11"].title == "121人才梯队项目"
    # section codes are qualified because several parts hold sections
    assert [s.code for s in result.document.sections][:2] == ["二.一", "二.二"]
    assert result.document.sections[-1].code == "五"


def test_01_goals_and_five_year_horizon() -> None:
    result = parse_corpus("01")
    period = result.document.plan.period
    assert period is not None and (period.start, period.end) == (date(2012, 1, 1), date(2016, 12, 31))
    got = [(i.name, i.target, i.unit, i.comparator) for i in result.document.indicators]
    assert got == [
        ("重点引进和培养高层次人才", 2000, "名", "~"),
        ("全市大专以上学历人才资源总量", 320, "万名", "~"),
        ("人才贡献率", 40, "%", ">="),
    ]
    tasks = _by_code(result)
    assert tasks["2"].due == date(2016, 12, 31)  # 5年内 from 2012年起
    assert tasks["43"].due == date(2012, 12, 31)  # 2012年10月底前 … 2012年底前: the later one
    assert tasks["13"].recurrence == "annual"
    assert [(g.value, g.unit, g.comparator) for g in tasks["11"].targets] == [
        (10, "名", ">="),
        (20, "名", ">="),
        (100, "名", ">="),
    ]


def test_02_first_listed_rule_and_provincial_group() -> None:
    result = parse_corpus("02")
    doc = result.document
    assert doc.plan.title == "国务院关于做好当前和今后一个时期促进就业工作的若干意见"
    assert (doc.plan.doc_no, doc.plan.issuer, doc.plan.issued_on) == (
        "国发〔2018〕39号",
        "国务院",
        date(2018, 11, 16),
    )
    assert [s.code for s in doc.sections] == ["一", "二", "三", "四", "五"]
    tasks = _by_code(result)
    assert list(tasks) == [
        "一",
        "二",
        "三",
        "四",
        "五",
        "六",
        "七",
        "八",
        "九",
        "十",
        "十一",
        "十二",
        "十三",
        "十四",
        "十五",
    ]
    # 列第一位者为牵头单位，下同
    assert (tasks["一"].lead_units, tasks["一"].co_units) == (["人力资源社会保障部"], ["财政部"])
    assert tasks["三"].lead_units == ["财政部"]
    assert tasks["三"].co_units == ["人力资源社会保障部", "人民银行", "银保监会"]
    assert tasks["四"].lead_units == ["人力资源社会保障部"]
    assert tasks["四"].co_units == ["科技部", "财政部", "住房城乡建设部", "市场监管总局"]
    assert tasks["四"].implementing_units == ["各省级人民政府"]
    assert tasks["十二"].lead_units == ["各省级人民政府"]
    assert tasks["十四"].lead_units == ["各有关部门和单位"]
    assert tasks["十四"].implementing_units == ["各省级人民政府"]
    # deadlines: a date range, and 印发之日起30日内 from the issue date
    assert tasks["一"].due == date(2019, 12, 31)
    assert tasks["七"].due == date(2020, 12, 31)
    assert tasks["十二"].due == date(2018, 12, 16)
    assert tasks["五"].due is None  # 从2019年1月1日起 is a start, not a deadline
    assert tasks["一"].targets == []  # 返还 50% is a policy parameter, not a goal
    assert _codes(result, "line.unplaced") == ["line.unplaced"]
    assert len(_codes(result, "unit.generic")) == 6


def test_03_lead_participate_guide_and_carried_implementer() -> None:
    result = parse_corpus("03")
    doc = result.document
    assert doc.plan.title == "“无废城市”建设试点工作方案"
    assert (doc.plan.doc_no, doc.plan.issuer, doc.plan.issued_on) == (
        "国办发〔2018〕128号",
        "国务院办公厅",
        date(2018, 12, 29),
    )
    assert [s.code for s in doc.sections] == ["一", "二", "三", "四", "五", "六"]
    assert [len(s.tasks) for s in doc.sections] == [4, 6, 4, 7, 7, 11]
    assert doc.sections[0].title == "强化顶层设计引领，发挥政府宏观指导作用"
    tasks = doc.tasks()
    first = tasks[0]
    assert first.title == "建立“无废城市”建设指标体系，发挥导向引领作用"
    assert first.lead_units == ["生态环境部"]
    assert first.co_units == [
        "国家发展改革委",
        "工业和信息化部",
        "住房城乡建设部",
        "农业农村部",
        "国家统计局",
    ]
    assert first.implementing_units == []
    assert first.due == date(2019, 6, 30)
    assert (tasks[1].lead_units, tasks[1].implementing_units) == (["生态环境部"], ["试点城市政府"])
    # 以下均需试点城市政府落实，不再列出: every later task carries it
    assert all(t.implementing_units == ["试点城市政府"] for t in tasks[1:])
    # two tasks in one paragraph (line 28), each with its own parenthesis
    line28 = [t for t in tasks if t.source_line == 28]
    assert [t.lead_units for t in line28] == [["工业和信息化部"], ["国家发展改革委"]]
    assert line28[1].due == date(2020, 12, 31)
    # 商务部指导，供销合作总社参与
    hub = next(t for t in tasks if t.title.startswith("发展“互联网+”"))
    assert (hub.lead_units, hub.co_units) == (["商务部"], ["供销合作总社"])
    # a parenthesis that is not a unit list stays in the text
    burn = next(t for t in tasks if t.title.startswith("垃圾焚烧发电企业"))
    assert "依法依规安装污染物排放自动监测设备" in burn.title
    assert burn.lead_units == ["生态环境部"]
    manure = next(t for t in tasks if t.title.startswith("以规模养殖场为重点"))
    assert [(g.value, g.unit, g.comparator) for g in manure.targets] == [(95, "%", ">="), (75, "%", ">=")]
    # deadlines in 实施步骤; goals without a number are listed too
    assert {w.code for w in result.warnings} == {"line.unplaced", "goal.unquantified"}


def test_04_first_listed_rule_two_leads_and_two_horizons() -> None:
    result = parse_corpus("04")
    tasks = _by_code(result)
    assert len(tasks) == 18
    assert list(tasks)[0] == "三" and list(tasks)[-1] == "二十"
    assert [s.code for s in result.document.sections] == ["二", "三", "四", "五", "六", "七", "八"]
    assert tasks["三"].lead_units == ["工业和信息化部"]
    assert tasks["三"].co_units == ["发展改革委", "科技部", "农业农村部"]
    assert tasks["十八"].lead_units == ["农业农村部", "工业和信息化部"]  # 牵头负责 with two leads
    assert tasks["十九"].lead_units == ["各省级人民政府"]
    indicators = result.document.indicators
    assert len(indicators) == 15
    power2020 = indicators[0]
    assert (power2020.name, power2020.target, power2020.unit, power2020.comparator, power2020.due) == (
        "全国农机总动力",
        10,
        "亿千瓦",
        ">",
        date(2020, 12, 31),
    )
    power2025 = indicators[3]
    assert (power2025.target, power2025.comparator, power2025.due) == (11, "~", date(2025, 12, 31))
    assert [(i.target, i.due) for i in indicators if i.name == "花生种植、收获机械化率"] == [
        (65, date(2025, 12, 31)),
        (55, date(2025, 12, 31)),
    ]
    assert [w.text for w in result.warnings if w.code != "goal.unquantified"] == []
    assert "薄弱环节机械化全面突破" in [w.text for w in result.warnings]


def test_05_rule_stated_once_and_numbering_through_sections() -> None:
    result = parse_corpus("05")
    doc = result.document
    assert [s.code for s in doc.sections] == ["一", "二", "三", "四", "五"]
    assert [t.code for t in doc.tasks()] == [str(n) for n in range(1, 22)]
    tasks = _by_code(result)
    assert (tasks["1"].lead_units, tasks["1"].co_units) == (["税务总局"], ["财政部", "海关总署"])
    assert tasks["9"].lead_units == ["药监局"]
    assert tasks["6"].co_units == ["商务部", "有关部门"]
    assert [w.code for w in result.warnings if w.code != "goal.unquantified"] == ["unit.generic"] * 3


def test_06_flat_list_and_huitong_lead() -> None:
    result = parse_corpus("06")
    doc = result.document
    assert len(doc.sections) == 1
    tasks = doc.tasks()
    assert len(tasks) == 30
    assert tasks[0].code == "一" and tasks[-1].code == "三十"
    by = _by_code(result)
    assert (by["十六"].lead_units, by["十六"].co_units) == (["国家发展改革委"], ["有关部门"])
    assert (by["十八"].lead_units, by["十八"].co_units) == (["国家发展改革委", "财政部"], ["有关部门"])
    assert (by["六"].lead_units, by["六"].co_units) == (["交通运输部"], ["财政部"])
    assert by["三十"].lead_units == ["国务院办公厅"]
    # the closing paragraphs (with 2018年12月31日前 and 每年2月底前) are reported, not dropped
    assert [(w.code, w.line) for w in result.warnings if w.code == "line.unplaced"] == [
        ("line.unplaced", 37),
        ("line.unplaced", 38),
        ("line.unplaced", 39),
    ]


def test_07_flattened_table() -> None:
    result = parse_corpus("07")
    doc = result.document
    assert doc.plan.doc_no == "国办发〔2018〕126号"
    assert [s.code for s in doc.sections] == ["一", "二", "三", "四", "五"]
    assert [len(s.tasks) for s in doc.sections] == [5, 4, 5, 0, 3]
    assert doc.sections[0].title == "知识产权保护方面"
    tasks = _by_code(result)
    assert list(tasks) == [*[str(n) for n in range(1, 15)], "21", "22", "23"]
    first = tasks["1"]
    assert first.title == "知识产权民事、刑事、行政案件“三合一”审判"
    assert first.description.startswith("整合分散的审判资源")
    assert first.description.endswith("推广范围：全国")
    assert first.lead_units == ["最高人民法院"]
    assert first.co_units == ["最高人民检察院", "国家知识产权局"]
    assert tasks["7"].lead_units == ["科技部"] and tasks["7"].co_units == []
    # the abridged copy lost section 四's six rows: say so
    assert [(w.code, w.line) for w in result.warnings] == [("section.count_mismatch", 101)]


def test_08_no_units_invented() -> None:
    result = parse_corpus("08")
    doc = result.document
    assert doc.plan.title == "政府网站集约化试点工作方案"
    assert [s.title for s in doc.sections] == ["试点任务"]
    tasks = doc.tasks()
    assert [t.title for t in tasks] == [
        "建设集约化平台",
        "形成标准规范",
        "构建信息资源库",
        "提供一体化服务",
        "强化安全保障",
    ]
    assert all(t.all_units() == [] for t in tasks)
    assert _codes(result, "task.no_unit") == ["task.no_unit"] * 5
    # the schedule's deadlines are reported rather than attached to tasks by guesswork
    assert [w.line for w in result.warnings if w.code == "line.unplaced"] == [32, 34, 38]
