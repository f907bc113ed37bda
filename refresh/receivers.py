"""What refresh does when the estate below it changes (connected in ``RefreshConfig.ready``)."""

from __future__ import annotations

from refresh.models import EligibilityRun
from refresh.tasks import eligibility_recompute_task


def eligibility_recompute_on_estate_change(*, trigger: str, actor_id: int | None, **_kwargs):
    """Eligibility depends on every device's age, model, status and repairs: after an
    import or bulk upsert changed devices, recompute it (queued; the signal is sent
    after the commit, so the worker sees the new rows)."""
    # An unknown trigger raises here rather than being recorded under a wrong name.
    eligibility_recompute_task.delay(
        trigger=str(EligibilityRun.Trigger(trigger)), actor_id=actor_id
    )
