"""The device list's reads: its sort orders, keyset pages that stay correct under each
sort, its total and its columns.

Every sort is a sequence of *segments* walked in order, each served by one index:

- a column sort (asset tag, serial number, last seen, purchase date) is the rows
  with a value, ordered by ``(column, id)`` (index ``devices_device_*_id``), then,
  for a nullable column, the rows without one ordered by id (the same index:
  ``column IS NULL`` is one range of it). Blanks come last in both directions;
- a grouped sort (model, status, business unit: columns shown by name) is one
  segment per model, status or unit, in the order of their names, each ordered by
  id (``(device_model, id)``, ``(status, id)``, ``(business_unit, id)``). Only
  groups the estate counts say hold a matching device are visited.

A page is at most ``size + 1`` rows read segment by segment from a position, one
indexed query per segment touched, never OFFSET and never a sort of the estate: page
1 and page 9,000 cost the same. A position (cursor) is the segment, the sort value
and the id of a row; "previous" walks the same segments backwards.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Sum

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from devices.models import Device, DeviceModel, EstateCount

PAGE_SIZE = 100
# Above this many matches a search's total is not counted (it is a prefix search:
# more matches than this means the search is too short to be useful).
SEARCH_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class Sort:
    key: str
    label: str
    column: str | None = None  # a column sort: the Device field
    group: str | None = None  # a grouped sort: the Device attname of the group


SORTS: dict[str, Sort] = {
    s.key: s
    for s in (
        Sort("asset_tag", "Asset tag", column="asset_tag"),
        Sort("serial_number", "Serial number", column="serial_number"),
        Sort("model", "Model", group="device_model_id"),
        Sort("status", "Status", group="status"),
        Sort("business_unit", "Unit", group="business_unit_id"),
        Sort("last_seen", "Last seen", column="last_seen"),
        Sort("purchase_date", "Purchased", column="purchase_date"),
    )
}
# No sort chosen: the order devices were added (id), as the API lists them.
ADDED = Sort("added", "Order added")
ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class Segment:
    key: str | int  # "v" (has a value), "n" (blank), or a group's value
    where: Q
    column: str | None  # ordered by (column, id) when set, else by id


@dataclass
class ListFilters:
    """The structural filters the estate counts can answer, and the search."""

    q: str = ""
    business_unit: BusinessUnit | None = None
    category: str = ""
    status: str = ""
    device_model: DeviceModel | None = None


@dataclass
class ListPage:
    rows: list[Device] = field(default_factory=list)
    next_cursor: str | None = None
    previous_cursor: str | None = None


class BadCursor(ValueError):
    """A page link that does not belong to this sort (edited, or from another list)."""


# --- the estate counts --------------------------------------------------------------


def counts_matching(*, scope: UnitScope, filters: ListFilters) -> QuerySet[EstateCount]:
    """The estate count rows inside ``scope`` that the structural filters select."""
    counts = EstateCount.objects.within(scope).filter(devices__gt=0)
    if filters.business_unit is not None:
        counts = counts.within(UnitScope.subtree(filters.business_unit))
    if filters.category:
        counts = counts.filter(device_model__category=filters.category)
    if filters.status:
        counts = counts.filter(status=filters.status)
    if filters.device_model is not None:
        counts = counts.filter(device_model=filters.device_model)
    return counts


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool = True  # False: at least ``value`` (a search matching very many)


def list_total(*, scope: UnitScope, filters: ListFilters, queryset: QuerySet[Device]) -> Total:
    """How many devices the list holds. Without a search, exact from the estate counts
    (one small aggregate, whatever the estate's size); with one, counted, up to
    ``SEARCH_COUNT_LIMIT``."""
    if not filters.q.strip():
        total = counts_matching(scope=scope, filters=filters).aggregate(n=Sum("devices"))["n"]
        return Total(total or 0)
    n = queryset.order_by()[: SEARCH_COUNT_LIMIT + 1].count()
    if n > SEARCH_COUNT_LIMIT:
        return Total(SEARCH_COUNT_LIMIT, exact=False)
    return Total(n)


# --- segments -----------------------------------------------------------------------


def _groups(sort: Sort, counts: QuerySet[EstateCount], extra=None) -> list:
    """A grouped sort's groups holding a matching device (and ``extra``), in the order
    of their names, then their key: one query, the names read with the keys."""
    if sort.group == "status":
        labels = dict(Device.Status.choices)
        keys = set(counts.values_list("status", flat=True).distinct())
        keys |= {extra} if extra is not None else set()
        return sorted(keys, key=lambda k: (str(labels.get(k, k)), k))
    if sort.group == "device_model_id":
        rows = counts.values_list(
            "device_model_id", "device_model__manufacturer__name", "device_model__name"
        ).distinct()
        extra_rows = DeviceModel.objects.filter(pk=extra).values_list(
            "pk", "manufacturer__name", "name"
        )
    else:
        rows = counts.values_list("business_unit_id", "business_unit__name").distinct()
        extra_rows = BusinessUnit.objects.filter(pk=extra).values_list("pk", "name")
    names = {key: tuple(n.casefold() for n in name) for key, *name in rows}
    if extra is not None and extra not in names:
        names.update({key: tuple(n.casefold() for n in name) for key, *name in extra_rows})
    return sorted(names, key=lambda k: (names[k], k))


def segments(
    *, sort: Sort, descending: bool, scope: UnitScope, filters: ListFilters, extra_group=None
) -> list[Segment]:
    """The segments of ``sort`` in walking order. ``extra_group`` (a cursor's group)
    is kept even if the counts no longer show it, so its position stays defined."""
    if sort is ADDED:
        found = [Segment("v", Q(), None)]
    elif sort.column:
        found = [Segment("v", Q(**{f"{sort.column}__isnull": False}), sort.column)]
        if Device._meta.get_field(sort.column).null:
            found.append(Segment("n", Q(**{f"{sort.column}__isnull": True}), None))
        if descending:  # blanks stay last
            return found
    else:
        counts = counts_matching(scope=scope, filters=filters)
        found = [Segment(k, Q(**{sort.group: k}), None) for k in _groups(sort, counts, extra_group)]
    return list(reversed(found)) if descending and not sort.column else found


# --- cursors ------------------------------------------------------------------------


def encode_cursor(segment_key, value, pk: int) -> str:
    """A page link's position: ``(segment key, sort value, id)``, as ``decode_cursor``
    reads it (the benchmarks build deep positions with it)."""
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    raw = json.dumps([segment_key, value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: Sort) -> tuple:
    """``(segment key, value, id)`` from a page link, checked against ``sort``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        segment_key, value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadCursor(token) from exc
    if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk < 2**63:
        raise BadCursor(token)
    if sort.column:
        if segment_key not in ("v", "n"):
            raise BadCursor(token)
        if segment_key == "v":
            try:
                value = Device._meta.get_field(sort.column).to_python(value)
            except ValidationError as exc:
                raise BadCursor(token) from exc
            if value is None:
                raise BadCursor(token)
    elif sort.group == "status":
        if segment_key not in Device.Status.values:
            raise BadCursor(token)
    elif sort.group:
        if not isinstance(segment_key, int) or isinstance(segment_key, bool):
            raise BadCursor(token)
    elif segment_key != "v":
        raise BadCursor(token)
    return segment_key, value, pk


def _cursor_of(row: Device, segment: Segment) -> str:
    value = getattr(row, segment.column) if segment.column else None
    return encode_cursor(segment.key, value, row.pk)


# --- walking ------------------------------------------------------------------------


def _after(segment: Segment, value, pk: int, descending: bool) -> Q:
    """Rows of ``segment`` strictly after ``(value, pk)`` in its order. The extra bound
    on the column alone lets the index start at ``value`` rather than filter from the
    segment's beginning."""
    op, op_eq = ("lt", "lte") if descending else ("gt", "gte")
    if segment.column is None:
        return Q(**{f"pk__{op}": pk})
    col = segment.column
    return Q(**{f"{col}__{op_eq}": value}) & (
        Q(**{f"{col}__{op}": value}) | Q(**{col: value, f"pk__{op}": pk})
    )


def _walk(queryset, walk: list[Segment], start, descending: bool, need: int):
    """Up to ``need`` rows from position ``start`` (``(index, value, pk)`` or None),
    each with its segment."""
    found: list[tuple[Device, Segment]] = []
    first = start[0] if start else 0
    for index in range(first, len(walk)):
        segment = walk[index]
        qs = queryset.filter(segment.where)
        if start and index == first:
            qs = qs.filter(_after(segment, start[1], start[2], descending))
        prefix = "-" if descending else ""
        ordering = [f"{prefix}{segment.column}"] if segment.column else []
        qs = qs.order_by(*ordering, f"{prefix}pk")
        found.extend((row, segment) for row in qs[: need - len(found)])
        if len(found) >= need:
            break
    return found


def list_page(
    *,
    queryset: QuerySet[Device],
    scope: UnitScope,
    filters: ListFilters,
    sort: Sort = ADDED,
    descending: bool = False,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
) -> ListPage:
    """One page of ``queryset`` (already filtered and scoped) in ``sort`` order.

    ``after`` / ``before`` are the cursors of the previous page's last row / the next
    page's first row. Raises ``BadCursor`` for a cursor of another sort.
    """
    cursor = before or after
    position = decode_cursor(cursor, sort) if cursor else None
    backwards = before is not None
    walk_descending = descending != backwards
    walk = segments(
        sort=sort,
        descending=descending,
        scope=scope,
        filters=filters,
        extra_group=position[0] if position and sort.group else None,
    )
    if backwards:
        walk = list(reversed(walk))
    start = None
    if position:
        index = next((i for i, s in enumerate(walk) if s.key == position[0]), None)
        if index is None:
            raise BadCursor(cursor)
        start = (index, position[1], position[2])
    found = _walk(queryset, walk, start, walk_descending, size + 1)
    has_more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    rows = [row for row, _segment in found]
    first_cursor = _cursor_of(*found[0]) if found else None
    last_cursor = _cursor_of(*found[-1]) if found else None
    if backwards:
        return ListPage(
            rows, next_cursor=last_cursor, previous_cursor=first_cursor if has_more else None
        )
    return ListPage(
        rows,
        next_cursor=last_cursor if has_more else None,
        previous_cursor=first_cursor if position else None,
    )


# --- columns ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: str | None = None  # the SORTS key that sorts by it


COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("serial_number", "Serial number", "serial_number"),
        Column("model", "Model", "model"),
        Column("category", "Category"),
        Column("status", "Status", "status"),
        Column("business_unit", "Unit", "business_unit"),
        Column("assigned_to", "Assigned to"),
        Column("location", "Location"),
        Column("purchase_date", "Purchased", "purchase_date"),
        Column("warranty_expires", "Warranty expires"),
        Column("last_seen", "Last seen", "last_seen"),
        Column("os_version", "OS version"),
    )
}
# The asset tag (the row's link to the device) is always shown; these by default.
DEFAULT_COLUMNS = ("serial_number", "model", "status", "business_unit", "last_seen")
