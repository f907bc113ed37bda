"""Register the monthly report schedules with django_celery_beat's DatabaseScheduler,
so operators can change them in the admin (Periodic tasks) without a deploy.

1st of each month at 06:00 Europe/London, for the previous month (the tasks work
the period out when they run).
"""

from django.db import migrations

SCHEDULES = [
    ("Monthly stewardship reports", "reports.tasks.stewardship_reports_generate_task",
     "Every business unit's stewardship report for the previous month."),
    ("Monthly finance report", "reports.tasks.finance_report_generate_task",
     "The capital envelope position report for the previous month."),
]


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="6",
        day_of_month="1",
        month_of_year="*",
        day_of_week="*",
        timezone="Europe/London",
    )
    for name, task, description in SCHEDULES:
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": crontab,
                "enabled": True,
                "description": description,
                "kwargs": "{}",
            },
        )


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_report_run"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
