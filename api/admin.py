"""Admin for the API's own records. Idempotency records are the API's memory of
responses: never added, edited or deleted here (deleting one would let a retried
POST write twice). A token's label may be corrected; tokens are created by
``create_api_token`` and revoked through knox's own admin, which removes the label."""

from django.contrib import admin

from accounts.admin import ViewOnlyAdminMixin
from api.models import ApiTokenLabel, IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
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


@admin.register(ApiTokenLabel)
class ApiTokenLabelAdmin(admin.ModelAdmin):
    list_display = ["token", "description"]
    search_fields = ["description", "token__user__username"]
    readonly_fields = ["token"]

    def has_add_permission(self, request):
        return False  # a label is written with its token by create_api_token

    def has_delete_permission(self, request, obj=None):
        return False  # revoke the token instead: the label goes with it
