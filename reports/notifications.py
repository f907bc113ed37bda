"""The notification outbox: the e-mail telling a unit's stewardship contact that its
report is ready, sent from the run's state rather than from a message.

``notification_create`` writes the outbox row in the transaction that records the
run's success; the Celery message that follows is only a wake-up
(``reports.tasks.report_run_notify_task``), and the reaper (``reports.reaper``) sends
it again if it was lost. ``notification_send`` takes the row by compare-and-swap with
a lease, sends, and marks it sent: at least once, never twice at the same time, and a
repeat after a crash carries the same Message-ID.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core import leases
from reports.models import ReportNotification, ReportRun

logger = logging.getLogger(__name__)

FORMATS = ("xlsx", "csv", "pdf")
N = ReportNotification.Status


def notification_owed(*, run: ReportRun) -> bool:
    """A succeeded stewardship run of a unit with a stewardship contact."""
    unit = run.business_unit
    return (
        run.kind == ReportRun.Kind.STEWARDSHIP and unit is not None and bool(unit.stewardship_email)
    )


def notification_create(*, run: ReportRun) -> ReportNotification:
    """The outbox row for this successful attempt (call inside the success's
    transaction). Its key names the run and the attempt: a regenerated report is
    announced again, the same success never twice."""
    key = f"report-ready-{run.pk}-{run.attempts}"
    notification, _ = ReportNotification.objects.get_or_create(
        dedupe_key=key,
        defaults={"run": run, "recipient": run.business_unit.stewardship_email},
    )
    # An older success's e-mail still owed would announce files this one replaced.
    ReportNotification.objects.filter(run=run, status=N.PENDING).exclude(dedupe_key=key).update(
        status=N.FAILED, lease_expires_at=None, error="Superseded by a newer report."
    )
    return notification


def run_notifications_send(*, run_id: int) -> bool:
    """Send the run's pending e-mails; True if one was sent by this call."""
    pending = ReportNotification.objects.filter(run_id=run_id, status=N.PENDING).order_by("pk")
    sent = False
    for notification_id in pending.values_list("pk", flat=True):
        sent = notification_send(notification_id=notification_id) or sent
    return sent


def notification_send(*, notification_id: int) -> bool:
    """Take the row (pending, no live lease, attempts left), send, mark it sent.

    Returns False when there is nothing to do: already sent, failed for good, or
    being sent by another worker. A failure to send is recorded (and the row freed
    for Celery's retry, or failed after RUN_MAX_ATTEMPTS) and re-raised.
    """
    now = timezone.now()
    taken = (
        ReportNotification.objects.filter(
            pk=notification_id, status=N.PENDING, attempts__lt=leases.max_attempts()
        )
        .filter(leases.free(now))
        .update(attempts=F("attempts") + 1, lease_expires_at=leases.lease_until(now))
    )
    if taken != 1:
        return False
    notification = ReportNotification.objects.select_related("run__business_unit").get(
        pk=notification_id
    )
    held = ReportNotification.objects.filter(
        pk=notification.pk, status=N.PENDING, attempts=notification.attempts
    )
    try:
        _message(notification).send()
    except Exception as exc:
        gave_up = notification.attempts >= leases.max_attempts()
        error = f"Attempt {notification.attempts}: {exc.__class__.__name__}: {exc}"
        leases.on_fresh_connection(
            lambda: held.update(
                status=N.FAILED if gave_up else N.PENDING, lease_expires_at=None, error=error
            )
        )
        raise
    sent_at = timezone.now()
    with transaction.atomic():
        if held.update(status=N.SENT, sent_at=sent_at, lease_expires_at=None, error=""):
            ReportRun.objects.filter(pk=notification.run_id).update(
                notified_at=sent_at, notified_to=notification.recipient
            )
    return True


def _message(notification: ReportNotification) -> EmailMessage:
    run = notification.run
    unit = run.business_unit
    site = settings.SITE_URL.rstrip("/")
    detail = site + reverse("reports:report_detail", args=[run.pk])
    links = "\n".join(
        f"  {fmt.upper()}: {site}{reverse('reports:report_download', args=[run.pk, fmt])}"
        for fmt in FORMATS
    )
    body = (
        f"The device stewardship report for {unit.name} ({unit.code}) for "
        f"{run.period_label} is ready.\n\n"
        f"View it: {detail}\n\nDownload:\n{links}\n\n"
        "You will be asked to sign in. The report is classified "
        f"{run.classification}; handle it accordingly.\n"
    )
    domain = site.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    return EmailMessage(
        subject=f"[{run.classification}] Device stewardship report: {unit.code}, "
        f"{run.period_start:%B %Y}",
        body=body,
        to=[notification.recipient],
        # The same e-mail sent again (a sender that died after the mail server took it)
        # carries the same Message-ID, so mail systems can drop the repeat.
        headers={"Message-ID": f"<{notification.dedupe_key}@{domain}>"},
    )
