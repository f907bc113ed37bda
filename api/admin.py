from django.contrib import admin

from api.models import ApiTokenLabel, IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only: the records are the API's memory of responses, not something to edit."""

    list_display = [
        "key",
        "user",
        "token_key",
        "method",
        "path",
        "state",
        "response_status",
        "created_at",
        "expires_at",
    ]
    list_filter = ["state", "method"]
    search_fields = ["key", "user__username", "path"]
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiTokenLabel)
class ApiTokenLabelAdmin(admin.ModelAdmin):
    list_display = ["token", "description"]
    search_fields = ["description", "token__user__username"]
    readonly_fields = ["token"]
