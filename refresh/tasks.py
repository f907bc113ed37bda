"""Thin Celery wrappers around refresh services."""

from celery import shared_task


@shared_task(name="refresh.tasks.eligibility_recompute_task")
def eligibility_recompute_task(
    trigger: str = "nightly", actor_id: int | None = None, device_ids: list[int] | None = None
) -> int:
    """Recompute eligibility for the whole estate (queued by the nightly beat and the
    recompute button), or for ``device_ids`` only (queued through
    ``refresh.receivers`` by imports and bulk upserts that say which devices they
    changed). The nightly run then refreshes the failure-rate snapshot the failure-rate
    page reads. Returns the number of those devices with an eligibility row."""
    from django.contrib.auth import get_user_model

    from refresh.services import eligibility_recompute, failure_rates_snapshot_refresh

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    run = eligibility_recompute(trigger=trigger, actor=actor, device_ids=device_ids)
    if trigger == "nightly":
        failure_rates_snapshot_refresh()
    return run.device_count if run is not None else 0
