"""Disposals rules 4, 5 and 6 at every door that reaches them.

Rule 4: a device in awaiting sanitisation, sanitised or disposed has a disposal case
unless it is historical. Doors: the device mover (service), the ORM, raw SQL; the
database's deferred constraint trigger refuses it at commit (PostgreSQL).

Rule 5: sanitisation records, residual-value assessments, route decisions and their
sign-offs, and residual-value rules are append-only; disposal cases and
consignments are never deleted. Doors: ORM (the models' own refusal), admin, raw
SQL (PostgreSQL triggers).

Rule 6: the admin writes only through the services or not at all: residual-value
rules are add-only (a new dated rule, never a change), partners are saved through
``partner_save``, the records of the flow are read-only.

Each case asserts the refusal and that nothing was written.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.roles import Role
from core.errors import DomainError
from devices.models import Device, DeviceEvent
from devices.services import devices_status_move
from disposals import services
from disposals.models import (
    Consignment,
    DisposalCase,
    Partner,
    RecordsAreKept,
    ResidualValueAssessment,
    ResidualValueRule,
    Route,
    RouteDecision,
    RouteOverrideSignOff,
    SanitisationRecord,
)
from tests.disposals.conftest import flow, old_laptop, returned_devices, rule  # noqa: F401
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

DISPOSAL_STATUSES = ["awaiting_sanitisation", "sanitised", "disposed"]


def _raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _status(device) -> str:
    return Device.objects.values_list("status", flat=True).get(pk=device.pk)


# ---------------------------------------------------------------------------
# Rule 4: no device in a disposal status without a case (unless historical)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to_status", DISPOSAL_STATUSES, ids=[f"rule4-service-{s}" for s in DISPOSAL_STATUSES]
)
def test_rule4_mover_refuses_a_disposal_status_outside_disposals_service(to_status):
    device = DeviceFactory(status=Device.Status.RETURNED)
    events = DeviceEvent.objects.count()

    with pytest.raises(DomainError) as refused:
        devices_status_move(
            moves=[(device.pk, Device.Status.RETURNED)],
            to_status=to_status,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=None,
            source="test",
        )

    assert refused.value.code in {"disposal_needs_case", "transition_not_allowed"}
    assert _status(device) == Device.Status.RETURNED
    assert DeviceEvent.objects.count() == events


def test_rule4_disposals_moves_a_device_only_with_its_case_service(flow, returned_devices):  # noqa: F811
    device = returned_devices(1)[0]

    flow.opened([device])

    assert _status(device) == Device.Status.AWAITING_SANITISATION
    assert DisposalCase.objects.filter(device=device).exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "to_status", DISPOSAL_STATUSES, ids=[f"rule4-sql-update-{s}" for s in DISPOSAL_STATUSES]
)
def test_rule4_raw_update_into_a_disposal_status_without_a_case_refused_sql(to_status):
    device = DeviceFactory(status=Device.Status.RETURNED)

    # The trigger is deferred to commit; inside the test's transaction, ask for it now.
    with (
        pytest.raises(IntegrityError, match="without a disposal case"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS disposals_device_needs_case IMMEDIATE")
        cursor.execute(
            "UPDATE devices_device SET status = %s WHERE id = %s", [to_status, device.pk]
        )

    assert _status(device) == Device.Status.RETURNED


@pytest.mark.postgres
def test_rule4_orm_update_without_a_case_refused_sql():
    device = DeviceFactory(status=Device.Status.RETURNED)

    with pytest.raises(IntegrityError, match="without a disposal case"), transaction.atomic():
        connection.cursor().execute("SET CONSTRAINTS disposals_device_needs_case IMMEDIATE")
        Device.objects.filter(pk=device.pk).update(status=Device.Status.DISPOSED)

    assert _status(device) == Device.Status.RETURNED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rule4_raw_update_to_disposed_fails_at_commit_sql():
    # Given a returned device with no disposal case, outside any test transaction
    device = DeviceFactory(status=Device.Status.RETURNED)

    # When raw SQL marks it disposed, the statement passes but the commit fails
    with (
        pytest.raises(IntegrityError, match="without a disposal case"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE devices_device SET status = 'disposed' WHERE id = %s", [device.pk])
        cursor.execute("SELECT status FROM devices_device WHERE id = %s", [device.pk])
        assert cursor.fetchone() == ("disposed",)

    # Then nothing was written
    assert _status(device) == Device.Status.RETURNED


@pytest.mark.postgres
def test_rule4_historical_or_cased_devices_pass_sql(flow, returned_devices):  # noqa: F811
    historical = DeviceFactory(status=Device.Status.RETURNED)
    cased = returned_devices(1)[0]
    flow.opened([cased])

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS disposals_device_needs_case IMMEDIATE")
        cursor.execute(
            "UPDATE devices_device SET status = 'disposed', historical = true WHERE id = %s",
            [historical.pk],
        )
        cursor.execute("UPDATE devices_device SET status = 'sanitised' WHERE id = %s", [cased.pk])

    assert (_status(historical), _status(cased)) == ("disposed", "sanitised")


# ---------------------------------------------------------------------------
# Rule 5: append-only disposal records
# ---------------------------------------------------------------------------


@pytest.fixture
def records(flow, make_user):  # noqa: F811
    """One of each disposal record: a sanitised, assessed device whose override of a
    suggested resale was signed off, in a consignment."""
    device = old_laptop(price="1000.00", years=2)
    case = flow.assessed([device], grade="A")[0]
    services.routes_decide(
        case_ids=[case.pk], actor=flow.actor, route=Route.REUSE, override_reason="Pledged"
    )
    services.route_override_sign_off(case=case, approver=make_user(Role.FINANCE))
    consignment = services.consignment_create(
        route=Route.REUSE,
        partner=flow.partner(kind=Partner.Kind.DIGITAL_INCLUSION),
        actor=flow.actor,
    )
    services.consignment_add_cases(consignment=consignment, case_ids=[case.pk], actor=flow.actor)
    return {
        "disposals_sanitisationrecord": ("id", SanitisationRecord.objects.get(case=case).pk),
        "disposals_residualvalueassessment": (
            "id",
            ResidualValueAssessment.objects.get(case=case).pk,
        ),
        "disposals_routedecision": ("id", RouteDecision.objects.get(case=case).pk),
        "disposals_routeoverridesignoff": (
            "id",
            RouteOverrideSignOff.objects.get(decision__case=case).pk,
        ),
        "disposals_residualvaluerule": ("id", ResidualValueRule.objects.get().pk),
        "disposals_historicalresidualvaluerule": (
            "history_id",
            ResidualValueRule.history.get().pk,
        ),
        "disposals_disposalcase": ("id", case.pk),
        "disposals_consignment": ("id", consignment.pk),
    }


APPEND_ONLY = [
    "disposals_sanitisationrecord",
    "disposals_residualvalueassessment",
    "disposals_routedecision",
    "disposals_routeoverridesignoff",
    "disposals_residualvaluerule",
    "disposals_historicalresidualvaluerule",
]
NEVER_DELETED = ["disposals_disposalcase", "disposals_consignment"]


def _row(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {column} = %s", [pk])  # noqa: S608
        return cursor.fetchall()


SQL_CASES = [(t, "update") for t in APPEND_ONLY] + [
    (t, "delete") for t in APPEND_ONLY + NEVER_DELETED
]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("table", "operation"),
    SQL_CASES,
    ids=[f"rule5-sql-{op}-{t.removeprefix('disposals_')}" for t, op in SQL_CASES],
)
def test_rule5_raw_change_of_a_disposal_record_refused_sql(records, table, operation):
    column, pk = records[table]
    before = _row(table, column, pk)
    sql = (
        f"UPDATE {table} SET {column} = {column} WHERE {column} = %s"  # noqa: S608
        if operation == "update"
        else f"DELETE FROM {table} WHERE {column} = %s"  # noqa: S608
    )

    with pytest.raises(IntegrityError):
        _raw(sql, [pk])

    assert _row(table, column, pk) == before != []


@pytest.mark.postgres
def test_rule5_cases_and_consignments_still_move_status_sql(records):
    # They are not append-only: their status moves (only their delete is refused).
    _, pk = records["disposals_consignment"]

    _raw("UPDATE disposals_consignment SET collected_by = 'x' WHERE id = %s", [pk])

    assert Consignment.objects.get(pk=pk).collected_by == "x"


ORM_MODELS = [
    SanitisationRecord,
    ResidualValueAssessment,
    RouteDecision,
    RouteOverrideSignOff,
    DisposalCase,
    Consignment,
]


@pytest.mark.parametrize(
    "model", ORM_MODELS, ids=[f"rule5-orm-delete-{m.__name__}" for m in ORM_MODELS]
)
def test_rule5_orm_delete_of_a_disposal_record_refused(records, model):
    count = model.objects.count()

    with pytest.raises(RecordsAreKept):
        model.objects.all().delete()
    with pytest.raises(RecordsAreKept):
        model.objects.first().delete()

    assert model.objects.count() == count


ADMIN_RECORDS = [
    ("sanitisationrecord", "disposals_sanitisationrecord", SanitisationRecord),
    ("residualvalueassessment", "disposals_residualvalueassessment", ResidualValueAssessment),
    ("routedecision", "disposals_routedecision", RouteDecision),
    ("routeoverridesignoff", "disposals_routeoverridesignoff", RouteOverrideSignOff),
    ("disposalcase", "disposals_disposalcase", DisposalCase),
]


@pytest.mark.parametrize(
    ("name", "table", "model"),
    ADMIN_RECORDS,
    ids=[f"rule5-admin-{name}" for name, _, _ in ADMIN_RECORDS],
)
def test_rule5_admin_cannot_change_or_delete_a_disposal_record(
    admin_client, records, name, table, model
):
    _, pk = records[table]
    before = _row(table, "id", pk)

    change = admin_client.post(reverse(f"admin:disposals_{name}_change", args=[pk]), {})
    delete = admin_client.post(
        reverse(f"admin:disposals_{name}_delete", args=[pk]), {"post": "yes"}
    )
    add = admin_client.post(reverse(f"admin:disposals_{name}_add"), {})

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert _row(table, "id", pk) == before
    assert model.objects.filter(pk=pk).exists()


# ---------------------------------------------------------------------------
# Rule 6: the admin writes only through the services
# ---------------------------------------------------------------------------


def _rule_form(**overrides):
    data = {
        "name": "Finance rule 2026",
        "effective_from": "2026-04-01",
        "base_percent_laptop": "40",
        "base_percent_desktop": "30",
        "base_percent_monitor": "25",
        "base_percent_smartphone": "45",
        "base_percent_tablet": "35",
        "depreciation_percent_per_year": "20",
        "multiplier_a": "1.00",
        "multiplier_b": "0.75",
        "multiplier_c": "0.40",
        "multiplier_scrap": "0.00",
        "floor": "10.00",
        "resale_threshold": "50.00",
    }
    data.update(overrides)
    return data


def _rules():
    return sorted(ResidualValueRule.objects.values_list("effective_from", "resale_threshold"))


def test_rule6_residual_value_rule_cannot_be_changed_in_place_admin(admin_client, rule):  # noqa: F811
    before = _rules()

    response = admin_client.post(
        reverse("admin:disposals_residualvaluerule_change", args=[rule.pk]),
        _rule_form(effective_from=rule.effective_from.isoformat(), resale_threshold="1.00"),
    )

    assert response.status_code == 403
    assert _rules() == before


def test_rule6_residual_value_rule_cannot_be_changed_in_place_service(rule):  # noqa: F811
    before = _rules()
    rule.resale_threshold = Decimal("1.00")

    with pytest.raises(DomainError) as refused:
        services.residual_value_rule_create(rule=rule, actor=None)

    assert refused.value.code == "add_only"
    assert _rules() == before


def test_rule6_new_rule_from_a_taken_date_refused_admin(admin_client, rule):  # noqa: F811
    before = _rules()

    response = admin_client.post(
        reverse("admin:disposals_residualvaluerule_add"),
        _rule_form(effective_from=rule.effective_from.isoformat()),
    )

    assert response.status_code == 200  # the form again, with the error
    assert "already starts on this date" in response.content.decode() or (
        "already exists" in response.content.decode()
    )
    assert _rules() == before


def test_rule6_new_dated_rule_is_added_through_the_service_admin(admin_client, rule):  # noqa: F811
    response = admin_client.post(reverse("admin:disposals_residualvaluerule_add"), _rule_form())

    assert response.status_code == 302
    assert (dt.date(2026, 4, 1), Decimal("50.00")) in _rules()
    assert ResidualValueRule.history.filter(effective_from=dt.date(2026, 4, 1)).exists()


@pytest.mark.postgres
def test_rule6_residual_value_rule_cannot_be_changed_in_place_sql(rule):  # noqa: F811
    before = _rules()

    with pytest.raises(IntegrityError):
        _raw(
            "UPDATE disposals_residualvaluerule SET resale_threshold = 1 WHERE id = %s",
            [rule.pk],
        )

    assert _rules() == before


def test_rule6_partner_saved_through_the_service_admin(admin_client, db):
    partner = Partner.objects.create(
        name="GreenCycle", kind=Partner.Kind.WEEE_RECYCLER, licence_number="EPR/1"
    )
    before = list(Partner.objects.values_list("name", "kind", "licence_number"))

    # A licensed recycler without its licence number is refused (the service's full_clean).
    response = admin_client.post(
        reverse("admin:disposals_partner_change", args=[partner.pk]),
        {"name": "GreenCycle", "kind": "weee_recycler", "licence_number": "", "approved": "on"},
    )

    assert response.status_code == 200
    assert list(Partner.objects.values_list("name", "kind", "licence_number")) == before


@pytest.mark.parametrize(
    "name",
    ["consignment", "disposalcase"],
    ids=["rule6-admin-consignment-add", "rule6-admin-case-add"],
)
def test_rule6_flow_records_cannot_be_added_admin(admin_client, name):
    model = {"consignment": Consignment, "disposalcase": DisposalCase}[name]
    count = model.objects.count()

    response = admin_client.post(reverse(f"admin:disposals_{name}_add"), {})

    assert response.status_code == 403
    assert model.objects.count() == count
