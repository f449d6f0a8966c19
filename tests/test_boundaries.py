"""The package boundaries: import-linter's contracts (pyproject.toml) and what a real import loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_are_kept() -> None:
    run = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout, run.stdout


def _loaded_after(statement: str) -> set[str]:
    """Top-level packages in sys.modules after running `statement` in a fresh interpreter."""
    code = (
        f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_api_never_loads_the_notifier() -> None:
    loaded = _loaded_after("from api.main import create_app\ncreate_app()")
    assert "api" in loaded and "fastapi" in loaded  # the probe sees what it should
    assert "notifier" not in loaded


def test_the_notifier_loads_neither_the_api_nor_the_web_framework() -> None:
    loaded = _loaded_after("import notifier.runner")
    assert "notifier" in loaded
    assert not loaded & {"api", "fastapi", "starlette"}


def test_the_shared_package_and_the_document_reader_load_no_service() -> None:
    loaded = _loaded_after(
        "import duban, duban.models, duban.outbox, duban.policy, duban.signing, duban.urlsafety, "
        "duban.cli, plandoc"
    )
    assert not loaded & {"api", "notifier", "fastapi", "starlette"}
    reader = _loaded_after("import plandoc, plandoc.xlsx, plandoc.docx, plandoc.pdf")
    assert not reader & {"sqlalchemy", "sqlmodel", "api", "notifier"}
