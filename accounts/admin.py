"""Admin for business units and users' unit scope, and the guards every app's admin
shares (``accounts`` is the lowest app with an admin, so each domain app may import
them): the admin is no door past a service, past unit scope, or past the commercial
marking (DESIGN.md, "Rules at every door")."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from accounts import services
from accounts.models import BusinessUnit, UserScope
from accounts.roles import can_see_commercial
from core.errors import DomainError


class ViewOnlyAdminMixin:
    """The rows are written by the services: the admin shows them and nothing else.

    No add, no change, no delete (nor the bulk delete action). Without the change
    permission Django renders the change page read-only and refuses its POST.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoHistoryRevertMixin:
    """simple-history's "revert to this version" form saves the old values with a
    plain ``save()``; it checks only the *view* permission and builds its form without
    the change-permission exclusions, so on a view-only admin it would still rewrite
    the row with no event. A service-owned row is never reverted from the admin."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Changes to this record go through the application.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class ScopedAdminMixin:
    """A scoped model's admin lists only the rows within the user's unit scope
    (``visible_to``), as every other door does; superusers see every unit."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


class CommercialFieldsAdminMixin:
    """Fields in ``commercial_fields`` are OFFICIAL-SENSITIVE [COMMERCIAL]: only finance
    and commercial roles (and superusers) see them, in lists and forms alike."""

    commercial_fields: tuple[str, ...] = ()

    def _hides_commercial(self, request) -> bool:
        return not can_see_commercial(request.user)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if self._hides_commercial(request):
            shown = [name for name in shown if name not in self.commercial_fields]
        return shown

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or [])
        if self._hides_commercial(request):
            excluded += [name for name in self.commercial_fields if name not in excluded]
        return excluded

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self._hides_commercial(request):
            fields = [name for name in fields if name not in self.commercial_fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if self._hides_commercial(request):
            readonly = [name for name in readonly if name not in self.commercial_fields]
        return readonly


class DomainErrorsAsMessagesMixin:
    """A service's refusal (``DomainError``) on an admin save is shown as an error on
    the same page; the admin's transaction has already rolled back, so nothing is
    written."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(BusinessUnit)
class BusinessUnitAdmin(ScopedAdminMixin, DomainErrorsAsMessagesMixin, SimpleHistoryAdmin):
    """Units are saved through ``business_unit_save``, which keeps the materialised
    paths of the unit and its subtree. A unit is retired (``active``), never deleted:
    devices, people and report runs point at it."""

    list_display = ["code", "name", "level", "parent", "cost_centre", "active"]
    list_filter = ["level", "active"]
    search_fields = ["code", "name", "cost_centre"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.business_unit_save(unit=obj)


@admin.register(UserScope)
class UserScopeAdmin(admin.ModelAdmin):
    """Who sees which units. A scoped member of staff manages the scope of units
    within their own scope only, and never their own rows: removing one's last
    scope row would make one unrestricted."""

    list_display = ["user", "business_unit"]
    search_fields = ["user__username", "business_unit__code"]
    raw_id_fields = ["business_unit"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        visible = BusinessUnit.objects.visible_to(request.user)
        return queryset.filter(business_unit__in=visible)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "business_unit":
            kwargs["queryset"] = BusinessUnit.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _own_row(self, request, obj) -> bool:
        return obj is not None and obj.user_id == request.user.pk

    def has_change_permission(self, request, obj=None):
        if self._own_row(request, obj) and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._own_row(request, obj) and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.user_id == request.user.pk and not request.user.is_superuser:
            raise PermissionDenied("You cannot change your own unit scope.")
        super().save_model(request, obj, form, change)

    def delete_queryset(self, request, queryset):
        # The bulk action asks has_delete_permission without a row: leave one's own rows.
        if not request.user.is_superuser:
            queryset = queryset.exclude(user=request.user)
        super().delete_queryset(request, queryset)
