from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts import services
from accounts.models import BusinessUnit, UserScope


@admin.register(BusinessUnit)
class BusinessUnitAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "level", "parent", "cost_centre", "active"]
    list_filter = ["level", "active"]
    search_fields = ["code", "name", "cost_centre"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path"]

    def save_model(self, request, obj, form, change):
        services.business_unit_save(unit=obj)


@admin.register(UserScope)
class UserScopeAdmin(admin.ModelAdmin):
    list_display = ["user", "business_unit"]
    search_fields = ["user__username", "business_unit__code"]
    raw_id_fields = ["business_unit"]
