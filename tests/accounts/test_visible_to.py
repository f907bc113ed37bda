"""Unit scope is one method on every scoped model: ``Model.objects.visible_to(user)``.

The demo data of every app gives each scoped model rows in many units. For each
model, a viewer of one command must see exactly the rows whose business unit lies
in that command's subtree (checked against each row's unit path, read through
``UNIT_PATH`` below rather than the managers), an unscoped asset manager every row, and an
anonymous user none. A new scoped model without a row in the demo, or whose scope
is not one path and has no independent check here, fails the test."""

import datetime as dt
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.utils import timezone

from accounts.models import BusinessUnit
from accounts.roles import Role
from accounts.scoping import ScopedQuerySet
from devices.demo import DEMO_VIEWER_UNIT
from devices.models import ATCheck, Category, Device, EntitlementException, Person
from refresh.models import ATConfirmation, RefreshPolicy, RefreshWave, WaveItem

pytestmark = pytest.mark.django_db(transaction=False)

TODAY = dt.date(2026, 11, 3)


def scoped_models():
    return sorted(
        (m for m in apps.get_models() if isinstance(m._default_manager.all(), ScopedQuerySet)),
        key=lambda m: m._meta.label,
    )


# Where each scoped model's rows belong, written here independently of the managers:
# the business-unit path of a row, reached the way the business case means it.
UNIT_PATH = {
    "accounts.BusinessUnit": "path",
    "devices.ATCheck": "device__business_unit__path",
    "devices.Device": "business_unit__path",
    "devices.DeviceEvent": "device__business_unit__path",
    "devices.EntitlementException": "person__business_unit__path",
    # The estate counts (kept by database triggers): one row per unit, model and status.
    "devices.EstateCount": "business_unit__path",
    "devices.Person": "business_unit__path",
    # A consignment holds several units' devices: it belongs to each of them.
    "disposals.Consignment": "cases__device__business_unit__path",
    "disposals.DisposalCase": "device__business_unit__path",
    "disposals.ResidualValueAssessment": "case__device__business_unit__path",
    "disposals.RouteDecision": "case__device__business_unit__path",
    "disposals.RouteOverrideSignOff": "decision__case__device__business_unit__path",
    "disposals.SanitisationRecord": "case__device__business_unit__path",
    "procurement.ApprovalRecord": "purchase_order__business_unit__path",
    "procurement.PurchaseOrder": "business_unit__path",
    "procurement.PurchaseOrderLine": "purchase_order__business_unit__path",
    "procurement.Receipt": "line__purchase_order__business_unit__path",
    "procurement.ReceivedDevice": "line__purchase_order__business_unit__path",
    "refresh.ATConfirmation": "wave_item__business_unit__path",
    "refresh.BaselineRow": "business_unit__path",
    "refresh.DeviceEligibility": "business_unit__path",
    # The forecast's kept counts (database triggers): per unit, like the rows counted.
    "refresh.EligibilityCount": "business_unit__path",
    # The failure-rate snapshot (refreshed nightly): per unit, category and age band.
    "refresh.FailureRateSnapshot": "business_unit__path",
    "refresh.PersonCount": "business_unit__path",
    "refresh.ScenarioGroupCount": "business_unit__path",
    "refresh.RefreshWave": "business_unit__path",
    "refresh.SwapStep": "item__business_unit__path",
    "refresh.WaveItem": "business_unit__path",
    "reports.ReportRun": "business_unit__path",
}


def unit_paths(model) -> dict[int, set[str]]:
    """Each row's business-unit paths, read through ``UNIT_PATH``, not ``visible_to``."""
    out: dict[int, set[str]] = {}
    for pk, unit_path in model._default_manager.values_list("pk", UNIT_PATH[model._meta.label]):
        out.setdefault(pk, set())
        if unit_path is not None:
            out[pk].add(unit_path)
    return out


@pytest.fixture
def demo_estate(db, make_user):
    """Every app's demo data, plus the two kinds of row the demo does not make: an
    entitlement exception and an AT confirmation, one inside the viewer's command
    and one outside it."""
    call_command(
        "seed_demo",
        "--devices",
        "3000",
        "--today",
        TODAY.isoformat(),
        "--no-progress",
        stdout=StringIO(),
    )
    approver = make_user(Role.ASSET_MANAGER)
    now = timezone.now()
    command = BusinessUnit.objects.get(code=DEMO_VIEWER_UNIT)
    for inside in (True, False):
        people = Person.objects.filter(business_unit__path__startswith=command.path)
        if not inside:
            people = Person.objects.exclude(business_unit__path__startswith=command.path)
        EntitlementException.objects.create(
            person=people.order_by("pk").first(),
            category=Category.SMARTPHONE,
            reason="Covert and overt handsets",
            approved_by=approver,
            approved_at=now,
        )
    units = BusinessUnit.objects.exclude(path__startswith=command.path).order_by("path")
    for unit in (command, units.filter(level=BusinessUnit.Level.UNIT).first()):
        person = Person.objects.filter(business_unit=unit).order_by("pk").first()
        wave = RefreshWave.objects.create(
            name=f"AT check {unit.code}", business_unit=unit, created_by=approver, volume=1
        )
        item = WaveItem.objects.create(
            wave=wave,
            person=person,
            business_unit=unit,
            category=Category.LAPTOP,
            old_device=Device.objects.filter(business_unit=unit).order_by("pk").first(),
            priority=1,
            policy=RefreshPolicy.objects.filter(category=Category.LAPTOP).first(),
        )
        ATConfirmation.objects.create(
            wave_item=item, confirmed_by=approver, confirmed_at=now, note="Screen reader works"
        )
        ATCheck.objects.create(
            device=item.old_device, person=person, deployed_by=approver, deployed_at=now
        )


def test_every_scoped_model_shows_a_unit_viewer_only_their_units_rows(demo_estate, make_user):
    command = BusinessUnit.objects.get(code=DEMO_VIEWER_UNIT)
    viewer = make_user(Role.UNIT_VIEWER, units=[command])
    # Unscoped, and a commercial role: sees every row, finance report runs included.
    everyone = make_user(Role.FINANCE)
    anonymous = AnonymousUser()
    models = scoped_models()
    # A new scoped model needs its row here; a model that lost its manager fails too.
    assert sorted(m._meta.label for m in models) == sorted(UNIT_PATH)
    for model in models:
        label = model._meta.label
        paths = unit_paths(model)
        assert paths, f"{label}: the demo data has no rows to check scope against"
        inside = {
            pk for pk, found in paths.items() if any(p.startswith(command.path) for p in found)
        }
        visible = set(model._default_manager.visible_to(viewer).values_list("pk", flat=True))
        assert visible == inside, f"{label}: a viewer of {command.code} sees the wrong rows"
        everything = set(model._default_manager.visible_to(everyone).values_list("pk", flat=True))
        assert everything == set(paths), f"{label}: an unscoped finance officer misses rows"
        assert not model._default_manager.visible_to(anonymous).exists(), label
