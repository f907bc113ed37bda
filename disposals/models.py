"""Disposals: how a returned device leaves the estate, and the proof that it did.

Flow (business case: "old devices being digitally sanitised in line with MPS
security procedures and then repurposed through approved routes"; "we will review
whether there is any residual monetary value before deciding to [donate]"):

    awaiting sanitisation -> sanitised -> value assessed -> route chosen
        -> in consignment -> dispatched -> disposed
    awaiting sanitisation -> sanitisation failed -> route chosen (destruction) -> ...

A case's status moves only through ``disposals.services.cases_transition`` (or
``case_transition`` for one case), which checks ``CASE_TRANSITIONS``. Every step writes a ``devices.DeviceEvent``, so
the device's own timeline is its chain of custody.

Retention: disposal records are never deleted. ``delete()`` on a model or a
queryset raises, every foreign key is PROTECT, and the admin offers no delete.
How long they are kept is a policy (``settings.DISPOSALS_RETENTION_YEARS``,
default 7 years after disposal, read as ``disposals.services.RETENTION_YEARS``),
for an audited archive process outside this app to apply; never a cascade.

Scope: each record's manager knows its way to the device's business unit, so
callers ask ``Model.objects.visible_to(user)`` or ``.within(scope)``. A
consignment is in a scope when any of its cases is. Partners and residual-value
rules are organisation-wide reference data and have no scope.

Operators and verifiers of a wipe are recorded as the technician's name or staff
ID *as text*, not as users or Person rows: wipes are often done by contractor
staff who have neither. They must differ (service and a DB check constraint,
compared case-insensitively and ignoring surrounding spaces, which the service
strips before saving).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from simple_history.models import HistoricalRecords

from accounts.scoping import UnitScope, scoped_manager
from devices.models import Category
from disposals.records import KeptModel, KeptQuerySet, KeptScopedQuerySet, RecordsAreKept

__all__ = ["KeptModel", "KeptQuerySet", "KeptScopedQuerySet", "RecordsAreKept"]


class ConsignmentQuerySet(KeptScopedQuerySet):
    """A consignment carries several units' devices: it is inside a scope when any
    of its cases is, and a scope-limited user counts only their own devices in it."""

    def within(self, scope: UnitScope | None) -> models.QuerySet:
        if scope is None or scope.unrestricted:
            return self
        if scope.empty:
            return self.none()
        return self.filter(self.scope_q(scope))

    def scope_q(self, scope: UnitScope) -> Q:
        if scope.unrestricted:
            return Q()
        if scope.empty:
            return Q(pk__in=[])
        return Q(Exists(DisposalCase.objects.filter(consignment=OuterRef("pk")).within(scope)))

    def with_device_count(self, scope: UnitScope | None) -> models.QuerySet:
        """Annotate ``device_count``: the devices in each consignment inside ``scope``
        (``None``: all of them), counted in the same query."""
        in_scope = Q() if scope is None else scope.q(self.scope_path)
        return self.annotate(device_count=Count("cases", filter=in_scope))


class Route(models.TextChoices):
    RESALE = "resale", "Resale"
    REUSE = "reuse", "Reuse (digital inclusion)"
    RECYCLING = "recycling", "Recycling (WEEE)"
    DESTRUCTION = "destruction", "Destruction"


class Grade(models.TextChoices):
    A = "A", "A – as new"
    B = "B", "B – light wear"
    C = "C", "C – heavy wear or faults"
    SCRAP = "scrap", "Scrap"


# Grades whose devices are fit to donate for digital inclusion.
REUSABLE_GRADES = frozenset({Grade.A, Grade.B})


class ResidualValueRule(models.Model):
    """The rule finance tunes to estimate what a returned device is worth.

    estimate = catalogue unit price
               x base % for the device's category
               x (1 - depreciation % per year) ^ age in years   (declining balance)
               x the grade's multiplier
    rounded to the penny; an estimate below ``floor`` counts as nil (not worth
    the handling). Unknown unit price or purchase date gives nil. A device whose
    estimate reaches ``resale_threshold`` is suggested for resale.

    The rule in force is the latest whose ``effective_from`` is on or before the
    assessment date; each assessment keeps the rule it used.
    """

    name = models.CharField(max_length=100)
    effective_from = models.DateField(unique=True)
    base_percent_laptop = models.DecimalField(max_digits=5, decimal_places=2, default=40)
    base_percent_desktop = models.DecimalField(max_digits=5, decimal_places=2, default=30)
    base_percent_monitor = models.DecimalField(max_digits=5, decimal_places=2, default=25)
    base_percent_smartphone = models.DecimalField(max_digits=5, decimal_places=2, default=45)
    base_percent_tablet = models.DecimalField(max_digits=5, decimal_places=2, default=35)
    depreciation_percent_per_year = models.DecimalField(max_digits=5, decimal_places=2, default=20)
    multiplier_a = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("1.00"))
    multiplier_b = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.75"))
    multiplier_c = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.40"))
    multiplier_scrap = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.00"))
    floor = models.DecimalField(
        "nil below (£)", max_digits=10, decimal_places=2, default=Decimal("10.00")
    )
    resale_threshold = models.DecimalField(
        "resale threshold (£)", max_digits=10, decimal_places=2, default=Decimal("50.00")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(floor__gte=0) & Q(resale_threshold__gte=0),
                name="%(app_label)s_%(class)s_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(depreciation_percent_per_year__gte=0)
                & Q(depreciation_percent_per_year__lte=100),
                name="%(app_label)s_%(class)s_depreciation_is_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from})"

    def base_percent(self, category: str) -> Decimal:
        return getattr(self, f"base_percent_{category}", Decimal(0))

    def multiplier(self, grade: str) -> Decimal:
        return getattr(self, f"multiplier_{grade.lower()}")


class Partner(models.Model):
    """An approved organisation a consignment goes to.

    Licensed WEEE recyclers must carry their waste licence / permit number.
    """

    class Kind(models.TextChoices):
        RESELLER = "reseller", "Approved reseller"
        DIGITAL_INCLUSION = "digital_inclusion", "Digital-inclusion partner"
        WEEE_RECYCLER = "weee_recycler", "Licensed WEEE recycler"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    licence_number = models.CharField("waste licence or permit number", max_length=100, blank=True)
    contact_email = models.EmailField(blank=True)
    approved = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="weee_recycler") | ~Q(licence_number=""),
                name="%(app_label)s_%(class)s_recycler_has_licence",
            )
        ]

    def __str__(self) -> str:
        return self.name


# Which partner kinds may take each route.
PARTNER_KINDS_FOR_ROUTE = {
    Route.RESALE: {Partner.Kind.RESELLER},
    Route.REUSE: {Partner.Kind.DIGITAL_INCLUSION},
    Route.RECYCLING: {Partner.Kind.WEEE_RECYCLER},
    Route.DESTRUCTION: {Partner.Kind.WEEE_RECYCLER},
}


class Consignment(KeptModel):
    """A batch of devices leaving on one route to one partner, and its proof.

    Closing it needs the dispatch details and the partner's certificate; closing
    marks every device in it disposed.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISPATCHED = "dispatched", "Dispatched"
        CLOSED = "closed", "Closed"

    reference = models.CharField(max_length=32, unique=True)
    route = models.CharField(max_length=16, choices=Route.choices)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="consignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dispatch_date = models.DateField(null=True, blank=True)
    collected_by = models.CharField(max_length=200, blank=True)
    transfer_note_ref = models.CharField(
        "waste transfer note or equivalent reference", max_length=100, blank=True
    )
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proceeds = models.DecimalField(
        "resale proceeds (£)", max_digits=12, decimal_places=2, null=True, blank=True
    )
    certificate = models.FileField(upload_to="disposals/certificates/%Y/%m/", blank=True)
    certificate_content_type = models.CharField(max_length=64, blank=True)
    certificate_uploaded_at = models.DateTimeField(null=True, blank=True)
    certificate_uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = scoped_manager("cases__device__business_unit", base=ConsignmentQuerySet)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(proceeds__isnull=True) | (Q(route="resale") & Q(proceeds__gte=0)),
                name="%(app_label)s_%(class)s_proceeds_only_for_resale",
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | (Q(dispatch_date__isnull=False) & ~Q(collected_by="") & ~Q(transfer_note_ref="")),
                name="%(app_label)s_%(class)s_dispatch_recorded",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | (~Q(certificate="") & Q(closed_at__isnull=False)),
                name="%(app_label)s_%(class)s_closed_with_certificate",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class DisposalCase(KeptModel):
    """One device's way out of the estate. One per device, never deleted."""

    class Status(models.TextChoices):
        AWAITING_SANITISATION = "awaiting_sanitisation", "Awaiting sanitisation"
        SANITISED = "sanitised", "Sanitised"
        SANITISATION_FAILED = "sanitisation_failed", "Sanitisation failed"
        VALUE_ASSESSED = "value_assessed", "Value assessed"
        ROUTE_CHOSEN = "route_chosen", "Route chosen"
        IN_CONSIGNMENT = "in_consignment", "In consignment"
        DISPATCHED = "dispatched", "Dispatched"
        DISPOSED = "disposed", "Disposed"

    device = models.OneToOneField(
        "devices.Device", on_delete=models.PROTECT, related_name="disposal_case"
    )
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.AWAITING_SANITISATION
    )
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The chosen route, copied from the RouteDecision so queues and summaries group cheaply.
    route = models.CharField(max_length=16, choices=Route.choices, blank=True)
    consignment = models.ForeignKey(
        Consignment, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    disposed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField()

    objects = scoped_manager("device__business_unit", base=KeptScopedQuerySet)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status"], name="disposals_case_status"),
            models.Index(fields=["route", "disposed_at"], name="disposals_case_route_disposed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(consignment__isnull=True)
                | Q(status__in=["in_consignment", "dispatched", "disposed"]),
                name="%(app_label)s_%(class)s_consignment_only_when_consigned",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["in_consignment", "dispatched"])
                | Q(consignment__isnull=False),
                name="%(app_label)s_%(class)s_consigned_has_consignment",
            ),
            models.CheckConstraint(
                condition=~Q(
                    status__in=["route_chosen", "in_consignment", "dispatched", "disposed"]
                )
                | ~Q(route=""),
                name="%(app_label)s_%(class)s_routed_has_route",
            ),
            models.CheckConstraint(
                condition=~Q(status="disposed") | Q(disposed_at__isnull=False),
                name="%(app_label)s_%(class)s_disposed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Disposal of {self.device_id}"


S = DisposalCase.Status
# The disposal status machine, in one place. Anything not listed is refused.
CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_SANITISATION: frozenset({S.SANITISED, S.SANITISATION_FAILED}),
    S.SANITISED: frozenset({S.VALUE_ASSESSED}),
    # A failed wipe goes to physical destruction, never to assessment or resale.
    S.SANITISATION_FAILED: frozenset({S.ROUTE_CHOSEN}),
    S.VALUE_ASSESSED: frozenset({S.ROUTE_CHOSEN}),
    S.ROUTE_CHOSEN: frozenset({S.IN_CONSIGNMENT}),
    S.IN_CONSIGNMENT: frozenset({S.ROUTE_CHOSEN, S.DISPATCHED}),
    S.DISPATCHED: frozenset({S.DISPOSED}),
    S.DISPOSED: frozenset(),
}
del S


