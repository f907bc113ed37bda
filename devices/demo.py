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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import queue
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from types import SimpleNamespace
from typing import Any

from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import BusinessUnit
from accounts.services import business_unit_save
from devices.models import (
    Category,
    Device,
    DeviceEvent,
    Entitlement,
    Person,
    RoleProfile,
)
from devices.services import (
    device_model_get_or_create,
    manufacturer_get_or_create,
)

DEFAULT_DEVICES = 80_000
DEFAULT_SEED = "2025"
# People scale with devices: about 45,000 people for 80,000 devices.
PEOPLE_PER_DEVICE = 0.5625
# People per generated block; with their devices that is about 20,000 device rows.
BLOCK_PEOPLE = 11_250
FIRST_PURCHASE_YEAR = 2016
LAST_PURCHASE_YEAR = 2025
SEED_SOURCE = "seed"

L, D, M, P, T = (Category.LAPTOP, Category.DESKTOP, Category.MONITOR, Category.SMARTPHONE,
                 Category.TABLET)  # fmt: skip
WINDOWS = "windows"


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueEntry:
    """A device model as the catalogue sells it. ``unit_price`` is commercial data."""

    manufacturer: str
    name: str
    category: str
    unit_price: str
    end_of_support: dt.date
    first_year: int
    last_year: int
    os_versions: tuple[str, ...] | str = ()


def _eos(year: int, month: int = 12) -> dt.date:
    return dt.date(year, month, 28)


