"""Business units move from ``devices`` to ``accounts`` so that unit scope needs no
import of the estate. This step only tells Django's state that the models now
belong here; the tables are renamed by the later steps that makemigrations wrote."""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_role_groups"),
        ("devices", "0003_device_unit_id_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BusinessUnit",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("code", models.CharField(max_length=32, unique=True)),
                        ("name", models.CharField(max_length=200)),
                        ("level", models.CharField(choices=[("directorate", "Directorate"), ("command", "Command"), ("unit", "Unit")], default="unit", max_length=16)),
                        ("path", models.CharField(db_index=True, editable=False, max_length=500)),
                        ("cost_centre", models.CharField(blank=True, max_length=32)),
                        ("stewardship_email", models.EmailField(blank=True, max_length=254, verbose_name="stewardship contact e-mail")),
                        ("active", models.BooleanField(default=True)),
                        ("parent", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="children", to="accounts.businessunit")),
                    ],
                    options={
                        "ordering": ["path"],
                        "db_table": "devices_businessunit",
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("code", ""), _negated=True), name="devices_businessunit_code_not_blank"),
                            models.CheckConstraint(condition=models.Q(("parent", models.F("pk")), _negated=True), name="devices_businessunit_not_own_parent"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="HistoricalBusinessUnit",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("code", models.CharField(db_index=True, max_length=32)),
                        ("name", models.CharField(max_length=200)),
                        ("level", models.CharField(choices=[("directorate", "Directorate"), ("command", "Command"), ("unit", "Unit")], default="unit", max_length=16)),
                        ("path", models.CharField(db_index=True, editable=False, max_length=500)),
                        ("cost_centre", models.CharField(blank=True, max_length=32)),
                        ("stewardship_email", models.EmailField(blank=True, max_length=254, verbose_name="stewardship contact e-mail")),
                        ("active", models.BooleanField(default=True)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("parent", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="accounts.businessunit")),
                    ],
                    options={
                        "verbose_name": "historical business unit",
                        "verbose_name_plural": "historical business units",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                        "db_table": "devices_historicalbusinessunit",
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
            database_operations=[],
        ),
    ]
