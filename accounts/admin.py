from django.contrib import admin

from accounts.models import UserScope


@admin.register(UserScope)
class UserScopeAdmin(admin.ModelAdmin):
    list_display = ["user", "business_unit"]
    search_fields = ["user__username", "business_unit__code"]
    raw_id_fields = ["business_unit"]
