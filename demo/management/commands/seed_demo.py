"""``manage.py seed_demo``: load the demo estate, then each app's demo data.

    manage.py seed_demo [--devices N] [--seed S] [--today YYYY-MM-DD] [--if-empty]
                        [--no-progress] [--skip-hooks]

The estate comes from ``devices.demo.estate_seed``; then each app's
``<app>.demo.seed(rng=..., today=..., stdout=...)`` runs, in ``DEMO_STEPS`` order,
with its own random stream, so one app's demo data never shifts another's.
"""

import datetime as dt
import random
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.demo import DEFAULT_DEVICES, DEFAULT_SEED, EstateExists, estate_seed
from devices.models import Device
from disposals import demo as disposals_demo
from procurement import demo as procurement_demo
from refresh import demo as refresh_demo
from reports import demo as reports_demo

# Each app's demo data, in the order the data flows: refresh reads the estate,
# procurement prices refresh's demand, disposals takes devices out, reports reads all.
DEMO_STEPS = (
    ("refresh", refresh_demo.seed),
    ("procurement", procurement_demo.seed),
    ("disposals", disposals_demo.seed),
    ("reports", reports_demo.seed),
)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--today must be a date like 2025-11-01, not {value!r}.") from exc


class Command(BaseCommand):
    help = (
        "Load a deterministic demo estate (about 80,000 devices by default) and each app's "
        "demo data. Streams in batches, so --devices 1000000 runs in bounded memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=DEFAULT_DEVICES)
        parser.add_argument("--seed", default=DEFAULT_SEED, help="Same seed, same estate.")
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help="The demo's 'today' (YYYY-MM-DD); defaults to the real date. Fix it for "
            "reproducible estates.",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if the estate already exists."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--skip-hooks", action="store_true", help="Only the estate, no apps' demo data."
        )

    def handle(self, *args, devices, seed, today, if_empty, no_progress, skip_hooks, **options):
        if devices < 1:
            raise CommandError("--devices must be at least 1.")
        if Device.objects.exists():
            if if_empty:
                self.stdout.write("The demo estate already exists; nothing to do.")
                return
            raise CommandError(
                "The estate already has devices; seed_demo is an initial load. Use a fresh "
                "database, or --if-empty to skip quietly."
            )
        today = today or timezone.localdate()
        self.stdout.write(f"Seeding the demo estate: {devices:,} devices, seed {seed!r}, {today}.")
        started = time.monotonic()
        bar = self._progress_bar(devices, disabled=no_progress)
        try:
            summary = estate_seed(
                devices=devices,
                seed=seed,
                today=today,
                progress=(lambda done: bar.update(done - bar.n)) if bar else None,
                log=(lambda message: self.stdout.write(f"  {message}"))
                if options["verbosity"] >= 2
                else None,
            )
        except EstateExists as exc:
            raise CommandError(f"{exc} seed_demo needs an empty estate.") from exc
        finally:
            if bar:
                bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Estate: {summary.units} business units, {summary.people:,} people, "
                f"{summary.devices:,} devices, {summary.events:,} events "
                f"in {time.monotonic() - started:.1f}s."
            )
        )
        if skip_hooks:
            return
        for app, seed_app in DEMO_STEPS:
            self.stdout.write(f"Seeding {app} demo data...")
            step = time.monotonic()
            seed_app(rng=random.Random(f"{seed}:{app}"), today=today, stdout=self.stdout)
            self.stdout.write(f"  {app} done in {time.monotonic() - step:.1f}s.")
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    def _progress_bar(self, total: int, *, disabled: bool):
        # Only on a terminal: a bar in a log file or a CI transcript is noise.
        if disabled or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="device", unit_scale=True, file=sys.stderr)
