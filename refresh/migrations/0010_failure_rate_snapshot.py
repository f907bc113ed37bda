"""The failure-rate page's snapshot: repairs and devices reaching each age band, per
business unit and category, recomputed nightly (refresh.services.failures)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_business_unit_history_append_only"),
        ("refresh", "0009_forecast_counts"),
    ]

    operations = [
        migrations.CreateModel(
            name="FailureRateSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("laptop", "Laptop"),
                            ("desktop", "Desktop"),
                            ("monitor", "Monitor"),
                            ("smartphone", "Smartphone"),
                            ("tablet", "Tablet (legacy)"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "band",
                    models.PositiveSmallIntegerField(
                        validators=[django.core.validators.MaxValueValidator(6)]
                    ),
                ),
                ("repairs", models.BigIntegerField(default=0)),
                ("devices", models.BigIntegerField(default=0)),
                ("computed_at", models.DateTimeField()),
                (
                    "business_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.businessunit",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("business_unit", "category", "band"),
                        name="refresh_failureratesnapshot_unique_key",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("band__lte", 6)),
                        name="refresh_failureratesnapshot_band_in_range",
                    ),
                ],
            },
        ),
    ]
