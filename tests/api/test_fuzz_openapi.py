"""Schemathesis against the app's own OpenAPI document, once per role: no 5xx, no undocumented status.

Each run signs in as one role (office, admin, unit head, unit staff, leader, a service account whose
API key holds every scope) over the supervision fixture plan, and sends every operation of the
document cases generated from it with a fixed seed (derandomized, no example database), valid and
invalid alike. Every response must be below 500 and carry a status the document declares for that
operation (`not_a_server_error`, `status_code_conformance`), and its body must match the declared
schema (`response_schema_conformance`). Findings are collected over the whole run and reported
together, each with the curl command that reproduces it.

Bounded in CI: the examples and fuzzing phases, a few cases per operation, each role on one backend
(three on SQLite, three on PostgreSQL). `make fuzz` (DUBAN_FUZZ=long) runs every role on both
backends with the coverage phase (boundary and negative values of every parameter) and many more
cases, and adds the remaining conformance checks.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from api.auth.scopes import API_SCOPES
from api.security import hash_token
from duban.clock import FixedClock
from duban.models import ApiKey, Role, User
from duban.settings import get_settings
from tests.api import sv_fixture
from tests.api.conftest import auth_headers
from tests.factories import make_user

LONG = os.environ.get("DUBAN_FUZZ") == "long"
SEED = int(os.environ.get("DUBAN_FUZZ_SEED", "12"))
MAX_EXAMPLES = int(os.environ.get("DUBAN_FUZZ_EXAMPLES", "100" if LONG else "3"))
COVERAGE_PHASE = LONG or os.environ.get("DUBAN_FUZZ_COVERAGE") == "1"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
if LONG:
    CHECKS += [content_type_conformance, response_headers_conformance]
# In CI each role runs on one backend; `make fuzz` runs every pair.
CI_BACKEND = {
    "office": "sqlite",
    "admin": "postgresql",
    "unit_head": "sqlite",
    "unit_staff": "postgresql",
    "leader": "sqlite",
    "service": "postgresql",
}
ROLES = list(CI_BACKEND)


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest, backend: str) -> str:
    name = str(request.param)
    if (
        not LONG
        and CI_BACKEND[name] != backend
        and len(os.environ.get("DUBAN_TEST_BACKENDS", "x,y").split(",")) > 1
    ):
        pytest.skip(f"in CI the {name} role is fuzzed on {CI_BACKEND[name]}; make fuzz runs both")
    return name


@pytest.fixture
def role_headers(role: str, session: Session, clock: FixedClock) -> dict[str, str]:
    world = sv_fixture.build(session)
    if role == "service":
        user = User(username="svc-fuzz", roles=[Role.service], is_service_account=True)
        session.add(user)
        session.flush()
        key = "dbk_test_fuzz"
        session.add(
            ApiKey(
                user_id=user.id or 0,
                name="fuzz",
                prefix=key[:10],
                key_hash=hash_token(key, get_settings()),
                scopes=sorted(API_SCOPES),
            )
        )
        session.commit()
        return {"X-API-Key": key}
    unit = world.tech if role in ("unit_head", "unit_staff") else None
    user = make_user(session, roles=[role], unit_id=unit.id if unit else None)
    session.commit()
    return auth_headers(user, clock)


@pytest.fixture
def fuzz_schema(app: FastAPI, role_headers: dict[str, str]) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all"},
            "phases": {"coverage": {"enabled": COVERAGE_PHASE}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    if os.environ.get("DUBAN_FUZZ_PATH"):  # a regex, to chase one finding
        schema = schema.include(path_regex=os.environ["DUBAN_FUZZ_PATH"])
    return schema


def test_openapi_fuzz(fuzz_schema: Any, role_headers: dict[str, str], role: str, backend: str) -> None:
    findings: set[str] = set()
    statuses: Counter[int] = Counter()
    recent: list[str] = []

    def check(case: Any) -> None:
        # Overrides whatever credentials the case carries: the role under test, every time.
        try:
            response = case.call(headers=role_headers)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            for failure in exc.exceptions:
                message = getattr(failure, "message", "")[:300]
                findings.add(
                    f"{case.operation.label}: {failure.title}: {message}\n  {case.as_curl_command()[:600]}"
                )
        except Exception as exc:  # a crash inside the app surfaces here: a finding, not an abort
            findings.add(
                f"{case.operation.label}: raised {exc!r}"[:600]
                + "\n  after: "
                + "\n  after: ".join(recent[-3:])
            )
        finally:
            recent.append(f"{case.as_curl_command()[:300]}")

    hypothesis_settings = settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    # One Hypothesis test per operation, built as `@schema.parametrize()` builds them (all phases of
    # the config). Not through `schemathesis.pytest.from_fixture`: its lazy loader renames the pytest
    # node through `_nodeid`, which pytest 9.2 no longer has; and one test per role keeps one world.
    started = time.monotonic()
    operations = 0
    for result in get_all_tests(
        schema=fuzz_schema, test_func=check, settings=hypothesis_settings, given_kwargs={}
    ):
        assert isinstance(result, Ok), result
        _, run_operation = result.ok()
        run_operation()
        operations += 1
    print(  # noqa: T201
        f"\nfuzz {backend}/{role}: {operations} operations, {statuses.total()} requests "
        f"in {time.monotonic() - started:.1f} s; statuses {dict(sorted(statuses.items()))}"
    )
    assert operations >= (1 if os.environ.get("DUBAN_FUZZ_PATH") else 140)
    assert not any(s >= 500 for s in statuses), statuses
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(sorted(findings))
