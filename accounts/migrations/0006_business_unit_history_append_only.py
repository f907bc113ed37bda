"""On PostgreSQL, refuse UPDATE and DELETE on the business units' field history (who
changed a unit's name, parent, cost centre or contact, and when), from any door, raw
SQL included. Existing rows are untouched; SQLite has no triggers."""

from django.db import migrations

from core.db import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_append_only_function"),
        ("accounts", "0005_business_unit_tables_renamed"),
    ]

    operations = [append_only("accounts_historicalbusinessunit")]
