"""The reports pages, downloads and API: scope (another unit's report is a 404),
the finance report for finance and commercial roles only, generate-now with
progress, and query counts that do not grow with the number of runs."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.roles import Role
from accounts.scoping import unit_scope
from reports import services
from reports.models import ReportRun
from tests.factories import BusinessUnitFactory
from tests.reports.conftest import PERIOD_START

S = ReportRun.Status


@pytest.fixture
def runs(estate, django_capture_on_commit_callbacks):
    """Succeeded October runs for A, A1 and B, and a finance run."""
    with django_capture_on_commit_callbacks(execute=True):
        for unit in (estate.a, estate.a1, estate.b):
            services.stewardship_report_unit_run(unit_id=unit.pk, period_start=PERIOD_START)
        services.finance_report_run(period_start=PERIOD_START)
    return {
        (r.business_unit.code if r.business_unit else "finance"): r
        for r in ReportRun.objects.select_related("business_unit")
    }


@pytest.fixture
def lead_of_a(make_user, estate):
    return make_user(Role.UNIT_VIEWER, units=[estate.a])


def _download(client, run, fmt="xlsx"):
    return client.get(reverse("reports:report_download", args=[run.pk, fmt]))


def test_unit_lead_lists_only_their_units_reports(client, lead_of_a, runs):
    client.force_login(lead_of_a)
    response = client.get(reverse("reports:report_list"))
    assert response.status_code == 200
    shown = {r.pk for r in response.context["page"]}
    assert shown == {runs["A"].pk, runs["A1"].pk}


def test_runs_within_a_scope_are_its_units_stewardship_runs(lead_of_a, finance_officer, runs):
    # Finance runs belong to no unit: within any scope only stewardship runs; a user
    # sees the finance runs by role (finance and commercial), not by scope.
    assert set(ReportRun.objects.within(unit_scope(lead_of_a))) == {runs["A"], runs["A1"]}
    assert set(ReportRun.objects.within(unit_scope(finance_officer))) == {
        runs["A"],
        runs["A1"],
        runs["B"],
    }
    assert set(ReportRun.objects.visible_to(finance_officer)) == set(runs.values())
    assert ReportRun.objects.within(None).count() == 4


def test_unit_lead_downloads_their_units_report(client, lead_of_a, runs):
    client.force_login(lead_of_a)
    for fmt in ("xlsx", "csv", "pdf"):
        response = _download(client, runs["A"], fmt)
        assert response.status_code == 200
        assert response["X-Classification"] == "OFFICIAL"
        assert b"".join(response.streaming_content)
    assert "attachment" in _download(client, runs["A1"])["Content-Disposition"]


def test_another_units_report_is_a_404_even_by_guessing_the_url(client, lead_of_a, runs):
    client.force_login(lead_of_a)
    assert _download(client, runs["B"]).status_code == 404
    assert client.get(reverse("reports:report_detail", args=[runs["B"].pk])).status_code == 404
    assert client.get(reverse("reports:report_progress", args=[runs["B"].pk])).status_code == 404


def test_finance_report_is_for_finance_and_commercial_roles_only(
    client, asset_manager, finance_officer, make_user, lead_of_a, runs
):
    finance = runs["finance"]
    assert finance.classification == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    for user in (asset_manager, lead_of_a):
        client.force_login(user)
        assert _download(client, finance).status_code == 404
    for user in (finance_officer, make_user(Role.COMMERCIAL)):
        client.force_login(user)
        response = _download(client, finance, "csv")
        assert response.status_code == 200
        assert b"OFFICIAL-SENSITIVE [COMMERCIAL]" in b"".join(response.streaming_content)


def test_asset_managers_and_finance_see_every_units_report(
    client, asset_manager, finance_officer, runs
):
    client.force_login(asset_manager)
    shown = {r.pk for r in client.get(reverse("reports:report_list")).context["page"]}
    assert shown == {runs["A"].pk, runs["A1"].pk, runs["B"].pk}
    client.force_login(finance_officer)
    shown = {r.pk for r in client.get(reverse("reports:report_list")).context["page"]}
    assert shown == {r.pk for r in runs.values()}


def test_filters_by_unit_and_period(client, asset_manager, runs):
    client.force_login(asset_manager)
    response = client.get(
        reverse("reports:report_list"), {"unit": runs["B"].business_unit_id, "period": "2026-10"}
    )
    assert [r.pk for r in response.context["page"]] == [runs["B"].pk]
    response = client.get(reverse("reports:report_list"), {"period": "2026-09"})
    assert list(response.context["page"]) == []


def test_generate_now_queues_a_run_for_the_leads_unit_and_shows_its_progress(
    client, lead_of_a, estate, django_capture_on_commit_callbacks
):
    client.force_login(lead_of_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reports:report_generate"),
            {"kind": "stewardship", "unit": estate.a1.pk, "period": "2026-10"},
        )
    run = ReportRun.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "reports:report_detail", args=[run.pk]
    )
    assert (run.business_unit, run.trigger, run.requested_by) == (estate.a1, "on_demand", lead_of_a)
    progress = client.get(reverse("reports:report_progress", args=[run.pk]))
    assert progress.status_code == 200
    assert reverse("reports:report_download", args=[run.pk, "pdf"]).encode() in progress.content
    assert b"hx-trigger" not in progress.content  # finished: polling stops


def test_progress_fragment_polls_while_the_run_is_queued(client, lead_of_a, estate):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    client.force_login(lead_of_a)
    response = client.get(reverse("reports:report_progress", args=[run.pk]))
    assert b'hx-trigger="every 2s"' in response.content
    assert b"0 of 4 steps" in response.content


def test_generate_now_refuses_a_unit_outside_the_leads_scope(client, lead_of_a, estate):
    client.force_login(lead_of_a)
    response = client.post(
        reverse("reports:report_generate"),
        {"kind": "stewardship", "unit": estate.b.pk, "period": "2026-10"},
    )
    # The form again, its error summary naming the field; nothing queued.
    assert response.status_code == 400
    assert not ReportRun.objects.exists()
    assert response.context["generate"].errors == {
        "unit": ["Choose a business unit you are responsible for"]
    }
    assert b'href="#generate-unit"' in response.content


def test_generate_now_regenerates_a_finished_run_in_place(
    client, asset_manager, runs, django_capture_on_commit_callbacks
):
    client.force_login(asset_manager)
    before = runs["B"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("reports:report_generate"),
            {"kind": "stewardship", "unit": before.business_unit_id, "period": "2026-10"},
        )
    after = ReportRun.objects.get(pk=before.pk)
    assert ReportRun.objects.filter(business_unit_id=before.business_unit_id).count() == 1
    assert after.attempts == 2 and after.status == S.SUCCEEDED
    assert after.xlsx_file.name != before.xlsx_file.name
    assert not before.xlsx_file.storage.exists(before.xlsx_file.name)  # old file removed


def _more_runs(estate, count):
    for i in range(count):
        unit = BusinessUnitFactory(code=f"Q{ReportRun.objects.count()}-{i}", parent=estate.a)
        ReportRun.objects.create(
            business_unit=unit,
            period_start=PERIOD_START,
            period_end=dt.date(2026, 10, 31),
            status=S.SUCCEEDED,
            xlsx_file="reports/x.xlsx",
            csv_file="reports/x.csv",
            pdf_file="reports/x.pdf",
        )


def test_list_page_query_count_does_not_grow_with_runs(
    client, lead_of_a, estate, django_assert_num_queries
):
    client.force_login(lead_of_a)
    _more_runs(estate, 2)
    client.get(reverse("reports:report_list"))  # warm the session
    # Queries: session, user, the user's groups (roles), the user's unit scopes, count of
    # runs (paginator), the page of runs with their units, the units for the filters.
    with django_assert_num_queries(7):
        assert client.get(reverse("reports:report_list")).status_code == 200
    _more_runs(estate, 5)
    with django_assert_num_queries(7):
        response = client.get(reverse("reports:report_list"))
    assert len(response.context["page"]) == 7


def test_api_lists_only_runs_in_scope_with_download_links(client, lead_of_a, runs):
    client.force_login(lead_of_a)
    response = client.get("/api/v1/reports/runs/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["id"] for r in results} == {runs["A"].pk, runs["A1"].pk}
    files = {f["format"]: f for f in results[0]["files"]}
    assert files["xlsx"]["url"].endswith(
        reverse("reports:report_download", args=[results[0]["id"], "xlsx"])
    )
    assert client.get(f"/api/v1/reports/runs/{runs['B'].pk}/").status_code == 404
    detail = client.get(f"/api/v1/reports/runs/{runs['A'].pk}/").json()
    assert detail["summary"]["headline"]["devices_held"] == 17
    assert all(f["size"] > 0 for f in detail["files"])


def test_api_list_query_count_does_not_grow_with_runs(
    client, asset_manager, estate, django_assert_num_queries
):
    client.force_login(asset_manager)
    _more_runs(estate, 2)
    client.get("/api/v1/reports/runs/")
    # Queries: session, user, groups (roles), unit scopes, the page of runs with their units.
    with django_assert_num_queries(5):
        first = client.get("/api/v1/reports/runs/")
    _more_runs(estate, 5)
    with django_assert_num_queries(5):
        second = client.get("/api/v1/reports/runs/")
    assert len(second.json()["results"]) == len(first.json()["results"]) + 5


def test_generate_now_without_a_broker_shows_a_failed_build_on_the_run_page(
    client, asset_manager, estate, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*, run):
        raise RuntimeError("storage unavailable")

    monkeypatch.setattr(services, "stewardship_report_build", broken)
    client.force_login(asset_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reports:report_generate"),
            {"kind": "stewardship", "unit": estate.b.pk, "period": "2026-10"},
        )
    run = ReportRun.objects.get()
    assert response.status_code == 302 and run.status == S.FAILED
    page = client.get(reverse("reports:report_detail", args=[run.pk]))
    assert b"storage unavailable" in page.content


def test_api_lists_the_finance_report_for_finance_officers_only(
    client, finance_officer, asset_manager, runs
):
    client.force_login(finance_officer)
    results = client.get("/api/v1/reports/runs/", {"kind": "finance"}).json()["results"]
    assert [(r["id"], r["business_unit_code"], r["classification"]) for r in results] == [
        (runs["finance"].pk, None, "OFFICIAL-SENSITIVE [COMMERCIAL]")
    ]
    client.force_login(asset_manager)
    assert client.get("/api/v1/reports/runs/", {"kind": "finance"}).json()["results"] == []
    assert client.get(f"/api/v1/reports/runs/{runs['finance'].pk}/").status_code == 404


def test_run_detail_shows_the_status_chart_with_its_table_alternative(client, lead_of_a, runs):
    client.force_login(lead_of_a)
    response = client.get(reverse("reports:report_detail", args=[runs["A"].pk]))
    assert response.status_code == 200
    assert b'id="status-chart-data"' in response.content
    table = response.context["status_table"]
    laptop = next(r for r in table["rows"] if r["category"] == "Laptop")
    assert laptop["total"] == 8  # 5 deployed, 2 in stock, 1 lost in A and A1
    assert "Devices by category and status (the chart's figures)" in response.content.decode()
