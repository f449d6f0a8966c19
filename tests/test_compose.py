from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_parses_and_names_the_services() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = spec["services"]
    assert {"postgres", "migrate", "api", "notifier"} <= set(services)
    assert services["migrate"]["command"] == ["duban", "db", "upgrade"]
    for name in ("api", "notifier"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["DUBAN_DATABASE_URL"].startswith("postgresql://")
