"""The demo estate's rows, generated deterministically: people, their devices and
each device's chain of custody, a block at a time, as plain tuples in the column
order of ``devices.demo.shape`` (the loader writes them as they are)."""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.utils import timezone

from devices.demo.reference import Reference
from devices.demo.shape import (
    AT_NOTES,
    AT_RATE,
    CATALOGUE,
    FAULTS,
    FIRST_PURCHASE_YEAR,
    IDLE_RATE,
    IN_REPAIR_RATE,
    LAST_PURCHASE_YEAR,
    LEAVER_RATE,
    LEAVER_STILL_HOLDING,
    MAKER_WEIGHTS,
    OVER_ENTITLEMENT_RATE,
    REPAIR_BASE,
    REPAIR_GROWTH,
    RETURNS_LOCATION,
    ROLE_MIX,
    ROLES,
    SEED_SOURCE,
    STORES_LOCATION,
    STORES_UNIT,
    UNASSIGNED_CATEGORY,
    UNASSIGNED_STATUS,
    UNITS,
    WINDOWS,
    YEAR_WEIGHTS_BY_STATUS,
    YEAR_WEIGHTS_IN_USE,
    CatalogueEntry,
    K,
    M,
    RoleSpec,
    S,
    UnitSpec,
)
from devices.models import Category


def _cumulative(weights: dict[Any, float]) -> tuple[list[Any], list[float]]:
    keys = list(weights)
    return keys, list(accumulate(weights[k] for k in keys))


def _pick(rnd: Callable[[], float], keys: list, cum: list[float]):
    """``random.choices(keys, cum_weights=cum)[0]`` without its per-call overhead."""
    return keys[bisect_right(cum, rnd() * cum[-1])]


def _ri(rnd: Callable[[], float], low: int, high: int) -> int:
    """A whole number in [low, high], like ``randint`` but a third of the cost."""
    return low + int(rnd() * (high - low + 1))


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _base36(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out))


# Serial numbers are a bijection of the device's index (i * odd multiplier mod 36^k),
# so they look random but can never collide within a manufacturer, at any scale.
_SERIAL_FORMATS = {
    "Dell": ("", 7, 2_654_435_761),
    "HP": ("5CG", 7, 2_246_822_519),
    "Lenovo": ("PF", 7, 3_266_489_917),
    "Microsoft": ("0", 9, 668_265_263),
    "Apple": ("F", 10, 374_761_393),
    "Samsung": ("R5", 9, 2_654_435_769),
}


def serial_for(maker: str, index: int) -> str:
    prefix, width, multiplier = _SERIAL_FORMATS[maker]
    modulus = 36**width
    return prefix + _base36((index * multiplier + 12_345) % modulus, width)


def staff_number_for(index: int) -> str:
    """A unique seven-digit staff number per person index (a bijection mod 9,000,000)."""
    return f"MP{(index * 7_654_321 + 1_234_567) % 9_000_000 + 1_000_000}"


@dataclass
class Tables:
    """Precomputed choice tables, so the per-device loop is only rng calls and tuples."""

    ref: Reference
    today: dt.date
    now: dt.datetime
    latest: dt.datetime  # no event or sighting after this moment
    roles_by_code: dict[str, RoleSpec]
    unit_keys: list[UnitSpec]
    unit_cum: list[float]
    role_mix: dict[str, tuple[list[str], list[float]]]
    # (category, year) -> (entries, cumulative weights)
    models: dict[tuple[str, int], tuple[list[CatalogueEntry], list[float]]]
    # (category, status-or-"in_use") -> (years, cumulative weights)
    years: dict[tuple[str, str], tuple[list[int], list[float]]]
    model_ids: dict[int, tuple[int, int, Decimal, int]]  # id(entry) -> (maker, model, price, cents)
    unassigned_category: tuple[list[str], list[float]]
    unassigned_status: tuple[list[str], list[float]]


