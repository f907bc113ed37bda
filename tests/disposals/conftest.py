"""Builders for disposal tests: devices at each step of the flow, through the services."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.roles import Role
from devices.models import Device, DeviceEvent
from disposals import services
from disposals.models import DisposalCase, Partner, ResidualValueRule, Route, RouteOverrideSignOff
from tests.factories import DeviceFactory, DeviceModelFactory


def wipe(device, *, result="pass", operator="Tech A", verifier="Tech B", **extra):
    return services.SanitisationInput(
        device_id=device.pk,
        method=extra.get("method", "crypto_erase"),
        standard=extra.get("standard", "NIST SP 800-88 Purge"),
        tool=extra.get("tool", "Blancco"),
        tool_version=extra.get("tool_version", "7.1"),
        operator=operator,
        verifier=verifier,
        performed_at=extra.get("performed_at", timezone.now() - dt.timedelta(hours=1)),
        result=result,
        certificate_ref=extra.get("certificate_ref", f"BL-{device.pk}"),
        label=str(device),
    )


@pytest.fixture
def rule(db):
    """A rule with round numbers so expected values are easy to derive by hand."""
    return ResidualValueRule.objects.create(
        name="Test rule",
        effective_from=dt.date(2000, 1, 1),
        base_percent_laptop=Decimal("50"),
        depreciation_percent_per_year=Decimal("10"),
        multiplier_a=Decimal("1.00"),
        multiplier_b=Decimal("0.50"),
        multiplier_c=Decimal("0.25"),
        multiplier_scrap=Decimal("0.00"),
        floor=Decimal("5.00"),
        resale_threshold=Decimal("100.00"),
    )


@pytest.fixture
def returned_devices(db):
    def _make(n=1, **kwargs):
        kwargs.setdefault("status", Device.Status.RETURNED)
        return DeviceFactory.create_batch(n, **kwargs)

    return _make


@pytest.fixture
def flow(asset_manager, rule):
    """Helpers that take devices to a step of the flow through the services."""

    class Flow:
        actor = asset_manager

        def opened(self, devices):
            return services.disposal_cases_open(
                device_ids=[d.pk for d in devices], actor=self.actor
            )

        def sanitised(self, devices, result="pass"):
            cases = self.opened(devices)
            services.sanitisation_records_record(
                items=[wipe(d, result=result) for d in devices], actor=self.actor
            )
            return cases

        def assessed(self, devices, grade="A", **kw):
            cases = self.sanitised(devices)
            services.assessments_record(
                case_ids=[c.pk for c in cases], grade=grade, actor=self.actor, **kw
            )
            return cases

        def routed(self, devices, grade="A", route=None, reason=""):
            cases = self.assessed(devices, grade=grade)
            services.routes_decide(
                case_ids=[c.pk for c in cases],
                actor=self.actor,
                route=route,
                override_reason=reason,
            )
            return cases

        def partner(self, kind=Partner.Kind.WEEE_RECYCLER, name=None):
            return Partner.objects.get_or_create(
                name=name or f"Partner {kind}",
                defaults={"kind": kind, "licence_number": "EPR/AB1234CD"},
            )[0]

    return Flow()


def old_laptop(price="1000.00", years=2):
    """A laptop bought ``years`` ago (to the day) at ``price``."""
    model = DeviceModelFactory(name=f"Latitude {price}", unit_price=Decimal(price))
    today = timezone.localdate()
    return DeviceFactory(
        device_model=model,
        status=Device.Status.RETURNED,
        purchase_date=today - dt.timedelta(days=round(365.25 * years)),
    )


@pytest.fixture
def override(flow, make_user):
    """A laptop worth reselling, pledged to reuse instead: requested by a finance
    officer (so "same person" can be tried), awaiting a finance officer's decision."""
    requester = make_user(Role.FINANCE)
    device = old_laptop(price="1000.00", years=2)
    case = flow.assessed([device], grade="A")[0]
    services.routes_decide(
        case_ids=[case.pk],
        actor=requester,
        route=Route.REUSE,
        override_reason="Pledged to the LOTI laptop drive",
    )
    return SimpleNamespace(flow=flow, case=case, device=device, requester=requester)


def sign_off_snapshot(ctx):
    """What a refused sign-off or rejection must leave as it was."""
    case = DisposalCase.objects.get(pk=ctx.case.pk)
    return (
        case.status,
        case.route,
        case.consignment_id,
        RouteOverrideSignOff.objects.count(),
        DeviceEvent.objects.count(),
    )
