"""Register the nightly eligibility recomputation with django-celery-beat
(02:00 Europe/London), so the schedule exists wherever the database does."""

from django.db import migrations

TASK_NAME = "Nightly refresh eligibility"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/London",
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "refresh.tasks.eligibility_recompute_task",
            "crontab": crontab,
            "kwargs": '{"trigger": "nightly"}',
            "enabled": True,
            "description": "Recompute refresh eligibility for the whole estate.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("refresh", "0001_refresh_planning"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
