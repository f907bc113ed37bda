"""The estate counts (``EstateCount``) equal a GROUP BY over the devices after every kind
of write, from every door: the ORM, set-based updates, raw SQL, COPY and TRUNCATE.

The triggers are SQL per vendor (migration devices.0007); these tests run on SQLite
and, with DATABASE_URL, on PostgreSQL, where the statement triggers and COPY are
exercised by the ``postgres``-marked ones.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.db.models import Count

from devices.models import Device, EstateCount
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

# The migration's module name starts with a digit: imported by name, in a test only.
migration_0007 = importlib.import_module("devices.migrations.0007_estate_counts_and_list_indexes")


def grouped() -> dict[tuple[int, int, str], int]:
    """What the counts must say: one GROUP BY over every device."""
    return {
        (row["business_unit_id"], row["device_model_id"], row["status"]): row["n"]
        for row in Device.objects.values("business_unit_id", "device_model_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    }


def counted() -> dict[tuple[int, int, str], int]:
    """What the counts say, zero rows left out."""
    return {
        (c.business_unit_id, c.device_model_id, c.status): c.devices
        for c in EstateCount.objects.exclude(devices=0)
    }


@pytest.fixture
def estate():
    north = BusinessUnitFactory(code="N", name="North")
    south = BusinessUnitFactory(code="S", name="South")
    laptop = DeviceModelFactory(name="Latitude 5440")
    phone = DeviceModelFactory(name="Galaxy A54", category="smartphone")
    devices = [
        DeviceFactory(business_unit=north, device_model=laptop),
        DeviceFactory(business_unit=north, device_model=laptop, status=Device.Status.IN_REPAIR),
        DeviceFactory(business_unit=north, device_model=phone),
        DeviceFactory(business_unit=south, device_model=phone, status=Device.Status.RETURNED),
        DeviceFactory(business_unit=south, device_model=laptop),
    ]
    return {"north": north, "south": south, "laptop": laptop, "phone": phone, "devices": devices}


class StatementRunner:
    """What the migration's function uses of a schema editor (SQLite's cannot open
    inside a test's transaction)."""

    connection = connection

    def execute(self, sql: str) -> None:
        raw(sql)


def raw(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_orm_creates_are_counted(estate):
    assert counted() == grouped()
    assert sum(counted().values()) == 5


def test_orm_save_and_set_based_update_move_the_counts(estate):
    device = estate["devices"][0]
    device.status = Device.Status.LOST_STOLEN
    device.save()
    Device.objects.filter(business_unit=estate["south"]).update(
        status=Device.Status.IN_STOCK, business_unit=estate["north"]
    )
    assert counted() == grouped()
    assert counted()[(estate["north"].id, estate["phone"].id, Device.Status.IN_STOCK)] == 2


def test_raw_sql_insert_update_and_delete_keep_the_counts(estate):
    north, south = estate["north"], estate["south"]
    laptop, phone = estate["laptop"], estate["phone"]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # Several rows in one statement (one statement trigger on PostgreSQL).
    raw(
        "INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id,"
        " status, business_unit_id, location, historical, version, created_at, updated_at,"
        " os_version) VALUES"
        " ('RAW1', 'RAWSN1', %s, %s, 'in_stock', %s, '', false, 1, %s, %s, ''),"
        " ('RAW2', 'RAWSN2', %s, %s, 'in_stock', %s, '', false, 1, %s, %s, ''),"
        " ('RAW3', 'RAWSN3', %s, %s, 'returned', %s, '', false, 1, %s, %s, '')",
        [laptop.manufacturer_id, laptop.id, south.id, now, now] * 2
        + [phone.manufacturer_id, phone.id, north.id, now, now],
    )
    assert counted() == grouped()

    raw("UPDATE devices_device SET status = 'in_repair' WHERE asset_tag IN ('RAW1', 'RAW2')")
    assert counted() == grouped()
    raw("UPDATE devices_device SET business_unit_id = %s WHERE asset_tag = 'RAW3'", [south.id])
    assert counted() == grouped()
    raw("UPDATE devices_device SET device_model_id = %s WHERE asset_tag = 'RAW1'", [phone.id])
    assert counted() == grouped()
    # Two rows swapping statuses in one statement: the counts do not move.
    raw(
        "UPDATE devices_device SET status = CASE status WHEN 'in_repair' THEN 'returned'"
        " ELSE 'in_repair' END WHERE asset_tag IN ('RAW2', 'RAW3')"
    )
    assert counted() == grouped()

    raw("DELETE FROM devices_device WHERE asset_tag LIKE %s", ["RAW%"])
    assert counted() == grouped()
    assert sum(counted().values()) == 5


def test_an_update_that_moves_no_count_writes_no_count_row(estate):
    before = {c.pk: c.devices for c in EstateCount.objects.all()}
    raw("UPDATE devices_device SET last_seen = %s, location = 'Desk 4'", [dt.datetime.now(dt.UTC)])
    assert {c.pk: c.devices for c in EstateCount.objects.all()} == before


def test_the_migration_backfill_rebuilds_the_counts_from_the_devices(estate):
    raw("DELETE FROM devices_estatecount")
    assert counted() == {}
    migration_0007.create_counts(None, StatementRunner())
    assert counted() == grouped()
    # And the triggers it re-created are in place (exactly once: no double counting).
    DeviceFactory(business_unit=estate["north"], device_model=estate["laptop"])
    assert counted() == grouped()


@pytest.mark.postgres
def test_copy_into_the_devices_table_is_counted(estate):
    laptop, north = estate["laptop"], estate["north"]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat()
    with connection.cursor() as cursor:
        columns = (
            "asset_tag, serial_number, manufacturer_id, device_model_id, status,"
            " business_unit_id, location, historical, version, created_at, updated_at, os_version"
        )
        with cursor.copy(f"COPY devices_device ({columns}) FROM STDIN") as copy:
            for n in range(50):
                status = "in_stock" if n % 2 else "returned"
                copy.write_row(
                    (
                        f"CP{n}",
                        f"CPSN{n}",
                        laptop.manufacturer_id,
                        laptop.id,
                        status,
                        north.id,
                        "",
                        False,
                        1,
                        now,
                        now,
                        "",
                    )
                )
    assert counted() == grouped()
    assert counted()[(north.id, laptop.id, "returned")] == 25


@pytest.mark.postgres
def test_an_upsert_counts_its_inserts_and_its_updates(estate):
    laptop, north, south = estate["laptop"], estate["north"], estate["south"]
    existing = estate["devices"][0]
    raw(
        "INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id,"
        " status, business_unit_id, location, historical, version, created_at, updated_at,"
        " os_version) VALUES"
        " (%s, %s, %s, %s, 'in_stock', %s, '', false, 1, now(), now(), ''),"
        " ('UP2', 'UPSN2', %s, %s, 'in_stock', %s, '', false, 1, now(), now(), '')"
        " ON CONFLICT (manufacturer_id, serial_number) DO UPDATE"
        " SET business_unit_id = EXCLUDED.business_unit_id",
        [
            existing.asset_tag,
            existing.serial_number,
            laptop.manufacturer_id,
            laptop.id,
            south.id,
            laptop.manufacturer_id,
            laptop.id,
            north.id,
        ],
    )
    assert counted() == grouped()


@pytest.mark.postgres
def test_truncate_of_the_devices_empties_the_counts(estate):
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
    raw("TRUNCATE devices_device CASCADE")
    assert EstateCount.objects.count() == 0