def build_tables(ref: Reference, today: dt.date) -> Tables:
    last_year = min(LAST_PURCHASE_YEAR, today.year)
    models: dict[tuple[str, int], tuple[list[CatalogueEntry], list[float]]] = {}
    for category in Category.values:
        for year in range(FIRST_PURCHASE_YEAR, last_year + 1):
            entries = [
                e
                for e in CATALOGUE
                if e.category == category and e.first_year <= year <= e.last_year
            ]
            if entries:
                models[(category, year)] = _cumulative(
                    {e: MAKER_WEIGHTS[category][e.manufacturer] for e in entries}
                )
    years = {}
    for category in Category.values:
        for key, weights in (("in_use", YEAR_WEIGHTS_IN_USE), *YEAR_WEIGHTS_BY_STATUS.items()):
            usable = {
                y: w for y, w in weights.items() if y <= last_year and (category, y) in models
            }
            if not usable:  # e.g. tablets in stock: only the years they were sold
                usable = {y: 1 for y in range(FIRST_PURCHASE_YEAR, last_year + 1)
                          if (category, y) in models}  # fmt: skip
            years[(category, key)] = _cumulative(usable)
    model_ids = {}
    for entry in CATALOGUE:
        price = Decimal(entry.unit_price)
        model_ids[id(entry)] = (
            ref.makers[entry.manufacturer],
            ref.models[(entry.manufacturer, entry.name)],
            price,
            int(price * 100),
        )
    unit_keys, unit_cum = _cumulative({u: u.weight for u in UNITS})
    now = timezone.now()
    return Tables(
        ref=ref,
        today=today,
        now=now,
        # A 'today' in the past (tests, reproducible demos) is capped at its own end, so
        # the estate stays deterministic; the real today at the moment of seeding.
        latest=min(now, dt.datetime.combine(today, dt.time(23, 59), tzinfo=dt.UTC)),
        roles_by_code={r.code: r for r in ROLES},
        unit_keys=unit_keys,
        unit_cum=unit_cum,
        role_mix={kind: _cumulative(mix) for kind, mix in ROLE_MIX.items()},
        models=models,
        years=years,
        model_ids=model_ids,
        unassigned_category=_cumulative(UNASSIGNED_CATEGORY),
        unassigned_status=_cumulative(UNASSIGNED_STATUS),
    )


@dataclass
class Counters:
    person: int = 0  # people generated (index for staff numbers)
    device: int = 0  # devices generated (index for asset tags and serials)
    person_id: int = 1
    device_id: int = 1
    event_id: int = 1


