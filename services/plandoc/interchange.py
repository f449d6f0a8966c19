"""The plan interchange format (DESIGN.md, "Plans in and out")."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from duban.amounts import Amount
from duban.comparators import ComparatorIn

Cadence = Literal["once", "annual", "quarterly", "monthly", "cumulative"]
Recurrence = Literal["annual", "quarterly", "monthly"]


class _Doc(BaseModel):
    # A JSON import must not silently drop a misspelt key.
    model_config = ConfigDict(extra="forbid")


class Period(_Doc):
    start: date
    end: date


class PlanMeta(_Doc):
    title: str = ""
    doc_no: str | None = None
    issuer: str | None = None
    issued_on: date | None = None
    period: Period | None = None


class IndicatorDoc(_Doc):
    name: str
    target: Amount | None = None
    unit: str = ""
    comparator: ComparatorIn = ">="
    due: date | None = None
    cadence: Cadence = "once"
    source_text: str = ""


class TargetDoc(_Doc):
    text: str
    value: Amount | None = None
    unit: str = ""
    comparator: ComparatorIn = ">="
    due: date | None = None
    cadence: Cadence = "once"


class TaskDoc(_Doc):
    code: str = ""
    title: str
    description: str = ""
    lead_units: list[str] = Field(default_factory=list)
    co_units: list[str] = Field(default_factory=list)
    implementing_units: list[str] = Field(default_factory=list)
    due: date | None = None
    # 长期坚持 / 持续推进: no deadline on purpose (not merely none written, which takes the plan's end).
    ongoing: bool = False
    recurrence: Recurrence | None = None
    targets: list[TargetDoc] = Field(default_factory=list)
    subtasks: list[TaskDoc] = Field(default_factory=list)
    source_line: int | None = None

    def all_units(self) -> list[str]:
        return [*self.lead_units, *self.co_units, *self.implementing_units]


class SectionDoc(_Doc):
    code: str = ""
    title: str = ""
    tasks: list[TaskDoc] = Field(default_factory=list)


class PlanDoc(_Doc):
    plan: PlanMeta = Field(default_factory=PlanMeta)
    indicators: list[IndicatorDoc] = Field(default_factory=list)
    sections: list[SectionDoc] = Field(default_factory=list)

    def tasks(self) -> list[TaskDoc]:
        return [task for section in self.sections for task in section.tasks]


class UnitSuggestion(_Doc):
    """An existing unit a name in the document may mean (filled in by the importer)."""

    unit_id: int
    name: str
    via_alias: str | None = None
    score: float = Field(ge=0, le=1, description="相似度 0–1")


class ImportWarning(_Doc):  # shadows the builtin on purpose: the format names it so
    code: str
    message: str
    line: int | None = None
    text: str = ""
    suggestions: list[UnitSuggestion] = Field(default_factory=list)


class ImportResult(_Doc):
    document: PlanDoc
    warnings: list[ImportWarning] = Field(default_factory=list)
