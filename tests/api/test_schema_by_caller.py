"""The served schema describes the same API whoever asks for it, in whatever order:
commercial fields are documented (marked conditional) for every signed-in caller, and
one caller's request never changes what the next one is served."""

import pytest

from accounts.roles import Role

pytestmark = pytest.mark.django_db

ACCEPT = {"HTTP_ACCEPT": "application/vnd.oai.openapi+json"}


def _components(client, user):
    client.force_login(user)
    response = client.get("/api/schema/", **ACCEPT)
    assert response.status_code == 200
    client.logout()
    return response.json()["components"]["schemas"]


@pytest.mark.parametrize("first_role", [Role.UNIT_VIEWER, Role.ASSET_MANAGER, Role.INTEGRATION])
def test_a_non_commercial_caller_does_not_change_the_next_schema(client, make_user, first_role):
    first = _components(client, make_user(first_role))
    then = _components(client, make_user(Role.FINANCE))

    for schemas in (first, then):
        assert "unit_price" in schemas["DeviceModel"]["properties"]
        assert "COMMERCIAL" in schemas["DeviceModel"]["properties"]["unit_price"]["description"]
        assert "purchase_cost" in schemas["Device"]["properties"]
    assert first == then
