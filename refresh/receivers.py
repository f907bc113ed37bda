"""What refresh does when the estate below it changes (connected in ``RefreshConfig.ready``)."""

from __future__ import annotations

from refresh.models import EligibilityRun
from refresh.tasks import eligibility_recompute_task


def eligibility_recompute_on_estate_change(
    *, trigger: str, actor_id: int | None, device_ids=None, **_kwargs
):
    """Eligibility depends on each device's age, model, status and repairs: after an
    import or bulk upsert changed devices, recompute it (queued; the signal is sent
    after the commit, so the worker sees the new rows). ``device_ids`` (the devices
    created or updated) limits the recompute to them; absent or None, the sender
    could not say (or changed too many to list), and the whole estate is recomputed.
    """
    # An unknown trigger raises here rather than being recorded under a wrong name.
    trigger = str(EligibilityRun.Trigger(trigger))
    if device_ids is not None:
        device_ids = sorted({int(i) for i in device_ids})
        if not device_ids:
            return  # nothing changed: nothing to recompute
    eligibility_recompute_task.delay(trigger=trigger, actor_id=actor_id, device_ids=device_ids)
