"""The one Celery app. Its configuration is the CELERY_* settings (config/settings.py):

- the broker: CELERY_BROKER_URL, else BROKER_URL, else REDIS_URL; none set means no
  worker, and tasks run in-process (eagerly, or on the web process's threads with
  TASKS_IN_THREADS: core/background.py);
- late acknowledgement with reject_on_worker_lost, prefetch of one, time limits, and
  for Redis a visibility timeout longer than the longest task;
- the reapers' beat schedule (CELERY_BEAT_SCHEDULE), installed by django-celery-beat's
  DatabaseScheduler.

README "Operations" explains the broker choice, the leases and the reaper.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
