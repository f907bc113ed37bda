"""Delete expired API tokens daily at 03:40 Europe/London (a request checks only its
own token's expiry), through django_celery_beat so operators can change it in the
admin."""

from django.db import migrations

NAME = "Daily purge of expired API tokens"


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="40",
        hour="3",
        day_of_month="*",
        month_of_year="*",
        day_of_week="*",
        timezone="Europe/London",
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "api.tasks.api_tokens_expired_purge_task",
            "crontab": crontab,
            "enabled": True,
            "kwargs": "{}",
            "description": "Expired tokens are refused at once; this deletes them.",
        },
    )


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_daily_idempotency_purge"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
