"""Start a real Celery worker or beat for the fault tests: ``python -m
tests.reliability.worker worker -Q <queue> ...`` (the celery command's arguments).

Before the worker starts, slow-downs the test asks for are put in place, so a test
can kill the worker or its database connection while a report or an import is
half-way, deterministically:

- ``RELIABILITY_SLOW_BUILD`` seconds: each report build waits that long before it
  writes (the run is held, its lease renewed by the heartbeat, while it waits);
- ``RELIABILITY_SLOW_BATCH`` seconds: an import waits that long after each batch;
- ``RELIABILITY_BATCH_SIZE`` rows: the importer's batch size (the first and last
  batch a fifth of it), so a small file has several batches.

The prefork pool's children inherit all of it from this process.
"""

from __future__ import annotations

import os
import sys
import time

import django


def _slow_down() -> None:
    build_wait = float(os.environ.get("RELIABILITY_SLOW_BUILD", "0"))
    batch_wait = float(os.environ.get("RELIABILITY_SLOW_BATCH", "0"))
    batch_size = int(os.environ.get("RELIABILITY_BATCH_SIZE", "0"))
    if build_wait:
        from reports import services

        real_build = services.stewardship_report_build

        def slow_build(*, run, **options):
            time.sleep(build_wait)
            return real_build(run=run, **options)

        services.stewardship_report_build = slow_build
    if batch_wait:
        from devices.importing import runs

        real_update = runs.RunProgress.update

        def slow_update(self, **fields):
            real_update(self, **fields)
            time.sleep(batch_wait)

        runs.RunProgress.update = slow_update
    if batch_size:
        from devices.importing import services as importing

        importing.BATCH_SIZE = batch_size
        importing.EDGE_BATCH_SIZE = max(1, batch_size // 5)


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reliability.worker_settings")
    django.setup()
    _slow_down()
    from config.celery import app

    app.start(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
