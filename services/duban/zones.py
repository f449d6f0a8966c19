"""The time zone: the one owner of "which local day is it".

An installation has a default (`DUBAN_TIMEZONE`, Asia/Shanghai); a plan may have its own
(`Plan.timezone`, defaulting to the installation's). Deadlines, reporting periods and working
days are local dates, so everything that turns an instant into a day asks here.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from duban.errors import Unprocessable
from duban.settings import Settings, get_settings


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def default_name(settings: Settings | None = None) -> str:
    return (settings or get_settings()).timezone


def installation_zone_name() -> str:
    """No-argument form for model defaults (pydantic passes data to one-argument factories)."""
    return get_settings().timezone


def default(settings: Settings | None = None) -> ZoneInfo:
    """The installation's zone."""
    return zone(default_name(settings))


def of(name: str | None, settings: Settings | None = None) -> ZoneInfo:
    """A named zone, or the installation's when none is named."""
    return zone(name) if name else default(settings)


def of_plan(plan: Any, settings: Settings | None = None) -> ZoneInfo:
    """A plan's zone (anything with a `timezone` attribute; None means the installation's)."""
    return of(getattr(plan, "timezone", None) if plan is not None else None, settings)


def check(name: str) -> ZoneInfo:
    """A zone from user input, or a clear 422."""
    try:
        return zone(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Unprocessable("时区无效", code="plan.invalid_timezone", details={"timezone": name}) from exc