class SanitisationRecord(KeptModel):
    """One attempt to sanitise a device: how, to what standard, by whom, with what result."""

    class Method(models.TextChoices):
        CRYPTO_ERASE = "crypto_erase", "Cryptographic erase"
        OVERWRITE = "overwrite", "Overwrite"
        DEGAUSS = "degauss", "Degauss"
        PHYSICAL_DESTRUCTION = "physical_destruction", "Physical destruction"

    class Result(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"

    case = models.ForeignKey(
        DisposalCase, on_delete=models.PROTECT, related_name="sanitisation_records"
    )
    method = models.CharField(max_length=32, choices=Method.choices)
    standard = models.CharField(
        max_length=100, help_text="e.g. NCSC, HMG IS5, NIST SP 800-88 Purge"
    )
    tool = models.CharField("tool or software", max_length=100)
    tool_version = models.CharField(max_length=50, blank=True)
    operator = models.CharField(max_length=100, help_text="Technician's name or staff ID")
    verifier = models.CharField(max_length=100, help_text="A different person from the operator")
    performed_at = models.DateTimeField()
    result = models.CharField(max_length=8, choices=Result.choices)
    certificate_ref = models.CharField("certificate or log reference", max_length=200)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=100, blank=True)

    objects = scoped_manager("case__device__business_unit", base=KeptScopedQuerySet)

    class Meta:
        ordering = ["case", "performed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Exact(Lower("operator"), Lower("verifier")),
                name="%(app_label)s_%(class)s_verifier_not_operator",
            ),
            models.CheckConstraint(
                condition=~Q(operator="") & ~Q(verifier="") & ~Q(certificate_ref=""),
                name="%(app_label)s_%(class)s_people_and_reference_given",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.result} ({self.certificate_ref})"


