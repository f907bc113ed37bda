"""Eligibility recomputation: the whole estate in one set-based statement."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from refresh import eligibility_sql
from refresh.models import DeviceEligibility, EligibilityRun
from refresh.selectors.policies import policies_in_force
from refresh.tasks import eligibility_recompute_task

# Arbitrary constant naming the eligibility recomputation's advisory lock.
ELIGIBILITY_LOCK_KEY = 4_000_001


def eligibility_recompute(
    *, trigger: str = EligibilityRun.Trigger.MANUAL, actor=None, today: dt.date | None = None
) -> EligibilityRun:
    """Recompute eligibility for the whole estate in one set-based statement.

    Business case: "older devices ... break more frequently": a device is due
    when it reaches its category's lifecycle, reaches the repair threshold, runs
    an OS past end of support (where the policy says that forces refresh) or is
    a model past end of support. Out of warranty adds to the priority and is
    shown as a reason but does not make a device due alone. A deployed device
    not seen for the policy's idle days is flagged for reclaim instead.
    Only devices in use or in stock are eligible.
    """
    now = timezone.now()
    today = today or timezone.localdate()
    vendor = connection.vendor
    policies = list(policies_in_force(on_date=today).values())
    with transaction.atomic():
        run = EligibilityRun.objects.create(
            trigger=trigger, requested_by=actor, started_at=now, as_of=today
        )
        ops = connection.ops
        params: dict[str, Any] = {
            "today": ops.adapt_datefield_value(today),
            "now": ops.adapt_datetimefield_value(now),
            "computed_at": ops.adapt_datetimefield_value(now),
        }
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                # Two recomputations (nightly beat and a button press, say) would
                # upsert the same million rows in different orders and could
                # deadlock; this transaction-scoped lock makes the second wait.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ELIGIBILITY_LOCK_KEY])
            if policies:
                for i, p in enumerate(policies):
                    params.update(
                        {
                            f"pc{i}": p.category,
                            f"pid{i}": p.pk,
                            f"pl{i}": p.lifecycle_months,
                            f"pr{i}": p.repair_threshold,
                            f"pi{i}": p.idle_days,
                            f"po{i}": 1 if p.os_end_of_support_forces_refresh else 0,
                        }
                    )
                cursor.execute(
                    eligibility_sql.eligibility_upsert_sql(
                        vendor=vendor, policy_count=len(policies)
                    ),
                    params,
                )
            cursor.execute(eligibility_sql.eligibility_stale_delete_sql())
        run.device_count = DeviceEligibility.objects.count()
        run.finished_at = timezone.now()
        run.save(update_fields=["device_count", "finished_at"])
    return run


def eligibility_recompute_request(*, actor=None, trigger=EligibilityRun.Trigger.MANUAL) -> None:
    """Queue a recomputation once the caller's transaction has committed, so the
    worker sees the data that asked for it (the recompute button uses this; imports
    and bulk upserts queue the task through ``refresh.receivers``)."""
    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(
        lambda: eligibility_recompute_task.delay(trigger=str(trigger), actor_id=actor_id)
    )
