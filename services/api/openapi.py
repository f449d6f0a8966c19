from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    app.openapi_schema = None
    return app.openapi()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(app: FastAPI, path: Path = OPENAPI_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_openapi(app)), encoding="utf-8")
    return path