CATALOGUE: tuple[CatalogueEntry, ...] = (
    # Laptops: the bulk of the estate.
    CatalogueEntry("Dell", "Latitude E7470", L, "945.00", _eos(2022, 6), 2016, 2017, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5490", L, "829.00", _eos(2024, 5), 2018, 2019, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5400", L, "859.00", _eos(2025, 4), 2019, 2020, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5410", L, "889.00", _eos(2026, 5), 2020, 2021, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5420", L, "915.00", _eos(2027, 3), 2021, 2022, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5430", L, "939.00", _eos(2028, 3), 2022, 2023, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5440", L, "979.00", _eos(2029, 3), 2023, 2024, WINDOWS),
    CatalogueEntry("Dell", "Latitude 5450", L, "1019.00", _eos(2030, 3), 2024, 2025, WINDOWS),
    CatalogueEntry("Dell", "Latitude 7440", L, "1349.00", _eos(2029, 6), 2023, 2025, WINDOWS),
    CatalogueEntry("HP", "EliteBook 840 G3", L, "899.00", _eos(2022, 3), 2016, 2017, WINDOWS),
    CatalogueEntry("HP", "EliteBook 840 G5", L, "919.00", _eos(2024, 6), 2018, 2019, WINDOWS),
    CatalogueEntry("HP", "EliteBook 840 G7", L, "949.00", _eos(2026, 6), 2020, 2021, WINDOWS),
    CatalogueEntry("HP", "EliteBook 840 G9", L, "1029.00", _eos(2028, 6), 2022, 2023, WINDOWS),
    CatalogueEntry("HP", "EliteBook 840 G11", L, "1089.00", _eos(2030, 6), 2024, 2025, WINDOWS),
    CatalogueEntry("Lenovo", "ThinkPad T470", L, "869.00", _eos(2022, 9), 2016, 2017, WINDOWS),
    CatalogueEntry("Lenovo", "ThinkPad T480", L, "879.00", _eos(2024, 1), 2018, 2019, WINDOWS),
    CatalogueEntry("Lenovo", "ThinkPad T14 Gen 2", L, "949.00", _eos(2027, 4), 2020, 2022, WINDOWS),
    CatalogueEntry("Lenovo", "ThinkPad T14 Gen 4", L, "999.00", _eos(2029, 4), 2023, 2024, WINDOWS),
    CatalogueEntry(
        "Lenovo", "ThinkPad T14 Gen 5", L, "1049.00", _eos(2030, 4), 2024, 2025, WINDOWS
    ),
    CatalogueEntry("Microsoft", "Surface Pro 4", L, "1099.00", _eos(2022, 1), 2016, 2017, WINDOWS),
    CatalogueEntry("Microsoft", "Surface Pro 7", L, "1049.00", _eos(2025, 10), 2019, 2020, WINDOWS),
    CatalogueEntry("Microsoft", "Surface Go 2", L, "629.00", _eos(2025, 10), 2020, 2021, WINDOWS),
    CatalogueEntry(
        "Microsoft", "Surface Laptop 5", L, "1199.00", _eos(2028, 10), 2022, 2023, WINDOWS
    ),
    CatalogueEntry(
        "Microsoft",
        "Surface Pro 10 for Business",
        L,
        "1299.00",
        _eos(2030, 3),
        2024,
        2025,
        WINDOWS,
    ),  # fmt: skip
    # Desktops for fixed desks and contact centres.
    CatalogueEntry("Dell", "OptiPlex 7050", D, "689.00", _eos(2023, 3), 2016, 2018, WINDOWS),
    CatalogueEntry("Dell", "OptiPlex 7070", D, "709.00", _eos(2025, 3), 2019, 2020, WINDOWS),
    CatalogueEntry("Dell", "OptiPlex 7090", D, "739.00", _eos(2027, 3), 2021, 2022, WINDOWS),
    CatalogueEntry("Dell", "OptiPlex 7010", D, "769.00", _eos(2029, 3), 2023, 2025, WINDOWS),
    CatalogueEntry("HP", "EliteDesk 800 G3", D, "679.00", _eos(2023, 6), 2016, 2018, WINDOWS),
    CatalogueEntry("HP", "EliteDesk 800 G6", D, "719.00", _eos(2026, 6), 2019, 2021, WINDOWS),
    CatalogueEntry("HP", "EliteDesk 800 G9", D, "789.00", _eos(2029, 6), 2022, 2025, WINDOWS),
    # Monitors: not managed devices, so no OS and no last-seen.
    CatalogueEntry("Dell", "P2417H", M, "149.00", _eos(2022, 12), 2016, 2017),
    CatalogueEntry("Dell", "P2419H", M, "159.00", _eos(2024, 12), 2018, 2020),
    CatalogueEntry("Dell", "P2422H", M, "169.00", _eos(2027, 12), 2021, 2023),
    CatalogueEntry("Dell", "P2425H", M, "179.00", _eos(2030, 12), 2024, 2025),
    CatalogueEntry("Dell", "P2723DE", M, "309.00", _eos(2029, 12), 2022, 2025),
    CatalogueEntry("HP", "E24 G4", M, "165.00", _eos(2026, 12), 2019, 2022),
    CatalogueEntry("HP", "E24 G5", M, "175.00", _eos(2029, 12), 2023, 2025),
    # Smartphones.
    CatalogueEntry("Apple", "iPhone 7", P, "499.00", _eos(2022, 9), 2016, 2017, ("iOS 15.8",)),
    CatalogueEntry("Apple", "iPhone 8", P, "549.00", _eos(2023, 9), 2018, 2019, ("iOS 16.7",)),
    CatalogueEntry(
        "Apple",
        "iPhone SE (2nd generation)",
        P,
        "399.00",
        _eos(2025, 9),
        2020,
        2021,
        ("iOS 17.6", "iOS 18.1"),
    ),  # fmt: skip
    CatalogueEntry(
        "Apple", "iPhone 13", P, "649.00", _eos(2027, 9), 2022, 2022, ("iOS 17.6", "iOS 18.1")
    ),
    CatalogueEntry(
        "Apple", "iPhone 14", P, "699.00", _eos(2028, 9), 2023, 2023, ("iOS 18.1", "iOS 18.3")
    ),
    CatalogueEntry("Apple", "iPhone 15", P, "749.00", _eos(2029, 9), 2024, 2024, ("iOS 18.3",)),
    CatalogueEntry("Apple", "iPhone 16", P, "799.00", _eos(2030, 9), 2025, 2025, ("iOS 18.3",)),
    CatalogueEntry("Samsung", "Galaxy S9", P, "589.00", _eos(2022, 3), 2018, 2019, ("Android 10",)),
    CatalogueEntry(
        "Samsung",
        "Galaxy XCover 5",
        P,
        "299.00",
        _eos(2026, 3),
        2020,
        2022,
        ("Android 13", "Android 14"),
    ),  # fmt: skip
    CatalogueEntry(
        "Samsung",
        "Galaxy S23",
        P,
        "699.00",
        _eos(2028, 3),
        2023,
        2024,
        ("Android 14", "Android 15"),
    ),  # fmt: skip
    CatalogueEntry(
        "Samsung",
        "Galaxy XCover7",
        P,
        "349.00",
        _eos(2030, 3),
        2024,
        2025,
        ("Android 14", "Android 15"),
    ),  # fmt: skip
    # Tablets: a legacy category (1,000 tablets in 2017, a few hundred left).
    CatalogueEntry(
        "Apple", "iPad (5th generation)", T, "339.00", _eos(2022, 9), 2016, 2017, ("iPadOS 16.7",)
    ),
    CatalogueEntry("Apple", "iPad Air 2", T, "429.00", _eos(2021, 9), 2016, 2016, ("iPadOS 15.8",)),
    CatalogueEntry(
        "Apple", "iPad (6th generation)", T, "319.00", _eos(2023, 9), 2018, 2018, ("iPadOS 17.7",)
    ),
    CatalogueEntry(
        "Samsung", "Galaxy Tab Active2", T, "499.00", _eos(2021, 12), 2018, 2018, ("Android 9",)
    ),
)

