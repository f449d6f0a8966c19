"""The workbench: Duban's own web client, static files shipped in the package and served here.

Every /app/* path answers with index.html so deep links (/app/assignments/123, the links in
notifications) and browser reloads land in the client router. The client reads and writes only
through the public REST API under /api/v1, with the user's bearer token.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from duban.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).with_name("static")
_INDEX = STATIC / "index.html"
_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)
# Only text worth compressing; below this size gzip saves less than its header costs.
_COMPRESSIBLE = (".js", ".css", ".html", ".json", ".svg", ".md", ".txt")
_MIN_GZIP = 512


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gz: bytes | None
    etag: str
    media_type: str


@lru_cache(maxsize=256)
def _asset(path: Path, mtime_ns: int) -> _Asset:  # mtime in the key: an edited file is re-read
    body = path.read_bytes()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        media_type = "text/javascript"
    if media_type.startswith("text/") or media_type == "application/json":
        media_type += "; charset=utf-8"
    gz = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE and len(body) >= _MIN_GZIP else None
    return _Asset(body, gz, f'"{hashlib.sha256(body).hexdigest()[:20]}"', media_type)


def _serve(request: Request, path: Path, headers: dict[str, str]) -> Response:
    asset = _asset(path, path.stat().st_mtime_ns)
    # Revalidate every time (no-cache), so a new release is picked up at once; an unchanged file costs a 304.
    out = {"ETag": asset.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", **headers}
    if asset.gz is not None:
        out["Vary"] = "Accept-Encoding"
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=out)
    if asset.gz is not None and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(asset.gz, media_type=asset.media_type, headers={**out, "Content-Encoding": "gzip"})
    return Response(asset.body, media_type=asset.media_type, headers=out)


@lru_cache(maxsize=4)
def _page_headers(mtime_ns: int) -> dict[str, str]:
    # The import map is the one inline script; its hash is allowed and nothing else inline is.
    match = _IMPORT_MAP.search(_INDEX.read_text(encoding="utf-8"))
    digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode() if match else ""
    return {
        "Content-Security-Policy": f"default-src 'self'; script-src 'self' 'sha256-{digest}'; "
        "style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        "Referrer-Policy": "same-origin",
    }


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/app", status_code=307)


@router.api_route("/app/static/{asset:path}", methods=["GET", "HEAD"])
def static_asset(asset: str, request: Request) -> Response:
    path = (STATIC / asset).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file() or path == _INDEX.resolve():
        raise NotFound("文件不存在", code="workbench.not_found")
    return _serve(request, path, {})


@router.api_route("/app", methods=["GET", "HEAD"])
@router.api_route("/app/{screen:path}", methods=["GET", "HEAD"])
def app_page(request: Request, screen: str = "") -> Response:
    """The client's single page for every workbench path (history routing)."""
    return _serve(request, _INDEX, _page_headers(_INDEX.stat().st_mtime_ns))
