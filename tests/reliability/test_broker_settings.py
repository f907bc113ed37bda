"""The broker and Celery settings as README "Operations" states them: which
variable names the broker, what each broker is given, and when tasks run on the
web process's threads. Read from a fresh interpreter for each environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'threads': s.TASKS_IN_THREADS, 'options': getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', {}), "
    "'limit': s.CELERY_TASK_TIME_LIMIT, 'acks_late': s.CELERY_TASK_ACKS_LATE, "
    "'lost': s.CELERY_TASK_REJECT_ON_WORKER_LOST, 'prefetch': s.CELERY_WORKER_PREFETCH_MULTIPLIER, "
    "'result': s.CELERY_RESULT_BACKEND}))"
)
NAMES = ("CELERY_BROKER_URL", "BROKER_URL", "REDIS_URL", "DATABASE_URL", "DJANGO_DEBUG")


def _settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES and not k.startswith("CELERY_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


AMQP = "amqp://tracker:secret@rabbit:5672/tracker"
REDIS = "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("env", "broker"),
    [
        ({"CELERY_BROKER_URL": AMQP, "BROKER_URL": "amqp://other//", "REDIS_URL": REDIS}, AMQP),
        ({"BROKER_URL": AMQP, "REDIS_URL": REDIS}, AMQP),
        ({"REDIS_URL": REDIS}, REDIS),
    ],
    ids=["CELERY_BROKER_URL first", "then BROKER_URL", "then REDIS_URL"],
)
def test_the_broker_comes_from_the_first_variable_set(env, broker):
    found = _settings(**env)
    assert found["broker"] == broker and found["eager"] is False
    # Redis stays the result store whichever broker carries the tasks.
    assert found["result"] == env.get("REDIS_URL")


def test_rabbitmq_confirms_publishes_and_redis_redelivers_only_after_the_longest_task():
    assert _settings(CELERY_BROKER_URL=AMQP)["options"] == {"confirm_publish": True}
    redis = _settings(REDIS_URL=REDIS)
    assert redis["options"]["visibility_timeout"] > redis["limit"]


def test_a_dead_workers_messages_go_back_to_the_queue_one_at_a_time():
    found = _settings(CELERY_BROKER_URL=AMQP)
    assert (found["acks_late"], found["lost"], found["prefetch"]) == (True, True, 1)


def test_without_a_broker_development_runs_tasks_on_threads_and_production_inline():
    development = _settings(DJANGO_DEBUG="1")
    assert (development["broker"], development["eager"], development["threads"]) == (
        "memory://",
        True,
        True,
    )
    assert _settings(DJANGO_DEBUG="1", REDIS_URL=REDIS)["threads"] is False
    production = _settings()  # DEBUG off, no broker: eager, inline as before
    assert (production["eager"], production["threads"]) == (True, False)
