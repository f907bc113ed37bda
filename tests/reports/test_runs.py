"""Runs: one per unit per period whatever fires twice; a failing unit retried while the
others complete; the beat schedule; the notification e-mail."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reports import reaper, selectors, services, tasks
from reports.models import ReportNotification, ReportRun
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


def test_a_running_run_whose_lease_lapsed_is_taken_over_and_a_live_one_is_not(estate):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    first = services.report_run_start(run_id=run.pk)
    assert first.lease_expires_at > timezone.now()
    # The worker is alive (its lease runs): a redelivered message leaves it alone.
    assert services.report_run_start(run_id=run.pk) is None
    # Its worker died: the lease lapses and the next delivery takes the run over.
    ReportRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    second = services.report_run_start(run_id=run.pk)
    assert second.attempts == 2 and second.status == S.RUNNING
    assert second.lease_expires_at > timezone.now()


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


# --- leases, takeover, partial files, the reaper and the outbox -------------------


def _media_files(settings) -> list[str]:
    media = settings.MEDIA_ROOT
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def _lapse(run_id: int) -> None:
    ReportRun.objects.filter(pk=run_id).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


@pytest.fixture
def full_disk_for(settings, monkeypatch):
    """The report storage runs out of space while writing the named files' CSV."""

    def _full(marker: str) -> None:
        monkeypatch.setenv("RELIABILITY_FULL_DISK_FOR", marker)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "tests.reliability.storage.FaultyStorage"},
        }

    return _full


def test_a_full_disk_fails_that_run_with_the_reason_removes_its_partial_files_and_others_complete(
    estate, settings, full_disk_for, django_capture_on_commit_callbacks
):
    # Given the disk fills up half-way through unit B's CSV (its XLSX already written)
    full_disk_for("stewardship-B-")
    _generate(django_capture_on_commit_callbacks)
    b = ReportRun.objects.get(business_unit=estate.b)
    # Then B failed, saying why, and nothing it wrote (whole or partial) is left
    assert b.status == S.FAILED
    assert "No space left on device" in b.error
    assert not [name for name in _media_files(settings) if "stewardship-B-" in name]
    # And the other units completed, their files in place
    others = ReportRun.objects.exclude(pk=b.pk)
    assert set(others.values_list("status", flat=True)) == {S.SUCCEEDED}
    for run in others:
        assert run.xlsx_file.storage.exists(run.csv_file.name)


def test_a_dead_attempts_partial_files_are_removed_when_the_run_succeeds(
    estate, settings, django_capture_on_commit_callbacks
):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    dead = services.report_run_start(run_id=run.pk)
    # Given attempt 1's worker was killed half-way through writing its XLSX
    partial = services.attempt_file_names(dead, [1])[0]
    dead.xlsx_file.storage.save(partial, ContentFile(b"PK\x03\x04 half a zip"))
    _lapse(run.pk)
    # When the run is taken over and succeeds
    with django_capture_on_commit_callbacks(execute=True):
        done = services.report_run_execute(run_id=run.pk)
    # Then attempt 1's file is gone and attempt 2's three files are all that is left
    assert done.attempts == 2 and done.status == S.SUCCEEDED
    assert _media_files(settings) == sorted(
        str(n) for n in (done.xlsx_file.name, done.csv_file.name, done.pdf_file.name)
    )


def test_a_superseded_attempt_stops_removes_only_its_own_files_and_records_nothing(
    estate, settings, monkeypatch
):
    real_build = services.stewardship_report_build

    def taken_over_mid_build(*, run):
        if run.attempts == 1:
            # This worker was presumed dead: its lease lapsed and attempt 2 took over.
            _lapse(run.pk)
            assert services.report_run_start(run_id=run.pk).attempts == 2
        return real_build(run=run)

    monkeypatch.setattr(services, "stewardship_report_build", taken_over_mid_build)
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    assert services.report_run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    # The run is attempt 2's, untouched by attempt 1, which left no files behind.
    assert (run.status, run.attempts, run.error) == (S.RUNNING, 2, "")
    assert _media_files(settings) == []


def test_a_run_out_of_attempts_is_not_taken_again_and_the_reaper_fails_it_with_the_reason(
    estate, settings
):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.a, period_start=PERIOD_START)
    services.report_run_start(run_id=run.pk)
    # Given every attempt so far died with its worker (the last leaving a partial file)
    ReportRun.objects.filter(pk=run.pk).update(attempts=settings.RUN_MAX_ATTEMPTS)
    run.refresh_from_db()
    stray = services.attempt_file_names(run, [run.attempts])[1]
    run.csv_file.storage.save(stray, ContentFile(b"half a csv"))
    _lapse(run.pk)
    # Then no delivery starts it again
    assert services.report_run_start(run_id=run.pk) is None
    # And the reaper fails it, saying why, and removes what the attempts left
    assert reaper.report_runs_reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == S.FAILED and run.lease_expires_at is None
    assert "worker running it was lost" in run.error
    assert f"Gave up after {settings.RUN_MAX_ATTEMPTS} attempts" in run.error
    assert _media_files(settings) == []


