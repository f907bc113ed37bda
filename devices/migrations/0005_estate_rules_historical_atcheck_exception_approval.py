"""The estate's rules in the database: a deployed device has a holder; only a
device disposed of before records began is ``historical``; an entitlement
exception is requested, then approved by someone else; deployments to people
with AT needs open an ``ATCheck``.

Existing rows are repaired before the constraints are added (``repair_rows``):
every existing entitlement exception was approved on creation, so it becomes
``approved`` with ``requested_by = approved_by`` and ``requested_at = approved_at``;
a deployed device with no holder (nothing says who has it) goes back to
``in_stock`` with a ``reclaimed`` event saying why, so it is counted and can be
deployed properly rather than silently vanish from anyone's entitlement.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MIGRATION_SOURCE = "migration:devices.0005"


def repair_rows(apps, schema_editor):
    from django.db.models import F
    from django.utils import timezone

    EntitlementException = apps.get_model("devices", "EntitlementException")
    Device = apps.get_model("devices", "Device")
    DeviceEvent = apps.get_model("devices", "DeviceEvent")
    EntitlementException.objects.all().update(
        status="approved", requested_by=F("approved_by"), requested_at=F("approved_at")
    )
    orphans = list(
        Device.objects.filter(status="deployed", assigned_to__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not orphans:
        return
    now = timezone.now()
    Device.objects.filter(pk__in=orphans).update(
        status="in_stock", version=F("version") + 1, updated_at=now
    )
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device_id=pk,
            kind="reclaimed",
            occurred_at=now,
            from_status="deployed",
            to_status="in_stock",
            source=MIGRATION_SOURCE,
            details={
                "reason": "Recorded as deployed to nobody; returned to stock when a holder "
                "became required for deployed devices."
            },
        )
        for pk in orphans
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_business_unit_tables_renamed"),
        ("devices", "0004_business_unit_moved_to_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ATCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("deployed_at", models.DateTimeField()),
                ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=500)),
            ],
            options={
                "verbose_name": "AT check",
                "ordering": ["deployed_at", "id"],
            },
        ),
        migrations.AlterModelOptions(
            name="entitlementexception",
            options={"ordering": ["person", "category", "-requested_at"]},
        ),
        migrations.AddField(
            model_name="device",
            name="historical",
            field=models.BooleanField(
                default=False, help_text="Recorded as disposed on import; no custody record."
            ),
        ),
        migrations.AddField(
            model_name="entitlementexception",
            name="requested_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="entitlementexception",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty only for an exception recorded by a command-line import.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="entitlementexception",
            name="status",
            field=models.CharField(
                choices=[
                    ("requested", "Awaiting review"),
                    ("approved", "Approved"),
                    ("refused", "Refused"),
                ],
                default="requested",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="historicaldevice",
            name="historical",
            field=models.BooleanField(
                default=False, help_text="Recorded as disposed on import; no custody record."
            ),
        ),
        migrations.AddField(
            model_name="historicalentitlementexception",
            name="requested_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="historicalentitlementexception",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="Empty only for an exception recorded by a command-line import.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalentitlementexception",
            name="status",
            field=models.CharField(
                choices=[
                    ("requested", "Awaiting review"),
                    ("approved", "Approved"),
                    ("refused", "Refused"),
                ],
                default="requested",
                max_length=16,
            ),
        ),
        migrations.RunPython(repair_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="entitlementexception",
            name="requested_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="historicalentitlementexception",
            name="requested_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="entitlementexception",
            name="approved_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="entitlementexception",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="historicalentitlementexception",
            name="approved_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="device",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "deployed"), _negated=True),
                    ("assigned_to__isnull", False),
                    _connector="OR",
                ),
                name="devices_device_deployed_has_holder",
            ),
        ),
        migrations.AddConstraint(
            model_name="device",
            constraint=models.CheckConstraint(
                condition=models.Q(("historical", False), ("status", "disposed"), _connector="OR"),
                name="devices_device_historical_only_disposed",
            ),
        ),
        migrations.AddConstraint(
            model_name="entitlementexception",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("approved_at__isnull", False),
                        ("approved_by__isnull", False),
                        ("status", "approved"),
                    ),
                    models.Q(
                        models.Q(("status", "approved"), _negated=True),
                        ("approved_at__isnull", True),
                        ("approved_by__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="devices_entitlementexception_approval_recorded",
            ),
        ),
        migrations.AddField(
            model_name="atcheck",
            name="confirmed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="atcheck",
            name="deployed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="atcheck",
            name="device",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="at_checks",
                to="devices.device",
            ),
        ),
        migrations.AddField(
            model_name="atcheck",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="at_checks",
                to="devices.person",
            ),
        ),
        migrations.AddIndex(
            model_name="atcheck",
            index=models.Index(
                fields=["confirmed_at", "device"], name="devices_atcheck_pending_device"
            ),
        ),
        migrations.AddConstraint(
            model_name="atcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("confirmed_at__isnull", True), ("confirmed_by__isnull", True)),
                    models.Q(
                        ("confirmed_at__isnull", False),
                        ("confirmed_by__isnull", False),
                        models.Q(("note", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="devices_atcheck_confirmation_complete",
            ),
        ),
        migrations.AddField(
            model_name="importrun",
            name="field_changes",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Updated rows\' changed fields counted per field, e.g. {"location": 40}.',
            ),
        ),
        migrations.AddField(
            model_name="importrun",
            name="record_exceptions",
            field=models.BooleanField(
                default=False,
                help_text="First migration of an existing estate: record each entitlement "
                "exceedance as an exception awaiting review instead of rejecting the row.",
            ),
        ),
    ]