# How each category splits between makers (the framework call-offs of the period).
MAKER_WEIGHTS = {
    L: {"Dell": 50, "HP": 20, "Lenovo": 15, "Microsoft": 15},
    D: {"Dell": 60, "HP": 40},
    M: {"Dell": 75, "HP": 25},
    P: {"Apple": 60, "Samsung": 40},
    T: {"Apple": 80, "Samsung": 20},
}

# Purchases by year: 2,500 laptops in 2017 grew to 50,000, with a surge in 2020.
YEAR_WEIGHTS_IN_USE = {2016: 3, 2017: 5, 2018: 8, 2019: 10, 2020: 15, 2021: 14, 2022: 13,
                       2023: 12, 2024: 11, 2025: 9}  # fmt: skip
YEAR_WEIGHTS_BY_STATUS = {
    "in_stock": {2023: 1, 2024: 3, 2025: 8},
    "returned": {2016: 4, 2017: 5, 2018: 6, 2019: 6, 2020: 5, 2021: 3, 2022: 2, 2023: 1},
    "awaiting_sanitisation": {2016: 6, 2017: 7, 2018: 7, 2019: 5, 2020: 3, 2021: 1},
    "sanitised": {2016: 6, 2017: 7, 2018: 6, 2019: 4, 2020: 2},
    "disposed": {2016: 9, 2017: 8, 2018: 5, 2019: 3, 2020: 1},
    "lost_stolen": {2018: 1, 2019: 2, 2020: 3, 2021: 3, 2022: 3, 2023: 3, 2024: 2, 2025: 1},
}

# Yearly probability of a repair in the first year of service, by category; it grows
# by REPAIR_GROWTH per year of age, so failure rate by age is visible.
REPAIR_BASE = {L: 0.05, D: 0.025, M: 0.012, P: 0.06, T: 0.06}
REPAIR_GROWTH = 0.45
FAULTS = {
    L: ("Battery", "Screen", "Keyboard", "Hinge", "Motherboard", "Storage", "Charging port"),
    D: ("Power supply", "Storage", "Motherboard", "Fan"),
    M: ("Backlight", "Power supply", "Dead pixels"),
    P: ("Screen", "Battery", "Charging port", "Camera"),
    T: ("Screen", "Battery", "Charging port"),
}


# --------------------------------------------------------------------------- organisation


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    parent: str | None
    level: str
    kind: str = "hq"  # which role mix its people have
    weight: float = 0.3  # relative headcount
    locations: tuple[str, ...] = ("New Scotland Yard",)


