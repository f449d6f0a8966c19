from __future__ import annotations

from datetime import date

import pytest

from plandoc import ImportResult, parse_text
from plandoc.interchange import TaskDoc

from .shared import seed_text

# Read off the seed by hand: (code, lead, co units) for every task.
EXPECTED_UNITS: list[tuple[str, str, list[str]]] = [
    ("1", "县科技局", ["县招商办", "县工信局", "县发改委", "县商务局", "县农业农村局", "县自然资源和规划局"]),
    ("2", "县科技局", ["县工信局", "县金融监管局"]),
    ("3", "县科技局", ["县工信局", "县发改委", "县农业农村局", "县委人才办"]),
    ("4", "县科技局", ["县发改委", "县财政局", "县委人才办"]),
    ("5", "县科技局", ["县工信局", "县发改委", "县人社局"]),
    ("6", "县科技局", ["县工信局", "县发改委", "县农业农村局"]),
    ("7", "县委人才办", ["县人社局", "县科技局"]),
    ("8", "县工信局", ["县委人才办", "县科技局", "县人社局", "县工商联", "团县委"]),
    ("9", "县人社局", ["县教育体育局", "县总工会"]),
    ("10", "县工信局", ["县科技局", "县发改委", "县农业农村局"]),
    ("11", "县工信局", ["县发改委", "县商务局", "县农业农村局"]),
    ("12", "县科技局", ["县委人才办", "县教育体育局"]),
    ("13", "县科技局", ["县行政审批局", "县营商办", "县委人才办"]),
    ("14", "县金融监管局", ["县财政局", "县科技局", "县工信局"]),
    ("15", "县市场监管局", []),
]
ANNUAL = {"1", "3", "7", "11", "12", "14"}  # the tasks whose text says 每年


@pytest.fixture(scope="module")
def seed() -> ImportResult:
    return parse_text(seed_text())


def _tasks(result: ImportResult) -> list[TaskDoc]:
    return result.document.tasks()


def test_seed_header(seed: ImportResult) -> None:
    plan = seed.document.plan
    assert plan.title == "涟水县域科技创新跃升行动计划(2024-2025年)"
    assert plan.doc_no == "涟政办发〔2024〕7号"
    assert plan.issuer == "涟水县人民政府办公室"
    assert plan.issued_on == date(2024, 4, 26)
    assert plan.period is not None
    assert (plan.period.start, plan.period.end) == (date(2024, 1, 1), date(2025, 12, 31))


def test_seed_sections_and_straight_numbering(seed: ImportResult) -> None:
    sections = seed.document.sections
    assert [s.code for s in sections] == ["一", "二", "三", "四", "五"]
    assert [s.title for s in sections] == [
        "实施创新主体培育攻坚行动",
        "实施创新平台能级提升行动",
        "实施创新人才集聚高地行动",
        "实施创新产业提质赋能行动",
        "实施创新创业环境优化行动",
    ]
    assert [len(s.tasks) for s in sections] == [3, 3, 3, 3, 3]
    assert [t.code for t in _tasks(seed)] == [str(n) for n in range(1, 16)]


def test_seed_titles_and_descriptions(seed: ImportResult) -> None:
    tasks = _tasks(seed)
    assert tasks[0].title == "强化高科技项目招引"
    assert tasks[0].description.startswith("围绕高新技术产业和高新技术领域")
    assert "责任单位" not in tasks[0].description
    assert tasks[14].title == "强化知识产权引领"
    assert tasks[3].title == "着力打造“涟-溧科创飞地”"
    assert tasks[0].source_line == 22


def test_seed_every_lead_and_co_unit(seed: ImportResult) -> None:
    got = [(t.code, t.lead_units, t.co_units) for t in _tasks(seed)]
    assert got == [(code, [lead], co) for code, lead, co in EXPECTED_UNITS]


def test_seed_xiatong_clause_reaches_every_task(seed: ImportResult) -> None:
    for task in _tasks(seed):
        assert task.implementing_units == ["各镇街", "经济开发区"], task.code


def test_seed_deadlines_and_recurrence(seed: ImportResult) -> None:
    for task in _tasks(seed):
        assert task.due == date(2025, 12, 31), task.code
        assert task.recurrence == ("annual" if task.code in ANNUAL else None), task.code


