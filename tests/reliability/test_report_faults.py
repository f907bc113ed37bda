"""Report runs against a real Celery worker, beat and broker, when things break:
the worker killed with ``kill -9`` mid-report (whole, or one pool child), the broker
losing every queued message, RabbitMQ killed and restarted (a node of the test's
own) with work queued and mid-report, the database connection cut mid-report, the
report storage full for one unit. Every run ends with an outcome: succeeded, or failed with
the reason and no partial files; every owed e-mail is sent once.

PostgreSQL and a broker (see conftest); each test is bounded (about 20-40 s here).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from django.conf import settings

from reports import reaper, services, tasks
from reports.models import ReportNotification, ReportRun
from tests.factories import BusinessUnitFactory, DeviceFactory
from tests.reliability.conftest import free_port, wait_until

pytestmark = pytest.mark.postgres

PERIOD = "2026-10"
S = ReportRun.Status


@pytest.fixture
def units(stack):
    made = [BusinessUnitFactory(code=f"U{i}") for i in range(1, 7)]
    for unit in made:
        DeviceFactory.create_batch(2, business_unit=unit)
    return made


def _statuses() -> dict[str, str]:
    return dict(ReportRun.objects.values_list("business_unit__code", "status"))


def _all_succeeded(count: int):
    def check():
        statuses = _statuses()
        return len(statuses) == count and set(statuses.values()) == {S.SUCCEEDED}

    return check


def _media_files() -> set[str]:
    media = settings.MEDIA_ROOT
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


def _assert_every_run_holds_exactly_its_files():
    held = set()
    for run in ReportRun.objects.all():
        held |= {run.xlsx_file.name, run.csv_file.name, run.pdf_file.name}
    held.discard("")  # a failed run holds none
    assert _media_files() == held, "stray report files left behind"


def _one_mail_per_unit(stack, units):
    def check():
        return len(stack.mails()) >= len(units)

    wait_until(check, timeout=30, message="not every notification was sent")
    time.sleep(1.5)  # a second e-mail would show within the reaper's period
    mails = stack.mails()
    for unit in units:
        assert sum(unit.stewardship_email in mail for mail in mails) == 1, unit.code
    assert set(ReportNotification.objects.values_list("status", flat=True)) == {"sent"}


def test_worker_killed_mid_report_every_unit_ends_succeeded(stack, units):
    # Given a worker whose builds each take longer than the lease (the heartbeat
    # must keep them), working through the month's fan-out
    first = stack.worker("w1", RELIABILITY_SLOW_BUILD="4")
    tasks.stewardship_reports_generate_task.delay(PERIOD)
    wait_until(
        lambda: ReportRun.objects.filter(status=S.RUNNING).count() == 2,
        timeout=30,
        message="the worker never started two reports",
    )
    # When it is killed with kill -9 (the process and its pool children)
    first.kill_group()
    killed_at = time.monotonic()
    stranded = set(ReportRun.objects.filter(status=S.RUNNING).values_list("pk", flat=True))
    assert len(stranded) == 2
    # And a new worker and beat (the reaper) start
    stack.worker("w2", RELIABILITY_SLOW_BUILD="4")
    stack.beat()
    # Then every unit's report ends succeeded. (Beat's reaper waits its turn behind
    # the builds in the queue; this process reaps too, every poll, so a lease that
    # lapsed mid-build would be seen at once.)
    succeeded = _all_succeeded(len(units))
    wait_until(
        lambda: reaper.report_runs_reap() and succeeded(),
        timeout=75,
        message=f"stuck: {_statuses()}",
    )
    recovered = time.monotonic() - killed_at
    attempts = dict(ReportRun.objects.values_list("pk", "attempts"))
    # The two stranded runs were taken over once; the others, built slower than the
    # lease, were never taken from their worker: the heartbeat held them
    assert {pk: attempts[pk] for pk in stranded} == dict.fromkeys(stranded, 2)
    assert {n for pk, n in attempts.items() if pk not in stranded} == {1}
    _assert_every_run_holds_exactly_its_files()
    _one_mail_per_unit(stack, units)
    print(f"recovered {len(units)} units in {recovered:.1f} s after kill -9")  # noqa: T201


def test_a_killed_pool_child_leaves_no_report_running(stack, units):
    worker = stack.worker("w1", RELIABILITY_SLOW_BUILD="4")
    stack.beat()
    tasks.stewardship_reports_generate_task.delay(PERIOD)
    wait_until(
        lambda: ReportRun.objects.filter(status=S.RUNNING).count() == 2,
        timeout=30,
        message="the worker never started two reports",
    )
    # When one pool child is killed mid-report (the OOM killer, say)
    children = worker.children()
    assert children, "no pool children"
    os.kill(children[0], signal.SIGKILL)
    # Then every unit still ends succeeded, the lost one taken over once
    wait_until(_all_succeeded(len(units)), timeout=75, message=f"stuck: {_statuses()}")
    assert sorted(ReportRun.objects.values_list("attempts", flat=True)) == [1] * 5 + [2]
    _assert_every_run_holds_exactly_its_files()
    _one_mail_per_unit(stack, units)


def _start_private_redis(port: int, tmp_path) -> subprocess.Popen:
    # The persistence the compose file used: none, so a restart loses the queue.
    return subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("loss", ["redis-restart", "queue-purged"])
def test_messages_lost_with_work_queued_every_run_still_completes(
    stack, units, producer, tmp_path, loss
):
    redis = None
    if loss == "redis-restart":
        if not shutil.which("redis-server"):
            pytest.skip("needs redis-server to restart a broker of the test's own")
        port = free_port()
        redis = _start_private_redis(port, tmp_path)
        stack.broker = f"redis://127.0.0.1:{port}/0"
        producer(stack.broker, stack.queue)
        time.sleep(0.5)
    app = producer(stack.broker, stack.queue)
    try:
        # Given the month's runs are queued (rows and messages) with no worker running,
        # and two reports already built whose e-mails are queued too
        tasks.stewardship_reports_generate_task.apply(args=[PERIOD])
        first_two = list(ReportRun.objects.order_by("business_unit__code")[:2])
        for run in first_two:
            assert services.report_run_execute(run_id=run.pk).status == S.SUCCEEDED
        with app.connection_for_write() as conn:
            waiting = conn.default_channel.queue_declare(stack.queue, passive=True)
            assert waiting.message_count >= len(units) + 2
        # When the broker loses every message
        if redis is not None:
            redis.kill()
            redis.wait(timeout=10)
            redis = _start_private_redis(port, tmp_path)
            time.sleep(0.5)
            producer(stack.broker, stack.queue)
        else:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(stack.queue)
        # And a worker and beat start
        stack.worker("w1")
        stack.beat()
        # Then the reaper sends the wake-ups again and every run completes
        wait_until(_all_succeeded(len(units)), timeout=60, message=f"stuck: {_statuses()}")
        assert set(ReportRun.objects.values_list("attempts", flat=True)) == {1}
        _one_mail_per_unit(stack, units)
    finally:
        if redis is not None:
            redis.kill()
            redis.wait(timeout=10)


def _waiting(app, queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def test_rabbitmq_killed_and_restarted_with_work_queued_keeps_it_and_every_run_completes(
    private_rabbitmq, stack, units, producer
):
    node = private_rabbitmq
    app = producer(node.url, stack.queue)
    # Given the month's runs are queued (rows and messages) with no worker running,
    # and two reports already built whose e-mails are queued too
    tasks.stewardship_reports_generate_task.apply(args=[PERIOD])
    for run in ReportRun.objects.order_by("business_unit__code")[:2]:
        assert services.report_run_execute(run_id=run.pk).status == S.SUCCEEDED
    queued = _waiting(app, stack.queue)
    assert queued >= len(units) + 2
    # When RabbitMQ is killed (kill -9) and started again on its data directory
    node.kill()
    restart = node.start()
    # Then the durable queue still holds every message (persistent, and confirmed
    # only once on disk)
    assert _waiting(producer(node.url, stack.queue), stack.queue) == queued
    # And once a worker and beat start, every run completes, each in one attempt
    started = time.monotonic()
    stack.worker("w1")
    stack.beat()
    wait_until(_all_succeeded(len(units)), timeout=60, message=f"stuck: {_statuses()}")
    completed = time.monotonic() - started
    assert set(ReportRun.objects.values_list("attempts", flat=True)) == {1}
    _assert_every_run_holds_exactly_its_files()
    _one_mail_per_unit(stack, units)
    print(  # noqa: T201
        f"RabbitMQ back in {restart:.1f} s with {queued} of {queued} messages; "
        f"{len(units)} runs succeeded {completed:.1f} s after the worker started"
    )


def test_rabbitmq_killed_and_restarted_mid_report_the_worker_reconnects_and_runs_complete(
    private_rabbitmq, stack, units
):
    node = private_rabbitmq
    # Given a worker (and beat) connected and building the month's reports
    worker = stack.worker("w1", RELIABILITY_SLOW_BUILD="2")
    stack.beat()
    tasks.stewardship_reports_generate_task.delay(PERIOD)
    wait_until(
        lambda: ReportRun.objects.filter(status=S.RUNNING).count() == 2,
        timeout=30,
        message="the worker never started two reports",
    )
    interrupted = set(ReportRun.objects.filter(status=S.RUNNING).values_list("pk", flat=True))
    # When RabbitMQ is killed (kill -9) and started again
    node.kill()
    killed_at = time.monotonic()
    restart = node.start()
    # Then the same worker reconnects by itself and every run ends succeeded
    wait_until(_all_succeeded(len(units)), timeout=60, message=f"stuck: {_statuses()}")
    recovered = time.monotonic() - killed_at
    assert worker.popen.poll() is None
    assert worker.text().count("Connected to amqp://") >= 2, worker.text()[-4000:]
    attempts = dict(ReportRun.objects.values_list("pk", "attempts"))
    assert {n for pk, n in attempts.items() if pk not in interrupted} == {1}
    assert {attempts[pk] for pk in interrupted} <= {1, 2}
    _assert_every_run_holds_exactly_its_files()
    _one_mail_per_unit(stack, units)
    print(  # noqa: T201
        f"RabbitMQ back in {restart:.1f} s; all {len(units)} runs succeeded "
        f"{recovered:.1f} s after the kill; the interrupted runs' attempts: "
        f"{sorted(attempts[pk] for pk in interrupted)}"
    )


def test_a_database_connection_cut_mid_report_is_recorded_and_retried(stack, units):
    # Given a worker building reports
    stack.worker("w1", RELIABILITY_SLOW_BUILD="3")
    stack.beat()
    tasks.stewardship_reports_generate_task.delay(PERIOD)
    wait_until(
        lambda: ReportRun.objects.filter(status=S.RUNNING).count() == 2,
        timeout=30,
        message="the worker never started two reports",
    )
    cut = set(ReportRun.objects.filter(status=S.RUNNING).values_list("pk", flat=True))
    # When PostgreSQL ends the worker's connections (as a restart does)
    assert stack.terminate_database_connections() >= 1
    # Then the failures are recorded on fresh connections, the retries succeed,
    # and nothing is left running
    wait_until(_all_succeeded(len(units)), timeout=60, message=f"stuck: {_statuses()}")
    attempts = dict(ReportRun.objects.filter(pk__in=cut).values_list("pk", "attempts"))
    assert set(attempts.values()) == {2}, attempts
    log = stack.processes[0].text()
    assert "failed on attempt 1" in log
    _assert_every_run_holds_exactly_its_files()


def test_report_storage_full_for_one_unit_fails_that_run_and_others_complete(stack, units):
    # Given the report storage is full whenever unit U2's CSV is written
    stack.worker(
        "w1",
        FILE_STORAGE="tests.reliability.storage.FaultyStorage",
        RELIABILITY_FULL_DISK_FOR="stewardship-U2-",
    )
    tasks.stewardship_reports_generate_task.delay(PERIOD)

    def settled():
        statuses = _statuses()
        u2 = ReportRun.objects.filter(business_unit__code="U2").first()
        return (
            len(statuses) == len(units)
            and u2 is not None
            and u2.status == S.FAILED
            and u2.attempts == 4  # the first try and Celery's three retries
            and {s for code, s in statuses.items() if code != "U2"} == {S.SUCCEEDED}
        )

    wait_until(settled, timeout=60, message=f"not settled: {_statuses()}")
    u2 = ReportRun.objects.get(business_unit__code="U2")
    # Then U2 failed with the reason, its partial files (every attempt's) are gone,
    # and the other units completed with their files
    assert "No space left on device" in u2.error
    assert not [name for name in _media_files() if "stewardship-U2-" in name]
    assert not (u2.xlsx_file or u2.csv_file or u2.pdf_file)
    _assert_every_run_holds_exactly_its_files()
