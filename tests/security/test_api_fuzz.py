"""Schema fuzzing: schemathesis drives every operation of the API's own OpenAPI schema
against the live test server, with tokens that have access, and checks each answer:
never a 5xx, every status code documented for its operation, the content type and the
body as the schema says, documented headers present.

Bounded so the whole module stays well under three minutes in CI: ``FUZZ_EXAMPLES``
generated cases per operation (default 25), plus the schema's own examples. Raise it
locally for a deeper run: ``FUZZ_EXAMPLES=500 .venv/bin/python -m pytest
tests/security/test_api_fuzz.py``.

Each operation is tried by the principal it is for: the estate, refresh, disposals and
reports with an unscoped integration token (the estate's writer); procurement with a
finance officer's token (integration accounts are refused there, which the permission
matrix covers). The estate holds a few of everything so that generated ids sometimes
hit real rows.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from accounts.roles import Role
from api.services import api_token_create
from tests.api.conftest import schema_dict
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


# Built from the URL configuration at collection (no database needed), as /api/schema/
# serves it.
schema = schemathesis.openapi.from_dict(schema_dict())


@pytest.fixture
def fuzz_tokens(transactional_db, settings):
    # Throttling is proved elsewhere (tests/api); here it would only turn the fuzzer's
    # bursts into 429s and hide what the operation itself answers.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min"},
    }
    root = BusinessUnitFactory(code="FORCE", level="directorate")
    unit = BusinessUnitFactory(code="NORTH", parent=root)
    people = [PersonFactory(business_unit=unit) for _ in range(3)]
    model = DeviceModelFactory()
    for i in range(5):
        DeviceFactory(business_unit=unit, device_model=model, serial_number=f"FUZZ{i:04d}")
    DeviceFactory(business_unit=unit, device_model=model, status="deployed", assigned_to=people[0])
    integration = UserFactory(role=Role.INTEGRATION)
    finance = UserFactory(role=Role.FINANCE)
    _, integration_key = api_token_create(user=integration, description="fuzzing")
    _, finance_key = api_token_create(user=finance, description="fuzzing")
    return {"integration": integration_key, "finance": finance_key}


def _token_for(path: str, tokens: dict) -> str:
    if path.startswith("/api/v1/procurement/"):
        return tokens["finance"]
    return tokens["integration"]


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_answers_as_its_schema_says(case, live_server, fuzz_tokens):
    token = _token_for(case.operation.path, fuzz_tokens)
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Token {token}"},
        checks=CHECKS,
    )
