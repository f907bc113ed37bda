"""Purge expired Idempotency-Key records daily at 03:30 Europe/London, through
django_celery_beat so operators can change it in the admin."""

from django.db import migrations

NAME = "Daily purge of expired idempotency keys"


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_month="*",
        month_of_year="*",
        day_of_week="*",
        timezone="Europe/London",
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "api.tasks.idempotency_records_purge_task",
            "crontab": crontab,
            "enabled": True,
            "kwargs": "{}",
            "description": "Idempotency keys are kept 24 hours; this deletes the expired ones.",
        },
    )


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_idempotency_records_and_token_labels"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
