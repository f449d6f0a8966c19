from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def duban_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(
        DUBAN_DATABASE_URL=database_url,
        DUBAN_ENVIRONMENT="test",
        DUBAN_LOG_LEVEL="WARNING",
        DUBAN_WEBHOOK_ALLOW_PRIVATE="true",
        **extra,
    )
    return env


def duban(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "duban"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=True
    )


@dataclass
class ApiProcess:
    url: str
    process: subprocess.Popen[str]
    started_in: float


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"api exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("api did not come up")


@contextmanager
def running_api(database_url: str, *, workers: int = 1, timeout: float = 90) -> Iterator[ApiProcess]:
    """`duban api` on a free loopback port, until the block ends."""
    port = free_port()
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(BIN / "duban"), "api", "--port", str(port), "--workers", str(workers), "--no-access-log"],
        env=duban_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, timeout=timeout)
        yield ApiProcess(url, proc, time.monotonic() - start)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def api_process(committed_url: str) -> Iterator[ApiProcess]:
    with running_api(committed_url) as api:
        yield api


@pytest.fixture
def two_workers(committed_url: str) -> Iterator[ApiProcess]:
    """Two api worker processes on one database: races between processes, not threads."""
    with running_api(committed_url, workers=2, timeout=180) as api:
        yield api
