"""duban.zones: the installation's zone and a plan's own, from one place."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from duban import zones
from duban.errors import Unprocessable
from duban.models import Plan
from duban.settings import Settings, get_settings


@pytest.fixture
def urumqi(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DUBAN_TIMEZONE", "Asia/Urumqi")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_default_and_plan_zones(urumqi: None) -> None:
    assert zones.default() == ZoneInfo("Asia/Urumqi") == zones.of(None)
    assert zones.default(Settings(timezone="Europe/Berlin")) == ZoneInfo("Europe/Berlin")
    # A new plan takes the installation's zone unless it names its own.
    assert Plan(title="x").timezone == "Asia/Urumqi"
    assert zones.of_plan(Plan(title="y", timezone="Asia/Shanghai")) == ZoneInfo("Asia/Shanghai")
    assert zones.of_plan(None) == ZoneInfo("Asia/Urumqi")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd"])
def test_check_refuses_unknown_zones(name: str) -> None:
    with pytest.raises(Unprocessable) as exc:
        zones.check(name)
    assert exc.value.code == "plan.invalid_timezone" and exc.value.message == "时区无效"