class Generator:
    """Makes the rows of one block at a time. All randomness comes from one ``rng``."""

    def __init__(self, *, rng: random.Random, tables: Tables, counters: Counters):
        self.rnd = rng.random
        self.t = tables
        self.c = counters
        self.people: list[tuple] = []
        self.devices: list[tuple] = []
        self.events: list[tuple] = []

    def take_block(self) -> Block:
        """Hand over the rows made so far and start afresh (the writer may still be
        reading the old lists on another thread, so they are replaced, not cleared)."""
        block = Block(self.people, self.devices, self.events)
        self.people, self.devices, self.events = [], [], []
        return block

    # -- dates
    def _day_in_year(self, year: int) -> dt.date:
        start = dt.date(year, 1, 1)
        latest = min(dt.date(year, 12, 31), self.t.today - dt.timedelta(days=14))
        span = (latest - start).days
        return start + dt.timedelta(days=_ri(self.rnd, 0, max(span, 0)))

    def _at(self, day: dt.date) -> dt.datetime:
        """A working-hours moment on ``day`` (UTC), never later than the seeding itself
        (a morning seed must not see devices 'last seen' this afternoon)."""
        moment = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(
            seconds=int(self.rnd() * 32400)
        )
        return moment if moment <= self.t.latest else self.t.latest

    def _event(self, device_id, kind, when, from_status="", to_status="", details="{}"):
        self.events.append(
            (self.c.event_id, device_id, kind, when, None, from_status, to_status, SEED_SOURCE,
             details)
        )  # fmt: skip
        self.c.event_id += 1

    # -- people
    def person(self) -> tuple[int, UnitSpec, RoleSpec, str, bool, dt.date | None]:
        rnd, t = self.rnd, self.t
        index = self.c.person
        unit = _pick(rnd, t.unit_keys, t.unit_cum)
        role_keys, role_cum = t.role_mix[unit.kind]
        role = t.roles_by_code[_pick(rnd, role_keys, role_cum)]
        # Service length skewed to recent starters, up to 34 years.
        start = t.today - dt.timedelta(days=30 + int(rnd() ** 1.6 * 34 * 365))
        leaver = None
        holding = True
        if rnd() < LEAVER_RATE:
            leaver = t.today - dt.timedelta(days=_ri(rnd, 7, 720))
            if leaver <= start:
                start = leaver - dt.timedelta(days=_ri(rnd, 60, 2000))
            # Half of leavers still hold their kit: the stewardship report flags them.
            holding = rnd() < LEAVER_STILL_HOLDING
        at_needs = rnd() < AT_RATE
        at_note = AT_NOTES[int(rnd() * len(AT_NOTES))] if at_needs else ""
        staff = staff_number_for(index)
        person_id = self.c.person_id
        self.people.append(
            (person_id, staff, t.ref.units[unit.code], t.ref.roles[role.code], at_needs,
             at_note, start, leaver)
        )  # fmt: skip
        self.c.person += 1
        self.c.person_id += 1
        return person_id, unit, role, staff, holding, leaver

    def held_devices(self, person_id, unit, role, staff, leaver) -> int:
        """Devices the person holds under their role's entitlement (and now and then one
        more, for the over-entitlement check to find). Returns how many."""
        rnd = self.rnd
        made = 0
        for category, quantity in role.entitlement.items():
            p = role.holds[category]
            for _ in range(quantity):
                if rnd() < p:
                    self.device(category, "held", unit, person_id, staff, leaver)
                    made += 1
        if made and rnd() < OVER_ENTITLEMENT_RATE:
            held = list(role.entitlement)
            category = held[int(rnd() * len(held))]
            self.device(category, "held", unit, person_id, staff, leaver)
            made += 1
        return made

    def unassigned_device(self, unit: UnitSpec) -> None:
        rnd, t = self.rnd, self.t
        categories, category_cum = t.unassigned_category
        category = _pick(rnd, categories, category_cum)
        statuses, status_cum = t.unassigned_status
        status = _pick(rnd, statuses, status_cum)
        self.device(category, status, unit, None, None, None)

    # -- devices
    def device(self, category, status, unit: UnitSpec, person_id, staff, leaver) -> None:
        rnd, t = self.rnd, self.t
        today = t.today
        index = self.c.device
        device_id = self.c.device_id
        self.c.device += 1
        self.c.device_id += 1

        year_key = "in_use" if status == "held" else status
        years, year_cum = t.years[(category, year_key)]
        year = _pick(rnd, years, year_cum)
        entries, entry_cum = t.models[(category, year)]
        entry = _pick(rnd, entries, entry_cum)
        maker_id, model_id, _price, cents = t.model_ids[id(entry)]
        purchased = self._day_in_year(year)
        warranty = _add_years(purchased, 3 if rnd() < 0.6 else 4)
        # Bought at about the catalogue price of the day (within a few per cent).
        cost = Decimal(int(cents * (0.96 + rnd() * 0.07))) / 100

        if status == "held":
            status = S.IN_REPAIR if rnd() < IN_REPAIR_RATE else S.DEPLOYED
            assigned = person_id
        else:
            assigned = None
        business_unit = t.ref.units[STORES_UNIT if status == S.IN_STOCK else unit.code]
        if status == S.IN_STOCK:
            location = STORES_LOCATION
        elif status in (S.RETURNED, S.AWAITING_SANITISATION, S.SANITISED):
            location = RETURNS_LOCATION
        elif status == S.DISPOSED:
            location = ""
        else:
            location = unit.locations[int(rnd() * len(unit.locations))]

        # The chain of custody: received, deployed, repairs, then how it left use.
        received_at = self._at(purchased)
        self._event(device_id, K.RECEIVED, received_at, "", S.IN_STOCK)
        after_received = len(self.events)
        last_seen = None
        managed = category != M
        if status == S.IN_STOCK:
            # New stock, never issued.
            os_version = self._os(entry, year) if managed else ""
        else:
            deployed_day = min(purchased + dt.timedelta(days=_ri(rnd, 1, 28)), today)
            self._event(
                device_id, K.DEPLOYED, self._at(deployed_day), S.IN_STOCK, S.DEPLOYED,
                f'{{"assigned_to": "{staff}"}}' if staff else "{}",
            )  # fmt: skip
            if status in (S.DEPLOYED, S.IN_REPAIR):
                out_day = today
            else:
                earliest = max(deployed_day + dt.timedelta(days=60), today - dt.timedelta(3 * 365))
                latest = today - dt.timedelta(days=10)
                out_day = earliest + dt.timedelta(
                    days=_ri(rnd, 0, max((latest - earliest).days, 0))
                )
            self._repairs(device_id, category, purchased, deployed_day, out_day)
            os_version = self._os(entry, year) if managed else ""
            if status == S.IN_REPAIR:
                sent = today - dt.timedelta(days=_ri(rnd, 1, 20))
                self._event(device_id, K.REPAIR_STARTED, self._at(max(sent, deployed_day)),
                            S.DEPLOYED, S.IN_REPAIR)  # fmt: skip
            elif status in (S.RETURNED, S.LOST_STOLEN):
                kind = K.RETURNED if status == S.RETURNED else K.LOST
                self._event(device_id, kind, self._at(out_day), S.DEPLOYED, status)
            elif status in (S.AWAITING_SANITISATION, S.SANITISED, S.DISPOSED):
                self._event(device_id, K.RETURNED, self._at(out_day), S.DEPLOYED,
                            S.AWAITING_SANITISATION)  # fmt: skip
                if status != S.AWAITING_SANITISATION:
                    sanitised = min(out_day + dt.timedelta(days=_ri(rnd, 5, 40)), today)
                    self._event(device_id, K.SANITISATION, self._at(sanitised),
                                S.AWAITING_SANITISATION, S.SANITISED)  # fmt: skip
                    if status == S.DISPOSED:
                        gone = min(sanitised + dt.timedelta(days=_ri(rnd, 7, 60)), today)
                        self._event(device_id, K.DISPOSED, self._at(gone), S.SANITISED,
                                    S.DISPOSED)  # fmt: skip
            if managed:
                if status in (S.DEPLOYED, S.IN_REPAIR):
                    if leaver is not None:
                        # A leaver's kit sits in a drawer: last seen around their last day.
                        seen_day = leaver - dt.timedelta(days=_ri(rnd, 0, 30))
                    elif rnd() < IDLE_RATE:
                        seen_day = today - dt.timedelta(days=_ri(rnd, 91, 420))
                    else:
                        seen_day = today - dt.timedelta(days=_ri(rnd, 0, 14))
                    seen_day = max(seen_day, deployed_day)
                else:
                    seen_day = max(out_day - dt.timedelta(days=_ri(rnd, 0, 5)), deployed_day)
                last_seen = self._at(seen_day)
        # The estate's rules (devices.services.devices_status_move): no live device
        # enters a disposal status without a disposal case. The draws above stay as
        # they were (every later figure depends on the random stream); only what is
        # written changes.
        historical = False
        if status in (S.AWAITING_SANITISATION, S.SANITISED):
            # Came back for disposal: returned, awaiting a case.
            status = S.RETURNED
            location = RETURNS_LOCATION
            for i in range(after_received, len(self.events)):
                event = self.events[i]
                if event[1] == device_id and event[2] == K.RETURNED:
                    self.events[i] = (*event[:6], S.RETURNED, *event[7:])
                    del self.events[i + 1 :]
                    break
        elif status == S.DISPOSED:
            # Disposed of before records began: no custody record, recorded once.
            historical = True
            del self.events[after_received:]
            self._event(device_id, K.IMPORTED, self._at(today), "", S.DISPOSED,
                        '{"historical": true}')  # fmt: skip
        self.devices.append(
            (device_id, f"MPS{index + 1:07d}", serial_for(entry.manufacturer, index), maker_id,
             model_id, str(status), business_unit, assigned, location, purchased, warranty, cost,
             last_seen, os_version, 1, t.now, t.now, historical)
        )  # fmt: skip

    def _repairs(self, device_id, category, purchased, start, end) -> None:
        """A Bernoulli trial per year of age, with a probability growing with age.
        (Day ordinals rather than dates: this runs for every year of every device.)"""
        rnd = self.rnd
        base = REPAIR_BASE[category]
        faults = FAULTS[category]
        first, in_use, last = purchased.toordinal(), start.toordinal(), end.toordinal()
        age = 0
        year_start = first
        while year_start < last:
            year_end = min(year_start + 365, last)
            span = year_end - max(year_start, in_use)
            if span > 0 and rnd() < base * (1 + REPAIR_GROWTH * age) * span / 365:
                day = dt.date.fromordinal(year_end - int(rnd() * span))
                fault = faults[int(rnd() * len(faults))]
                self._event(device_id, K.REPAIRED, self._at(day), "", "",
                            f'{{"fault": "{fault}", "age_years": {age}}}')  # fmt: skip
            age += 1
            year_start += 365

    def _os(self, entry: CatalogueEntry, year: int) -> str:
        rnd = self.rnd
        if entry.os_versions == WINDOWS:
            r = rnd()
            if year <= 2019:
                return "Windows 10 22H2" if r < 0.85 else "Windows 11 23H2"
            if year <= 2021:
                return "Windows 10 22H2" if r < 0.55 else "Windows 11 23H2"
            if year <= 2023:
                return "Windows 11 23H2" if r < 0.7 else "Windows 11 24H2"
            return "Windows 11 24H2" if r < 0.85 else "Windows 11 23H2"
        versions = entry.os_versions
        return versions[int(rnd() * len(versions))] if versions else ""


@dataclass
class Block:
    people: list[tuple]
    devices: list[tuple]
    events: list[tuple]
