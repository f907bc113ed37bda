"""The swap pages: each step's form (date, condition, notes), banners that say what
happened, allocation by scan with clear errors, the stock search, and the
cancellation that asks why and then confirms on a separate step."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from devices.models import Device
from refresh import services
from refresh.models import SwapStep, WaveItem
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(policies, make_user):
    north = BusinessUnitFactory(code="NORTH", name="North Area")
    store = BusinessUnitFactory(code="EUS-STORES", name="Central stores")
    person = PersonFactory(business_unit=north, staff_number="S1234")
    old = DeviceFactory(
        business_unit=north,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
        asset_tag="OLD-0001",
    )
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER)
    wave = services.wave_create(name="North wave", volume=5, actor=manager)
    item = wave.items.get()
    new = DeviceFactory(business_unit=store, asset_tag="AB123", purchase_date=dt.date(2025, 1, 1))
    return {
        "north": north,
        "store": store,
        "person": person,
        "old": old,
        "new": new,
        "manager": manager,
        "wave": wave,
        "item": item,
        "url": reverse("refresh:wave_item_detail", args=[wave.pk, item.pk]),
        "cancel": reverse("refresh:wave_item_cancel", args=[wave.pk, item.pk]),
    }


def banner(client, response) -> list[str]:
    """The banners the page a step redirected to shows (reading them uses them up)."""
    assert response.status_code == 302, response.content.decode()[:2000]
    return [str(m) for m in client.get(response["Location"]).context["messages"]]


def summary_links(html: str) -> list[tuple[str, str]]:
    """The GOV.UK error summary's (anchor, message) pairs."""
    body = html.split("govuk-error-summary__list", 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="#([^"]*)">([^<]*)</a>', body)


def test_each_step_says_what_happened(client, env):
    client.force_login(env["manager"])
    steps = [
        ({"action": "allocate", "code": "AB123"}, "Swap for S1234: AB123 allocated"),
        ({"action": "hand_over", "notes": "Met at Leman St"}, "Swap for S1234: AB123 handed over"),
        (
            {"action": "return", "old_device_condition": "worn"},
            "Swap for S1234: old device OLD-0001 returned (worn)",
        ),
        (
            {"action": "complete"},
            "Swap for S1234 completed: AB123 is now held in NORTH, OLD-0001 is back in EUS-STORES",
        ),
    ]
    for data, said in steps:
        assert banner(client, client.post(env["url"], data)) == [said]


def test_the_page_offers_one_step_with_date_condition_and_notes(client, env):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    client.force_login(env["manager"])
    page = client.get(env["url"]).content.decode()
    today = timezone.localdate()
    # the GOV.UK date input, filled in with today
    day = page.index('name="occurred_on_day"')
    assert f'value="{today.day}"' in page[day : day + 200]
    year = page.index('name="occurred_on_year"')
    assert f'value="{today.year}"' in page[year : year + 200]
    assert 'name="old_device_condition"' in page and 'class="govuk-radios__input"' in page
    assert 'name="notes"' in page
    assert "Record handover" in page
    assert "Record old device returned" not in page
    assert "---------" not in page


def test_an_earlier_day_is_kept_and_a_future_one_is_an_error_naming_the_field(client, env):
    client.force_login(env["manager"])
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(
        env["url"],
        {
            "action": "allocate",
            "code": "AB123",
            "occurred_on_day": tomorrow.day,
            "occurred_on_month": tomorrow.month,
            "occurred_on_year": tomorrow.year,
        },
    )
    assert response.status_code == 400
    ((anchor, message),) = summary_links(response.content.decode())
    assert (anchor.startswith("id_occurred_on"), message) == (
        True,
        "The date cannot be in the future.",
    )
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.PLANNED


def test_a_return_without_the_condition_is_an_error_naming_the_field(client, env):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    services.swap_hand_over(item=env["item"], actor=env["manager"])
    client.force_login(env["manager"])
    response = client.post(env["url"], {"action": "return"})
    assert response.status_code == 400
    assert summary_links(response.content.decode()) == [
        ("id_old_device_condition_0", "Choose the condition the old device came back in")
    ]
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.HANDED_OVER


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "Scan or type the new device&#x27;s serial number or asset tag"),
        (
            "NOPE-1",
            "No device with the serial number or asset tag “NOPE-1” in your units or the "
            "central stores.",
        ),
        ("OLD-0001", "OLD-0001 is deployed, not in stock."),
    ],
    ids=["blank", "unknown", "in-use"],
)
def test_a_scan_that_cannot_be_allocated_is_an_error_on_the_code_box(client, env, code, message):
    client.force_login(env["manager"])
    response = client.post(env["url"], {"action": "allocate", "code": code})
    assert response.status_code == 400
    assert summary_links(response.content.decode()) == [("id_code", message)]
    assert WaveItem.objects.get(pk=env["item"].pk).new_device_id is None


def test_the_stock_search_reaches_every_device_not_only_the_newest(client, env):
    # given 25 laptops in the store, newest first; the oldest is beyond the first page
    for n in range(24):
        DeviceFactory(
            business_unit=env["store"],
            asset_tag=f"STK{n:03d}",
            purchase_date=dt.date(2024, 1, 1) + dt.timedelta(days=n),
        )
    oldest = DeviceFactory(
        business_unit=env["store"], asset_tag="OLDEST-1", purchase_date=dt.date(2020, 1, 1)
    )
    client.force_login(env["manager"])
    first = client.get(env["url"])
    assert len(first.context["stock"]) == 20
    assert "OLDEST-1" not in first.content.decode()
    assert first.context["stock_next"] == "page=2"
    second = client.get(env["url"], {"page": 2})
    assert "OLDEST-1" in second.content.decode()
    # search by the start of a tag finds it at once, and "Choose" fills the scan box
    found = client.get(env["url"], {"q": "oldest"})
    assert [d.pk for d in found.context["stock"]] == [oldest.pk]
    assert "?code=OLDEST-1#next-step" in found.content.decode()
    chosen = client.get(env["url"], {"code": "OLDEST-1"})
    assert 'value="OLDEST-1"' in chosen.content.decode()


