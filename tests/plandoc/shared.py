"""Locate the shared/ directory (seeds, corpus) that sits beside the repository clone."""

from __future__ import annotations

from pathlib import Path

from plandoc import ImportResult, parse_text

_REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    for candidate in (_REPO_ROOT / ".." / "shared", _REPO_ROOT / "shared", Path("/work/shared")):
        if (candidate / "corpus" / "plans").is_dir():
            return candidate.resolve()
    raise FileNotFoundError("shared/ (seeds and corpus) not found beside the repository")


def corpus_text(prefix: str) -> str:
    """A corpus file's text with its "# SOURCE:" line blanked, so line numbers stay the file's."""
    path = next((shared_dir() / "corpus" / "plans").glob(f"{prefix}_*.txt"))
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    assert first.startswith("# SOURCE:")
    return "\n" + rest


def parse_corpus(prefix: str) -> ImportResult:
    return parse_text(corpus_text(prefix))


def seed_text() -> str:
    return (shared_dir() / "seeds" / "lianshui-2024-2025-plan.txt").read_text(encoding="utf-8")