DIR, CMD, UNIT = (BusinessUnit.Level.DIRECTORATE, BusinessUnit.Level.COMMAND,
                  BusinessUnit.Level.UNIT)  # fmt: skip
STORES_UNIT = "EUS-STORES"
# The command the demo unit viewer is scoped to: it has several units beneath it.
DEMO_VIEWER_UNIT = "CE"

_BCUS = {
    "CE": ("Central East BCU", ("Stoke Newington Police Station", "Bethnal Green Police Station",
                                "Leman Street Police Station")),
    "CW": ("Central West BCU", ("Charing Cross Police Station", "Belgravia Police Station",
                                "Hammersmith Police Station")),
    "NA": ("North Area BCU", ("Colindale Police Station", "Wembley Police Station",
                              "Harrow Police Station")),
    "SE": ("South East BCU", ("Bromley Police Station", "Bexleyheath Police Station",
                              "Plumstead Police Station")),
}  # fmt: skip


def _units() -> tuple[UnitSpec, ...]:
    units = [
        UnitSpec("MET", "Metropolitan Police Service", None, DIR, weight=0.2),
        UnitSpec("FLP", "Frontline Policing", "MET", DIR, weight=0.2),
    ]
    for code, (name, stations) in _BCUS.items():
        units.append(UnitSpec(code, name, "FLP", CMD, weight=0.3, locations=stations[:1]))
        units += [
            UnitSpec(f"{code}-RESP", f"{name} Emergency Response", code, UNIT, "resp", 9, stations),
            UnitSpec(f"{code}-NHP", f"{name} Neighbourhoods", code, UNIT, "nhp", 4, stations),
            UnitSpec(f"{code}-CID", f"{name} CID", code, UNIT, "cid", 4, stations),
        ]
    units += [
        UnitSpec("MO", "Met Operations", "MET", DIR, weight=0.2, locations=("Lambeth HQ",)),
        UnitSpec("MO-TP", "Taskforce", "MO", CMD, weight=0.2, locations=("Lambeth HQ",)),
        UnitSpec("MO-TSG", "Territorial Support Group", "MO-TP", UNIT, "ops", 3,
                 ("Lambeth HQ", "Catford Police Station")),
        UnitSpec("MO-DOG", "Dog Support Unit", "MO-TP", UNIT, "ops", 1, ("Keston Dog Centre",)),
        UnitSpec("MO-AVS", "Aviation Policing", "MO", CMD, weight=0.2,
                 locations=("Heathrow Police Station",)),
        UnitSpec("MO-HTW", "Heathrow Policing", "MO-AVS", UNIT, "ops", 2,
                 ("Heathrow Police Station",)),
        UnitSpec("MO-LCY", "London City Airport Policing", "MO-AVS", UNIT, "ops", 0.5,
                 ("London City Airport Police Office",)),
        UnitSpec("MO-METCC", "Met Command and Control", "MO", CMD, "contact", 3,
                 ("Lambeth Contact Centre", "Hendon Contact Centre", "Bow Contact Centre")),
        UnitSpec("SC", "Specialist Crime", "MET", DIR, weight=0.2),
        UnitSpec("SC-MIT", "Specialist Crime Command", "SC", CMD, weight=0.2),
        UnitSpec("SC-HOM", "Homicide and Major Crime", "SC-MIT", UNIT, "spec", 3,
                 ("New Scotland Yard", "Sutton Police Station")),
        UnitSpec("SC-CYB", "Cyber Crime Unit", "SC-MIT", UNIT, "spec", 1,
                 ("Empress State Building",)),
        UnitSpec("SC-CUS", "Custody Command", "SC", CMD, "custody", 2,
                 ("Brixton Police Station", "Croydon Police Station", "Wembley Police Station")),
        UnitSpec("PROF", "Professionalism", "MET", DIR, weight=0.2),
        UnitSpec("PROF-DPS", "Directorate of Professional Standards", "PROF", CMD, weight=0.2,
                 locations=("Empress State Building",)),
        UnitSpec("DPS-INV", "Professional Standards Investigations", "PROF-DPS", UNIT, "staff",
                 1, ("Empress State Building",)),
        UnitSpec("DPS-LRN", "Learning and Development", "PROF-DPS", UNIT, "staff", 1.5,
                 ("Hendon Peel Centre",)),
        UnitSpec("DDAT", "Digital, Data and Technology", "MET", DIR, weight=0.2,
                 locations=("Lambeth Technology Hub",)),
        UnitSpec("DDAT-EUS", "End User Services", "DDAT", CMD, weight=0.2,
                 locations=("Lambeth Technology Hub",)),
        UnitSpec("EUS-DESK", "Service Desk", "DDAT-EUS", UNIT, "tech", 1,
                 ("Lambeth Technology Hub",)),
        UnitSpec(STORES_UNIT, "Device Stores and Logistics", "DDAT-EUS", UNIT, "tech", 0.3,
                 ("DDaT Central Stores, Hendon",)),
        UnitSpec("DDAT-ENG", "Engineering and Platforms", "DDAT", CMD, "tech", 1,
                 ("Empress State Building",)),
    ]  # fmt: skip
    return tuple(units)


