"""The connection budget (README "Operations"): every process the stack runs, sized
by the same environment and files they read (gunicorn.conf.py, CELERY_CONCURRENCY),
fits PostgreSQL's max_connections with the headroom left for administration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from ops.stack import connection_budget

ROOT = Path(__file__).resolve().parents[2]


def test_the_budget_counts_every_process_from_the_environment():
    env = {
        "GUNICORN_WORKERS": "3",
        "GUNICORN_THREADS": "5",
        "CELERY_CONCURRENCY": "4",
        "CELERY_REAPER_QUEUE": "housekeeping",
    }

    before = os.environ.get("GUNICORN_WORKERS")

    budget = connection_budget(env)

    # web 3 x 5; worker 4 pool processes x (task + lease heartbeat) + main; beat;
    # a housekeeping worker of its own for the reapers
    assert budget == {"web": 15, "worker": 9, "beat": 1, "reaper": 3, "total": 28}
    assert os.environ.get("GUNICORN_WORKERS") == before  # the process's own is left alone


def test_connections_are_persistent_and_health_checked():
    db = settings.DATABASES["default"]
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_stacks_budget_fits_max_connections_minus_headroom():
    budget = connection_budget()  # this machine's environment, as make stack reads it
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])

    allowed = max_connections - settings.DATABASE_CONNECTION_HEADROOM
    assert budget["total"] <= allowed, f"{budget} exceeds {max_connections} - headroom"


def test_the_compose_files_budget_fits_its_postgres():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    web_env = services["web"]["environment"]
    worker = services["worker"]["command"]
    concurrency = worker[worker.index("--concurrency") + 1]
    env = {
        # "${GUNICORN_WORKERS:-2}" reads as its default
        "GUNICORN_WORKERS": web_env["GUNICORN_WORKERS"].split(":-")[1].rstrip("}"),
        "GUNICORN_THREADS": web_env["GUNICORN_THREADS"].split(":-")[1].rstrip("}"),
        "CELERY_CONCURRENCY": concurrency.split(":-")[1].rstrip("}"),
    }
    postgres = services["postgres"]["command"]
    max_connections = int(postgres[postgres.index("-c") + 1].split("=")[1])

    budget = connection_budget(env)

    assert budget["total"] <= max_connections - settings.DATABASE_CONNECTION_HEADROOM
