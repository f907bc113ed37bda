"""Eligibility recomputation: the whole estate, or the devices that changed, in one
set-based statement."""

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
# Above this many changed devices a partial recompute costs about what the whole
# estate's does, and the list of ids would bloat the task's message: recompute all.
PARTIAL_RECOMPUTE_LIMIT = 20_000


def _device_ids(device_ids) -> list[int] | None:
    """The distinct ids of a partial recompute, or None for the whole estate."""
    if device_ids is None:
        return None
    ids = sorted({int(i) for i in device_ids})
    return None if len(ids) > PARTIAL_RECOMPUTE_LIMIT else ids


def eligibility_recompute(
    *,
    trigger: str = EligibilityRun.Trigger.MANUAL,
    actor=None,
    today: dt.date | None = None,
    device_ids: list[int] | None = None,
) -> EligibilityRun | None:
    """Recompute eligibility in one set-based statement: for the whole estate, or
    with ``device_ids`` for those devices only (what an import or bulk upsert
    changed: the rest of the estate is as it was, and a four-row import should not
    cost a pass over a million devices). More than ``PARTIAL_RECOMPUTE_LIMIT`` ids
    recompute the whole estate; an empty list recomputes nothing (None).

    Business case: "older devices ... break more frequently": a device is due
    when it reaches its category's lifecycle, reaches the repair threshold, runs
    an OS past end of support (where the policy says that forces refresh) or is
    a model past end of support. Out of warranty adds to the priority and is
    shown as a reason but does not make a device due alone. A deployed device
    not seen for the policy's idle days is flagged for reclaim instead.
    Only devices in use or in stock are eligible.
    """
    ids = _device_ids(device_ids)
    if ids == []:
        return None
    partial = ids is not None
    now = timezone.now()
    today = today or timezone.localdate()
    vendor = connection.vendor
    policies = list(policies_in_force(on_date=today).values())
    with transaction.atomic():
        run = EligibilityRun.objects.create(
            trigger=trigger,
            requested_by=actor,
            started_at=now,
            as_of=today,
            partial_device_count=len(ids) if partial else None,
        )
        ops = connection.ops
        params: dict[str, Any] = {
            "today": ops.adapt_datefield_value(today),
            "now": ops.adapt_datetimefield_value(now),
            "computed_at": ops.adapt_datetimefield_value(now),
        }
        if partial:
            params["ids"] = eligibility_sql.ids_param(vendor, ids)
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
                        vendor=vendor, policy_count=len(policies), partial=partial
                    ),
                    params,
                )
            if partial:
                only_ids = {"ids": params["ids"]}
                cursor.execute(
                    eligibility_sql.eligibility_stale_delete_sql(vendor=vendor, partial=True),
                    only_ids,
                )
                cursor.execute(eligibility_sql.eligibility_count_sql(vendor=vendor), only_ids)
                run.device_count = cursor.fetchone()[0]
            else:
                cursor.execute(eligibility_sql.eligibility_stale_delete_sql())
        if not partial:
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