def test_seed_task_targets(seed: ImportResult) -> None:
    tasks = {t.code: t for t in _tasks(seed)}
    first = [(g.value, g.unit, g.comparator, g.cadence) for g in tasks["1"].targets]
    assert first == [
        (1, "场", ">=", "annual"),
        (50, "个", ">=", "annual"),
        (50, "%", ">=", "annual"),
        (10, "个", ">=", "annual"),
    ]
    credit = tasks["14"].targets[-1]
    assert (credit.value, credit.unit, credit.comparator, credit.cadence) == (30, "亿元", ">=", "annual")
    assert credit.text == "达成授信30亿元以上"
    # 1000万元以上 qualifies the 50 projects; it is not a goal of its own.
    assert [(g.value, g.unit) for g in tasks["3"].targets][2] == (50, "个")
    assert all(g.unit != "万元" for g in tasks["3"].targets)
    green = tasks["3"].targets[3]
    assert (green.value, green.unit, green.cadence) == (8, "家", "cumulative")
    assert [(g.value, g.unit) for g in tasks["8"].targets] == [(5, "名"), (30, "名")]
    assert tasks["4"].targets == []


def test_seed_main_goals_as_indicators(seed: ImportResult) -> None:
    got = [(i.name, i.target, i.unit, i.comparator, i.cadence) for i in seed.document.indicators]
    assert got == [
        ("全社会研发投入占GDP比重", 1.8, "%", ">=", "once"),
        ("万人高价值发明专利拥有量", 3.71, "件", ">=", "once"),
        ("新招引科技型项目", 50, "个", ">=", "annual"),
        ("有效期国家高新技术企业", 100, "家", ">=", "once"),
        ("科技型中小企业评价入库数", 180, "家", ">=", "once"),
        ("国家知识产权示范企业", 1, "家", ">=", "once"),
        ("国家知识产权优势企业", 1, "家", ">=", "once"),  # 国家知识产权示范企业1家、优势企业1家
        ("省级以上专精特新“小巨人”企业", 28, "家", ">=", "once"),
        ("省五星级上云企业", 8, "家", ">=", "once"),
        ("省级以上高层次人才", 50, "人", ">=", "once"),
        ("建成科创综合体、科技企业孵化器(加速器)", 3, "个", ">=", "cumulative"),
        ("企业“两站三中心”", 200, "个", ">=", "cumulative"),
        ("企业“两站三中心”：省级以上", 30, "个", ">=", "cumulative"),
        ("全县高新技术产业产值占比", 38, "%", ">=", "once"),
        (
            "绿色食品、新一代电子信息(PCB电子元器件)、智能装备及新能源、纤维新材料等四大先进制造业产业集群"
            "产值占规上工业总产值比重",
            80,
            "%",
            ">=",
            "once",
        ),
    ]
    assert all(i.due == date(2025, 12, 31) for i in seed.document.indicators)
    assert seed.document.indicators[0].source_text == "全社会研发投入占GDP比重达1.8%"


def test_seed_has_no_warnings_but_its_unquantified_goals(seed: ImportResult) -> None:
    # Every line of the seed is placed: 指导思想 and 组织保障 hold no tasks and no deadlines, and every
    # task names its units. What remains are the goals stated without a number: listed, not dropped.
    assert {w.code for w in seed.warnings} == {"goal.unquantified"}
    goals = [w.text for w in seed.warnings]
    assert "科技财政支出逐年增长" in goals and "主要科技指标位于全市前列" in goals
    assert len(goals) == len(set(goals)) == 13
    assert all(w.line is not None and 13 <= w.line <= 20 for w in seed.warnings)


def test_seed_json_uses_design_key_names(seed: ImportResult) -> None:
    data = seed.document.model_dump(mode="json")
    assert set(data) == {"plan", "indicators", "sections"}
    assert set(data["plan"]) == {"title", "doc_no", "issuer", "issued_on", "period"}
    assert data["plan"]["issued_on"] == "2024-04-26"
    assert set(data["indicators"][0]) == {
        "name",
        "target",
        "unit",
        "comparator",
        "due",
        "cadence",
        "source_text",
    }
    task = data["sections"][0]["tasks"][0]
    assert {
        "code",
        "title",
        "description",
        "lead_units",
        "co_units",
        "implementing_units",
        "due",
        "recurrence",
        "targets",
    } <= set(task)
    assert task["due"] == "2025-12-31"
    assert set(task["targets"][0]) == {"text", "value", "unit", "comparator", "due", "cadence"}