UNITS = _units()


@dataclass(frozen=True)
class RoleSpec:
    """A role profile: what a person may hold, and how likely each entitled item is held."""

    code: str
    name: str
    entitlement: dict[str, int]
    holds: dict[str, float]


ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("response", "Response officer", {L: 1, P: 1}, {L: 0.98, P: 0.22}),
    RoleSpec("neighbourhood", "Neighbourhood officer", {L: 1, P: 1}, {L: 0.98, P: 0.32}),
    RoleSpec("detective", "Detective", {L: 1, P: 1, M: 1}, {L: 0.98, P: 0.30, M: 0.30}),
    RoleSpec("hybrid", "Hybrid staff", {L: 1, M: 2}, {L: 0.98, M: 0.22}),
    RoleSpec("senior", "Senior leader (hybrid)", {L: 1, M: 2, P: 1}, {L: 0.99, M: 0.6, P: 0.8}),
    RoleSpec("fixed_desk", "Fixed desk", {D: 1, M: 2}, {D: 0.96, M: 0.8}),
    RoleSpec("contact_centre", "Contact centre operator", {D: 1, M: 1}, {D: 0.96, M: 0.9}),
    RoleSpec("custody", "Custody officer", {D: 1, M: 1, T: 1}, {D: 0.95, M: 0.8, T: 0.15}),
)

ROLE_MIX = {
    "hq": {"senior": 4, "hybrid": 6},
    "resp": {"response": 85, "senior": 3, "hybrid": 7, "custody": 5},
    "nhp": {"neighbourhood": 85, "response": 5, "senior": 3, "hybrid": 7},
    "cid": {"detective": 85, "senior": 5, "hybrid": 10},
    "ops": {"response": 70, "senior": 5, "hybrid": 15, "fixed_desk": 10},
    "spec": {"detective": 70, "senior": 8, "hybrid": 12, "fixed_desk": 10},
    "custody": {"custody": 80, "senior": 5, "hybrid": 15},
    "staff": {"hybrid": 70, "senior": 10, "fixed_desk": 20},
    "contact": {"contact_centre": 75, "fixed_desk": 15, "senior": 3, "hybrid": 7},
    "tech": {"hybrid": 60, "fixed_desk": 30, "senior": 10},
}

AT_NOTES = (
    "Screen reader (JAWS)",
    "Screen reader (NVDA)",
    "Screen magnifier (ZoomText)",
    "Dragon speech recognition",
    "Read&Write literacy support",
    "Ergonomic keyboard and vertical mouse",
    "High-contrast display settings",
    "Large monitor for low vision",
    "Hearing loop and captioning",
)
AT_RATE = 0.008
LEAVER_RATE = 0.013
LEAVER_STILL_HOLDING = 0.5
OVER_ENTITLEMENT_RATE = 0.002
IN_REPAIR_RATE = 0.025
IDLE_RATE = 0.035  # held devices not seen by device management for more than 90 days

