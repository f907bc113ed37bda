"""Runs: one per unit per period whatever fires twice; a failing unit retried while the
others complete; the beat schedule; the notification e-mail."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django_celery_beat.models import PeriodicTask

from reports import selectors, services, tasks
from reports.models import ReportRun
from tests.reports.conftest import PERIOD_START

S = ReportRun.Status


@pytest.fixture
def worker_like_retries():
    """Eager tasks that retry like a worker: with eager propagation on (the project
    default) Celery re-raises Retry instead of running the retry."""
    from config.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def _generate(capture, period="2026-10"):
    with capture(execute=True):
        tasks.stewardship_reports_generate_task.delay(period)


def test_every_active_unit_gets_one_succeeded_run(estate, django_capture_on_commit_callbacks):
    _generate(django_capture_on_commit_callbacks)
    runs = ReportRun.objects.filter(period_start=PERIOD_START)
    assert sorted(runs.values_list("business_unit__code", flat=True)) == ["A", "A1", "B"]
    assert set(runs.values_list("status", flat=True)) == {S.SUCCEEDED}
    assert all(run.xlsx_file and run.csv_file and run.pdf_file for run in runs)
    assert set(runs.values_list("period_end", flat=True)) == {dt.date(2026, 10, 31)}


def test_two_beats_for_the_same_period_leave_one_run_per_unit(
    estate, django_capture_on_commit_callbacks
):
    _generate(django_capture_on_commit_callbacks)
    first = dict(ReportRun.objects.values_list("id", "finished_at"))
    _generate(django_capture_on_commit_callbacks)
    assert ReportRun.objects.count() == 3
    # The second beat found every run done and rebuilt none.
    assert dict(ReportRun.objects.values_list("id", "finished_at")) == first
    assert set(ReportRun.objects.values_list("attempts", flat=True)) == {1}


def test_a_retried_unit_task_does_not_rebuild_a_finished_run(
    estate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.stewardship_report_unit_task.delay(estate.b.pk, "2026-10-01")
        tasks.stewardship_report_unit_task.delay(estate.b.pk, "2026-10-01")
    run = ReportRun.objects.get()
    assert run.status == S.SUCCEEDED and run.attempts == 1


def test_the_database_refuses_a_second_run_for_a_unit_and_period(estate):
    services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportRun.objects.create(
            kind="stewardship",
            business_unit=estate.a,
            period_start=PERIOD_START,
            period_end=dt.date(2026, 10, 31),
        )


def test_the_database_refuses_a_second_finance_run_for_a_period_despite_the_null_unit(db):
    ReportRun.objects.create(
        kind="finance", period_start=PERIOD_START, period_end=dt.date(2026, 10, 31)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportRun.objects.create(
            kind="finance", period_start=PERIOD_START, period_end=dt.date(2026, 10, 31)
        )


def test_a_claim_that_loses_the_insert_race_returns_the_winners_run(estate, monkeypatch):
    # Given another worker inserted the run between our look-up and our insert
    winner = ReportRun.objects.create(
        kind="stewardship",
        business_unit=estate.a,
        period_start=PERIOD_START,
        period_end=dt.date(2026, 10, 31),
    )
    original = ReportRun.objects.filter
    calls = {"n": 0}

    def blind_first_lookup(*args, **kwargs):
        calls["n"] += 1
        return ReportRun.objects.none() if calls["n"] == 1 else original(*args, **kwargs)

    monkeypatch.setattr(ReportRun.objects, "filter", blind_first_lookup)
    # When we claim, our INSERT hits the unique constraint
    run, created = services.report_run_claim(
        kind="stewardship", unit=estate.a, period_start=PERIOD_START
    )
    # Then we get theirs, not an error and not a second row
    assert (run.pk, created) == (winner.pk, False)
    assert ReportRun.objects.count() == 1


def test_only_one_worker_wins_the_start_of_a_run(estate):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    assert services.report_run_start(run_id=run.pk) is not None
    assert services.report_run_start(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == S.RUNNING and run.attempts == 1


def test_an_abandoned_running_run_can_be_taken_over(estate):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    services.report_run_start(run_id=run.pk)
    ReportRun.objects.filter(pk=run.pk).update(
        started_at=run.queued_at - services.STALE_AFTER - dt.timedelta(minutes=1)
    )
    assert services.report_run_start(run_id=run.pk).attempts == 2


def test_a_failing_unit_is_retried_while_the_others_complete(
    estate, monkeypatch, django_capture_on_commit_callbacks, worker_like_retries
):
    real_build = services.stewardship_report_build
    failures = {"left": 1}

    def flaky(*, run):
        if run.business_unit_id == estate.a1.pk and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database went away")
        return real_build(run=run)

    monkeypatch.setattr(services, "stewardship_report_build", flaky)
    _generate(django_capture_on_commit_callbacks)
    runs = {r.business_unit.code: r for r in ReportRun.objects.select_related("business_unit")}
    assert {code: r.status for code, r in runs.items()} == {
        "A": S.SUCCEEDED,
        "A1": S.SUCCEEDED,
        "B": S.SUCCEEDED,
    }
    assert runs["A1"].attempts == 2 and runs["A"].attempts == 1 and runs["B"].attempts == 1
    assert runs["A1"].error == ""


def test_a_unit_failing_every_attempt_is_recorded_failed_with_its_error_and_others_complete(
    estate, monkeypatch, django_capture_on_commit_callbacks, worker_like_retries
):
    real_build = services.stewardship_report_build

    def broken(*, run):
        if run.business_unit_id == estate.b.pk:
            raise RuntimeError("disk full")
        return real_build(run=run)

    monkeypatch.setattr(services, "stewardship_report_build", broken)
    _generate(django_capture_on_commit_callbacks)
    b = ReportRun.objects.get(business_unit=estate.b)
    assert b.status == S.FAILED
    assert b.attempts == 4  # the first try and three retries
    assert "disk full" in b.error
    assert set(ReportRun.objects.exclude(pk=b.pk).values_list("status", flat=True)) == {S.SUCCEEDED}


def test_monthly_schedules_are_registered_with_the_database_beat_scheduler(db):
    task = PeriodicTask.objects.get(task="reports.tasks.stewardship_reports_generate_task")
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_month) == ("0", "6", "1")
    assert str(task.crontab.timezone) == "Europe/London"
    assert PeriodicTask.objects.filter(task="reports.tasks.finance_report_generate_task").exists()


def test_beat_with_no_period_reports_on_the_previous_month():
    assert tasks._period_start(None) == selectors.previous_month(selectors.london_today())[0]
    assert selectors.previous_month(dt.date(2026, 1, 1)) == (
        dt.date(2025, 12, 1),
        dt.date(2025, 12, 31),
    )
    assert tasks._period_start("2026-03") == dt.date(2026, 3, 1)


def test_the_stewardship_contact_is_emailed_a_link_once(
    estate, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://devices.example.police.uk"
    with django_capture_on_commit_callbacks(execute=True):
        run = services.stewardship_report_unit_run(unit_id=estate.b.pk, period_start=PERIOD_START)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [estate.b.stewardship_email]
    assert f"https://devices.example.police.uk/reports/{run.pk}/download/xlsx/" in mail.body
    assert "OFFICIAL" in mail.subject
    run.refresh_from_db()
    assert run.notified_to == estate.b.stewardship_email and run.notified_at is not None
    # A retried notification sends nothing more.
    assert services.report_run_notify(run_id=run.pk) is False
    assert len(mailoutbox) == 1


def test_the_trend_compares_with_the_units_previous_report(
    estate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.stewardship_report_unit_run(unit_id=estate.a.pk, period_start=dt.date(2026, 9, 1))
        october = services.stewardship_report_unit_run(
            unit_id=estate.a.pk, period_start=PERIOD_START
        )
    trend = {row["key"]: row for row in october.summary["trend"]}
    # Nothing changed between the two runs except the lost-in-period window.
    assert trend["devices_held"]["previous"] == trend["devices_held"]["current"] == 17
    assert trend["devices_held"]["change"] == 0
    assert october.summary["previous_period_start"] == "2026-09-01"


def test_without_a_broker_a_failing_unit_still_does_not_stop_the_others(
    estate, monkeypatch, django_capture_on_commit_callbacks
):
    # Given the project's eager default (failures propagate, no retries run in-process)
    real_build = services.stewardship_report_build

    def broken(*, run):
        if run.business_unit_id == estate.a.pk:
            raise RuntimeError("boom")
        return real_build(run=run)

    monkeypatch.setattr(services, "stewardship_report_build", broken)
    _generate(django_capture_on_commit_callbacks)
    statuses = dict(ReportRun.objects.values_list("business_unit__code", "status"))
    assert statuses == {"A": S.FAILED, "A1": S.SUCCEEDED, "B": S.SUCCEEDED}


def test_the_xlsx_charts_the_trend_once_there_is_a_previous_report(
    estate, django_capture_on_commit_callbacks
):
    import io
    import zipfile

    with django_capture_on_commit_callbacks(execute=True):
        september = services.stewardship_report_unit_run(
            unit_id=estate.b.pk, period_start=dt.date(2026, 9, 1)
        )
        october = services.stewardship_report_unit_run(
            unit_id=estate.b.pk, period_start=PERIOD_START
        )

    def chart_titles(run):
        with run.xlsx_file.storage.open(run.xlsx_file.name, "rb") as handle:
            book = zipfile.ZipFile(io.BytesIO(handle.read()))
        return " ".join(
            book.read(name).decode()
            for name in book.namelist()
            if name.startswith("xl/charts/chart")
        )

    assert "This period against the previous report" not in chart_titles(september)
    assert "This period against the previous report" in chart_titles(october)
