"""Report periods are bounded: a month like 0001-01 or 9999-12 is refused at every door
that takes one (the generate-now form, the list's filter, the API's filter) with a
message naming the field and the range, and nothing is queued."""

import datetime as dt

import pytest
from django.urls import reverse
from freezegun import freeze_time

from accounts.roles import Role
from reports import selectors
from reports.models import ReportRun

OUT_OF_RANGE = ["0001-01", "9999-12", "1999-12", "2027-01", "2026-13", "26-10", "October"]


@pytest.fixture
def lead(make_user, estate):
    return make_user(Role.UNIT_VIEWER, units=[estate.a])


@freeze_time("2026-12-06 12:00:00")
@pytest.mark.parametrize("period", OUT_OF_RANGE)
def test_generate_now_refuses_a_month_out_of_range_and_queues_nothing(client, lead, estate, period):
    client.force_login(lead)
    response = client.post(
        reverse("reports:report_generate"),
        {"kind": "stewardship", "unit": estate.a.pk, "period": period},
    )
    assert response.status_code == 400
    errors = response.context["generate"].errors
    assert list(errors) == ["period"]
    assert "from January 2000 to December 2026" in errors["period"][0]
    assert errors["period"][0].startswith("Month must be")
    assert b'href="#generate-period"' in response.content  # the error summary links to it
    assert not ReportRun.objects.exists()


@freeze_time("2026-12-06 12:00:00")
def test_generate_now_accepts_the_first_and_the_current_month(
    client, lead, estate, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    for period in ("2000-01", "2026-12"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("reports:report_generate"),
                {"kind": "stewardship", "unit": estate.a.pk, "period": period},
            )
        assert response.status_code == 302
    assert sorted(ReportRun.objects.values_list("period_start", flat=True)) == [
        dt.date(2000, 1, 1),
        dt.date(2026, 12, 1),
    ]


def test_a_stewardship_report_without_a_unit_names_the_unit_field(client, lead):
    client.force_login(lead)
    response = client.post(
        reverse("reports:report_generate"), {"kind": "stewardship", "period": "2026-10"}
    )
    assert response.status_code == 400
    assert response.context["generate"].errors == {
        "unit": ["Choose a business unit for the stewardship report"]
    }


@freeze_time("2026-12-06 12:00:00")
@pytest.mark.parametrize(
    ("query", "field"),
    [({"period": "0001-01"}, "period"), ({"unit": "abc"}, "unit"), ({"kind": "x"}, "kind")],
)
def test_the_list_filter_names_a_bad_value_instead_of_ignoring_it(client, lead, query, field):
    client.force_login(lead)
    response = client.get(reverse("reports:report_list"), query)
    assert response.status_code == 400
    assert list(response.context["filters"].errors) == [field]
    assert f'href="#filter-{field}"'.encode() in response.content
    assert list(response.context["page"]) == []


@freeze_time("2026-12-06 12:00:00")
@pytest.mark.parametrize("period", ["0001-01", "9999-12-01", "2026-10-15", "nonsense"])
def test_the_api_refuses_a_period_out_of_range_with_a_400_naming_it(client, lead, period):
    client.force_login(lead)
    response = client.get("/api/v1/reports/runs/", {"period": period})
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == ["period"]
    assert "January 2000" in error["message"]


def test_the_api_names_a_bad_unit_or_kind(client, lead):
    client.force_login(lead)
    for query, field in (({"business_unit": "A"}, "business_unit"), ({"kind": "x"}, "kind")):
        response = client.get("/api/v1/reports/runs/", query)
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == [field]


@freeze_time("2026-12-06 12:00:00")
def test_the_api_accepts_a_month_in_range(client, lead):
    client.force_login(lead)
    for period in ("2026-10", "2026-10-01"):
        assert client.get("/api/v1/reports/runs/", {"period": period}).status_code == 200


@freeze_time("2026-12-06 12:00:00")
def test_the_range_runs_from_the_first_period_setting_to_the_current_month(settings):
    assert selectors.report_period_range() == (dt.date(2000, 1, 1), dt.date(2026, 12, 1))
    settings.REPORTS_FIRST_PERIOD = "2016-04"
    assert selectors.report_period_parse("2016-04") == dt.date(2016, 4, 1)
    with pytest.raises(ValueError, match="from April 2016 to December 2026"):
        selectors.report_period_parse("2016-03")


@freeze_time("2026-12-06 12:00:00")
@pytest.mark.parametrize(
    "period_start", [dt.date(1, 1, 1), dt.date(1999, 12, 1), dt.date(2026, 10, 15)]
)
def test_the_service_every_door_calls_refuses_a_month_out_of_range(lead, estate, period_start):
    from core.errors import DomainError
    from reports.services import report_run_request

    with pytest.raises(DomainError) as refused:
        report_run_request(user=lead, kind="stewardship", unit=estate.a, period_start=period_start)
    assert refused.value.field == "period"
    assert "from January 2000 to December 2026" in str(refused.value)
    assert not ReportRun.objects.exists()


@freeze_time("2026-12-06 12:00:00")
@pytest.mark.parametrize("period", ["0001-01", "2027-01", "October"])
def test_a_scheduled_run_for_a_month_out_of_range_is_refused_before_anything_is_claimed(
    estate, period
):
    from reports.tasks import stewardship_reports_generate_task

    with pytest.raises(ValueError, match="Period must be"):
        stewardship_reports_generate_task(period)
    assert not ReportRun.objects.exists()
