"""With no environment the app runs on SQLite with eager Celery tasks."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.DATABASES['default']['ENGINE'], str(s.DATABASES['default']['NAME']), "
    "s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND']]))"
)


def _settings_in(env: dict) -> list:
    import json

    # Every variable that picks a database, cache or broker: the probe starts from none.
    chosen = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "BROKER_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in chosen}
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


def test_no_environment_means_sqlite_in_the_checkout_and_eager_tasks():
    engine, name, eager, broker, cache = _settings_in({})
    assert engine == "django.db.backends.sqlite3"
    assert name == str(ROOT / "db.sqlite3")
    assert eager is True
    assert broker == "memory://"
    assert cache.endswith("LocMemCache")


def test_database_url_and_redis_url_switch_to_the_real_stack():
    engine, name, eager, broker, cache = _settings_in(
        {"DATABASE_URL": "postgres://u@db:5432/tracker", "REDIS_URL": "redis://cache:6379/0"}
    )
    assert (engine, name) == ("django.db.backends.postgresql", "tracker")
    assert eager is False
    assert broker == "redis://cache:6379/0"
    assert cache.endswith("RedisCache")


def test_the_broker_variables_win_over_redis_in_the_order_the_readme_gives():
    amqp = "amqp://guest:guest@rabbit:5672//"
    redis = {"REDIS_URL": "redis://cache:6379/0"}
    assert _settings_in({**redis, "CELERY_BROKER_URL": amqp})[3] == amqp
    assert _settings_in({**redis, "BROKER_URL": amqp})[3] == amqp
    both = {**redis, "CELERY_BROKER_URL": amqp, "BROKER_URL": "amqp://other//"}
    assert _settings_in(both)[3] == amqp


def test_financial_year_helper_is_the_one_used_by_settings_timezone():
    settings = importlib.import_module("django.conf").settings
    assert settings.TIME_ZONE == "Europe/London" and settings.USE_TZ
