"""Idempotency-Key: a retried POST replays the first response and writes nothing
twice; the same key with another body is a 409; a duplicate arriving while the
first is still running is a 409 too, and never executes."""

import threading
import uuid

import pytest
from django.db import connection

from api.models import IdempotencyRecord
from devices.models import Device, DeviceEvent

DEVICES = "/api/v1/devices/"


def body(serial="IDEM-1"):
    return {
        "serial_number": serial,
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "NORTH",
    }


@pytest.mark.django_db
def test_retry_with_same_key_and_body_replays_the_first_response_and_writes_once(
    api_as, integration, estate
):
    api = api_as(integration)
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = api.post(DEVICES, body(), headers=key)
    retry = api.post(DEVICES, body(), headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert Device.objects.filter(serial_number="IDEM-1").count() == 1
    assert DeviceEvent.objects.filter(device__serial_number="IDEM-1").count() == 1


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_409(api_as, integration, estate):
    api = api_as(integration)
    key = {"Idempotency-Key": "key-1"}
    api.post(DEVICES, body("IDEM-1"), headers=key)

    response = api.post(DEVICES, body("IDEM-2"), headers=key)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not Device.objects.filter(serial_number="IDEM-2").exists()


@pytest.mark.django_db
def test_same_key_on_another_path_is_409(api_as, integration, estate):
    api = api_as(integration)
    key = {"Idempotency-Key": "key-1"}
    api.post(DEVICES, body(), headers=key)

    response = api.post(
        f"{DEVICES}{estate.north_device.pk}/events/", {"action": "lost"}, headers=key
    )

    assert response.status_code == 409


@pytest.mark.django_db
def test_keys_are_per_caller(api_as, make_user, estate):
    from accounts.roles import Role

    key = {"Idempotency-Key": "shared-key"}
    api_as(make_user(Role.INTEGRATION)).post(DEVICES, body("IDEM-A"), headers=key)

    response = api_as(make_user(Role.INTEGRATION)).post(DEVICES, body("IDEM-B"), headers=key)

    assert response.status_code == 201


@pytest.mark.django_db
def test_a_failed_request_is_replayed_as_the_same_error(api_as, integration, estate):
    api = api_as(integration)
    key = {"Idempotency-Key": "bad-unit"}
    bad = body() | {"business_unit": "NOWHERE"}

    first = api.post(DEVICES, bad, headers=key)
    retry = api.post(DEVICES, bad, headers=key)

    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()


@pytest.mark.django_db
def test_a_duplicate_while_the_first_is_in_flight_is_409_in_progress(api_as, integration, estate):
    # Given the first request has claimed the key and not finished
    api = api_as(integration)
    payload = body()
    first = api.post(DEVICES, payload, headers={"Idempotency-Key": "claimed"})
    IdempotencyRecord.objects.filter(key="claimed").update(
        state=IdempotencyRecord.State.IN_PROGRESS, response_status=None
    )

    response = api.post(DEVICES, payload, headers={"Idempotency-Key": "claimed"})

    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert Device.objects.filter(serial_number="IDEM-1").count() == 1


@pytest.mark.django_db
def test_an_expired_key_can_be_used_again(api_as, integration, estate):
    import datetime as dt

    from django.utils import timezone

    api = api_as(integration)
    api.post(DEVICES, body("IDEM-1"), headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = api.post(DEVICES, body("IDEM-2"), headers={"Idempotency-Key": "old"})

    assert response.status_code == 201
    assert IdempotencyRecord.objects.filter(key="old").count() == 1


@pytest.mark.django_db
def test_events_and_bulk_posts_are_idempotent_too(api_as, integration, estate):
    from devices.api import views

    assert getattr(views.DeviceViewSet.create, "idempotent", False)
    assert getattr(views.DeviceViewSet.events_create, "idempotent", False)
    assert getattr(views.DeviceViewSet.bulk, "idempotent", False)
    api = api_as(integration)
    url = f"{DEVICES}{estate.north_device.pk}/events/"
    key = {"Idempotency-Key": "event-1"}

    first = api.post(url, {"action": "note", "note": "checked"}, headers=key)
    retry = api.post(url, {"action": "note", "note": "checked"}, headers=key)

    assert retry.json() == first.json()
    assert estate.north_device.events.count() == 1


@pytest.mark.django_db
def test_an_unusable_key_is_a_400(api_as, integration, estate):
    response = api_as(integration).post(DEVICES, body(), headers={"Idempotency-Key": "x" * 300})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_do_not_both_execute(integration, estate, monkeypatch):
    # Two threads send the same keyed request; the first is held inside the
    # handler (after claiming the key) until the second has been answered.
    from rest_framework.test import APIClient

    from devices import services

    inside, release = threading.Event(), threading.Event()
    real_create = services.device_create

    def slow_create(**kwargs):
        inside.set()
        release.wait(10)
        return real_create(**kwargs)

    monkeypatch.setattr(services, "device_create", slow_create)
    results = {}

    def send(name):
        client = APIClient()
        client.force_authenticate(integration)
        results[name] = client.post(
            DEVICES, body(), format="json", HTTP_IDEMPOTENCY_KEY="race"
        ).status_code
        connection.close()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert inside.wait(10)
    send("second")
    release.set()
    first.join(10)

    assert results == {"first": 201, "second": 409}
    assert Device.objects.filter(serial_number="IDEM-1").count() == 1


@pytest.mark.django_db
def test_purge_deletes_only_expired_records(api_as, integration, estate):
    import datetime as dt
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    api = api_as(integration)
    api.post(DEVICES, body("IDEM-1"), headers={"Idempotency-Key": "old"})
    api.post(DEVICES, body("IDEM-2"), headers={"Idempotency-Key": "new"})
    IdempotencyRecord.objects.filter(key="old").update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    call_command("purge_idempotency_records", stdout=StringIO())

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
