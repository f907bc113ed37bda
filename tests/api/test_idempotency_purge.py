import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from api.models import IdempotencyRecord
from api.tasks import idempotency_records_purge_task

pytestmark = pytest.mark.django_db


def test_the_daily_purge_is_scheduled_after_migrate():
    task = PeriodicTask.objects.get(task="api.tasks.idempotency_records_purge_task")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")


def test_the_purge_deletes_only_expired_keys():
    from tests.factories import UserFactory

    user = UserFactory()
    now = timezone.now()
    base = {
        "user": user,
        "method": "POST",
        "path": "/api/v1/devices/",
        "request_hash": "f" * 64,
    }
    old = IdempotencyRecord.objects.create(
        key="old", expires_at=now - dt.timedelta(seconds=1), **base
    )
    fresh = IdempotencyRecord.objects.create(
        key="fresh", expires_at=now + dt.timedelta(hours=1), **base
    )

    deleted = idempotency_records_purge_task.delay().get()

    assert deleted == 1
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
    assert IdempotencyRecord.objects.filter(pk=fresh.pk).exists()
