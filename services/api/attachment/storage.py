"""Where attachment bytes live. Keys are generated here, never taken from a client."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol

from duban.settings import get_settings

_KEY = re.compile(r"^\d{4}/\d{2}/[0-9a-f]{32}$")


class Storage(Protocol):
    def put(self, data: bytes, *, now: datetime) -> str: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        # Keys are ours, but a row edited by hand must still not reach outside the root.
        if not _KEY.match(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def put(self, data: bytes, *, now: datetime) -> str:
        key = f"{now:%Y}/{now:%m}/{secrets.token_hex(16)}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def get_storage() -> Storage:
    return LocalStorage(get_settings().storage_dir)


def max_upload_bytes() -> int:
    """A dependency of its own, so tests and deployments can change the limit per app."""
    return get_settings().max_upload_bytes
