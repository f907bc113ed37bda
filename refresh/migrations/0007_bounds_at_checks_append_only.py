"""Refresh's rules in the database, and the AT confirmation moved to devices.

- Numbers are bounded (validators only, no column change), and a wave's minimum
  priority gets a CHECK (0 to 100,000). Existing waves outside that range (the form
  allowed any integer) are clamped into it first (``clamp_min_priority``): a wave's
  minimum priority only records how its swaps were selected, long since done, and
  every priority the eligibility computes lies in the range.
- Refresh's ``ATConfirmation`` is retired in favour of ``devices.ATCheck``, opened at
  every deployment to a person with AT needs. ``copy_at_confirmations`` copies each
  recorded confirmation onto the AT check of its swap's handover (the latest check
  for the new device and the person): a pending check is completed with the
  confirmation's person, time and note; with no check, one is created naming who
  handed over (from the swap's deployment event) and when. Nothing is lost: the old
  rows stay in their table, read-only, as history.
- Append-only on PostgreSQL (``core.db.append_only``): refresh's simple-history
  tables, the retired AT confirmations, and eligibility runs once finished (the
  recompute service updates a run only inside its own transaction, while
  ``finished_at`` is still NULL).
"""

import django.core.validators
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

from core.db import append_only

MAX_PRIORITY = 100_000


def clamp_min_priority(apps, schema_editor):
    RefreshWave = apps.get_model("refresh", "RefreshWave")
    RefreshWave.objects.filter(min_priority__lt=0).update(min_priority=0)
    RefreshWave.objects.filter(min_priority__gt=MAX_PRIORITY).update(min_priority=MAX_PRIORITY)


def copy_at_confirmations(apps, schema_editor):
    ATConfirmation = apps.get_model("refresh", "ATConfirmation")
    ATCheck = apps.get_model("devices", "ATCheck")
    DeviceEvent = apps.get_model("devices", "DeviceEvent")
    confirmations = ATConfirmation.objects.select_related("wave_item").order_by("pk")
    for confirmation in confirmations.iterator():
        item = confirmation.wave_item
        if item.new_device_id is None:
            continue  # never handed over: nothing was deployed to check
        check = (
            ATCheck.objects.filter(device_id=item.new_device_id, person_id=item.person_id)
            .order_by("-deployed_at", "-pk")
            .first()
        )
        if check is not None and check.confirmed_at is not None:
            continue  # already confirmed on the devices side
        if check is None:
            deployment = (
                DeviceEvent.objects.filter(
                    device_id=item.new_device_id,
                    kind="deployed",
                    source=f"wave:{item.wave_id}",
                )
                .order_by("-occurred_at", "-pk")
                .first()
            )
            check = ATCheck(
                device_id=item.new_device_id,
                person_id=item.person_id,
                deployed_by_id=deployment.recorded_by_id if deployment else None,
                deployed_at=deployment.occurred_at if deployment else confirmation.confirmed_at,
            )
        check.confirmed_by_id = confirmation.confirmed_by_id
        check.confirmed_at = confirmation.confirmed_at
        check.note = confirmation.note
        check.save()


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_business_unit_tables_renamed'),
        ('core', '0001_append_only_function'),
        ('devices', '0005_estate_rules_historical_atcheck_exception_approval'),
        ('refresh', '0006_eligibility_trigger_after_bulk_api'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='baurate',
            name='new_starters_per_year',
            field=models.PositiveIntegerField(default=0, validators=[django.core.validators.MaxValueValidator(100000)]),
        ),
        migrations.AlterField(
            model_name='baurate',
            name='planning_unit_price',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(Decimal('1000000.00'))]),
        ),
        migrations.AlterField(
            model_name='historicalbaurate',
            name='new_starters_per_year',
            field=models.PositiveIntegerField(default=0, validators=[django.core.validators.MaxValueValidator(100000)]),
        ),
        migrations.AlterField(
            model_name='historicalbaurate',
            name='planning_unit_price',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(Decimal('1000000.00'))]),
        ),
        migrations.AlterField(
            model_name='historicalrefreshpolicy',
            name='idle_days',
            field=models.PositiveSmallIntegerField(default=90, help_text='A deployed device not seen for this many days is reclaimed, not refreshed.', validators=[django.core.validators.MaxValueValidator(3650)], verbose_name='idle after (days unseen)'),
        ),
        migrations.AlterField(
            model_name='historicalrefreshpolicy',
            name='repair_threshold',
            field=models.PositiveSmallIntegerField(default=3, help_text='0 means repair history never makes a device due on its own.', validators=[django.core.validators.MaxValueValidator(100)], verbose_name='repairs that make a device due'),
        ),
        migrations.AlterField(
            model_name='historicalrefreshwave',
            name='min_priority',
            field=models.IntegerField(default=0, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(100000)]),
        ),
        migrations.AlterField(
            model_name='historicalrefreshwave',
            name='volume',
            field=models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(5000)]),
        ),
        migrations.AlterField(
            model_name='refreshpolicy',
            name='idle_days',
            field=models.PositiveSmallIntegerField(default=90, help_text='A deployed device not seen for this many days is reclaimed, not refreshed.', validators=[django.core.validators.MaxValueValidator(3650)], verbose_name='idle after (days unseen)'),
        ),
        migrations.AlterField(
            model_name='refreshpolicy',
            name='repair_threshold',
            field=models.PositiveSmallIntegerField(default=3, help_text='0 means repair history never makes a device due on its own.', validators=[django.core.validators.MaxValueValidator(100)], verbose_name='repairs that make a device due'),
        ),
        migrations.AlterField(
            model_name='refreshwave',
            name='min_priority',
            field=models.IntegerField(default=0, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(100000)]),
        ),
        migrations.AlterField(
            model_name='refreshwave',
            name='volume',
            field=models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(5000)]),
        ),
        migrations.RunPython(clamp_min_priority, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='refreshwave',
            constraint=models.CheckConstraint(condition=models.Q(('min_priority__gte', 0), ('min_priority__lte', 100000)), name='refresh_refreshwave_min_priority_in_range'),
        ),
        migrations.RunPython(copy_at_confirmations, migrations.RunPython.noop),
        append_only(
            "refresh_historicalrefreshpolicy",
            "refresh_historicalosendofsupport",
            "refresh_historicalbaurate",
            "refresh_historicalscenario",
            "refresh_historicalrefreshwave",
            "refresh_historicalwaveitem",
            "refresh_atconfirmation",
        ),
        append_only("refresh_eligibilityrun", unless="OLD.finished_at IS NULL"),
    ]
