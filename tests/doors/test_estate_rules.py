"""The estate's rules at every door (open issue "Every rule of the business case
holds at every door"): the one status mover and its disposal-case rule, historical
devices, the status machine's database constraints, entitlement, blank-means-
unchanged, scope in conflict messages, AT checks, and a device known by its serial
number or its asset tag (a serial may be not recorded).

Each table tries one rule through the doors that reach it (service, REST API
single and bulk, CLI import, browser import page, Celery import task, raw SQL)
and asserts the refusal AND that nothing was written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from accounts.roles import Role
from core.errors import DomainError
from devices import services
from devices.importing.services import devices_upsert_rows, import_run_create, import_run_execute
from devices.models import ATCheck, Device, DeviceEvent, EntitlementException, ImportRun
from devices.tasks import import_estate_task
from tests.devices.import_files import HEADER, device_row, text_file
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
    RoleProfileFactory,
)

pytestmark = pytest.mark.django_db

BULK = "/api/v1/devices/bulk/"


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


@pytest.fixture
def dell_laptop():
    maker = ManufacturerFactory(name="Dell")
    return DeviceModelFactory(manufacturer=maker, name="Latitude 5440", category="laptop")


@pytest.fixture
def deployed(unit, dell_laptop):
    """A live deployed device, serial SN-0001, in unit CE."""
    return DeviceFactory(
        serial_number="SN-0001",
        manufacturer=dell_laptop.manufacturer,
        device_model=dell_laptop,
        business_unit=unit,
        status=Device.Status.DEPLOYED,
        assigned_to=PersonFactory(business_unit=unit),
        location="Lambeth HQ",
        purchase_cost="500.00",
    )


def snapshot():
    """What a refused attempt must leave as it was."""
    return (
        list(Device.objects.order_by("pk").values_list("pk", "status", "version", "historical")),
        DeviceEvent.objects.count(),
        ATCheck.objects.count(),
        EntitlementException.objects.count(),
    )


# --- how each door is driven -------------------------------------------------------


def via_service(rows, actor, **options):
    outcome = devices_upsert_rows(rows=rows, actor=actor, source="api", **options)
    return [dict(r.codes) for r in outcome.results if r.errors]


def via_bulk_api(rows, actor, **options):
    client = APIClient()
    client.force_authenticate(actor)
    response = client.post(BULK, rows, format="json")
    assert response.status_code == 200, response.content
    return [r["codes"] for r in response.json()["results"] if r["outcome"] == "error"]


def _file(tmp_path, rows) -> Path:
    full = [{**dict.fromkeys(HEADER, ""), **row} for row in rows]
    return text_file(tmp_path / "estate.csv", full, header=HEADER)


def _codes_of(run: ImportRun):
    return [{e["column"]: e.get("code", "")} for e in run.error_sample]


def via_cli_import(rows, actor, tmp_path, *args):
    path = _file(tmp_path, rows)
    with pytest.raises(SystemExit):
        call_command("import_estate", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())
    return _codes_of(ImportRun.objects.latest("pk"))


def via_task(rows, actor, tmp_path):
    path = _file(tmp_path, rows)
    run = import_run_create(file_name="estate.csv", path=path, actor=actor)
    import_run_execute(run=run, path=path)
    return _codes_of(ImportRun.objects.get(pk=run.pk))


def via_celery_task(rows, actor, tmp_path, settings):
    path = _file(tmp_path, rows)
    settings.MEDIA_ROOT = str(tmp_path)
    with path.open("rb") as handle:
        from django.core.files import File

        run = import_run_create(
            file_name="estate.csv", upload=File(handle, "estate.csv"), actor=actor
        )
    import_estate_task.apply(args=[run.pk])
    return _codes_of(ImportRun.objects.get(pk=run.pk))


def via_browser_import(rows, actor, tmp_path, client, on_commit):
    path = _file(tmp_path, rows)
    client.force_login(actor)
    # The page queues the Celery task on commit (eager in tests): run it.
    with on_commit(execute=True), path.open("rb") as handle:
        response = client.post(
            "/devices/import/",
            {"file": handle, "mode": ImportRun.Mode.VALID_ROWS, "mapping": "default"},
        )
    assert response.status_code == 302, response.content[:500]
    return _codes_of(ImportRun.objects.latest("pk"))


DOORS = ["service", "bulk-api", "cli-import", "import-run", "celery-task", "browser-import"]


@pytest.fixture
def door(request, asset_manager, tmp_path, client, settings, django_capture_on_commit_callbacks):
    """``door(rows)`` -> the error codes of the rejected rows, through the named door."""
    name = request.param

    def attempt(rows):
        if name == "service":
            return via_service(rows, asset_manager)
        if name == "bulk-api":
            return via_bulk_api(rows, asset_manager)
        if name == "cli-import":
            return via_cli_import(rows, asset_manager, tmp_path)
        if name == "import-run":
            return via_task(rows, asset_manager, tmp_path)
        if name == "celery-task":
            return via_celery_task(rows, asset_manager, tmp_path, settings)
        return via_browser_import(
            rows, asset_manager, tmp_path, client, django_capture_on_commit_callbacks
        )

    return attempt


# --- rules 1 and 2: no live device into a disposal status without a case ---------


@pytest.mark.parametrize(
    "to_status",
    ["awaiting_sanitisation", "sanitised", "disposed"],
    ids=["awaiting", "sanitised", "disposed"],
)
@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule1-{d}" for d in DOORS])
def test_an_existing_device_is_never_moved_into_a_disposal_status_by_a_row(
    door, unit, deployed, to_status
):
    # in_stock -> awaiting_sanitisation is an allowed transition: only the case rule refuses it
    Device.objects.filter(pk=deployed.pk).update(status="in_stock", assigned_to=None)
    allowed = to_status == "awaiting_sanitisation"
    before = snapshot()

    codes = door([device_row(status=to_status, location="", purchase_cost="")])

    expected = "disposal_needs_case" if allowed else "transition_not_allowed"
    assert codes == [{"status": expected}]
    assert snapshot() == before


@pytest.mark.parametrize(
    "move",
    [
        lambda device: services.device_transition(
            device=device, to_status=Device.Status.AWAITING_SANITISATION
        ),
        lambda device: services.devices_status_move(
            moves=[(device.pk, device.status)],
            to_status=Device.Status.AWAITING_SANITISATION,
            kind=DeviceEvent.Kind.RETURNED,
            actor=None,
            source="test",
        ),
        lambda device: services.device_create(
            manufacturer=device.manufacturer,
            device_model=device.device_model,
            business_unit=device.business_unit,
            serial_number="NEW-1",
            status=Device.Status.AWAITING_SANITISATION,
        ),
    ],
    ids=["rule1-service-transition", "rule1-service-mover", "rule1-service-create"],
)
def test_the_services_refuse_a_disposal_status_without_a_case(unit, dell_laptop, move):
    device = DeviceFactory(
        business_unit=unit, device_model=dell_laptop, manufacturer=dell_laptop.manufacturer,
        status=Device.Status.RETURNED,
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        move(device)
    assert refused.value.code == "disposal_needs_case"
    assert "open a disposal case in Disposals" in refused.value.message
    assert snapshot() == before


def test_the_mover_with_disposal_moves_and_writes_one_event_and_history_each(unit, dell_laptop):
    # The moved devices have no disposal case, which PostgreSQL refuses at commit (the
    # disposals trigger): check the mover inside a savepoint, then roll it back.
    with transaction.atomic():
        devices = [
            DeviceFactory(
                business_unit=unit, device_model=dell_laptop, manufacturer=dell_laptop.manufacturer,
                status=Device.Status.RETURNED,
            )
            for _ in range(3)
        ]  # fmt: skip
        moved = services.devices_status_move(
            moves=[(d.pk, d.status) for d in devices],
            to_status=Device.Status.AWAITING_SANITISATION,
            kind=DeviceEvent.Kind.RETURNED,
            actor=None,
            source="disposals",
            disposal=True,
            fields={"location": "Returns"},
        )
        assert moved == 3
        assert set(Device.objects.values_list("status", "location", "version")) == {
            ("awaiting_sanitisation", "Returns", 2)
        }
        assert DeviceEvent.objects.filter(source="disposals").count() == 3
        assert Device.history.filter(history_change_reason="disposals").count() == 3
        transaction.set_rollback(True)


def test_the_mover_refuses_a_stale_from_status_as_a_conflict_and_writes_nothing(unit, dell_laptop):
    device = DeviceFactory(business_unit=unit, device_model=dell_laptop, status="in_stock")
    before = snapshot()
    with pytest.raises(DomainError) as refused, transaction.atomic():
        services.devices_status_move(
            moves=[(device.pk, "returned")],
            to_status="in_stock",
            kind=DeviceEvent.Kind.RECLAIMED,
            actor=None,
            source="test",
        )
    assert refused.value.code == "conflict"
    assert snapshot() == before


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule2-{d}" for d in DOORS])
def test_a_device_disposed_before_records_began_is_a_new_historical_row(door, unit):
    codes = door([device_row(serial_number="OLD-1", status="disposed")])
    assert codes == []
    device = Device.objects.get(serial_number="OLD-1")
    assert (device.status, device.historical) == ("disposed", True)


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule2-{d}" for d in DOORS])
def test_a_new_row_awaiting_sanitisation_needs_a_case(door, unit):
    before = snapshot()
    codes = door([device_row(serial_number="NEW-1", status="awaiting_sanitisation")])
    assert codes == [{"status": "disposal_needs_case"}]
    assert snapshot() == before


def test_the_device_page_and_list_say_a_device_is_historical(client, asset_manager, unit):
    devices_upsert_rows(
        rows=[device_row(serial_number="OLD-1", status="disposed")], actor=asset_manager, source="t"
    )
    device = Device.objects.get(serial_number="OLD-1")
    client.force_login(asset_manager)
    page = client.get(f"/devices/{device.pk}/").content.decode()
    assert "Historical (disposed before records began)" in page
    listing = client.get("/devices/?q=OLD-1").content.decode()
    assert "Historical (disposed before records began)" in listing


# --- rule 3: the status machine's database constraints ---------------------------


SQL_BREAKS = [
    ("UPDATE devices_device SET assigned_to_id = NULL WHERE id = %s", "deployed_has_holder"),
    ("UPDATE devices_device SET historical = TRUE WHERE id = %s", "historical_only_disposed"),
    ("UPDATE devices_device SET status = 'returned' WHERE id = %s", "assigned_only_when_in_use"),
]


@pytest.mark.parametrize(
    ("sql", "constraint"), SQL_BREAKS, ids=[f"rule3-sql-{c}" for _, c in SQL_BREAKS]
)
def test_raw_sql_cannot_break_the_status_machine(deployed, sql, constraint):
    before = snapshot()
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [deployed.pk])
    if connection.vendor == "postgresql":
        assert f"devices_device_{constraint}" in str(refused.value)
    assert snapshot() == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "constraint"), SQL_BREAKS, ids=[f"rule3-pg-{c}" for _, c in SQL_BREAKS]
)
def test_raw_sql_on_postgresql_names_the_constraint(deployed, sql, constraint):
    with (
        pytest.raises(IntegrityError, match=f"devices_device_{constraint}"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [deployed.pk])


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule3-{d}" for d in DOORS])
def test_a_row_cannot_leave_a_deployed_device_without_a_holder(door, deployed):
    before = snapshot()
    codes = door([device_row(assigned_to="[clear]", status="", location="", purchase_cost="")])
    assert codes == [{"assigned_to": "required"}]
    assert snapshot() == before


# --- rule 4: entitlement at every door --------------------------------------------


@pytest.fixture
def desk_officer(unit):
    role = RoleProfileFactory(code="desk", name="Fixed desk", entitlements={"laptop": 1})
    return PersonFactory(staff_number="D0001", business_unit=unit, role_profile=role)


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule4-{d}" for d in DOORS])
def test_a_row_past_the_entitlement_is_refused_naming_the_person(door, unit, desk_officer):
    rows = [
        device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001") for n in (1, 2)
    ]
    before_devices = Device.objects.count()

    codes = door(rows)

    # The first laptop fits the role's one; the second does not.
    assert codes == [{"assigned_to": "entitlement_exceeded"}]
    assert Device.objects.count() == before_devices + 1
    assert not Device.objects.filter(serial_number="SN-2").exists()


def test_the_refusal_names_staff_number_category_held_and_allowed(asset_manager, desk_officer):
    outcome = devices_upsert_rows(
        rows=[
            device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001")
            for n in (1, 2)
        ],
        actor=asset_manager,
        source="t",
    )
    message = outcome.results[1].errors["assigned_to"][0]
    assert "D0001" in message and "laptop" in message and "2" in message and "1" in message


def test_a_swap_in_one_batch_stays_within_the_entitlement(asset_manager, unit, desk_officer):
    old = DeviceFactory(
        business_unit=unit, serial_number="OLD", status="deployed", assigned_to=desk_officer,
        device_model=DeviceModelFactory(
            manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5440", category="laptop"
        ),
    )  # fmt: skip
    outcome = devices_upsert_rows(
        rows=[
            device_row(serial_number="NEW", status="deployed", assigned_to="D0001"),
            device_row(serial_number=old.serial_number, status="returned"),
        ],
        actor=asset_manager,
        source="t",
    )
    assert outcome.rejected == 0


def test_only_an_approved_exception_lets_a_row_past_the_entitlement(
    asset_manager, make_user, desk_officer
):
    requester = make_user(Role.ASSET_MANAGER)
    exception = services.entitlement_exception_request(
        person=desk_officer, category="laptop", reason="Covert role", requested_by=requester
    )
    rows = [
        device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001") for n in (1, 2)
    ]
    assert via_service(rows, asset_manager, dry_run=True) == [
        {"assigned_to": "entitlement_exceeded"}
    ]
    with pytest.raises(DomainError) as refused:
        services.entitlement_exception_approve(exception=exception, approver=requester)
    assert refused.value.code == "same_person"
    services.entitlement_exception_approve(exception=exception, approver=asset_manager)
    assert via_service(rows, asset_manager) == []


def test_record_exceptions_keeps_the_row_and_opens_an_exception_awaiting_review(
    asset_manager, tmp_path, desk_officer
):
    rows = [
        device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001")
        for n in (1, 2, 3)
    ]
    assert via_cli_import(rows, asset_manager, tmp_path, "--record-exceptions") == []
    exception = EntitlementException.objects.get()
    assert (exception.status, exception.extra_quantity, exception.category) == (
        "requested",
        2,
        "laptop",
    )
    assert services.entitlement_allowance(person=desk_officer, category="laptop") == 1
    from devices.selectors import entitlement_exceptions_open_by_unit

    assert entitlement_exceptions_open_by_unit() == {desk_officer.business_unit_id: 1}


RECORDING_DOORS = ["service", "bulk-api", "cli-import", "import-run", "browser-import"]


def _recording(door, rows, actor, tmp_path, client, on_commit):
    """``rows`` through ``door`` with the option that records exceedances."""
    if door == "service":
        return via_service(rows, actor, record_exceptions=True)
    if door == "bulk-api":
        api = APIClient()
        api.force_authenticate(actor)
        response = api.post(BULK, {"devices": rows, "record_exceptions": True}, format="json")
        assert response.status_code == 200, response.content
        return [r["codes"] for r in response.json()["results"] if r["outcome"] == "error"]
    if door == "cli-import":
        return via_cli_import(
            rows, actor, tmp_path, "--record-exceptions", "--user", actor.username
        )
    path = _file(tmp_path, rows)
    if door == "import-run":
        run = import_run_create(
            file_name="estate.csv", path=path, actor=actor, record_exceptions=True
        )
        import_run_execute(run=run, path=path)
        return _codes_of(ImportRun.objects.get(pk=run.pk))
    client.force_login(actor)
    with on_commit(execute=True), path.open("rb") as handle:
        response = client.post(
            "/devices/import/",
            {"file": handle, "mode": "valid-rows", "mapping": "default", "record_exceptions": "on"},
        )
    assert response.status_code == 302, response.content[:500]
    return _codes_of(ImportRun.objects.latest("pk"))


@pytest.mark.parametrize(
    "door", RECORDING_DOORS, ids=[f"rule4-record-{d}" for d in RECORDING_DOORS]
)
def test_record_exceptions_at_every_door_keeps_the_rows_and_opens_one_exception(
    door, asset_manager, desk_officer, tmp_path, client, django_capture_on_commit_callbacks
):
    rows = [
        device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001")
        for n in (1, 2, 3)
    ]

    codes = _recording(
        door, rows, asset_manager, tmp_path, client, django_capture_on_commit_callbacks
    )

    assert codes == []
    assert Device.objects.filter(assigned_to=desk_officer).count() == 3
    exception = EntitlementException.objects.get()
    assert (exception.status, exception.extra_quantity, exception.person) == (
        "requested",
        2,
        desk_officer,
    )
    assert exception.requested_by == asset_manager


@pytest.mark.parametrize(
    "scoped", [False, True], ids=["rule4-record-integration", "rule4-record-integration-scoped"]
)
def test_an_integration_may_not_record_exceptions_through_the_bulk_api(
    make_user, unit, desk_officer, scoped
):
    integration = make_user(Role.INTEGRATION, units=[unit] if scoped else [])
    rows = [
        device_row(serial_number=f"SN-{n}", status="deployed", assigned_to="D0001") for n in (1, 2)
    ]
    api = APIClient()
    api.force_authenticate(integration)
    before = snapshot()

    response = api.post(BULK, {"devices": rows, "record_exceptions": True}, format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied" and "asset manager" in error["message"]
    assert snapshot() == before
    # Without the option the same items are refused past the entitlement, as always.
    response = api.post(BULK, {"devices": rows}, format="json")
    codes = [r["codes"] for r in response.json()["results"] if r["outcome"] == "error"]
    assert codes == [{"assigned_to": "entitlement_exceeded"}]


def test_record_exceptions_must_be_a_boolean(asset_manager, unit):
    api = APIClient()
    api.force_authenticate(asset_manager)
    before = snapshot()
    response = api.post(
        BULK, {"devices": [device_row()], "record_exceptions": "yes"}, format="json"
    )
    assert response.status_code == 400
    assert "record_exceptions" in response.json()["error"]["fields"]
    assert snapshot() == before


def test_the_service_door_refuses_a_deployment_past_the_entitlement(
    unit, desk_officer, dell_laptop
):
    DeviceFactory(
        business_unit=unit, device_model=dell_laptop, status="deployed", assigned_to=desk_officer
    )
    second = DeviceFactory(business_unit=unit, device_model=dell_laptop)
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        services.device_deploy(device=second, person=desk_officer)
    assert refused.value.code == "entitlement_exceeded"
    assert snapshot() == before


# --- rule 5: blank means unchanged -------------------------------------------------


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule5-{d}" for d in DOORS])
def test_a_blank_cell_never_erases_a_stored_value(door, deployed):
    before = snapshot()
    codes = door(
        [
            device_row(
                status="",
                assigned_to="",
                purchase_cost="",
                location="",
                purchase_date="",
                warranty_expires="",
                os_version="",
            )
        ]
    )
    assert codes == []
    deployed.refresh_from_db()
    assert str(deployed.purchase_cost) == "500.00" and deployed.location == "Lambeth HQ"
    assert deployed.assigned_to_id is not None
    # Only the os_version/purchase/warranty the file sets differ from the factory's?
    # No: every cell above is blank, so the device is unchanged and nothing is written.
    assert snapshot() == before


def test_json_null_clears_and_an_empty_string_does_not(asset_manager, deployed):
    client = APIClient()
    client.force_authenticate(asset_manager)
    base = {
        k: v
        for k, v in device_row().items()
        if k in ("serial_number", "manufacturer", "model", "category", "business_unit")
    }
    response = client.post(BULK, [{**base, "location": "", "purchase_cost": None}], format="json")
    assert response.json()["results"][0]["outcome"] == "updated"
    deployed.refresh_from_db()
    assert deployed.location == "Lambeth HQ" and deployed.purchase_cost is None


def test_the_summary_counts_changes_per_field(asset_manager, tmp_path, deployed):
    path = _file(tmp_path, [device_row(status="", location="Hendon", purchase_cost="[clear]")])
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("import_estate", str(path), "--dry-run", stdout=out, stderr=io.StringIO())
    run = ImportRun.objects.latest("pk")
    assert run.field_changes["location"] == 1 and run.field_changes["purchase_cost"] == 1
    assert "location 1" in out.getvalue() and "would change" in out.getvalue()


# --- rule 6: conflict messages name only what the caller may see -------------------


def test_an_asset_tag_outside_the_scope_is_already_in_use_without_its_serial(make_user, unit):
    other = BusinessUnitFactory(code="SOUTH")
    DeviceFactory(business_unit=other, asset_tag="MPS1", serial_number="HIDDEN-SERIAL")
    scoped = make_user(Role.ASSET_MANAGER, units=[unit])
    outcome = devices_upsert_rows(
        rows=[device_row(serial_number="NEW-1", asset_tag="MPS1")], actor=scoped, source="t"
    )
    message = outcome.results[0].errors["asset_tag"][0]
    assert message == "MPS1 is already in use"
    assert "HIDDEN" not in message and "SOUTH" not in message


def test_a_serial_outside_the_scope_reads_as_any_clash(make_user, unit, dell_laptop):
    other = BusinessUnitFactory(code="SOUTH")
    DeviceFactory(
        business_unit=other, serial_number="SN-0001", manufacturer=dell_laptop.manufacturer,
        device_model=dell_laptop,
    )  # fmt: skip
    scoped = make_user(Role.ASSET_MANAGER, units=[unit])
    outcome = devices_upsert_rows(rows=[device_row()], actor=scoped, source="t")
    assert outcome.results[0].errors == {"serial_number": ["is already in use"]}
    outcome = devices_upsert_rows(
        rows=[device_row(serial_number="X", business_unit="SOUTH")], actor=scoped, source="t"
    )
    assert outcome.results[0].errors == {"business_unit": ["no business unit has the code 'SOUTH'"]}


# --- rule 7: an AT check at every deployment ---------------------------------------


@pytest.fixture
def at_person(unit):
    return PersonFactory(staff_number="AT001", business_unit=unit, at_needs=True)


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule7-{d}" for d in DOORS])
def test_a_row_deploying_to_someone_with_at_needs_opens_an_at_check(door, at_person):
    assert door([device_row(status="deployed", assigned_to="AT001")]) == []
    check = ATCheck.objects.get()
    assert check.person == at_person and check.pending
    assert check.device.serial_number == "SN-0001"


def test_the_services_open_an_at_check_and_the_deployer_cannot_confirm_it(
    asset_manager, make_user, unit, at_person, dell_laptop
):
    device = DeviceFactory(business_unit=unit, device_model=dell_laptop)
    services.device_deploy(device=device, person=at_person, actor=asset_manager)
    check = ATCheck.objects.get()
    from devices.selectors import at_checks_pending

    assert list(at_checks_pending(asset_manager)) == [check]
    with pytest.raises(DomainError) as refused:
        services.at_check_confirm(check=check, actor=asset_manager, note="Works")
    assert refused.value.code == "same_person"
    colleague = make_user(Role.ASSET_MANAGER)
    with pytest.raises(DomainError) as refused:
        services.at_check_confirm(check=check, actor=colleague, note="  ")
    assert refused.value.field == "note"
    check.refresh_from_db()
    assert check.pending
    services.at_check_confirm(check=check, actor=colleague, note="Screen reader works")
    assert not at_checks_pending(asset_manager).exists()


def test_the_api_deploy_event_opens_an_at_check(asset_manager, unit, at_person, dell_laptop):
    device = DeviceFactory(business_unit=unit, device_model=dell_laptop)
    client = APIClient()
    client.force_authenticate(asset_manager)
    response = client.post(
        f"/api/v1/devices/{device.pk}/events/",
        {"action": "deploy", "assigned_to": "AT001"},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    assert ATCheck.objects.filter(device=device, person=at_person).exists()


# --- rule 8: a device is known by its serial number or its asset tag -----------------
# A serial that was never recorded is NULL (never blank) and the asset tag identifies
# the device; a device with neither is refused at every door, the database included.


def _merged(codes):
    """The file doors report one entry per column; the others one dict per row."""
    merged = {}
    for entry in codes:
        merged.update(entry)
    return merged


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule8-create-{d}" for d in DOORS])
def test_a_row_with_a_tag_and_no_serial_creates_a_device_recorded_by_its_tag(door, unit):
    codes = door([device_row(serial_number="", asset_tag="MPS-TAG-1")])

    assert codes == []
    device = Device.objects.get(asset_tag="MPS-TAG-1")
    assert device.serial_number is None
    assert DeviceEvent.objects.get(device=device).kind == DeviceEvent.Kind.IMPORTED


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule8-neither-{d}" for d in DOORS])
def test_a_row_with_neither_serial_nor_tag_is_refused_naming_both(door, unit):
    before = snapshot()

    codes = door([device_row(serial_number="", asset_tag="")])

    assert _merged(codes) == {"serial_number": "required", "asset_tag": "required"}
    assert snapshot() == before


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule8-record-{d}" for d in DOORS])
def test_a_later_row_with_the_tag_and_a_serial_records_the_serial(door, unit, asset_manager):
    devices_upsert_rows(
        rows=[device_row(serial_number="", asset_tag="MPS-TAG-2")], actor=asset_manager, source="t"
    )

    codes = door([device_row(serial_number="SN-REC", asset_tag="MPS-TAG-2")])

    assert codes == []
    device = Device.objects.get()
    assert (device.asset_tag, device.serial_number, device.version) == ("MPS-TAG-2", "SN-REC", 2)
    event = DeviceEvent.objects.filter(device=device).latest("pk")
    assert event.details["changed"] == {"serial_number": [None, "SN-REC"]}


@pytest.mark.parametrize("door", DOORS, indirect=True, ids=[f"rule8-clash-{d}" for d in DOORS])
def test_a_serial_for_a_tag_on_a_device_with_another_serial_is_refused(door, unit, dell_laptop):
    DeviceFactory(
        serial_number="SN-A", asset_tag="MPS-TAG-3", manufacturer=dell_laptop.manufacturer,
        device_model=dell_laptop, business_unit=unit,
    )  # fmt: skip
    before = snapshot()

    codes = door([device_row(serial_number="SN-B", asset_tag="MPS-TAG-3")])

    assert codes == [{"asset_tag": "in_use"}]
    assert snapshot() == before


SERIAL_SQL_BREAKS = [
    (
        "UPDATE devices_device SET serial_number = NULL, asset_tag = NULL WHERE id = %s",
        "serial_or_tag",
    ),
    ("UPDATE devices_device SET serial_number = '' WHERE id = %s", "serial_not_blank"),
]


@pytest.mark.parametrize(
    ("sql", "constraint"),
    SERIAL_SQL_BREAKS,
    ids=[f"rule8-sql-{c}" for _, c in SERIAL_SQL_BREAKS],
)
def test_raw_sql_cannot_leave_a_device_without_serial_or_tag(deployed, sql, constraint):
    before = snapshot()
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [deployed.pk])
    if connection.vendor == "postgresql":
        assert f"devices_device_{constraint}" in str(refused.value)
    assert snapshot() == before
    assert Device.objects.get(pk=deployed.pk).serial_number == "SN-0001"


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "constraint"),
    SERIAL_SQL_BREAKS,
    ids=[f"rule8-pg-{c}" for _, c in SERIAL_SQL_BREAKS],
)
def test_raw_sql_on_postgresql_names_the_serial_constraint(deployed, sql, constraint):
    with (
        pytest.raises(IntegrityError, match=f"devices_device_{constraint}"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [deployed.pk])
