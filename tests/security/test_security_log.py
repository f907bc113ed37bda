"""Each security event writes one JSON line on the ``security`` logger with time,
event, user, ip, path, outcome and detail."""

import json
import logging

import pytest
from axes.signals import user_locked_out
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from api.services import api_token_create, api_token_revoke
from core.security_log import JsonLineFormatter

pytestmark = pytest.mark.django_db
FIELDS = {"time", "event", "user", "ip", "path", "outcome", "detail"}


@pytest.fixture
def events(caplog):
    """The security log as the JSON lines its formatter writes."""
    caplog.set_level(logging.INFO, logger="security")
    formatter = JsonLineFormatter()

    def _events(name=None):
        lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "security"]
        for line in lines:
            assert set(line) == FIELDS
        return [line for line in lines if name is None or line["event"] == name]

    return _events


def test_a_login_and_a_failed_login_are_logged(client, make_user, events):
    user = make_user(Role.ASSET_MANAGER, password="correct-horse-battery-9")
    client.post("/login/", {"username": user.username, "password": "wrong-password"})
    client.post("/login/", {"username": user.username, "password": "correct-horse-battery-9"})

    failed, login = events("login_failed")[0], events("login")[0]
    assert failed["user"] == user.username and failed["outcome"] == "refused"
    assert failed["path"] == "/login/" and failed["ip"] == "127.0.0.1"
    assert "wrong-password" not in json.dumps(events())
    assert login["user"] == user.username and login["outcome"] == "allowed"


def test_a_lockout_is_logged(events):
    request = RequestFactory().post("/login/")
    user_locked_out.send("axes", request=request, username="jo.bloggs", ip_address="10.0.0.9")
    [line] = events("lockout")
    assert line["user"] == "jo.bloggs" and line["detail"]["ip_address"] == "10.0.0.9"


def test_a_page_refusal_is_logged(client, make_user, events):
    # The envelope export carries commercial figures: an asset manager is refused (403).
    client.force_login(make_user(Role.ASSET_MANAGER))
    response = client.get(reverse("procurement:dashboard_export"))
    assert response.status_code == 403
    [line] = events("permission_denied")
    assert line["path"] == reverse("procurement:dashboard_export")
    assert line["outcome"] == "refused"


def test_an_api_refusal_is_logged(make_user, events):
    api = APIClient()
    api.force_authenticate(make_user(role=None))
    assert api.get("/api/v1/devices/").status_code == 403
    [line] = events("permission_denied")
    assert line["path"] == "/api/v1/devices/" and line["detail"]["status"] == "403"


def test_token_creation_use_rejection_and_revocation_are_logged(make_user, events):
    user = make_user(Role.INTEGRATION)
    call_command("create_api_token", user.username, "--description", "ITSM")
    [created] = events("api_token_created")
    prefix = created["detail"]["token"]
    assert created["user"] == user.username and created["detail"]["description"] == "ITSM"

    _token, key = api_token_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.get("/api/v1/devices/")
    used = events("api_token_used")[-1]
    assert used["user"] == user.username and used["path"] == "/api/v1/devices/"
    assert key not in json.dumps(events())

    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key-0000000000")
    assert api.get("/api/v1/devices/").status_code == 401
    assert events("api_token_rejected")[-1]["outcome"] == "refused"

    api_token_revoke(user=user, token_prefix=prefix)
    assert prefix in events("api_token_revoked")[-1]["detail"]["tokens"]


def test_a_commercial_export_is_logged(client, make_user, events):
    client.force_login(make_user(Role.FINANCE))
    response = client.get(reverse("procurement:dashboard_export"))
    assert response.status_code == 200
    [line] = events("commercial_export")
    assert line["detail"]["classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert line["user"] and line["path"] == reverse("procurement:dashboard_export")


def test_a_newline_in_a_username_cannot_forge_a_log_line(client, events):
    client.post("/login/", {"username": 'x\n{"event": "login"}', "password": "p"})
    [line] = events("login_failed")
    assert "\n" not in JsonLineFormatter().format(logging.makeLogRecord({"security": line}))
