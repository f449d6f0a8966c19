"""docs/integration.md runs: every `sh` block, in order, against a served api; each `text` block that
follows one is the output it must print."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.security import hash_password
from duban.db import make_engine
from duban.models import Role, User
from tests.e2e.conftest import ApiProcess
from tests.factories import make_plan, make_unit

pytestmark = [pytest.mark.e2e]

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
PASSWORD = "admin-password-1"
_BLOCK = re.compile(r"```(sh|text)\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str | None]]:
    """(script, expected output or None) for every `sh` block of the guide, in order."""
    found = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))]
    out: list[tuple[str, str | None]] = []
    for i, (kind, body) in enumerate(found):
        if kind == "sh":
            follows = found[i + 1] if i + 1 < len(found) else None
            out.append((body, follows[1] if follows and follows[0] == "text" else None))
    return out


def test_the_guide_has_examples_with_outputs() -> None:
    examples = blocks()
    assert len(examples) >= 8
    assert all(expected is not None for _, expected in examples)


def test_every_example_in_the_guide_runs(committed_url: str, api_process: ApiProcess) -> None:
    engine = make_engine(committed_url)
    with Session(engine) as session:
        plan, unit = make_plan(session), make_unit(session)
        session.add(User(username="admin1", roles=[Role.admin], password_hash=hash_password(PASSWORD)))
        session.commit()
        plan_id, unit_id = plan.id, unit.id
    engine.dispose()
    token = httpx.post(
        api_process.url + "/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD}, timeout=30
    ).json()["access_token"]

    examples = blocks()
    script = ["set -euo pipefail"]
    for i, (body, _) in enumerate(examples):
        script += [f"echo '<<<{i}>>>'", body]
    env = {
        "PATH": "/usr/bin:/bin",
        "DUBAN_URL": api_process.url,
        "ADMIN_TOKEN": token,
        "PLAN_ID": str(plan_id),
        "UNIT_ID": str(unit_id),
    }
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)], env=env, capture_output=True, text=True, timeout=300
    )
    outputs = re.split(r"^<<<\d+>>>\n", run.stdout, flags=re.M)[1:]
    for i, (body, expected) in enumerate(examples):
        assert i < len(outputs), f"example {i} did not run:\n{body}\nstderr: {run.stderr}"
        assert outputs[i] == expected, f"example {i}:\n{body}\nprinted:\n{outputs[i]}\nstderr: {run.stderr}"
    assert run.returncode == 0, run.stderr