@pytest.mark.parametrize("params", [{"page": "99999999999999999999"}, {"q": "x" * 500}])
def test_hostile_stock_search_parameters_are_ignored(client, env, params):
    client.force_login(env["manager"])
    response = client.get(env["url"], params)
    assert response.status_code == 200
    assert len(response.context["stock"]) == 1


def test_the_swap_page_no_longer_cancels_without_a_reason(client, env):
    client.force_login(env["manager"])
    response = client.post(env["url"], {"action": "cancel"})
    assert response.status_code == 400
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.PLANNED


def test_the_cancel_action_stands_apart_from_the_primary_one(client, env):
    client.force_login(env["manager"])
    page = client.get(env["url"]).content.decode()
    allocate = page.index(">Allocate</button>")
    cancel = page.index('data-test="cancel-swap"')
    assert allocate < page.index("govuk-section-break", allocate) < cancel
    assert 'class="govuk-button govuk-button--warning"' in page[cancel - 200 : cancel]


def test_cancelling_asks_why_then_confirms_then_records_the_reason(client, env):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    client.force_login(env["manager"])
    assert "Why is this swap cancelled?" in client.get(env["cancel"]).content.decode()
    # no reason: an error naming the field, nothing cancelled
    response = client.post(env["cancel"], {"reason": "  "})
    assert response.status_code == 400
    assert summary_links(response.content.decode()) == [
        ("id_reason", "Say why the swap is cancelled")
    ]
    # a reason: the confirmation step, still nothing cancelled
    response = client.post(env["cancel"], {"reason": "Officer <b>retired</b>"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Are you sure you want to cancel the swap for S1234?" in page
    assert "Officer &lt;b&gt;retired&lt;/b&gt;" in page and "<b>retired" not in page
    assert "AB123 goes back to being free stock" in page
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.ALLOCATED
    assert not SwapStep.objects.filter(step="cancelled").exists()
    # confirmed: cancelled, the reason recorded, the banner says what happened
    response = client.post(
        env["cancel"],
        {"reason": "Officer <b>retired</b>", "occurred_on": timezone.localdate(), "confirm": "yes"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("refresh:wave_detail", args=[env["wave"].pk])
    assert banner(client, response) == [
        "Swap for S1234 cancelled: Officer <b>retired</b>; AB123 is free for another swap"
    ]
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.CANCELLED
    assert SwapStep.objects.get(step="cancelled").reason == "Officer <b>retired</b>"


def test_a_swap_handed_over_cannot_be_cancelled_from_its_page(client, env):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    services.swap_hand_over(item=env["item"], actor=env["manager"])
    client.force_login(env["manager"])
    assert 'data-test="cancel-swap"' not in client.get(env["url"]).content.decode()
    assert 'data-test="not-cancellable"' in client.get(env["cancel"]).content.decode()
    response = client.post(env["cancel"], {"reason": "Too late", "confirm": "yes"})
    assert response.status_code == 400
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.HANDED_OVER


@pytest.mark.parametrize("role", [Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL])
def test_only_asset_managers_cancel_swaps(client, env, make_user, role):
    client.force_login(make_user(role))
    assert client.get(env["cancel"]).status_code == 403
    response = client.post(env["cancel"], {"reason": "No", "confirm": "yes"})
    assert response.status_code == 403
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.PLANNED
    assert 'data-test="cancel-swap"' not in client.get(env["url"]).content.decode()


def test_a_swap_outside_the_managers_units_is_not_found(client, env, make_user):
    south = BusinessUnitFactory(code="SOUTH")
    client.force_login(make_user(Role.ASSET_MANAGER, units=[south]))
    assert client.get(env["cancel"]).status_code == 404
    assert client.post(env["cancel"], {"reason": "x", "confirm": "yes"}).status_code == 404
    assert WaveItem.objects.get(pk=env["item"].pk).status == WaveItem.Status.PLANNED


@pytest.mark.parametrize("extra", [0, 3])
def test_the_steps_table_costs_one_query_however_many_steps(
    client, env, django_assert_num_queries, extra
):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    services.swap_hand_over(item=env["item"], actor=env["manager"])
    # Extra swaps with steps elsewhere in the wave must not change the count.
    for _ in range(extra):
        person = PersonFactory(business_unit=env["north"])
        DeviceFactory(
            business_unit=env["north"],
            status=Device.Status.DEPLOYED,
            assigned_to=person,
            purchase_date=dt.date(2019, 1, 1),
        )
    client.force_login(env["manager"])
    # session, user, roles, scope, the wave, the swap (joined), its steps (joined)
    with django_assert_num_queries(7):
        response = client.get(env["url"])
    assert [s.step for s in response.context["steps"]] == ["allocated", "handed_over"]


def test_a_second_click_on_a_step_already_done_changes_nothing(client, env):
    services.swap_allocate(item=env["item"], new_device=env["new"], actor=env["manager"])
    client.force_login(env["manager"])
    assert client.post(env["url"], {"action": "hand_over"}).status_code == 302
    response = client.post(env["url"], {"action": "hand_over"})
    assert response.status_code == 400
    assert summary_links(response.content.decode()) == [
        ("next-step", "This swap is handed over: its next step is below.")
    ]
    assert "Record old device returned" in response.content.decode()
    assert list(SwapStep.objects.values_list("step", flat=True)) == ["allocated", "handed_over"]
