from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.models import ReportRun

FORMATS = ("xlsx", "csv", "pdf")


class ReportFileSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    url = serializers.URLField(help_text="Download through the scoped view (session or token).")
    filename = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, when the storage can tell.")


class ReportRunSerializer(serializers.ModelSerializer):
    business_unit_code = serializers.CharField(
        source="business_unit.code", read_only=True, default=None
    )
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    files = serializers.SerializerMethodField()

    class Meta:
        model = ReportRun
        fields = [
            "id",
            "kind",
            "business_unit",
            "business_unit_code",
            "period_start",
            "period_end",
            "status",
            "trigger",
            "attempts",
            "progress_done",
            "progress_total",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
            "classification",
            "device_rows",
            "notified_at",
            "files",
        ]
        read_only_fields = fields

    @extend_schema_field(ReportFileSerializer(many=True))
    def get_files(self, run):
        """Download links only (no storage calls per row in a list)."""
        if run.status != ReportRun.Status.SUCCEEDED:
            return []
        request = self.context.get("request")
        out = []
        for fmt in FORMATS:
            field = run.file_for(fmt)
            if not field.name:
                continue
            url = reverse("reports:report_download", args=[run.pk, fmt])
            out.append(
                {
                    "format": fmt,
                    "url": request.build_absolute_uri(url) if request else url,
                    "filename": field.name.rsplit("/", 1)[-1],
                    "size": None,
                }
            )
        return out


class ReportRunDetailSerializer(ReportRunSerializer):
    summary = serializers.JSONField(read_only=True)

    class Meta(ReportRunSerializer.Meta):
        fields = [*ReportRunSerializer.Meta.fields, "summary"]
        read_only_fields = fields

    @extend_schema_field(ReportFileSerializer(many=True))
    def get_files(self, run):
        files = super().get_files(run)
        for item in files:
            field = run.file_for(item["format"])
            try:
                item["size"] = field.storage.size(field.name)
            except (OSError, NotImplementedError):
                item["size"] = None
        return files
