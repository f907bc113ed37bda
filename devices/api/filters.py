"""Filters for the estate API. Each one is backed by an index on the device
table (see bench/api_devices.py, which EXPLAINs every one at 1,000,000 devices)."""

from __future__ import annotations

import functools

import django_filters as filters
from django.db import connection
from django.db.models import Q

from accounts.models import BusinessUnit
from devices.models import Category, Device, DeviceEvent, DeviceModel, Person


class DeviceFilter(filters.FilterSet):
    business_unit = filters.CharFilter(
        method="filter_business_unit",
        help_text="Business unit code; includes its sub-units.",
    )
    category = filters.ChoiceFilter(field_name="device_model__category", choices=Category.choices)
    status = filters.ChoiceFilter(choices=Device.Status.choices)
    model = filters.NumberFilter(field_name="device_model_id", help_text="Device model id.")
    assigned_to = filters.CharFilter(
        field_name="assigned_to__staff_number", help_text="Staff number of the holder."
    )
    purchase_date = filters.DateFromToRangeFilter(
        help_text="purchase_date_after / purchase_date_before (inclusive, YYYY-MM-DD)."
    )
    last_seen = filters.IsoDateTimeFromToRangeFilter(
        help_text="last_seen_after / last_seen_before (ISO 8601 date-times)."
    )
    q = filters.CharFilter(
        method="filter_search",
        help_text="Serial number or asset tag: exact, or a prefix (case-sensitive).",
    )

    class Meta:
        model = Device
        fields = []

    def filter_business_unit(self, queryset, name, value):
        # Sub-units share the unit's materialised path prefix. The unit ids are
        # read first (one query on the small unit table, through its path index)
        # so the device query gets literal ids: the planner then estimates the
        # unit's share of the estate from the business_unit_id statistics instead
        # of guessing through a join. An unknown code matches nothing.
        path = BusinessUnit.objects.filter(code=value).values("path")[:1]
        unit_ids = list(
            BusinessUnit.objects.filter(path__startswith=path).values_list("id", flat=True)
        )
        return queryset.filter(business_unit_id__in=unit_ids)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # Prefix only, never '%x%' (a leading wildcard scans the whole estate).
        # asset_tag is unique, so it has a varchar_pattern_ops index and LIKE 'x%'
        # uses it. serial_number has only a plain btree, which PostgreSQL will not
        # use for LIKE unless the collation is C; so the prefix is also given as a
        # range, serial >= 'x' AND serial < next('x'), which that btree answers.
        # LIKE stays as the exact test, so the result is a true prefix match.
        serial = Q(serial_number__startswith=value)
        upper = _prefix_upper_bound(value)
        if upper is not None and _codepoint_collation():
            serial &= Q(serial_number__gte=value, serial_number__lt=upper)
        return queryset.filter(serial | Q(asset_tag__startswith=value))


@functools.cache
def _codepoint_collation() -> bool:
    """Whether the database orders text by code point, as the prefix range needs.

    True for SQLite (binary collation) and PostgreSQL databases created with the
    C, POSIX or C.UTF-8 collation (ours). Under a linguistic collation
    (en_GB.UTF-8) a string with the prefix may sort outside the range, so the
    range is left out and the search stays exact, only slower: that deployment
    wants ``CREATE INDEX ... (serial_number varchar_pattern_ops)``.
    """
    if connection.vendor != "postgresql":
        return connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        collation = cursor.fetchone()[0]
    return collation.split(".")[0] in {"C", "POSIX"}


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` in code-point
    order (the database's C.UTF-8 collation), or None if there is none."""
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i])
        if code < 0x10FFFF and not 0xD7FF <= code < 0xE000:
            return prefix[:i] + chr(code + 1)
    return None


class DeviceEventFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=DeviceEvent.Kind.choices)
    device = filters.NumberFilter(field_name="device_id")
    occurred = filters.IsoDateTimeFromToRangeFilter(
        field_name="occurred_at", help_text="occurred_after / occurred_before (ISO 8601)."
    )

    class Meta:
        model = DeviceEvent
        fields = []


class BusinessUnitFilter(filters.FilterSet):
    parent = filters.CharFilter(field_name="parent__code", help_text="Parent unit code.")
    level = filters.ChoiceFilter(choices=BusinessUnit.Level.choices)
    active = filters.BooleanFilter()

    class Meta:
        model = BusinessUnit
        fields = []


class PersonFilter(filters.FilterSet):
    business_unit = filters.CharFilter(field_name="business_unit__code")
    role_profile = filters.CharFilter(field_name="role_profile__code")

    class Meta:
        model = Person
        fields = []


class DeviceModelFilter(filters.FilterSet):
    manufacturer = filters.CharFilter(field_name="manufacturer__name", lookup_expr="iexact")
    category = filters.ChoiceFilter(choices=Category.choices)

    class Meta:
        model = DeviceModel
        fields = []
