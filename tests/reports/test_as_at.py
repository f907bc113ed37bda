"""Stewardship figures as at the period's end: a report for a past month gives the
same figures whenever it is generated (statuses, holders, units, last seen, people,
exceptions), because the estate is read as it stood at the period's last moment,
reconstructed from the current rows and the append-only records of what changed
since (reports.selectors.as_at).

The hand-built October 2026 estate (conftest) is recorded in September. The figures
are read just after October ends, the estate is moved on in November through the
services every door uses, and the figures are read again in December.
"""

import datetime as dt

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.roles import Role
from devices import services as device_services
from devices.importing.services import devices_upsert_rows
from devices.models import Category, Device, DeviceEvent, Person
from devices.selectors import entitlement_exceptions_open_by_unit
from disposals.services.cases import disposal_cases_open
from reports import selectors, services
from reports.models import ReportRun
from tests.factories import DeviceEventFactory, DeviceFactory, PersonFactory
from tests.reports.conftest import END, PERIOD_END, PERIOD_START

L, P, M = Category.LAPTOP, Category.SMARTPHONE, Category.MONITOR
D = Device.Status

JUST_AFTER_THE_END = "2026-11-01 00:10:00"  # London is on GMT: 00:10 on 1 November
NOVEMBER = "2026-11-20 10:00:00"
DECEMBER = "2026-12-06 12:00:00"


def october():
    return selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )


def device_rows(unit):
    return list(selectors.stewardship_device_rows(unit=unit, period_end=PERIOD_END, idle_days=90))


def move_the_estate_on(estate, *, actor, approver, pending):
    """November: returns, a disposal case, a reassignment, a deployment, a transfer, a
    check-in, a loss, records corrected, a new device, a person moving unit, a leaver
    recorded late, an exception decided and another asked for."""
    a, a1, b = estate.a, estate.a1, estate.b
    pa1, pa2 = Person.objects.get(staff_number="PA1"), Person.objects.get(staff_number="PA2")
    returned = Device.objects.get(assigned_to=pa2, device_model__category=L)
    device_services.device_transition(device=returned, to_status=D.RETURNED, actor=actor)
    disposal_cases_open(device_ids=[returned.pk], actor=actor)
    device_services.device_reassign(
        device=Device.objects.get(assigned_to__staff_number="FUTURE"), person=pa1, actor=actor
    )
    stock_a = list(Device.objects.filter(business_unit=a, status=D.IN_STOCK).order_by("pk"))
    device_services.device_deploy(device=stock_a[0], person=pa2, actor=actor)
    device_services.device_transition(
        device=stock_a[1], to_status=D.LOST_STOLEN, kind=DeviceEvent.Kind.LOST, actor=actor
    )
    device_services.device_update(
        device=Device.objects.filter(business_unit=b, status=D.IN_STOCK).order_by("pk").first(),
        changes={"business_unit": a, "location": "Moved to Alpha"},
        actor=actor,
    )
    device_services.device_update(
        device=Device.objects.get(assigned_to__staff_number="PB"),
        changes={"last_seen": timezone.now()},
        actor=actor,
    )
    # Records corrected later: a relabelled stock laptop in B with its purchase date and
    # warranty put right (October's report shows what was on record then).
    device_services.device_update(
        device=Device.objects.filter(business_unit=b, status=D.IN_STOCK).order_by("-pk").first(),
        changes={
            "asset_tag": "RELABELLED-IN-NOVEMBER",
            "purchase_date": dt.date(2016, 3, 31),
            "warranty_expires": dt.date(2019, 3, 31),
        },
        actor=actor,
    )
    laptop = estate.models[L]
    device_services.device_create(
        manufacturer=laptop.manufacturer,
        device_model=laptop,
        business_unit=a1,
        serial_number="NEW-IN-NOVEMBER",
        actor=actor,
    )
    psub = Person.objects.get(staff_number="PSUB")
    psub.business_unit = b
    psub.save()
    pa1.leaver_date = dt.date(2026, 10, 20)  # recorded in November, dated in October
    pa1.save()
    device_services.entitlement_exception_approve(exception=pending, approver=approver)
    device_services.entitlement_exception_request(
        person=pa2, category=P, reason="A second handset", requested_by=actor
    )


