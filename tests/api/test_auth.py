"""Token and session authentication, token commands, and per-token rate limits."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.roles import Role
from api.models import ApiTokenLabel
from core.security_log import JsonLineFormatter

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


def create_token(username, *args):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", username, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_token_prints_the_key_alone_on_its_last_line(integration, estate):
    out, err = create_token(integration.username, "--description", "ServiceNow sync")

    key = out.strip().splitlines()[-1]
    assert len(key) == 64 and " " not in key
    token = AuthToken.objects.get(user=integration)
    assert token.digest != key  # stored hashed
    assert key not in err
    assert ApiTokenLabel.objects.get(token=token).description == "ServiceNow sync"


def test_a_created_token_authenticates(api_as, integration, estate):
    out, _ = create_token(integration.username)
    key = out.strip().splitlines()[-1]

    response = api_as(token=key).get(DEVICES)

    assert response.status_code == 200


def test_no_token_is_401(api_as, estate):
    response = api_as().get(DEVICES)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_wrong_key_is_401(api_as, integration, estate):
    create_token(integration.username)

    response = api_as(token="0" * 64).get(DEVICES)

    assert response.status_code == 401


def test_an_expired_token_is_401(api_as, integration, estate):
    out, _ = create_token(integration.username, "--expires-in", "30")
    key = out.strip().splitlines()[-1]

    with freeze_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=31)):
        response = api_as(token=key).get(DEVICES)

    assert response.status_code == 401


def test_an_expired_token_is_deleted_when_used_and_the_others_wait_for_the_purge(
    api_as, integration, estate
):
    keys = [
        create_token(integration.username, "--expires-in", days)[0].strip().splitlines()[-1]
        for days in ("30", "30", "90")
    ]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    with freeze_time(later):
        refused = api_as(token=keys[0]).get(DEVICES)
        allowed = api_as(token=keys[2]).get(DEVICES)
    assert (refused.status_code, allowed.status_code) == (401, 200)
    # The used expired token is gone; the other expired one is not read on a request
    # (no request reads the account's other tokens) and waits for the daily purge.
    assert sorted(AuthToken.objects.values_list("token_key", flat=True)) == sorted(
        [keys[1][:15], keys[2][:15]]
    )
    from api.services import api_tokens_expired_purge

    assert api_tokens_expired_purge(now=later) == 1
    assert list(AuthToken.objects.values_list("token_key", flat=True)) == [keys[2][:15]]


def test_a_request_reads_only_its_own_token_however_many_the_account_has(
    api_as, integration, estate
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(30):
        create_token(integration.username, "--expires-in", "30")
    key = create_token(integration.username)[0].strip().splitlines()[-1]
    client = api_as(token=key)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{DEVICES}{estate.north_device.pk}/").status_code == 200
    token_reads = [q["sql"] for q in captured if "knox_authtoken" in q["sql"]]
    # One lookup by the key's public prefix; knox's own class also read all 31 of the
    # account's tokens on every request, to delete expired ones.
    assert len(token_reads) == 1 and "token_key" in token_reads[0], token_reads


def test_expired_tokens_are_purged_daily_and_logged(integration, caplog):
    from django_celery_beat.models import PeriodicTask

    from api.tasks import api_tokens_expired_purge_task

    task = PeriodicTask.objects.get(task="api.tasks.api_tokens_expired_purge_task")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "40")
    expired = create_token(integration.username, "--expires-in", "1")[0].strip().splitlines()[-1]
    create_token(integration.username)
    caplog.set_level("INFO", logger="security")
    with freeze_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):
        assert api_tokens_expired_purge_task.delay().get() == 1
    assert AuthToken.objects.filter(user=integration).count() == 1
    logged = [
        json.loads(JsonLineFormatter().format(r)) for r in caplog.records if r.name == "security"
    ]
    assert [(e["event"], e["user"], e["detail"]["token"]) for e in logged[-1:]] == [
        ("api_token_expired", integration.username, expired[:15])
    ]


def test_a_token_still_works_before_its_expiry(api_as, integration, estate):
    out, _ = create_token(integration.username, "--expires-in", "30")
    key = out.strip().splitlines()[-1]

    with freeze_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=29)):
        response = api_as(token=key).get(DEVICES)

    assert response.status_code == 200


def test_a_revoked_token_is_401(api_as, integration, estate):
    out, _ = create_token(integration.username)
    key = out.strip().splitlines()[-1]
    api = api_as(token=key)
    assert api.get(DEVICES).status_code == 200

    call_command(
        "revoke_api_token", integration.username, "--token-prefix", key[:8], stdout=StringIO()
    )

    assert api.get(DEVICES).status_code == 401


def test_revoke_all_removes_every_token_of_the_user(integration, estate):
    create_token(integration.username)
    create_token(integration.username)

    call_command("revoke_api_token", integration.username, "--all", stdout=StringIO())

    assert not AuthToken.objects.filter(user=integration).exists()


def test_create_api_token_for_an_unknown_user_fails_clearly(db):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        create_token("ghost")


def test_create_api_token_refuses_a_non_positive_expiry(integration):
    with pytest.raises(CommandError, match="at least one day"):
        create_token(integration.username, "--expires-in", "0")


def test_session_writes_need_the_csrf_token(integration, estate):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(integration)
    body = {
        "serial_number": "CSRF-1",
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "NORTH",
    }

    refused = client.post(DEVICES, body, format="json")
    client.get(DEVICES)  # a page view sets the csrftoken cookie in the browser
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    accepted = client.post(
        DEVICES, body, format="json", HTTP_X_CSRFTOKEN=_mask_cipher_secret(secret)
    )

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    assert accepted.status_code == 201


def test_session_reads_work_for_the_browser(integration, estate):
    client = APIClient()
    client.force_login(integration)

    assert client.get(DEVICES).status_code == 200


def test_rate_limit_per_token_answers_429_with_retry_after(api_as, make_user, estate, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min"},
    }
    first_user = make_user(Role.INTEGRATION)
    out, _ = create_token(first_user.username)
    api = api_as(token=out.strip().splitlines()[-1])
    other_out, _ = create_token(make_user(Role.INTEGRATION).username)
    other = api_as(token=other_out.strip().splitlines()[-1])

    statuses = [api.get(DEVICES).status_code for _ in range(4)]
    refused = api.get(DEVICES)

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert other.get(DEVICES).status_code == 200  # the limit is per token
