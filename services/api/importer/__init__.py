"""Database-free plan reader: text, .docx, .pdf, .xlsx and JSON into the plan interchange format."""

from .interchange import ImportResult, ImportWarning, PlanDoc
from .text import parse_text

__all__ = ["ImportResult", "ImportWarning", "PlanDoc", "parse_text"]