# Devices nobody holds: their categories and statuses.
UNASSIGNED_CATEGORY = {L: 80, D: 6, M: 6, P: 7, T: 1}
UNASSIGNED_STATUS = {"in_stock": 30, "returned": 12, "awaiting_sanitisation": 17,
                     "sanitised": 7, "disposed": 28, "lost_stolen": 6}  # fmt: skip
STORES_LOCATION = "DDaT Central Stores, Hendon"
RETURNS_LOCATION = "DDaT Returns Centre, Lambeth"

PERSON_COLUMNS = ("id", "staff_number", "business_unit", "role_profile", "at_needs", "at_note",
                  "start_date", "leaver_date")  # fmt: skip
DEVICE_COLUMNS = ("id", "asset_tag", "serial_number", "manufacturer", "device_model", "status",
                  "business_unit", "assigned_to", "location", "purchase_date", "warranty_expires",
                  "purchase_cost", "last_seen", "os_version", "version", "created_at",
                  "updated_at")  # fmt: skip
EVENT_COLUMNS = ("id", "device", "kind", "occurred_at", "recorded_by", "from_status",
                 "to_status", "source", "details")  # fmt: skip

# Plain strings rather than enum members: they are compared and written millions of times.
K = SimpleNamespace(**{kind.name: kind.value for kind in DeviceEvent.Kind})
S = SimpleNamespace(**{status.name: status.value for status in Device.Status})


# --------------------------------------------------------------------------- reference data


