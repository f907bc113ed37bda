"""Report runs: one stored, downloadable report per business unit per period.

The business case promises "regular reporting to business units to enable the
proper stewardship of devices". Each run records what was produced for whom,
when, how long it took, what went wrong, and where the files are.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.roles import can_see_commercial
from accounts.scoping import ScopedQuerySet, UnitScope, scoped_manager, unit_scope
from core.exports import OFFICIAL


def report_file_path(run: "ReportRun", filename: str) -> str:
    """Files live under reports/<kind>/<YYYY-MM>/ on the default storage (S3 etc. via STORAGES)."""
    return f"reports/{run.kind}/{run.period_start:%Y-%m}/{filename}"


class ReportRunQuerySet(ScopedQuerySet):
    """A stewardship run belongs to its unit; a finance run covers the organisation and
    belongs to no unit. So the runs within a scope are the stewardship runs of its
    units, and the runs a user may see add the finance runs for the roles that may
    see commercial figures (the finance report is OFFICIAL-SENSITIVE [COMMERCIAL])."""

    def scope_q(self, scope: UnitScope) -> Q:
        return Q(kind=ReportRun.Kind.STEWARDSHIP) & scope.q(self.scope_path)

    def within(self, scope: UnitScope | None) -> models.QuerySet:
        if scope is None:
            return self
        return self.filter(self.scope_q(scope))

    def visible_to(self, user) -> models.QuerySet:
        visible = self.scope_q(unit_scope(user))
        if can_see_commercial(user):
            visible |= Q(kind=ReportRun.Kind.FINANCE)
        return self.filter(visible)


class ReportRun(models.Model):
    """One generation of a report for one business unit (or the organisation) and one period.

    The database, not luck, guarantees one run per unit per period: a second
    beat or a retried task finds the existing row (``unique_unit_period`` /
    ``unique_org_period``) and a worker only starts it after winning a
    compare-and-swap from queued (or failed, or running with a lapsed lease) to
    running. The row is the source of truth for the work; a Celery message only
    wakes a worker up, and the reaper sends it again if it is lost
    (``reports.reaper``, README "Operations").
    """

    class Kind(models.TextChoices):
        STEWARDSHIP = "stewardship", "Stewardship report"
        FINANCE = "finance", "Finance report"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        ON_DEMAND = "on_demand", "On demand"
        DEMO = "demo", "Demo data"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STEWARDSHIP)
    business_unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="report_runs",
        help_text="The unit the report covers, sub-units included; empty for the finance report.",
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period, inclusive.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_runs",
    )
    attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Attempts ever started; the number is the attempt's fencing token and "
        "is in its files' names.",
    )
    attempts_base = models.PositiveSmallIntegerField(
        default=0,
        help_text="Attempts when the run was last queued: it is failed after "
        "RUN_MAX_ATTEMPTS more.",
    )
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While running: the worker holds the run until then and renews it; "
        "once it lapses another worker or the reaper takes over.",
    )
    progress_done = models.PositiveSmallIntegerField(default=0)
    progress_total = models.PositiveSmallIntegerField(default=0)
    idle_days = models.PositiveSmallIntegerField(
        default=90, help_text="Devices not seen for this many days count as idle."
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    woken_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the reaper last sent its wake-up again (a lost message, a lost worker).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    classification = models.CharField(max_length=64, default=OFFICIAL)
    device_rows = models.PositiveIntegerField(default=0)
    xlsx_file = models.FileField(upload_to=report_file_path, max_length=300, blank=True)
    csv_file = models.FileField(upload_to=report_file_path, max_length=300, blank=True)
    pdf_file = models.FileField(upload_to=report_file_path, max_length=300, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_to = models.CharField(max_length=254, blank=True)

    objects = scoped_manager("business_unit", base=ReportRunQuerySet)

    class Meta:
        ordering = ["-period_start", "kind", "business_unit__path"]
        constraints = [
            # One run per unit per period, whatever fires twice.
            models.UniqueConstraint(
                fields=["kind", "business_unit", "period_start"],
                condition=Q(business_unit__isnull=False),
                name="%(app_label)s_%(class)s_unique_unit_period",
            ),
            # NULL never equals NULL in a unique index, so the organisation-wide
            # (finance) report needs its own rule.
            models.UniqueConstraint(
                fields=["kind", "period_start"],
                condition=Q(business_unit__isnull=True),
                name="%(app_label)s_%(class)s_unique_org_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="%(app_label)s_%(class)s_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=(Q(kind="finance", business_unit__isnull=True))
                | (Q(kind="stewardship", business_unit__isnull=False)),
                name="%(app_label)s_%(class)s_unit_matches_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "period_start"], name="reports_run_status_period"),
        ]

    def __str__(self) -> str:
        who = self.business_unit.code if self.business_unit_id else "organisation"
        return f"{self.get_kind_display()} {who} {self.period_start:%Y-%m}"

    @property
    def period_label(self) -> str:
        return f"{self.period_start:%-d %B %Y} to {self.period_end:%-d %B %Y}"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def file_for(self, fmt: str):
        return {"xlsx": self.xlsx_file, "csv": self.csv_file, "pdf": self.pdf_file}.get(fmt)


class ReportNotification(models.Model):
    """The e-mail telling a unit's stewardship contact its report is ready: an outbox row.

    Written in the same transaction as the run's success, so the e-mail is owed as
    surely as the report is stored. The Celery message that sends it is only a
    wake-up; the reaper sends a lost one again. Delivery is at least once: a sender
    takes the row by compare-and-swap (with a lease), so two wake-ups never both send,
    and marks it sent after the mail server accepted it; only a sender that dies
    between those two steps causes a second e-mail, which carries the same
    Message-ID (``dedupe_key``) so mail systems can drop it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="notifications")
    dedupe_key = models.CharField(
        max_length=100, unique=True, help_text="One e-mail per successful attempt of a run."
    )
    recipient = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When its wake-up was last sent."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="reports_notif_status_queued"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="%(app_label)s_%(class)s_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification {self.dedupe_key} to {self.recipient} ({self.status})"