@pytest.fixture
def people(make_user):
    return {
        "actor": make_user(Role.ASSET_MANAGER),
        "approver": make_user(Role.ASSET_MANAGER),
    }


@pytest.fixture
def pending(estate, people):
    """An exception asked for in September, still awaiting review when October ends."""
    with freeze_time("2026-09-20 10:00:00"):
        return device_services.entitlement_exception_request(
            person=Person.objects.get(staff_number="PB"),
            category=L,
            reason="Second laptop for a secondment",
            requested_by=people["actor"],
        )


def test_a_past_months_figures_and_rows_are_the_same_after_the_estate_moves_on(
    estate, people, pending
):
    # Given October's figures and device rows read just after October ended
    with freeze_time(JUST_AFTER_THE_END):
        then = october()
        rows_then = {u.code: device_rows(u) for u in (estate.a, estate.b)}
    # When the estate moves on in November
    with freeze_time(NOVEMBER):
        move_the_estate_on(estate, pending=pending, **people)
    # Then October read again in December gives the same figures and rows
    with freeze_time(DECEMBER):
        again = october()
        rows_again = {u.code: device_rows(u) for u in (estate.a, estate.b)}
        now = selectors.stewardship_figures(
            period_start=dt.date(2026, 12, 1), period_end=dt.date(2026, 12, 31), idle_days=90
        )
    assert again == then
    assert rows_again == rows_then
    a, b = then[estate.a.pk], then[estate.b.pk]
    assert b["headline"]["exceptions_awaiting_review"] == 1
    assert a["headline"]["leavers_holding"] == 1  # LEAVER only: PA1 left on paper later
    # And the estate did move: read as it stands now, the same figures differ.
    a_now, b_now = now[estate.a.pk], now[estate.b.pk]
    assert a_now["headline"]["devices_held"] == a["headline"]["devices_held"] + 2  # new, moved in
    assert a_now["by_category_status"][L][D.RETURNED] == 0  # in disposal now
    assert a_now["by_category_status"][L][D.AWAITING_SANITISATION] == 1
    lost = a["by_category_status"][L][D.LOST_STOLEN]
    assert a_now["by_category_status"][L][D.LOST_STOLEN] == lost + 1
    assert b_now["headline"]["in_stock"] == b["headline"]["in_stock"] - 1
    assert b_now["headline"]["idle"] == b["headline"]["idle"] - 1  # PB's laptop checked in
    assert b_now["headline"]["exceptions_awaiting_review"] == 0
    assert {p["staff_number"] for p in a_now["leavers"]} == {"LEAVER", "PA1"}
    assert a_now["people_over"] != a["people_over"]  # PA1 holds a third laptop now


