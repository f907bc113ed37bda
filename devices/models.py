"""The device estate: people, entitlements, device models, devices and their
append-only lifecycle log. Business units live in ``accounts``.

People, devices, events and entitlement exceptions belong to a business unit
(their own, their device's or their person's): their managers are
``scoped_manager``s, so reads ask ``Model.objects.visible_to(user)``. Role
profiles and the catalogue are shared by every unit; import runs are seen by
who ran them (``devices.importing.selectors``).

This app knows nothing of refresh, procurement, disposals or reports.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.models import BusinessUnit
from accounts.scoping import scoped_manager


class Category(models.TextChoices):
    """Device categories from the business case (tablet is a legacy category)."""

    LAPTOP = "laptop", "Laptop"
    DESKTOP = "desktop", "Desktop"
    MONITOR = "monitor", "Monitor"
    SMARTPHONE = "smartphone", "Smartphone"
    TABLET = "tablet", "Tablet (legacy)"


class RoleProfile(models.Model):
    """A role a person holds (response officer, fixed desk...), which sets entitlement."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Entitlement(models.Model):
    """How many devices of a category a person in a role profile may hold."""

    role_profile = models.ForeignKey(
        RoleProfile, on_delete=models.CASCADE, related_name="entitlements"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    quantity = models.PositiveSmallIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["role_profile", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["role_profile", "category"],
                name="%(app_label)s_%(class)s_unique_role_category",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role_profile}: {self.quantity} × {self.category}"


class Person(models.Model):
    """A member of staff who holds devices. Personal data kept to the minimum:
    a staff number, a business unit, a role profile and assistive-technology needs."""

    staff_number = models.CharField(max_length=32, unique=True)
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="people")
    role_profile = models.ForeignKey(RoleProfile, on_delete=models.PROTECT, related_name="people")
    at_needs = models.BooleanField("assistive-technology needs", default=False)
    at_note = models.CharField("assistive-technology note", max_length=200, blank=True)
    start_date = models.DateField()
    leaver_date = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["staff_number"]
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(
                condition=~Q(staff_number=""), name="%(app_label)s_%(class)s_staff_number_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(leaver_date__isnull=True) | Q(leaver_date__gte=models.F("start_date")),
                name="%(app_label)s_%(class)s_leaves_after_start",
            ),
        ]
        indexes = [
            # The headcount on a day (refresh's forecast) is the people a unit holds
            # less those outside the day: not started yet, or gone by it. Few of
            # either, counted per unit from these indexes alone (index-only scans)
            # instead of counting everyone.
            models.Index(fields=["start_date", "business_unit"], name="devices_person_start_unit"),
            models.Index(
                fields=["leaver_date", "business_unit"],
                name="devices_person_leaver_unit",
                condition=Q(leaver_date__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.staff_number


class Manufacturer(models.Model):
    """A device maker. Serial numbers are unique per manufacturer."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeviceModel(models.Model):
    """A catalogue entry. ``unit_price`` is OFFICIAL-SENSITIVE [COMMERCIAL]."""

    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, related_name="device_models"
    )
    name = models.CharField("model", max_length=200)
    category = models.CharField(max_length=16, choices=Category.choices)
    unit_price = models.DecimalField(
        "standard unit price", max_digits=12, decimal_places=2, null=True, blank=True
    )
    end_of_support = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["manufacturer__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "name"],
                name="%(app_label)s_%(class)s_unique_manufacturer_name",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__isnull=True) | Q(unit_price__gte=0),
                name="%(app_label)s_%(class)s_unit_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.name}"


# How pages, certificates and reports show a serial number that was never recorded
# (Device.serial_number NULL). Data exports leave the cell blank instead, so a file
# exported and imported again never records these words as a serial.
SERIAL_NOT_RECORDED = "Not recorded"


class Device(models.Model):
    """One physical device in the estate.

    Every status change keeps to ``ALLOWED_TRANSITIONS`` and writes a
    ``DeviceEvent``: one device at a time through
    ``devices.services.device_transition``, many at once through the importer's
    upsert and the disposal services' set-based moves. ``version`` increments on
    every write and backs the API's ETag.
    """

    class Status(models.TextChoices):
        IN_STOCK = "in_stock", "In stock"
        DEPLOYED = "deployed", "Deployed"
        IN_REPAIR = "in_repair", "In repair"
        RETURNED = "returned", "Returned"
        AWAITING_SANITISATION = "awaiting_sanitisation", "Awaiting sanitisation"
        SANITISED = "sanitised", "Sanitised"
        DISPOSED = "disposed", "Disposed"
        LOST_STOLEN = "lost_stolen", "Lost or stolen"

    asset_tag = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # NULL when the serial was never recorded (estates migrated from tools keyed by
    # asset tag, such as Snipe-IT's import template); never blank. NULL rather than
    # "" so the (manufacturer, serial) unique key ignores it. A device without a
    # serial is known by its asset tag, so it must have one (CHECK below).
    serial_number = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    manufacturer = models.ForeignKey(Manufacturer, on_delete=models.PROTECT, related_name="devices")
    # No index of its own: (device_model, id) below serves it.
    device_model = models.ForeignKey(
        DeviceModel, on_delete=models.PROTECT, related_name="devices", db_index=False
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.IN_STOCK)
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="devices"
    )
    assigned_to = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="devices"
    )
    location = models.CharField(max_length=200, blank=True)
    purchase_date = models.DateField(null=True, blank=True)
    warranty_expires = models.DateField(null=True, blank=True)
    purchase_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    historical = models.BooleanField(
        default=False,
        help_text="Recorded as disposed on import; no custody record.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version", "updated_at"])

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["id"]
        constraints = [
            # Unique only where the serial is recorded: PostgreSQL and SQLite both
            # treat NULLs as distinct here, so any number of devices may have none.
            models.UniqueConstraint(
                fields=["manufacturer", "serial_number"],
                name="%(app_label)s_%(class)s_unique_manufacturer_serial",
            ),
            models.CheckConstraint(
                condition=Q(serial_number__isnull=True) | ~Q(serial_number=""),
                name="%(app_label)s_%(class)s_serial_not_blank",
            ),
            # A device is found by its serial or by its asset tag: never by neither.
            models.CheckConstraint(
                condition=Q(serial_number__isnull=False)
                | (Q(asset_tag__isnull=False) & ~Q(asset_tag="")),
                name="%(app_label)s_%(class)s_serial_or_tag",
            ),
            models.CheckConstraint(
                condition=Q(purchase_cost__isnull=True) | Q(purchase_cost__gte=0),
                name="%(app_label)s_%(class)s_purchase_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(assigned_to__isnull=True) | Q(status__in=["deployed", "in_repair"]),
                name="%(app_label)s_%(class)s_assigned_only_when_in_use",
            ),
            # The status machine's other half: deployed means deployed to someone.
            models.CheckConstraint(
                condition=~Q(status="deployed") | Q(assigned_to__isnull=False),
                name="%(app_label)s_%(class)s_deployed_has_holder",
            ),
            # Only a device disposed of before records began is historical; a live
            # device reaches a disposal status through a disposal case, never this flag.
            models.CheckConstraint(
                condition=Q(historical=False) | Q(status="disposed"),
                name="%(app_label)s_%(class)s_historical_only_disposed",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "business_unit"], name="devices_device_status_unit"),
            # The device list's sortable columns: each sort walks one of these in
            # (column, id) order, so a keyset page costs the same at any depth
            # (devices.listing). The serial one also serves the prefix search.
            models.Index(fields=["asset_tag", "id"], name="devices_device_tag_id"),
            models.Index(fields=["serial_number", "id"], name="devices_device_serial_id"),
            models.Index(fields=["device_model", "id"], name="devices_device_model_id"),
            models.Index(fields=["status", "id"], name="devices_device_status_id"),
            models.Index(fields=["last_seen", "id"], name="devices_device_seen_id"),
            models.Index(fields=["purchase_date", "id"], name="devices_device_bought_id"),
            # Scoped lists walk one unit's devices in id (cursor) order; measured 55 ms -> 0.4 ms
            # at 1,000,000 devices (bench/RESULTS.md, REST API).
            models.Index(fields=["business_unit", "id"], name="devices_device_unit_id"),
        ]

    def __str__(self) -> str:
        return self.asset_tag or f"{self.manufacturer_id}:{self.serial_number}"

    @property
    def historical_label(self) -> str:
        return "Historical (disposed before records began)" if self.historical else ""

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


# The device status machine, in one place. Anything not listed is refused.
S = Device.Status
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.IN_STOCK: frozenset(
        {S.DEPLOYED, S.IN_REPAIR, S.RETURNED, S.LOST_STOLEN, S.AWAITING_SANITISATION}
    ),
    S.DEPLOYED: frozenset({S.IN_STOCK, S.IN_REPAIR, S.RETURNED, S.LOST_STOLEN}),
    S.IN_REPAIR: frozenset({S.DEPLOYED, S.IN_STOCK, S.RETURNED, S.LOST_STOLEN}),
    S.RETURNED: frozenset({S.IN_STOCK, S.AWAITING_SANITISATION, S.LOST_STOLEN}),
    # Physical destruction after a failed sanitisation goes straight to disposed.
    S.AWAITING_SANITISATION: frozenset({S.SANITISED, S.DISPOSED}),
    S.SANITISED: frozenset({S.DISPOSED}),
    S.LOST_STOLEN: frozenset({S.IN_STOCK, S.RETURNED}),
    S.DISPOSED: frozenset(),
}
del S


class DeviceEvent(models.Model):
    """An append-only entry in a device's lifecycle log (its chain of custody)."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        IMPORTED = "imported", "Imported"
        UPDATED = "updated", "Updated"
        DEPLOYED = "deployed", "Deployed"
        REASSIGNED = "reassigned", "Reassigned"
        REPAIR_STARTED = "repair_started", "Sent for repair"
        REPAIRED = "repaired", "Repaired"
        RETURNED = "returned", "Returned"
        RECLAIMED = "reclaimed", "Reclaimed to stock"
        LOST = "lost", "Lost or stolen"
        FOUND = "found", "Recovered"
        SANITISATION = "sanitisation", "Sanitisation"
        DISPOSAL = "disposal", "Disposal step"
        DISPOSED = "disposed", "Disposed"
        NOTE = "note", "Note"

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    source = models.CharField(
        max_length=100, blank=True, help_text="What wrote it: 'import:42', 'api', 'web', 'seed'."
    )
    details = models.JSONField(default=dict, blank=True)

    objects = scoped_manager("device__business_unit")

    class Meta:
        ordering = ["device", "occurred_at", "id"]
        indexes = [
            models.Index(fields=["device", "occurred_at"], name="devices_event_device_time"),
            models.Index(fields=["kind", "occurred_at"], name="devices_event_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.kind} {self.occurred_at:%Y-%m-%d}"


class EntitlementException(models.Model):
    """Permission for a person to hold more of a category than their role allows.

    The business case's deployment policy is strict: anything beyond the role's
    entitlement needs a recorded reason and an approver. An exception is
    requested, then approved (or refused) by someone other than the requester;
    only approved exceptions that are still in date count in entitlement checks.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Awaiting review"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="entitlement_exceptions"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    extra_quantity = models.PositiveSmallIntegerField(default=1)
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty only for an exception recorded by a command-line import.",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    objects = scoped_manager("person__business_unit")

    class Meta:
        ordering = ["person", "category", "-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""), name="%(app_label)s_%(class)s_reason_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(extra_quantity__gte=1),
                name="%(app_label)s_%(class)s_extra_at_least_one",
            ),
            # An approved exception names its approver and when; any other has neither.
            models.CheckConstraint(
                condition=(
                    Q(status="approved", approved_by__isnull=False, approved_at__isnull=False)
                    | (
                        ~Q(status="approved")
                        & Q(approved_by__isnull=True, approved_at__isnull=True)
                    )
                ),
                name="%(app_label)s_%(class)s_approval_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person}: +{self.extra_quantity} {self.category}"

    def save(self, *args, **kwargs):
        # A row created with its approver already named (the way exceptions were
        # recorded before the approval step: fixtures, the admin) is an approved
        # one requested by that approver, exactly as migration 0005 records old rows.
        if self._state.adding and self.approved_by_id and self.status == self.Status.REQUESTED:
            self.status = self.Status.APPROVED
            if self.requested_by_id is None:
                self.requested_by_id = self.approved_by_id
            if self.approved_at is not None:
                self.requested_at = min(self.requested_at, self.approved_at)
        super().save(*args, **kwargs)


class ATCheck(models.Model):
    """A deployment to a person with assistive-technology needs, awaiting (or
    having had) confirmation that their AT and accessibility tools work.

    Business case: a refresh for someone with AT needs is not complete until
    their AT is confirmed working. Every door that deploys a device opens one
    (``devices.services.at_checks_open``); ``at_check_confirm`` closes it, by
    someone other than the deployer, with a note of what was checked.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="at_checks")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="at_checks")
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deployed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    objects = scoped_manager("device__business_unit")

    class Meta:
        ordering = ["deployed_at", "id"]
        verbose_name = "AT check"
        indexes = [
            models.Index(fields=["confirmed_at", "device"], name="devices_atcheck_pending_device"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True, confirmed_by__isnull=True)
                | (Q(confirmed_at__isnull=False, confirmed_by__isnull=False) & ~Q(note="")),
                name="%(app_label)s_%(class)s_confirmation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"AT check {self.device_id} for {self.person_id}"

    @property
    def pending(self) -> bool:
        return self.confirmed_at is None


class ImportRun(models.Model):
    """One estate import (a file from the command or the browser page).

    Every import is recorded, dry runs and failed ones included: who ran it,
    the file's name and SHA-256, the mode, the counts, progress while it runs,
    the warnings (unknown columns...), a sample of the row errors for the page
    and the full error report file. Devices it changed carry events whose
    ``source`` is ``import:<id>``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all-or-nothing", "All or nothing"
        VALID_ROWS = "valid-rows", "Valid rows"

    class Origin(models.TextChoices):
        WEB = "web", "Browser upload"
        COMMAND = "command", "Management command"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="import_runs",
    )
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.WEB)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    file = models.FileField(upload_to="imports/uploads/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField("SHA-256 of the file", max_length=64)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.VALID_ROWS)
    mapping = models.CharField(max_length=32, default="default")
    dry_run = models.BooleanField(default=False)
    record_exceptions = models.BooleanField(
        default=False,
        help_text="First migration of an existing estate: record each entitlement "
        "exceedance as an exception awaiting review instead of rejecting the row.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    field_changes = models.JSONField(
        default=dict,
        blank=True,
        help_text='Updated rows\' changed fields counted per field, e.g. {"location": 40}.',
    )
    warnings = models.JSONField(default=list, blank=True)
    error_sample = models.JSONField(
        default=list, blank=True, help_text="The first row errors, for the summary page."
    )
    error_report = models.FileField(upload_to="imports/errors/%Y/%m/", blank=True, max_length=300)
    failure_message = models.TextField(
        blank=True, help_text="Why the file could not be read, or why the run failed."
    )
    file_unreadable = models.BooleanField(default=False)
    applied = models.BooleanField(
        default=False,
        help_text="Whether the import's changes were committed (never for a dry run).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run's lease (devices.importing.runs, core.leases): the row is the source of
    # truth, a Celery message only a wake-up; a lapsed lease is taken over or reaped.
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Attempts started; the number fences each attempt's writes."
    )
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The worker holds the run until then and renews it while it works.",
    )
    woken_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the reaper last sent its wake-up again (a lost message or worker).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_processed__lte=models.F("rows_total")) | Q(rows_total=0),
                name="%(app_label)s_%(class)s_processed_within_total",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(finished_at__gte=models.F("started_at")),
                name="%(app_label)s_%(class)s_finishes_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk} {self.file_name}"

    @property
    def source(self) -> str:
        """The ``source`` written on the events of devices this import changed."""
        return f"import:{self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        if not self.rows_total:
            return 0
        return min(100, (100 * self.rows_processed) // self.rows_total)


class EstateCount(models.Model):
    """How many devices of one model, in one business unit, are in one status.

    Kept by the database, not by the services: triggers on ``devices_device``
    (migration 0007; PostgreSQL statement triggers with transition tables, SQLite
    row triggers) add and subtract on every INSERT, DELETE and change of status,
    unit or model, whatever the door (ORM, COPY, raw SQL). Nothing in the apps
    writes it. Keyed by device model rather than category, so a category is a
    join to the small catalogue, and a list filtered by model is counted here too.
    Dashboard and list totals read it instead of counting a million devices.
    """

    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="+")
    device_model = models.ForeignKey(DeviceModel, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=32, choices=Device.Status.choices)
    devices = models.BigIntegerField(default=0)

    objects = scoped_manager("business_unit")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_unit", "device_model", "status"],
                name="%(app_label)s_%(class)s_unique_unit_model_status",
            )
        ]

    def __str__(self) -> str:
        return f"{self.business_unit_id}/{self.device_model_id}/{self.status}: {self.devices}"
