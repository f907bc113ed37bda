"""The shape of the demo estate: the catalogue, the organisation, role profiles with
their entitlements, and the rates and weights the generator draws from; and the
column order of the rows it makes (people, devices, events)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace

from accounts.models import BusinessUnit
from devices.models import Category, Device, DeviceEvent

DEFAULT_DEVICES = 80_000
DEFAULT_SEED = "2025"
# People scale with devices: about 45,000 people for 80,000 devices.
PEOPLE_PER_DEVICE = 0.5625
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
# The statuses devices nobody holds were drawn in (the random stream, hence every
# figure of the demo, depends on them). No live device is left in a disposal status
# though: one drawn "awaiting sanitisation" or "sanitised" is written as returned
# (the disposals demo opens cases for those it takes on) and one drawn "disposed" as
# disposed before records began (historical, no custody record), see
# ``generator.Generator.device``.
UNASSIGNED_STATUS = {"in_stock": 30, "returned": 12, "awaiting_sanitisation": 17,
                     "sanitised": 7, "disposed": 28, "lost_stolen": 6}  # fmt: skip
STORES_LOCATION = "DDaT Central Stores, Hendon"
RETURNS_LOCATION = "DDaT Returns Centre, Lambeth"

PERSON_COLUMNS = ("id", "staff_number", "business_unit", "role_profile", "at_needs", "at_note",
                  "start_date", "leaver_date")  # fmt: skip
DEVICE_COLUMNS = ("id", "asset_tag", "serial_number", "manufacturer", "device_model", "status",
                  "business_unit", "assigned_to", "location", "purchase_date", "warranty_expires",
                  "purchase_cost", "last_seen", "os_version", "version", "created_at",
                  "updated_at", "historical")  # fmt: skip
EVENT_COLUMNS = ("id", "device", "kind", "occurred_at", "recorded_by", "from_status",
                 "to_status", "source", "details")  # fmt: skip

# Plain strings rather than enum members: they are compared and written millions of times.
K = SimpleNamespace(**{kind.name: kind.value for kind in DeviceEvent.Kind})
S = SimpleNamespace(**{status.name: status.value for status in Device.Status})
