"""Every domain write goes through duban.uow: no service commits, audits or writes the outbox itself."""

from __future__ import annotations

import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[1] / "services"
FORBIDDEN = re.compile(
    r"\bsession\.commit\(\)|\baudit\.record(_many)?\(|\boutbox\.enqueue\(|api\.audit import service"
)
# Bookkeeping that is not a domain change (no audit entry, no event): login counters, idempotency
# records, refresh-token rotation, read markers, API keys' last use.
BOOKKEEPING = {
    "api/idempotency.py",
    "api/auth/throttle.py",
    "api/auth/usage.py",
}
# Not yet moved onto the unit of work (the list may only shrink).
PENDING = {
    "api/auth/service.py",
    "duban/cli/demo.py",
}


def _offenders() -> set[str]:
    out = set()
    for path in SERVICES.rglob("*.py"):
        rel = path.relative_to(SERVICES).as_posix()
        if rel.startswith(("notifier/", "duban/uow.py", "duban/outbox.py", "duban/audit.py", "api/audit/")):
            continue  # the notifier's claim/deliver bookkeeping commits by design (short transactions)
        if FORBIDDEN.search(path.read_text(encoding="utf-8")):
            out.add(rel)
    return out


def test_writes_go_through_the_unit_of_work() -> None:
    offenders = _offenders()
    unexpected = offenders - BOOKKEEPING - PENDING
    assert not unexpected, f"commit/audit/outbox outside duban.uow in: {sorted(unexpected)}"


def test_the_pending_list_only_shrinks() -> None:
    done = PENDING - _offenders()
    assert not done, f"moved onto the unit of work — remove from PENDING: {sorted(done)}"