def test_a_regenerated_report_for_a_past_month_equals_the_one_made_at_its_end(
    estate, people, pending, django_capture_on_commit_callbacks
):
    # Given A's October report generated just after October ended
    with (
        freeze_time(JUST_AFTER_THE_END),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = services.stewardship_report_unit_run(unit_id=estate.a.pk, period_start=PERIOD_START)
    with first.csv_file.open("rb") as handle:
        csv_then = handle.read()
    # When the estate moves on and the report is regenerated in December
    with freeze_time(NOVEMBER):
        move_the_estate_on(estate, pending=pending, **people)
    with (
        freeze_time(DECEMBER),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.report_run_request(
            user=people["actor"], kind="stewardship", unit=estate.a, period_start=PERIOD_START
        )
    again = ReportRun.objects.get(pk=first.pk)
    # Then it is a new file with the same figures and the same device rows
    assert again.attempts == 2 and again.csv_file.name != first.csv_file.name
    assert again.summary == first.summary
    with again.csv_file.open("rb") as handle:
        assert handle.read() == csv_then
    assert again.summary["headline"]["devices_held"] == 17


def test_a_serial_recorded_after_the_period_is_not_in_its_rows(estate, people):
    laptop = estate.models[L]
    first = {
        "manufacturer": laptop.manufacturer.name,
        "model": laptop.name,
        "category": "laptop",
        "business_unit": estate.b.code,
        "asset_tag": "TAG-ONLY-1",
    }
    # Given a laptop recorded in October by its asset tag alone, through the importer
    with freeze_time("2026-10-15 10:00:00"):
        outcome = devices_upsert_rows(rows=[first], actor=people["actor"], source="t")
    assert outcome.created == 1, outcome.results
    with freeze_time(JUST_AFTER_THE_END):
        rows_then = device_rows(estate.b)
    # When its serial is recorded in November by a later row with the tag
    with freeze_time(NOVEMBER):
        later = devices_upsert_rows(
            rows=[{**first, "serial_number": "SN-RECORDED-LATER"}],
            actor=people["actor"],
            source="t",
        )
    assert later.updated == 1, later.results
    assert Device.objects.get(asset_tag="TAG-ONLY-1").serial_number == "SN-RECORDED-LATER"
    # Then October's rows, read in December, still show no serial for it
    with freeze_time(DECEMBER):
        rows_again = device_rows(estate.b)
    assert rows_again == rows_then
    tagged = [r for r in rows_then if r[0] == "TAG-ONLY-1"]
    assert len(tagged) == 1 and "SN-RECORDED-LATER" not in tagged[0]


def test_a_holder_changed_later_by_an_import_is_rewound(estate, people):
    pb = Person.objects.get(staff_number="PB")
    laptop = Device.objects.get(assigned_to=pb)
    # Given a second person in B, on the records since September
    with freeze_time("2026-09-25 10:00:00"):
        PersonFactory(staff_number="PB2", business_unit=estate.b, role_profile=pb.role_profile)
    with freeze_time(JUST_AFTER_THE_END):
        then, rows_then = october(), device_rows(estate.b)
    # When an import row in November sends PB's laptop for repair with PB2 as its
    # holder (a status move through the one mover, whose event names the new holder,
    # not the old)
    with freeze_time(NOVEMBER):
        outcome = devices_upsert_rows(
            rows=[
                {
                    "manufacturer": laptop.manufacturer.name,
                    "model": laptop.device_model.name,
                    "category": "laptop",
                    "business_unit": estate.b.code,
                    "serial_number": laptop.serial_number,
                    "status": "in_repair",
                    "assigned_to": "PB2",
                }
            ],
            actor=people["actor"],
            source="t",
        )
    assert outcome.updated == 1, outcome.results
    assert Device.objects.get(pk=laptop.pk).assigned_to.staff_number == "PB2"
    # Then October, read in December, still has PB holding it
    with freeze_time(DECEMBER):
        assert device_rows(estate.b) == rows_then
        assert october() == then
    assert [r[7] for r in rows_then if r[1] == laptop.serial_number] == ["PB"]


def test_a_device_created_after_the_period_is_not_in_it_and_one_without_events_is(estate):
    # A device whose first event (received) is after the period's end did not exist then.
    late = DeviceFactory(business_unit=estate.b, device_model=estate.models[L])
    DeviceEventFactory(
        device=late,
        kind=DeviceEvent.Kind.RECEIVED,
        to_status=D.IN_STOCK,
        occurred_at=END + dt.timedelta(days=2),
    )
    # One received before the end, and one with no events at all (taken as it stands).
    early = DeviceFactory(business_unit=estate.b, device_model=estate.models[L])
    DeviceEventFactory(
        device=early,
        kind=DeviceEvent.Kind.RECEIVED,
        to_status=D.IN_STOCK,
        occurred_at=END - dt.timedelta(days=2),
    )
    DeviceFactory(business_unit=estate.b, device_model=estate.models[L])
    figures = october()
    assert figures[estate.b.pk]["stock"][L] == 3 + 2


def test_status_unit_holder_and_last_seen_are_rewound_from_the_records_of_later_changes(
    estate,
):
    b = estate.b
    pb = Person.objects.get(staff_number="PB")
    after = END + dt.timedelta(days=3)
    # An import moved PB's laptop to A and marked it returned, changing its last seen.
    device = Device.objects.get(assigned_to=pb)
    old_seen = device.last_seen
    Device.objects.filter(pk=device.pk).update(
        status=D.RETURNED, assigned_to=None, business_unit=estate.a, last_seen=after
    )
    DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.UPDATED,
        occurred_at=after,
        from_status=D.DEPLOYED,
        to_status=D.RETURNED,
        details={
            "row": 2,
            "changed": {
                "business_unit": ["B", "A"],
                "assigned_to": ["PB", None],
                "last_seen": [old_seen.isoformat(), after.isoformat()],
            },
        },
    )
    figures = october()
    assert figures[b.pk]["by_category_status"][L][D.DEPLOYED] == 1
    assert figures[b.pk]["idle"][L]["idle"] == 1  # last seen 100 days before the end
    assert figures[estate.a.pk]["by_category_status"][L][D.RETURNED] == 0
    rows = device_rows(b)
    deployed = [r for r in rows if r[5] == "Deployed"]
    assert [(r[6], r[7], r[14]) for r in deployed] == [("B", "PB", "Yes")]


def test_a_swap_written_unit_and_a_reassignment_are_rewound(estate):
    a1 = estate.a1
    after = END + dt.timedelta(days=1)
    monitor = Device.objects.filter(
        assigned_to__staff_number="PSUB", device_model__category=M
    ).first()
    pexc = Person.objects.get(staff_number="PEXC")
    Device.objects.filter(pk=monitor.pk).update(business_unit=estate.b, assigned_to=pexc)
    DeviceEventFactory(
        device=monitor,
        kind=DeviceEvent.Kind.NOTE,
        occurred_at=after,
        from_status=D.DEPLOYED,
        to_status=D.DEPLOYED,
        details={"business_unit": ["A1", "B"], "location": ["", "Stores"]},
    )
    DeviceEventFactory(
        device=monitor,
        kind=DeviceEvent.Kind.REASSIGNED,
        occurred_at=after + dt.timedelta(hours=1),
        from_status=D.DEPLOYED,
        to_status=D.DEPLOYED,
        details={"from": "PSUB", "to": "PEXC"},
    )
    figures = october()
    assert figures[a1.pk]["by_category_status"][M][D.DEPLOYED] == 3
    assert {(p["staff_number"], p["category"]) for p in figures[a1.pk]["people_over"]} == {
        ("PSUB", M)
    }


def test_people_are_read_as_they_were_and_a_person_recorded_later_is_not_counted(estate):
    psub = Person.objects.get(staff_number="PSUB")
    with freeze_time("2026-11-10 09:00:00"):
        psub.business_unit = estate.b
        psub.save()
        PersonFactory(staff_number="LATE", business_unit=estate.b, role_profile=estate.response)
    figures = october()
    # PSUB still counted in A1 (desk: 1 desktop, 2 monitors); LATE not entitled anything.
    assert figures[estate.a1.pk]["entitlement"][M]["entitled"] == 2
    assert figures[estate.b.pk]["entitlement"][M]["entitled"] == 0
    assert figures[estate.b.pk]["entitlement"][L]["entitled"] == 1  # PB only


def test_open_exceptions_as_at_now_agree_with_the_devices_selector_rolled_up(
    estate, people, pending
):
    # A second open exception in A1 and one decided: the report's count for a month
    # still running (its end in the future) is the devices selector's, rolled up.
    device_services.entitlement_exception_request(
        person=Person.objects.get(staff_number="PSUB"),
        category=M,
        reason="Third screen for CCTV review",
        requested_by=people["actor"],
    )
    decided = device_services.entitlement_exception_request(
        person=Person.objects.get(staff_number="PA2"),
        category=L,
        reason="Refused one",
        requested_by=people["actor"],
    )
    device_services.entitlement_exception_refuse(exception=decided, refuser=people["approver"])
    this_month = selectors.month_period(selectors.london_today())
    figures = selectors.stewardship_figures(
        period_start=this_month[0], period_end=this_month[1], idle_days=90
    )
    open_now = entitlement_exceptions_open_by_unit()
    paths = {u.pk: u.path for u in (estate.a, estate.a1, estate.b)}
    for unit in (estate.a, estate.a1, estate.b):
        in_subtree = sum(n for u, n in open_now.items() if paths[u].startswith(unit.path))
        assert figures[unit.pk]["headline"]["exceptions_awaiting_review"] == in_subtree
    assert figures[estate.a.pk]["headline"]["exceptions_awaiting_review"] == 1
    assert [e["staff_number"] for e in figures[estate.a.pk]["exceptions_open"]] == ["PSUB"]
    assert figures[estate.b.pk]["exceptions_open"][0]["category"] == L
