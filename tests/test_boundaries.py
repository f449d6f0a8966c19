from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[1] / "services"


def test_shared_package_and_notifier_do_not_pull_in_fastapi() -> None:
    code = (
        "import duban, duban.models, duban.calendar, duban.outbox, notifier, sys; "
        "import importlib.util as u; "
        "[__import__(m) for m in ('notifier.runner',) if u.find_spec(m)]; "
        "assert 'fastapi' not in sys.modules, 'fastapi imported'; "
        "assert 'api' not in sys.modules, 'api imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_notifier_never_imports_api() -> None:
    offenders = []
    for path in (SERVICES / "notifier").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import api", "from api.", "from api ")):
                offenders.append(f"{path}: {stripped}")
    assert offenders == []


def test_shared_package_imports_no_service() -> None:
    offenders = []
    for path in (SERVICES / "duban").rglob("*.py"):
        if path.name == "cli.py":  # the composition root imports services lazily, inside commands
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(
                (
                    "import api",
                    "from api",
                    "import notifier",
                    "from notifier",
                    "import fastapi",
                    "from fastapi",
                )
            ):
                offenders.append(f"{path}: {stripped}")
    assert offenders == []
