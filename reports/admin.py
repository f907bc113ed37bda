"""Admin for report runs: what was produced for whom, when, and where the files are.

A run's status, files and figures are written by the workers (``reports.services``):
the admin shows runs and edits none of them. "Generate again" is the service's own
on-demand request (``report_run_request``: scope, role and the one-run-per-period rule
all apply), queued like the page's button. The schedule itself is edited under
Periodic tasks (django_celery_beat).
"""

from django.contrib import admin, messages

from accounts.admin import ScopedAdminMixin, ViewOnlyAdminMixin
from core.errors import DomainError
from reports import services
from reports.models import ReportNotification, ReportRun


@admin.register(ReportRun)
class ReportRunAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "business_unit",
        "period_start",
        "status",
        "attempts",
        "started_at",
        "finished_at",
        "notified_at",
    )
    list_filter = ("kind", "status", "trigger", "period_start")
    search_fields = ("business_unit__code", "business_unit__name")
    raw_id_fields = ("business_unit", "requested_by")
    list_select_related = ("business_unit",)
    date_hierarchy = "period_start"
    actions = ["generate_again"]

    @admin.action(description="Generate the selected reports again")
    def generate_again(self, request, queryset):
        queued = 0
        for run in queryset.select_related("business_unit").order_by("pk"):
            try:
                services.report_run_request(
                    user=request.user,
                    kind=run.kind,
                    unit=run.business_unit,
                    period_start=run.period_start,
                )
            except DomainError as error:
                self.message_user(request, f"{run}: {error}", messages.ERROR)
            else:
                queued += 1
        if queued:
            self.message_user(request, f"{queued} report(s) queued to generate again.")


@admin.register(ReportNotification)
class ReportNotificationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The outbox of "your report is ready" e-mails, written with each run's success
    and sent by the workers (``reports.notifications``): shown, never edited. Staff
    see the notifications of the runs within their unit scope."""

    list_display = ("dedupe_key", "run", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status",)
    raw_id_fields = ("run",)
    list_select_related = ("run__business_unit",)

    def get_queryset(self, request):
        runs = ReportRun.objects.visible_to(request.user)
        return super().get_queryset(request).filter(run__in=runs)
