"""The "For you" list on each role's landing page: what is waiting for this user, each
a count and a link to where it is dealt with.

Every count comes from the owning app's selector, which applies the user's unit
scope; this module only picks the items a role acts on and words them. Things the
user cannot act on themselves are left out of their counts (an order they raised,
an AT check they deployed, an exception they requested: each needs someone else).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse

from accounts.roles import Role, has_role
from accounts.scoping import unit_scope
from devices import selectors as device_selectors
from devices.models import EntitlementException
from disposals import selectors as disposal_selectors
from disposals.models import DisposalCase
from procurement import selectors as procurement_selectors
from procurement.models import PurchaseOrder
from refresh import selectors as refresh_selectors
from reports import selectors as report_selectors
from reports.models import ReportRun


@dataclass(frozen=True)
class ForYouItem:
    key: str
    count: int
    singular: str  # "order awaiting your approval"
    plural: str  # "orders awaiting your approval"
    url: str

    @property
    def label(self) -> str:
        return self.singular if self.count == 1 else self.plural


def _url(name: str, **query) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def orders_awaiting_approval(user) -> ForYouItem:
    count = (
        procurement_selectors.purchase_order_list(
            user=user, filters={"status": PurchaseOrder.Status.SUBMITTED}
        )
        .exclude(raised_by=user)
        .order_by()
        .count()
    )
    return ForYouItem(
        "orders",
        count,
        "order awaiting your approval",
        "orders awaiting your approval",
        _url("procurement:purchase_order_list", status=PurchaseOrder.Status.SUBMITTED),
    )


def disposal_sign_offs_waiting(user) -> ForYouItem:
    count = disposal_selectors.overrides_awaiting_sign_off(user=user).order_by().count()
    return ForYouItem(
        "sign_offs",
        count,
        "disposal route awaiting sign-off",
        "disposal routes awaiting sign-off",
        _url("disposals:route_sign_offs"),
    )


def swaps_waiting(user) -> ForYouItem:
    """Swaps neither completed nor cancelled, in waves of the user's units."""
    waves = refresh_selectors.wave_list(scope=unit_scope(user))
    count = sum(w.item_count - w.completed_count - w.cancelled_count for w in waves)
    return ForYouItem(
        "swaps",
        count,
        "swap waiting for an action",
        "swaps waiting for an action",
        _url("refresh:wave_list"),
    )


def devices_awaiting_sanitisation(user) -> ForYouItem:
    """The disposals board's "Awaiting sanitisation" queue: cases that need a wipe."""
    count = (
        disposal_selectors.case_list(user=user)
        .filter(status=DisposalCase.Status.AWAITING_SANITISATION)
        .order_by()
        .count()
    )
    return ForYouItem(
        "sanitisation",
        count,
        "device awaiting sanitisation",
        "devices awaiting sanitisation",
        _url("disposals:board", queue="awaiting_sanitisation"),
    )


def at_checks_waiting(user) -> ForYouItem:
    """AT checks a second person must confirm: not those this user deployed."""
    count = device_selectors.at_checks_pending(user).exclude(deployed_by=user).order_by().count()
    return ForYouItem(
        "at_checks",
        count,
        "AT check waiting for a second person",
        "AT checks waiting for a second person",
        _url("admin:devices_atcheck_changelist", confirmed_at__isempty="1"),
    )


def exceptions_awaiting_review(user) -> ForYouItem:
    """Entitlement exceptions requested by someone else, in the user's units."""
    count = (
        device_selectors.entitlement_exceptions_awaiting_review(user=user)
        .exclude(requested_by=user)
        .order_by()
        .count()
    )
    return ForYouItem(
        "exceptions",
        count,
        "entitlement exception awaiting review",
        "entitlement exceptions awaiting review",
        _url(
            "admin:devices_entitlementexception_changelist",
            status__exact=EntitlementException.Status.REQUESTED,
        ),
    )


def reports_ready(user) -> ForYouItem:
    """Reports generated for the user's units for the latest month any was (one query)."""
    latest = (
        report_selectors.report_run_list(user=user)
        .filter(status=ReportRun.Status.SUCCEEDED)
        .values("period_start")
        .annotate(n=Count("id"))
        .order_by("-period_start")
        .first()
    )
    if latest is None:
        return ForYouItem(
            "reports", 0, "report ready", "reports ready", _url("reports:report_list")
        )
    month = f"{latest['period_start']:%B %Y}"
    return ForYouItem(
        "reports",
        latest["n"],
        f"report ready for {month}",
        f"reports ready for {month}",
        _url("reports:report_list", period=latest["period_start"].isoformat()),
    )


# Who acts on what: (item, roles that see it).
ITEMS = [
    (orders_awaiting_approval, {Role.FINANCE, Role.COMMERCIAL}),
    (disposal_sign_offs_waiting, {Role.FINANCE, Role.COMMERCIAL}),
    (swaps_waiting, {Role.ASSET_MANAGER}),
    (devices_awaiting_sanitisation, {Role.ASSET_MANAGER}),
    (at_checks_waiting, {Role.ASSET_MANAGER}),
    (exceptions_awaiting_review, {Role.ASSET_MANAGER}),
    (reports_ready, None),
]


def for_you(*, user) -> list[ForYouItem]:
    """The items for ``user``'s roles, in the order above (a superuser sees them all)."""
    return [item(user) for item, roles in ITEMS if roles is None or has_role(user, *roles)]
