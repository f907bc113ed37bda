"""The raw-SQL door to the estate's audit records (PostgreSQL only: the triggers of
``core.db.append_only``, created by devices 0006 and accounts 0006).

For each append-only table: an UPDATE and a DELETE in plain SQL fail with the
trigger's error and leave the row as it was, while an INSERT still works. An import
run may be updated while it is queued or running, and not once it has finished.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts import services as accounts_services
from devices import services as devices_services
from devices.models import Category, Device, DeviceEvent, EntitlementException, ImportRun
from tests.factories import (
    DeviceEventFactory,
    DeviceFactory,
    PersonFactory,
    UserFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

APPEND_ONLY = "these records are append-only"


@pytest.fixture
def estate():
    """One row in every append-only table: a device with an event and field history,
    a person, a model, a role profile with entitlements, an exception, a unit."""
    approver = UserFactory()
    device = DeviceFactory()
    DeviceEventFactory(device=device)
    devices_services.device_update(
        device=device, changes={"location": "Room 2"}, actor=approver, source="test"
    )
    person = PersonFactory(business_unit=device.business_unit)
    EntitlementException.objects.create(
        person=person,
        category=Category.SMARTPHONE,
        reason="Covert and overt handsets",
        approved_by=approver,
        approved_at=timezone.now(),
    )
    unit = device.business_unit
    unit.name = "Renamed unit"
    accounts_services.business_unit_save(unit=unit)
    return device


# (table, a column to set on UPDATE): every table the migrations protect.
TABLES = [
    ("devices_deviceevent", "source"),
    ("devices_historicaldevice", "location"),
    ("devices_historicaldevicemodel", "name"),
    ("devices_historicalentitlement", "quantity"),
    ("devices_historicalentitlementexception", "reason"),
    ("devices_historicalperson", "staff_number"),
    ("devices_historicalroleprofile", "name"),
    ("accounts_historicalbusinessunit", "name"),
]
TABLE_IDS = [table for table, _ in TABLES]


def pk_column(table: str) -> str:
    return "id" if table == "devices_deviceevent" else "history_id"


def row_of(table: str, key):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {pk_column(table)} = %s", [key])  # noqa: S608
        return cursor.fetchone()


def first_key(table: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk_column(table)} FROM {table} ORDER BY 1 LIMIT 1")  # noqa: S608
        found = cursor.fetchone()
    assert found is not None, f"{table}: the fixture made no row"
    return found[0]


def run_sql(sql: str, params=()):
    """Run ``sql`` in a savepoint, so a refusal leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@pytest.mark.parametrize(("table", "column"), TABLES, ids=[f"update-{t}" for t in TABLE_IDS])
def test_a_raw_update_of_an_audit_record_is_refused(estate, table, column):
    # Given a row in an append-only table
    key = first_key(table)
    before = row_of(table, key)
    value = 99 if column == "quantity" else "tampered"
    # When it is updated in plain SQL
    with pytest.raises(DatabaseError, match=f"UPDATE on {table}: {APPEND_ONLY}"):
        run_sql(
            f"UPDATE {table} SET {column} = %s WHERE {pk_column(table)} = %s",  # noqa: S608
            [value, key],
        )
    # Then the row is as it was
    assert row_of(table, key) == before


@pytest.mark.parametrize(("table", "column"), TABLES, ids=[f"delete-{t}" for t in TABLE_IDS])
def test_a_raw_delete_of_an_audit_record_is_refused(estate, table, column):
    key = first_key(table)
    before = row_of(table, key)
    with pytest.raises(DatabaseError, match=f"DELETE on {table}: {APPEND_ONLY}"):
        run_sql(f"DELETE FROM {table} WHERE {pk_column(table)} = %s", [key])  # noqa: S608
    assert row_of(table, key) == before


def test_new_audit_records_are_still_written(estate):
    # Given the protected tables' row counts
    device = Device.objects.get(pk=estate.pk)
    events = DeviceEvent.objects.filter(device=device).count()
    history = device.history.count()
    unit_history = device.business_unit.history.count()
    # When the services record an event, a field change and a unit change
    devices_services.device_event_record(device=device, kind=DeviceEvent.Kind.NOTE, source="t")
    devices_services.device_update(device=device, changes={"location": "Room 3"}, source="t")
    unit = device.business_unit
    unit.name = "Renamed again"
    accounts_services.business_unit_save(unit=unit)
    # Then each is a new row (the INSERTs pass the triggers)
    assert DeviceEvent.objects.filter(device=device).count() == events + 2  # note + 'updated'
    assert device.history.count() == history + 1
    assert unit.history.count() == unit_history + 1


def test_a_device_event_cannot_be_edited_through_the_orm_either(estate):
    event = DeviceEvent.objects.filter(device=estate).order_by("pk").first()
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        DeviceEvent.objects.filter(pk=event.pk).update(source="rewritten")
    event.refresh_from_db()
    assert event.source != "rewritten"


def _import_run(status: str) -> ImportRun:
    now = timezone.now()
    finished = status in (ImportRun.Status.SUCCEEDED, ImportRun.Status.FAILED)
    return ImportRun.objects.create(
        created_by=UserFactory(),
        file_name="estate.csv",
        sha256="0" * 64,
        status=status,
        rows_total=10,
        rows_processed=10 if finished else 3,
        started_at=None if status == ImportRun.Status.QUEUED else now - dt.timedelta(minutes=1),
        finished_at=now if finished else None,
    )


@pytest.mark.parametrize("status", ["queued", "running"])
def test_an_import_run_may_be_updated_while_it_is_queued_or_running(status):
    # Given a run the worker has not finished
    run = _import_run(status)
    # When its progress and then its outcome are written in plain SQL
    run_sql("UPDATE devices_importrun SET rows_processed = 5 WHERE id = %s", [run.pk])
    run_sql(
        "UPDATE devices_importrun SET status = 'succeeded', rows_processed = 10, "
        "started_at = COALESCE(started_at, now()), finished_at = now() WHERE id = %s",
        [run.pk],
    )
    # Then both went through
    run.refresh_from_db()
    assert (run.status, run.rows_processed) == ("succeeded", 10)


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_finished_import_run_cannot_be_updated_or_deleted(status):
    # Given a finished run
    run = _import_run(status)
    before = row_of_run(run.pk)
    # When it is updated, or deleted, in plain SQL
    with pytest.raises(DatabaseError, match=f"UPDATE on devices_importrun: {APPEND_ONLY}"):
        run_sql("UPDATE devices_importrun SET created_count = 999 WHERE id = %s", [run.pk])
    with pytest.raises(DatabaseError, match=f"DELETE on devices_importrun: {APPEND_ONLY}"):
        run_sql("DELETE FROM devices_importrun WHERE id = %s", [run.pk])
    # Then it is as it was
    assert row_of_run(run.pk) == before


def test_a_finished_import_run_cannot_be_reopened():
    run = _import_run(ImportRun.Status.SUCCEEDED)
    with pytest.raises(DatabaseError, match=APPEND_ONLY):
        run_sql("UPDATE devices_importrun SET status = 'running' WHERE id = %s", [run.pk])
    run.refresh_from_db()
    assert run.status == ImportRun.Status.SUCCEEDED


def row_of_run(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM devices_importrun WHERE id = %s", [pk])
        return cursor.fetchone()