@dataclass
class Reference:
    """Ids of the reference rows the generator points at, and lookup tables."""

    units: dict[str, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    makers: dict[str, int] = field(default_factory=dict)
    models: dict[tuple[str, str], int] = field(default_factory=dict)


def reference_data_ensure() -> Reference:
    """Create (or find) the business units, role profiles with entitlements, makers and
    catalogue. Idempotent: existing rows are matched by code or name and kept."""
    ref = Reference()
    existing = {u.code: u for u in BusinessUnit.objects.all()}
    for n, spec in enumerate(UNITS):
        unit = existing.get(spec.code)
        if unit is None:
            unit = BusinessUnit(
                code=spec.code,
                name=spec.name,
                level=spec.level,
                parent_id=ref.units[spec.parent] if spec.parent else None,
                cost_centre=f"CC{40100 + n * 7:05d}",
                stewardship_email=f"{spec.code.lower()}.devices@met.example.police.uk",
            )
            business_unit_save(unit=unit)
        ref.units[spec.code] = unit.pk
    for spec in ROLES:
        role, _ = RoleProfile.objects.get_or_create(code=spec.code, defaults={"name": spec.name})
        ref.roles[spec.code] = role.pk
        for category, quantity in spec.entitlement.items():
            Entitlement.objects.get_or_create(
                role_profile=role, category=category, defaults={"quantity": quantity}
            )
    for entry in CATALOGUE:
        maker = manufacturer_get_or_create(name=entry.manufacturer)
        ref.makers[entry.manufacturer] = maker.pk
        model = device_model_get_or_create(
            manufacturer=maker, name=entry.name, category=entry.category
        )
        if model.unit_price is None or model.end_of_support is None:
            model.unit_price = model.unit_price or Decimal(entry.unit_price)
            model.end_of_support = model.end_of_support or entry.end_of_support
            model.full_clean()
            model.save()
        ref.models[(entry.manufacturer, entry.name)] = model.pk
    return ref


# --------------------------------------------------------------------------- generation


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
class _Tables:
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


def _tables(ref: Reference, today: dt.date) -> _Tables:
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
    return _Tables(
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
class _Counters:
    person: int = 0  # people generated (index for staff numbers)
    device: int = 0  # devices generated (index for asset tags and serials)
    person_id: int = 1
    device_id: int = 1
    event_id: int = 1


class _Generator:
    """Makes the rows of one block at a time. All randomness comes from one ``rng``."""

    def __init__(self, *, rng: random.Random, tables: _Tables, counters: _Counters):
        self.rnd = rng.random
        self.t = tables
        self.c = counters
        self.people: list[tuple] = []
        self.devices: list[tuple] = []
        self.events: list[tuple] = []

    def take_block(self) -> _Block:
        """Hand over the rows made so far and start afresh (the writer may still be
        reading the old lists on another thread, so they are replaced, not cleared)."""
        block = _Block(self.people, self.devices, self.events)
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
        self.devices.append(
            (device_id, f"MPS{index + 1:07d}", serial_for(entry.manufacturer, index), maker_id,
             model_id, str(status), business_unit, assigned, location, purchased, warranty, cost,
             last_seen, os_version, 1, t.now, t.now)
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


# --------------------------------------------------------------------------- writing


class _Writer:
    """Writes row tuples: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    @staticmethod
    def _columns(model, names: Sequence[str]) -> list[str]:
        return [model._meta.get_field(name).column for name in names]

    def _converters(self, model, names) -> list[Callable | None]:
        ops = connection.ops
        out: list[Callable | None] = []
        for name in names:
            f = model._meta.get_field(name)
            internal = f.get_internal_type()
            if internal == "DateTimeField":
                out.append(ops.adapt_datetimefield_value)
            elif internal == "DateField":
                out.append(ops.adapt_datefield_value)
            elif internal == "DecimalField":
                out.append(str)
            else:
                out.append(None)
        return out

    def write(self, model, names: Sequence[str], rows: Iterable[tuple], raw=None) -> None:
        """``raw``: the psycopg connection, when called from the PostgreSQL writer thread
        (Django's connection handles are per thread; the transaction is the connection's)."""
        table = connection.ops.quote_name(model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in self._columns(model, names))
        with raw.cursor() if raw is not None else connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                converters = [
                    (i, conv) for i, conv in enumerate(self._converters(model, names)) if conv
                ]

                def converted():
                    for row in rows:
                        row = list(row)
                        for i, conv in converters:
                            if row[i] is not None:
                                row[i] = conv(row[i])
                        yield row

                placeholders = ", ".join(["%s"] * len(names))
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                    converted(),
                )

    def reset_sequences(self, models) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    def write_block(self, block: _Block, raw=None) -> None:
        # Parents before children: people, then devices (FK to people), then events.
        self.write(Person, PERSON_COLUMNS, block.people, raw)
        self.write(Device, DEVICE_COLUMNS, block.devices, raw)
        self.write(DeviceEvent, EVENT_COLUMNS, block.events, raw)


@dataclass
class _Block:
    people: list[tuple]
    devices: list[tuple]
    events: list[tuple]


class _DirectSink:
    """Writes each block as it comes (SQLite: one connection, nothing to overlap)."""

    def __init__(self, writer: _Writer):
        self.writer = writer

    def put(self, block: _Block) -> None:
        self.writer.write_block(block)

    def close(self) -> None:
        pass


class _ThreadedSink:
    """Writes blocks on a worker thread while the main thread generates the next one.

    On PostgreSQL the server spends most of a block's time on index and foreign-key
    upkeep; overlapping that with Python generating the next block roughly halves the
    wall time on two cores. The queue holds at most one waiting block, so memory stays
    bounded at about three blocks (generating, waiting, writing). The worker uses the
    same psycopg connection, hence the same transaction; the main thread does not touch
    the database until ``close`` has joined the worker.
    """

    def __init__(self, writer: _Writer):
        self.writer = writer
        connection.ensure_connection()
        self.raw = connection.connection
        self.queue: queue.Queue[_Block | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed-demo-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (block := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write_block(block, self.raw)
                except BaseException as exc:  # handed to the main thread by put/close
                    self.error = exc

    def put(self, block: _Block) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(block)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


# --------------------------------------------------------------------------- entry point


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
    writer = _Writer()
    with transaction.atomic():
        ref = reference_data_ensure()
        tables = _tables(ref, today)
        counters = _Counters(
            person_id=_next_id(Person), device_id=_next_id(Device), event_id=_next_id(DeviceEvent)
        )
        gen = _Generator(rng=rng, tables=tables, counters=counters)
        log = log or (lambda message: None)
        started = time.monotonic()
        estate_models = [Person, Device, DeviceEvent]
        bulk = _postgres_bulk_load(estate_models, log=log) if writer.postgres else nullcontext()
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
    gen: _Generator,
    counters: _Counters,
    writer: _Writer,
    devices: int,
    people_target: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Generate person by person and hand the rows over a block at a time.
    Returns (devices, events) written."""
    written_devices = written_events = 0
    sink = _ThreadedSink(writer) if writer.postgres else _DirectSink(writer)
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


@contextmanager
def _postgres_bulk_load(models, *, log: Callable[[str], None]):
    """Load into empty tables the way PostgreSQL likes: without their foreign keys,
    unique constraints and plain indexes, rebuilt once at the end.

    Row-by-row upkeep of a dozen indexes and (deferred) foreign-key triggers costs
    far more than one index build and one validating join per constraint. It is all
    transactional DDL inside the seed's transaction, so a failure (a duplicate, a
    dangling reference) restores every constraint and index with the rollback.
    Primary keys stay in place throughout. The tables are locked until the commit:
    fine for an initial load.
    """
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY 1, 2",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        # Unique constraints too (serial numbers and staff numbers arrive in random order,
        # so keeping their b-trees up to date row by row thrashes the buffer cache), but
        # not one a foreign key depends on. Re-adding them re-checks uniqueness.
        cursor.execute(
            "SELECT u.conrelid::regclass::text, quote_ident(u.conname), "
            "pg_get_constraintdef(u.oid) FROM pg_constraint u "
            "WHERE u.contype = 'u' AND u.conrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = u.conindid) "
            "ORDER BY 1, 2",
            [tables],
        )
        uniques = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        # Django's foreign keys are deferred; the reference data just written has
        # queued checks, and PostgreSQL refuses ALTER TABLE while checks are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _definition in foreign_keys + uniques:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table, name, definition in uniques:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(definition)
        log(
            f"{len(uniques)} unique constraints and {len(indexes)} indexes rebuilt "
            f"in {time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        log(f"{len(foreign_keys)} foreign keys checked in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        # Back to Django's default (its foreign keys are INITIALLY DEFERRED) for whatever
        # else runs in this transaction, e.g. a test that seeds and then writes.
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in tables:
            # Fresh statistics, so the apps' demo hooks that run next plan sensibly.
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        log(f"analysed in {time.monotonic() - started:.1f}s")


def _truncate(gen: _Generator, counters: _Counters, devices: int) -> None:
    """Drop the last person's surplus devices so the estate has exactly ``devices``."""
    surplus = counters.device - devices
    dropped = {row[0] for row in gen.devices[-surplus:]}
    del gen.devices[-surplus:]
    gen.events = [e for e in gen.events if e[1] not in dropped]
    counters.device = devices


# --------------------------------------------------------------------------- digest


def estate_digest() -> str:
    """A SHA-256 over the estate's content (not its ids or write times), for proving
    that the same seed gives the same estate. Reads in id order, streamed."""
    h = hashlib.sha256()
    for row in (
        Person.objects.order_by("staff_number")
        .values_list(
            "staff_number",
            "business_unit__code",
            "role_profile__code",
            "at_needs",
            "at_note",
            "start_date",
            "leaver_date",
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    for row in (
        Device.objects.order_by("asset_tag")
        .values_list(
            "asset_tag",
            "serial_number",
            "manufacturer__name",
            "device_model__name",
            "status",
            "business_unit__code",
            "assigned_to__staff_number",
            "location",
            "purchase_date",
            "warranty_expires",
            "purchase_cost",
            "last_seen",
            "os_version",
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    for row in (
        DeviceEvent.objects.order_by("device__asset_tag", "occurred_at", "kind")
        .values_list(
            "device__asset_tag", "kind", "occurred_at", "from_status", "to_status", "details"
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    return h.hexdigest()
