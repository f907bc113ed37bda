"""The demo estate: a deterministic, realistic synthetic estate shaped like the business case.

About 80,000 devices at the default scale, of which about 50,000 laptops (the
business case: "currently 50,000 laptops on the estate"), plus desktops, monitors,
smartphones and a few hundred legacy tablets; about 0.56 people per device; about
40 business units under one root, ``MET``; purchases spread over 2016-2025 so that
refresh has work to do; repairs that grow more likely with age ("older devices ...
break more frequently"); a few hundred people with assistive-technology needs; a few
hundred leavers still holding devices and a few people over their entitlement, for
the stewardship report to find.

Same seed and same ``today`` give the same estate (``estate_digest`` proves it).

It streams: people, devices and events are generated and written a block at a time
(``BLOCK_PEOPLE`` people, about 20,000 devices), never the whole estate in memory, so
``--devices 1000000`` runs in bounded memory. On PostgreSQL the rows go in with
``COPY`` and explicit ids (sequences are moved on afterwards); elsewhere (SQLite) with
``executemany`` inside the same transaction. Both paths write the same row tuples.

Seeded rows are the initial load, so they get no simple-history rows (bulk writes do
not fire the history signals); reference data (units, role profiles, catalogue) goes
through the ORM and the services and does get history.

The pieces: ``shape`` (catalogue, organisation, rates), ``reference`` (units,
roles and catalogue rows), ``generator`` (the rows), ``loader`` (writing them)
and ``digest``; this module seeds the estate with them.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from devices.demo.digest import estate_digest
from devices.demo.generator import Counters, Generator, build_tables
from devices.demo.loader import DirectSink, RowWriter, ThreadedSink, postgres_bulk_load
from devices.demo.reference import Reference, reference_data_ensure
from devices.demo.shape import DEFAULT_DEVICES, DEFAULT_SEED, DEMO_VIEWER_UNIT, PEOPLE_PER_DEVICE
from devices.entitlement import entitlement_exceedances_record
from devices.models import Device, DeviceEvent, Person

__all__ = [
    "DEFAULT_DEVICES",
    "DEFAULT_SEED",
    "DEMO_VIEWER_UNIT",
    "EstateExists",
    "EstateSummary",
    "Reference",
    "estate_digest",
    "estate_seed",
    "reference_data_ensure",
]

# People per generated block; with their devices that is about 20,000 device rows.
BLOCK_PEOPLE = 11_250
# The generator under the name tests/demo patch (``_Generator.unassigned_device``).
_Generator = Generator


@dataclass
class EstateSummary:
    people: int
    devices: int
    events: int
    units: int


class EstateExists(Exception):
    """The estate is already seeded; seeding is an initial load, never a top-up."""


def estate_seed(
    *,
    devices: int = DEFAULT_DEVICES,
    seed: str = DEFAULT_SEED,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> EstateSummary:
    """Build the demo estate of exactly ``devices`` devices, deterministically for ``seed``
    and ``today``, in one transaction (a failure leaves nothing half-written).

    ``progress`` is called with the number of devices written after each block;
    ``log`` (if given) receives the timing of each phase.
    """
    if devices < 1:
        raise ValueError("--devices must be at least 1.")
    today = today or timezone.localdate()
    if Device.objects.exists() or Person.objects.exists():
        raise EstateExists("The estate already has devices or people.")
    rng = random.Random(f"{seed}:estate")  # noqa: S311 - demo data, not security
    people_target = max(1, round(devices * PEOPLE_PER_DEVICE))
    writer = RowWriter()
    with transaction.atomic():
        ref = reference_data_ensure()
        tables = build_tables(ref, today)
        counters = Counters(
            person_id=_next_id(Person), device_id=_next_id(Device), event_id=_next_id(DeviceEvent)
        )
        gen = Generator(rng=rng, tables=tables, counters=counters)
        log = log or (lambda message: None)
        started = time.monotonic()
        estate_models = [Person, Device, DeviceEvent]
        bulk = postgres_bulk_load(estate_models, log=log) if writer.postgres else nullcontext()
        with bulk:
            written_devices, written_events = _generate(
                gen=gen,
                counters=counters,
                writer=writer,
                devices=devices,
                people_target=people_target,
                progress=progress,
            )
            log(f"generated and copied in {time.monotonic() - started:.1f}s")
        writer.reset_sequences(estate_models)
        # The demo is a first migration of an existing estate: the few people it
        # puts past their entitlement get an exception awaiting review, as
        # ``import_estate --record-exceptions`` would record, never a silent excess.
        recorded = entitlement_exceedances_record(
            reason="Recorded by the demo's migration",
            now=timezone.make_aware(dt.datetime.combine(today, dt.time(9))),
        )
        log(f"recorded {recorded} entitlement exceptions awaiting review")
        committing = time.monotonic()
    log(f"committed in {time.monotonic() - committing:.1f}s")
    return EstateSummary(
        people=counters.person,
        devices=written_devices,
        events=written_events,
        units=len(ref.units),
    )


def _next_id(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def _generate(
    *,
    gen: Generator,
    counters: Counters,
    writer: RowWriter,
    devices: int,
    people_target: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Generate person by person and hand the rows over a block at a time.
    Returns (devices, events) written."""
    written_devices = written_events = 0
    sink = ThreadedSink(writer) if writer.postgres else DirectSink(writer)
    try:
        for k in range(people_target):
            person_id, unit, role, staff, holding, leaver = gen.person()
            if holding:
                gen.held_devices(person_id, unit, role, staff, leaver)
            # Keep devices in step with people: top up with devices nobody holds
            # (stock, returns, disposals, losses) so the totals come out exact.
            due = (devices * (k + 1)) // people_target
            while counters.device < due:
                gen.unassigned_device(unit)
            last = k == people_target - 1
            if len(gen.people) >= BLOCK_PEOPLE or last:
                if last and counters.device > devices:
                    _truncate(gen, counters, devices)
                written_devices += len(gen.devices)
                written_events += len(gen.events)
                sink.put(gen.take_block())
                if progress:
                    progress(written_devices)
    finally:
        # Always join the worker before the transaction ends (commit or rollback).
        sink.close()
    return written_devices, written_events


def _truncate(gen: Generator, counters: Counters, devices: int) -> None:
    """Drop the last person's surplus devices so the estate has exactly ``devices``."""
    surplus = counters.device - devices
    dropped = {row[0] for row in gen.devices[-surplus:]}
    del gen.devices[-surplus:]
    gen.events = [e for e in gen.events if e[1] not in dropped]
    counters.device = devices