def test_the_reaper_queues_a_stranded_run_again_and_its_wake_up_finishes_it(
    estate, django_capture_on_commit_callbacks
):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.b, period_start=PERIOD_START)
    services.report_run_start(run_id=run.pk)  # attempt 1; then its worker died
    # A run whose lease still runs is left alone
    assert reaper.report_runs_reap()["requeued"] == 0
    _lapse(run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = reaper.report_runs_reap()
    assert outcome["requeued"] == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (S.SUCCEEDED, 2)


def test_the_reaper_resends_a_lost_wake_up_once_per_stale_period(
    estate, settings, django_capture_on_commit_callbacks
):
    run, _ = services.report_run_claim(kind="stewardship", unit=estate.b, period_start=PERIOD_START)
    # Given the run's message was lost (a broker restart) and it has waited too long
    stale = dt.timedelta(seconds=settings.RUN_QUEUED_STALE_SECONDS + 1)
    ReportRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - stale)
    with django_capture_on_commit_callbacks() as first:
        assert reaper.report_runs_reap()["woken"] == 1
    # A second reaper (another beat) at once finds it woken and sends nothing
    with django_capture_on_commit_callbacks() as second:
        assert reaper.report_runs_reap()["woken"] == 0
    assert (len(first), len(second)) == (1, 0)
    first[0]()  # the wake-up reaches a worker
    run.refresh_from_db()
    assert run.status == S.SUCCEEDED and run.attempts == 1


def test_the_notification_is_written_with_the_success_and_a_lost_wake_up_is_sent_by_the_reaper(
    estate, settings, mailoutbox, django_capture_on_commit_callbacks
):
    # Given the report succeeds but the message that would send its e-mail is lost
    with django_capture_on_commit_callbacks(execute=False):
        run = services.stewardship_report_unit_run(unit_id=estate.b.pk, period_start=PERIOD_START)
    note = ReportNotification.objects.get(run=run)
    assert (note.status, note.recipient, note.dedupe_key) == (
        ReportNotification.Status.PENDING,
        estate.b.stewardship_email,
        f"report-ready-{run.pk}-1",
    )
    assert mailoutbox == []
    # When the reaper runs after the stale period
    stale = dt.timedelta(seconds=settings.RUN_QUEUED_STALE_SECONDS + 1)
    ReportNotification.objects.filter(pk=note.pk).update(queued_at=timezone.now() - stale)
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.report_runs_reap()["notifications_woken"] == 1
    # Then the e-mail goes, once, and the run says so
    assert len(mailoutbox) == 1
    note.refresh_from_db()
    run.refresh_from_db()
    assert note.status == ReportNotification.Status.SENT and note.sent_at is not None
    assert run.notified_to == estate.b.stewardship_email
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<report-ready-{run.pk}-1@")


def test_two_wake_ups_for_one_notification_send_one_email(
    estate, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    from django.core.mail import EmailMessage

    with django_capture_on_commit_callbacks(execute=False):
        run = services.stewardship_report_unit_run(unit_id=estate.b.pk, period_start=PERIOD_START)
    real_send = EmailMessage.send
    inner = []

    def send_while_another_wake_up_arrives(self, *args, **kwargs):
        # The second wake-up arrives while the first is talking to the mail server.
        inner.append(services.report_run_notify(run_id=run.pk))
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send_while_another_wake_up_arrives)
    assert services.report_run_notify(run_id=run.pk) is True
    assert inner == [False]
    assert len(mailoutbox) == 1
    # And a late repeat finds it sent
    assert services.report_run_notify(run_id=run.pk) is False
    assert len(mailoutbox) == 1


def test_a_failing_mail_server_keeps_the_notification_owed_until_it_gives_up(
    estate, settings, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    from django.core.mail import EmailMessage

    with django_capture_on_commit_callbacks(execute=False):
        run = services.stewardship_report_unit_run(unit_id=estate.b.pk, period_start=PERIOD_START)

    def refused(self, *args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMessage, "send", refused)
    for attempt in range(1, settings.RUN_MAX_ATTEMPTS + 1):
        with pytest.raises(ConnectionRefusedError):
            services.report_run_notify(run_id=run.pk)
        note = ReportNotification.objects.get(run=run)
        assert note.attempts == attempt and "mail server down" in note.error
        expected = (
            ReportNotification.Status.FAILED
            if attempt == settings.RUN_MAX_ATTEMPTS
            else ReportNotification.Status.PENDING
        )
        assert note.status == expected and note.lease_expires_at is None
    # Given up: no further wake-up sends it
    assert services.report_run_notify(run_id=run.pk) is False


def test_reaper_schedules_are_installed_for_the_database_beat_scheduler(settings):
    tasks_by_name = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks_by_name == {
        "reports.tasks.report_runs_reap_task",
        "devices.tasks.import_runs_reap_task",
    }
    assert all(
        entry["schedule"] == settings.RUN_REAPER_INTERVAL_SECONDS
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
    )
    # The tasks are registered under those names with the worker.
    from config.celery import app

    app.loader.import_default_modules()
    assert tasks_by_name <= set(app.tasks)


def test_a_regenerated_report_supersedes_an_email_still_owed_for_the_old_one(
    estate, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = services.stewardship_report_unit_run(unit_id=estate.b.pk, period_start=PERIOD_START)
        # Regenerated (as "generate now" does) before the first e-mail went
        ReportRun.objects.filter(pk=run.pk).update(status=S.QUEUED, attempts_base=run.attempts)
        services.report_run_execute(run_id=run.pk)
    notes = dict(ReportNotification.objects.values_list("dedupe_key", "status"))
    assert notes == {
        f"report-ready-{run.pk}-1": ReportNotification.Status.FAILED,
        f"report-ready-{run.pk}-2": ReportNotification.Status.PENDING,
    }
    assert services.report_run_notify(run_id=run.pk) is True
    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<report-ready-{run.pk}-2@")
