from django.contrib import admin

from reports.models import ReportRun


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    """Runs are written by the workers; the admin shows them (the schedule itself is
    edited under Periodic tasks, django_celery_beat)."""

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
    date_hierarchy = "period_start"
    readonly_fields = (
        "queued_at",
        "started_at",
        "finished_at",
        "attempts",
        "progress_done",
        "progress_total",
        "summary",
        "error",
        "notified_at",
        "notified_to",
        "device_rows",
        "classification",
    )
