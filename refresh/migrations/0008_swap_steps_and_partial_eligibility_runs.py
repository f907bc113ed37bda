"""Swaps record what the engineer knows, and eligibility runs may cover some devices.

- ``SwapStep``: one row per swap step (the day it happened, the old device's
  condition, notes, a cancellation's reason), append-only on PostgreSQL
  (``core.db.append_only``), with CHECKs that a cancellation has a reason and a
  return the old device's condition. Swaps already under way have no steps: their
  history is the swap's simple-history rows, as before.
- ``EligibilityRun.partial_device_count``: set when a run recomputed only the
  devices an import or bulk upsert changed; NULL (every existing run) means the
  whole estate. A nullable column is added without touching the rows, so the
  append-only trigger on finished runs is not involved.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.db import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_append_only_function"),
        ("devices", "0006_events_history_finished_imports_append_only"),
        ("refresh", "0007_bounds_at_checks_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="eligibilityrun",
            name="partial_device_count",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="How many devices a partial run was asked to recompute (the devices an import or bulk upsert changed); empty for a run over the whole estate.",
                null=True,
            ),
        ),
        migrations.CreateModel(
            name="SwapStep",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "step",
                    models.CharField(
                        choices=[
                            ("allocated", "New device allocated"),
                            ("handed_over", "Handed over"),
                            ("returned", "Old device returned"),
                            ("completed", "Completed"),
                            ("cancelled", "Cancelled"),
                        ],
                        max_length=16,
                    ),
                ),
                ("occurred_on", models.DateField(verbose_name="date")),
                (
                    "old_device_condition",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("good", "Good: works, little wear"),
                            ("worn", "Worn: works, heavy wear"),
                            ("damaged", "Damaged: works, with physical damage"),
                            ("faulty", "Faulty: does not work"),
                            ("incomplete", "Incomplete: charger or parts missing"),
                        ],
                        max_length=16,
                    ),
                ),
                ("notes", models.CharField(blank=True, max_length=1000)),
                ("reason", models.CharField(blank=True, max_length=500)),
                ("recorded_at", models.DateTimeField()),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="steps",
                        to="refresh.waveitem",
                    ),
                ),
                (
                    "new_device",
                    models.ForeignKey(
                        blank=True,
                        help_text="The device allocated at this step (kept after a cancellation).",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="devices.device",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["item", "recorded_at", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "step__in",
                                ["allocated", "handed_over", "returned", "completed", "cancelled"],
                            )
                        ),
                        name="refresh_swapstep_step_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "old_device_condition__in",
                                ["", "good", "worn", "damaged", "faulty", "incomplete"],
                            )
                        ),
                        name="refresh_swapstep_condition_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("step", "cancelled"), _negated=True),
                            models.Q(("reason", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="refresh_swapstep_cancellation_has_reason",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("step", "returned"), _negated=True),
                            models.Q(("old_device_condition", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="refresh_swapstep_return_has_condition",
                    ),
                ],
            },
        ),
        append_only("refresh_swapstep"),
    ]
