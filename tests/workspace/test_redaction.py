"""Issue 13, "Leaks": purchase cost reached every role through device events (an
update's and an import row's ``details`` carry the old and new ``purchase_cost``)
on the device page's timeline and the event API. Commercial values now pass through
``accounts.redaction`` (one function) wherever events and history are shown: a unit
viewer, an asset manager and an integration token never see them; finance does."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.redaction import (
    COMMERCIAL_KEYS,
    redact_commercial,
    redact_commercial_changes,
)
from accounts.roles import Role
from api.services import api_token_create
from devices import services
from devices.importing.services import devices_upsert_rows
from devices.models import DeviceEvent
from tests.devices.import_files import device_row
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = pytest.mark.django_db

# Amounts with pennies that nothing else on a page or in an answer can contain.
OLD, NEW, IMPORTED = "642.31", "777.77", "913.57"
AMOUNTS = (OLD, NEW, IMPORTED)


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


@pytest.fixture
def device(unit, asset_manager):
    """A device whose purchase cost was changed by an update and by an import row."""
    device = DeviceFactory(
        business_unit=unit,
        serial_number="SN-0001",
        purchase_cost=Decimal(OLD),
        location="Lambeth HQ",
    )
    services.device_update(
        device=device, changes={"purchase_cost": Decimal(NEW)}, actor=asset_manager, source="api"
    )
    outcome = devices_upsert_rows(
        rows=[
            device_row(
                serial_number="SN-0001",
                manufacturer=device.manufacturer.name,
                model=device.device_model.name,
                business_unit="CE",
                asset_tag=device.asset_tag,
                purchase_cost=IMPORTED,
                location="Brixton",
            )
        ],
        actor=asset_manager,
        source="import:7",
    )
    assert [r.outcome for r in outcome.results] == ["updated"]
    stored = [json.dumps(e.details) for e in device.events.all()]
    assert any(OLD in s and NEW in s for s in stored)  # the leak's raw material is there
    assert any("purchase_cost" in s and IMPORTED in s for s in stored)
    return device


@pytest.fixture
def readers(make_user, unit):
    """Who must not see commercial values, by the door they use."""
    return {
        "unit viewer": make_user(Role.UNIT_VIEWER, units=[unit]),
        "asset manager": make_user(Role.ASSET_MANAGER),
        "integration": make_user(Role.INTEGRATION),
    }


def api_client(user, *, token: bool) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
    else:
        client.force_login(user)
    return client


def keys(data) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in keys(v)}
    return set()


def event_answers(client, device) -> list:
    """The event API's three doors: a device's log, the list, one event."""
    one = device.events.filter(kind=DeviceEvent.Kind.UPDATED).first()
    answers = []
    for url in (
        f"/api/v1/devices/{device.pk}/events/",
        f"/api/v1/events/?device={device.pk}",
        f"/api/v1/events/{one.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        answers.append(response.json())
    return answers


@pytest.mark.parametrize("who", ["unit viewer", "asset manager", "integration"])
def test_the_event_api_never_gives_purchase_cost_to_other_roles(device, readers, who):
    client = api_client(readers[who], token=who == "integration")

    for answer in event_answers(client, device):
        assert "purchase_cost" not in keys(answer)
        assert not any(amount in json.dumps(answer) for amount in AMOUNTS)
    # What is not commercial is still there: the import's location change.
    logged = event_answers(client, device)[0]
    assert any(
        r["details"].get("changed", {}).get("location") == ["Lambeth HQ", "Brixton"]
        for r in logged["results"]
    )


def test_the_event_api_gives_finance_the_purchase_cost(device, make_user):
    client = api_client(make_user(Role.FINANCE), token=True)

    for answer in event_answers(client, device):
        assert "purchase_cost" in keys(answer)
    assert OLD in json.dumps(event_answers(client, device)[0])


def test_an_event_posted_by_an_integration_answers_without_commercial_values(device, readers):
    client = api_client(readers["integration"], token=True)

    response = client.post(
        f"/api/v1/devices/{device.pk}/events/", {"action": "note", "note": "hi"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["details"] == {"note": "hi"}


@pytest.mark.parametrize("who", ["unit viewer", "asset manager"])
def test_the_device_page_timeline_and_history_hide_purchase_cost(client, device, readers, who):
    client.force_login(readers[who])

    html = client.get(f"/devices/{device.pk}/").content.decode()

    assert not any(amount in html for amount in AMOUNTS)
    assert "Purchase cost" not in html
    assert "Location: Lambeth HQ → Brixton" in html  # the rest of the import row is shown


def test_the_device_page_shows_finance_the_cost_changes(client, device, make_user):
    client.force_login(make_user(Role.FINANCE))

    html = client.get(f"/devices/{device.pk}/").content.decode()

    assert f"Purchase cost: £{OLD} → £{NEW}" in html
    assert f"Purchase cost: £{NEW} → £{IMPORTED}" in html


# --- the one function -------------------------------------------------------------------


def test_redaction_removes_commercial_keys_at_any_depth_without_touching_the_original(
    make_user,
):
    details = {
        "row": 5,
        "changed": {"purchase_cost": ["1.00", "2.00"], "location": ["A", "B"]},
        "steps": [{"estimated_value": "10.00", "grade": "A"}],
    }
    original = json.dumps(details)

    redacted = redact_commercial(details, user=make_user(Role.ASSET_MANAGER))

    assert redacted == {
        "row": 5,
        "changed": {"location": ["A", "B"]},
        "steps": [{"grade": "A"}],
    }
    assert json.dumps(details) == original
    assert redact_commercial(details, user=make_user(Role.COMMERCIAL)) == details


def test_redaction_fails_closed_without_a_user():
    assert redact_commercial({"purchase_cost": "1.00", "note": "x"}, user=None) == {"note": "x"}


def test_history_rows_lose_commercial_fields_for_other_roles(make_user):
    rows = [{"field": "purchase_cost", "old": 1, "new": 2}, {"field": "location"}]

    assert redact_commercial_changes(rows, user=make_user(Role.UNIT_VIEWER)) == [
        {"field": "location"}
    ]
    assert redact_commercial_changes(rows, user=make_user(Role.FINANCE)) == rows


def test_the_keys_cover_what_the_permission_matrix_treats_as_commercial():
    from tests.security.test_permission_matrix import COMMERCIAL_KEYS as MATRIX_KEYS

    assert MATRIX_KEYS <= COMMERCIAL_KEYS
