"""The README's commands as a new user runs them: `make run` (scripts/run.sh) on a fresh checkout
serves an empty system with a generated secret and prints the first admin once; `make demo` serves
the demo plan as of a day inside it. Real processes, real HTTP; only the checkout is a copy."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from duban.settings import KNOWN_SECRETS

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix) if (Path(sys.prefix) / "bin" / "duban").exists() else None
pytestmark = pytest.mark.skipif(VENV is None, reason="needs the project's virtualenv (make install)")


class Served:
    def __init__(self, checkout: Path, mode: str | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
        env.update(HOST="127.0.0.1", PORT=str(self.port), DUBAN_LOG_JSON="false")
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["bash", "scripts/run.sh", *([mode] if mode else [])],
            cwd=checkout,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C goes to the whole group, as in a terminal
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_healthy(self, seconds: float = 240) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "".join(self.lines)
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)  # polling a real server process start-up, not the domain clock
        raise AssertionError("not healthy in time:\n" + "".join(self.lines))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl-C does
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def login(self, username: str, password: str) -> str:
        r = httpx.post(
            self.base + "/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    def get(self, path: str, token: str) -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    """What a fresh clone holds for `make run`: the scripts, and the venv `make install` made."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run.sh", tmp_path / "scripts" / "run.sh")
    assert VENV is not None
    (tmp_path / ".venv").symlink_to(VENV)
    yield tmp_path


def _forged(secret: str, claims: dict[str, Any]) -> str:
    return jwt.encode({**claims}, secret, algorithm="HS256")


def test_make_run_serves_an_empty_system_with_a_generated_secret(checkout: Path) -> None:
    served = Served(checkout)
    try:
        served.wait_healthy()
        found = re.search(r"first admin created: username (\S+)\s+password (\S+)", served.output)
        assert found, served.output
        username, password = found.groups()
        key_file = checkout / "var" / "secret_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        assert len(key) >= 40 and key.lower() not in KNOWN_SECRETS
        token = served.login(username, password)
        me = served.get("/api/v1/auth/me", token)
        assert me.status_code == 200 and "admin" in me.json()["roles"]
        plans = served.get("/api/v1/plans", token)
        assert plans.status_code == 200
        body = plans.json()
        assert (body["items"] if isinstance(body, dict) else body) == []  # empty: no demo
        # The same claims signed with every published secret are refused; with the real key accepted.
        claims = jwt.get_unverified_claims(token)
        for secret in sorted(KNOWN_SECRETS - {""}):
            assert served.get("/api/v1/auth/me", _forged(secret, claims)).status_code == 401, secret
        assert served.get("/api/v1/auth/me", _forged(key, claims)).status_code == 200
    finally:
        served.stop()
    assert served.proc.returncode is not None

    # A restart keeps the key (the old token still verifies) and does not print a password again.
    again = Served(checkout)
    try:
        again.wait_healthy()
        assert key_file.read_text().strip() == key
        assert "exists already" in again.output and "password" not in again.output.lower()
        assert again.get("/api/v1/auth/me", token).status_code == 200
    finally:
        again.stop()


def test_make_demo_shows_green_yellow_and_red_inside_the_plan(checkout: Path) -> None:
    served = Served(checkout, "demo")
    try:
        served.wait_healthy()
        out = served.output
        assert "演示时点：2025-11-20 09:00" in out and "Webhook：  未配置" in out, out
        plan_id = re.search(r"计划 #(\d+)", out)
        office = re.search(r"^\s+office\s+\S+\s+(\S+)", out, re.MULTILINE)
        assert plan_id and office, out
        token = served.login("office", office.group(1))
        rows = served.get(f"/api/v1/stats/plans/{plan_id.group(1)}/tasks", token)
        assert rows.status_code == 200, rows.text
        lights = {row["rag"] for group in rows.json().values() for row in group}
        # Yellow (behind, not yet due) only exists on the demo clock: on the real one, after the
        # plan's end, every open item is overdue.
        assert {"green", "yellow", "red"} <= lights, lights
    finally:
        served.stop()