class ResidualValueAssessment(KeptModel):
    """What a sanitised device is worth, by the rule in force. Commercial."""

    case = models.OneToOneField(DisposalCase, on_delete=models.PROTECT, related_name="assessment")
    # Only a passing record can back an assessment (validated by full_clean via
    # limit_choices_to, and by the service).
    sanitisation = models.ForeignKey(
        SanitisationRecord,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"result": "pass"},
    )
    grade = models.CharField(max_length=8, choices=Grade.choices)
    rule = models.ForeignKey(ResidualValueRule, on_delete=models.PROTECT, related_name="+")
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    age_years = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    estimated_value = models.DecimalField(max_digits=12, decimal_places=2)
    policy_destruction = models.BooleanField(
        default=False, help_text="Security policy requires destruction whatever the value"
    )
    assessed_at = models.DateTimeField()
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = scoped_manager("case__device__business_unit", base=KeptScopedQuerySet)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(estimated_value__gte=0),
                name="%(app_label)s_%(class)s_value_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Grade {self.grade} assessment of case {self.case_id}"


class RouteDecision(KeptModel):
    """The route a device takes: the suggestion, its reason, and any override."""

    case = models.OneToOneField(
        DisposalCase, on_delete=models.PROTECT, related_name="route_decision"
    )
    # Every route but destruction after a failed wipe must rest on a passing record
    # and an assessment (the DB check below; full_clean checks the record passed).
    sanitisation = models.ForeignKey(
        SanitisationRecord,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"result": "pass"},
    )
    assessment = models.ForeignKey(
        ResidualValueAssessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suggested_route = models.CharField(max_length=16, choices=Route.choices)
    suggestion_reason = models.CharField(max_length=300)
    route = models.CharField(max_length=16, choices=Route.choices)
    override_reason = models.CharField(max_length=500, blank=True)
    # Overriding a suggested resale throws away residual value: the override is only a
    # request (by ``decided_by``) until a finance or commercial officer signs it off
    # (a ``RouteOverrideSignOff`` row: this table is append-only, so the sign-off is a
    # row of its own rather than an update of this one).
    needs_sign_off = models.BooleanField(default=False)
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = scoped_manager("case__device__business_unit", base=KeptScopedQuerySet)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(route=F("suggested_route")) | ~Q(override_reason=""),
                name="%(app_label)s_%(class)s_override_has_reason",
            ),
            # Only an override away from a suggested resale waits for a sign-off. (The
            # service flags every such override; decisions from before the sign-off
            # rule are not flagged. On PostgreSQL a trigger on the case refuses the
            # move to "route chosen" of an unsigned resale override, flag or not.)
            models.CheckConstraint(
                condition=Q(needs_sign_off=False)
                | (Q(suggested_route="resale") & ~Q(route="resale")),
                name="%(app_label)s_%(class)s_sign_off_only_for_resale_override",
            ),
            models.CheckConstraint(
                condition=Q(route="destruction")
                | (Q(sanitisation__isnull=False) & Q(assessment__isnull=False)),
                name="%(app_label)s_%(class)s_route_rests_on_sanitisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_route_display()} for case {self.case_id}"

    @property
    def overridden(self) -> bool:
        return self.route != self.suggested_route

    @property
    def review(self) -> RouteOverrideSignOff | None:
        """The finance or commercial officer's decision on this override request
        (signed off or rejected), or None (reads ``sign_off``: select it with the
        decision)."""
        if not self.needs_sign_off:
            return None
        try:
            return self.sign_off
        except RouteOverrideSignOff.DoesNotExist:
            return None

    @property
    def awaiting_sign_off(self) -> bool:
        """An override away from resale that no finance or commercial officer has
        decided on yet (neither signed off nor rejected)."""
        return self.needs_sign_off and self.review is None

    @property
    def override_rejected(self) -> bool:
        """The override was refused: the device keeps its suggested route (resale)."""
        review = self.review
        return review is not None and review.outcome == RouteOverrideSignOff.Outcome.REJECTED

    @property
    def final_route(self) -> str:
        """The route the device takes: the suggestion when the override was rejected,
        else the route asked for (pending requests included: see ``awaiting_sign_off``)."""
        return self.suggested_route if self.override_rejected else self.route

    def get_final_route_display(self) -> str:
        return Route(self.final_route).label


class RouteOverrideSignOff(KeptModel):
    """A finance or commercial officer's decision on a request to override a suggested
    resale (business case: residual value is assessed before the route is chosen,
    resale where value exists): signed off (the device takes the route asked for) or
    rejected with a reason (the device keeps the suggested resale). Never by the
    person who asked for the override. One per request, append-only, like the
    decision it answers.

    ``signed_off_at``, ``signed_off_by`` and ``signed_off_as`` say when, who and in
    which role (finance or commercial) the officer decided, whichever the outcome."""

    class Outcome(models.TextChoices):
        SIGNED_OFF = "signed_off", "Signed off"
        REJECTED = "rejected", "Rejected"

    decision = models.OneToOneField(
        RouteDecision, on_delete=models.PROTECT, related_name="sign_off"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SIGNED_OFF)
    # Why a request was rejected (required then); empty for a sign-off.
    reason = models.CharField(max_length=500, blank=True)
    signed_off_at = models.DateTimeField()
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The approver's role when deciding (finance or commercial), kept as evidence.
    signed_off_as = models.CharField(max_length=32)

    objects = scoped_manager("decision__case__device__business_unit", base=KeptScopedQuerySet)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="rejected") | ~Q(reason=""),
                name="%(app_label)s_%(class)s_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["signed_off", "rejected"]),
                name="%(app_label)s_%(class)s_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        verb = "Rejection" if self.outcome == self.Outcome.REJECTED else "Sign-off"
        return f"{verb} of the route override for case {self.decision.case_id}"

    @property
    def rejected(self) -> bool:
        return self.outcome == self.Outcome.REJECTED


# Rough weights for environmental reporting (kg per device), by category.
ESTIMATED_WEIGHT_KG = {
    Category.LAPTOP: Decimal("2.0"),
    Category.DESKTOP: Decimal("7.5"),
    Category.MONITOR: Decimal("5.0"),
    Category.SMARTPHONE: Decimal("0.2"),
    Category.TABLET: Decimal("0.6"),
}
