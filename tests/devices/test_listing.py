"""The device list's keyset pages (devices.listing): under every sort and direction,
walking the pages forward and back visits every device once, in the sort's order
(blanks last, ties broken by id), and the total agrees with the rows."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.roles import Role
from accounts.scoping import unit_scope
from devices import listing, selectors
from devices.models import Device
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

S = Device.Status


@pytest.fixture
def estate():
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    # Names sort the other way from codes and ids, so a sort by code or id would show.
    zulu = BusinessUnitFactory(code="A1", name="Zulu Command", parent=root, level="command")
    alpha = BusinessUnitFactory(code="Z9", name="Alpha Command", parent=root, level="command")
    hp = DeviceModelFactory(name="EliteBook 840", manufacturer__name="HP")
    dell = DeviceModelFactory(name="Latitude 5440", manufacturer__name="Dell")
    apple = DeviceModelFactory(name="iPhone 15", manufacturer__name="Apple", category="smartphone")
    seen = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    rows = [
        # (tag, serial, model, unit, status, last seen, purchase date)
        ("T05", "S9", hp, zulu, S.IN_STOCK, seen, dt.date(2021, 1, 1)),
        (None, "S1", dell, alpha, S.IN_REPAIR, None, dt.date(2022, 1, 1)),
        ("T01", "S5", apple, zulu, S.RETURNED, seen, None),
        ("T03", "S3", dell, zulu, S.LOST_STOLEN, seen + dt.timedelta(days=1), dt.date(2021, 1, 1)),
        ("T02", "S7", hp, alpha, S.IN_STOCK, None, dt.date(2020, 6, 1)),
        (None, "S2", apple, alpha, S.IN_STOCK, seen - dt.timedelta(days=3), None),
        ("T04", "S4", dell, alpha, S.RETURNED, seen, dt.date(2023, 2, 1)),
        ("T06", "S8", hp, zulu, S.IN_REPAIR, seen + dt.timedelta(microseconds=1), None),
    ]
    for tag, serial, model, unit, status, last_seen, bought in rows:
        DeviceFactory(
            asset_tag=tag,
            serial_number=serial,
            device_model=model,
            business_unit=unit,
            status=status,
            last_seen=last_seen,
            purchase_date=bought,
        )
    return {"root": root, "zulu": zulu, "alpha": alpha, "hp": hp, "dell": dell, "apple": apple}


def expected_order(devices: list[Device], sort: listing.Sort, descending: bool) -> list[int]:
    """The order a person expects, computed here independently of the SQL."""
    if sort is listing.ADDED:
        return sorted((d.pk for d in devices), reverse=descending)
    if sort.column:
        valued = [d for d in devices if getattr(d, sort.column) is not None]
        blank = [d for d in devices if getattr(d, sort.column) is None]
        valued.sort(key=lambda d: (getattr(d, sort.column), d.pk), reverse=descending)
        blank.sort(key=lambda d: d.pk, reverse=descending)
        return [d.pk for d in valued + blank]
    name = {
        "model": lambda d: (
            d.manufacturer.name.lower(),
            d.device_model.name.lower(),
            d.device_model_id,
        ),
        "status": lambda d: (str(d.get_status_display()), d.status),
        "business_unit": lambda d: (d.business_unit.name.lower(), d.business_unit_id),
    }[sort.key]
    return [d.pk for d in sorted(devices, key=lambda d: (name(d), d.pk), reverse=descending)]


def walk(user, sort, descending, size=3, **filters):
    """Every page forward, then every page back from the last one."""
    list_filters = listing.ListFilters(**filters)
    queryset = selectors.device_search(user=user, **filters)
    args = {
        "queryset": queryset,
        "scope": unit_scope(user),
        "filters": list_filters,
        "sort": sort,
        "descending": descending,
        "size": size,
    }
    pages = [listing.list_page(**args)]
    while pages[-1].next_cursor:
        pages.append(listing.list_page(**args, after=pages[-1].next_cursor))
        assert len(pages) < 50
    back = [pages[-1]]
    while back[-1].previous_cursor:
        back.append(listing.list_page(**args, before=back[-1].previous_cursor))
        assert len(back) < 50
    return pages, list(reversed(back))


SORT_CASES = [
    (sort, descending)
    for sort in [listing.ADDED, *listing.SORTS.values()]
    for descending in (False, True)
]


@pytest.mark.parametrize(
    ("sort", "descending"),
    SORT_CASES,
    ids=[f"{s.key}-{'desc' if d else 'asc'}" for s, d in SORT_CASES],
)
def test_every_sort_walks_every_device_once_in_order_forward_and_back(
    asset_manager, estate, sort, descending
):
    devices = list(Device.objects.select_related("device_model", "manufacturer", "business_unit"))
    want = expected_order(devices, sort, descending)

    forward, backward = walk(asset_manager, sort, descending)

    assert [d.pk for page in forward for d in page.rows] == want
    assert [[d.pk for d in p.rows] for p in backward] == [[d.pk for d in p.rows] for p in forward]
    assert forward[0].previous_cursor is None
    assert forward[-1].next_cursor is None


@pytest.mark.parametrize("sort_key", ["business_unit", "last_seen", "model", "status"])
def test_a_scoped_viewers_sorted_pages_hold_only_their_units(make_user, estate, sort_key):
    viewer = make_user(Role.UNIT_VIEWER, units=[estate["zulu"]])
    sort = listing.SORTS[sort_key]
    devices = list(
        Device.objects.filter(business_unit=estate["zulu"]).select_related(
            "device_model", "manufacturer", "business_unit"
        )
    )

    forward, _ = walk(viewer, sort, descending=False, size=2)

    assert [d.pk for page in forward for d in page.rows] == expected_order(devices, sort, False)


def test_filters_and_sort_together(asset_manager, estate):
    devices = list(
        Device.objects.filter(status=S.IN_STOCK).select_related(
            "device_model", "manufacturer", "business_unit"
        )
    )
    sort = listing.SORTS["model"]

    forward, _ = walk(asset_manager, sort, descending=True, size=1, status=S.IN_STOCK)

    assert [d.pk for page in forward for d in page.rows] == expected_order(devices, sort, True)


def test_a_device_changing_group_between_pages_neither_repeats_nor_breaks_the_walk(
    asset_manager, estate
):
    sort = listing.SORTS["status"]
    args = {
        "queryset": selectors.device_search(user=asset_manager),
        "scope": unit_scope(asset_manager),
        "filters": listing.ListFilters(),
        "sort": sort,
    }
    first = listing.list_page(**args, size=2)
    # Every device of the last row's group leaves it: the cursor's group is now empty.
    last = first.rows[-1]
    Device.objects.filter(status=last.status).update(status=S.LOST_STOLEN)

    second = listing.list_page(**args, size=2, after=first.next_cursor)

    assert not {d.pk for d in first.rows} & {d.pk for d in second.rows}
    assert second.rows


def test_a_cursor_of_another_sort_is_refused():
    token = listing.encode_cursor("v", "T01", 5)
    with pytest.raises(listing.BadCursor):
        listing.decode_cursor(token, listing.SORTS["status"])
    with pytest.raises(listing.BadCursor):
        listing.decode_cursor("not-a-cursor!", listing.SORTS["last_seen"])
    with pytest.raises(listing.BadCursor):
        listing.decode_cursor(
            listing.encode_cursor("v", "yesterday", 5), listing.SORTS["last_seen"]
        )


def test_the_total_comes_from_the_estate_counts_and_agrees_with_the_rows(make_user, estate):
    viewer = make_user(Role.UNIT_VIEWER, units=[estate["alpha"]])
    scope = unit_scope(viewer)
    for filters in (
        {},
        {"status": S.IN_STOCK},
        {"category": "smartphone"},
        {"device_model": estate["dell"]},
        {"business_unit": estate["alpha"], "status": S.RETURNED},
        {"q": "T0"},
    ):
        queryset = selectors.device_search(user=viewer, **filters)
        total = listing.list_total(
            scope=scope, filters=listing.ListFilters(**filters), queryset=queryset
        )
        assert total == listing.Total(queryset.count()), filters


def test_a_search_matching_very_many_says_more_than(asset_manager, estate, monkeypatch):
    monkeypatch.setattr(listing, "SEARCH_COUNT_LIMIT", 3)
    queryset = selectors.device_search(user=asset_manager, q="T")
    total = listing.list_total(
        scope=unit_scope(asset_manager), filters=listing.ListFilters(q="T"), queryset=queryset
    )
    assert total == listing.Total(3, exact=False)
