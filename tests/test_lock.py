"""The lock file pins what CI tests: every dependency pyproject.toml names is pinned there, within
its declared range, and the environment the suite runs in is exactly the locked one. Adding or
widening a dependency without `make lock` fails here, not on someone's fresh install."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"


def _pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and ";" not in version, f"not an exact pin in {LOCK.name}: {raw!r}"
        pins[canonicalize_name(name)] = version.strip()
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        names.extend(group)
    requirements = [Requirement(r) for r in names]
    return [r for r in requirements if r.marker is None or r.marker.evaluate()]


def test_pin_parser_reads_uv_output_and_refuses_ranges() -> None:
    assert _pins("# header\nfoo-bar==1.2\n    # via x\nBaz_Qux==3\n") == {"foo-bar": "1.2", "baz-qux": "3"}
    for bad in ("foo>=1\n", "foo==1 ; sys_platform == 'win32'\n"):
        try:
            _pins(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = _pins(LOCK.read_text(encoding="utf-8"))
    declared = _declared()
    missing = [str(r) for r in declared if canonicalize_name(r.name) not in pins]
    assert missing == [], f"declared in pyproject.toml but not pinned in {LOCK.name} (run `make lock`)"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)]})"
        for r in declared
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == [], f"locked outside the declared range (run `make lock`): {outside}"


def test_the_environment_is_the_locked_one() -> None:
    drift = {}
    for name, version in _pins(LOCK.read_text(encoding="utf-8")).items():
        try:
            installed: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drift[name] = f"locked {version}, installed {installed}"
    assert drift == {}, f"this environment is not the locked one (run `make install`): {drift}"
