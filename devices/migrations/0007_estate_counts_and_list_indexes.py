"""The estate's counts (``EstateCount``: unit x device model x status -> devices), kept
by the database on every door, and an index for each sortable column of the device list.

The counts are maintained by triggers on ``devices_device``, so the ORM, the
importer's COPY and upsert, the demo seed and raw SQL all keep them right:

- PostgreSQL: one AFTER ... FOR EACH STATEMENT trigger per event with transition
  tables. Each statement adds its new rows and subtracts its old rows grouped by
  (unit, model, status): one upsert per statement, however many rows it wrote, and
  nothing at all for an update that moved no count (``last_seen``, a location).
  Upserts go in key order, so two statements never lock the same count rows in
  opposite orders. TRUNCATE of the devices empties the counts.
- SQLite: row triggers (SQLite has no statement triggers), the same arithmetic.

Both are created before the backfill, inside the migration's transaction: on
PostgreSQL CREATE TRIGGER locks the devices table against writes until the commit,
so no write falls between the backfill's snapshot and the triggers.
"""

import django.db.models.deletion
from django.db import migrations, models

COUNTS = "devices_estatecount"
KEY = "business_unit_id, device_model_id, status"
UPSERT_TAIL = (
    f"ON CONFLICT ({KEY}) DO UPDATE SET devices = {COUNTS}.devices + EXCLUDED.devices"
)

POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION devices_estatecount_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {COUNTS} ({KEY}, devices)
        SELECT {KEY}, count(*) FROM new_rows GROUP BY {KEY} ORDER BY {KEY}
        {UPSERT_TAIL};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {COUNTS} ({KEY}, devices)
        SELECT {KEY}, -count(*) FROM old_rows GROUP BY {KEY} ORDER BY {KEY}
        {UPSERT_TAIL};
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {COUNTS} ({KEY}, devices)
        SELECT {KEY}, sum(n) FROM (
            SELECT {KEY}, count(*) AS n FROM new_rows GROUP BY {KEY}
            UNION ALL
            SELECT {KEY}, -count(*) FROM old_rows GROUP BY {KEY}
        ) AS delta
        GROUP BY {KEY} HAVING sum(n) <> 0 ORDER BY {KEY}
        {UPSERT_TAIL};
    ELSIF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {COUNTS};
    END IF;
    RETURN NULL;
END;
$$;
"""

POSTGRESQL_TRIGGERS = {
    "devices_device_counts_insert": "AFTER INSERT ON devices_device "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    "devices_device_counts_update": "AFTER UPDATE ON devices_device "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
    "devices_device_counts_delete": "AFTER DELETE ON devices_device "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
    "devices_device_counts_truncate": "AFTER TRUNCATE ON devices_device FOR EACH STATEMENT",
}


def _sqlite_add(row: str) -> str:
    return (
        f"INSERT INTO {COUNTS} ({KEY}, devices) "
        f"SELECT {row}.business_unit_id, {row}.device_model_id, {row}.status, 1 "
        f"WHERE true {UPSERT_TAIL};"
    )


def _sqlite_subtract(row: str) -> str:
    # An UPDATE, never an insert: a flush (DELETE FROM every table, in any order) may
    # already have emptied the counts or the units they refer to.
    return (
        f"UPDATE {COUNTS} SET devices = devices - 1 WHERE business_unit_id = {row}.business_unit_id "
        f"AND device_model_id = {row}.device_model_id AND status = {row}.status;"
    )


SQLITE_TRIGGERS = {
    "devices_device_counts_insert": f"AFTER INSERT ON devices_device BEGIN {_sqlite_add('NEW')} END",
    "devices_device_counts_delete": (
        f"AFTER DELETE ON devices_device BEGIN {_sqlite_subtract('OLD')} END"
    ),
    "devices_device_counts_update": (
        "AFTER UPDATE OF status, business_unit_id, device_model_id ON devices_device "
        "WHEN OLD.status IS NOT NEW.status OR OLD.business_unit_id IS NOT NEW.business_unit_id "
        "OR OLD.device_model_id IS NOT NEW.device_model_id "
        f"BEGIN {_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END"
    ),
}

BACKFILL = (
    f"INSERT INTO {COUNTS} ({KEY}, devices) "
    f"SELECT {KEY}, count(*) FROM devices_device GROUP BY {KEY} ORDER BY {KEY}"
)


def create_counts(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION)
        for name, definition in POSTGRESQL_TRIGGERS.items():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON devices_device")
            schema_editor.execute(
                f"CREATE TRIGGER {name} {definition} EXECUTE FUNCTION devices_estatecount_apply()"
            )
    elif vendor == "sqlite":
        for name, definition in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
            schema_editor.execute(f"CREATE TRIGGER {name} {definition}")
    else:  # a vendor without these triggers would serve wrong counts: say so now
        raise NotImplementedError(f"estate count triggers for {vendor}")
    schema_editor.execute(f"DELETE FROM {COUNTS}")
    schema_editor.execute(BACKFILL)


def drop_counts(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in POSTGRESQL_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON devices_device")
        schema_editor.execute("DROP FUNCTION IF EXISTS devices_estatecount_apply()")
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_business_unit_history_append_only'),
        ('devices', '0006_events_history_finished_imports_append_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='EstateCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('in_stock', 'In stock'), ('deployed', 'Deployed'), ('in_repair', 'In repair'), ('returned', 'Returned'), ('awaiting_sanitisation', 'Awaiting sanitisation'), ('sanitised', 'Sanitised'), ('disposed', 'Disposed'), ('lost_stolen', 'Lost or stolen')], max_length=32)),
                ('devices', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='device',
            name='devices_device_purchase_date',
        ),
        migrations.RemoveIndex(
            model_name='device',
            name='devices_device_last_seen',
        ),
        migrations.RemoveIndex(
            model_name='device',
            name='devices_device_serial',
        ),
        migrations.AlterField(
            model_name='device',
            name='device_model',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='devices', to='devices.devicemodel'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['asset_tag', 'id'], name='devices_device_tag_id'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['serial_number', 'id'], name='devices_device_serial_id'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['device_model', 'id'], name='devices_device_model_id'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['status', 'id'], name='devices_device_status_id'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['last_seen', 'id'], name='devices_device_seen_id'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(fields=['purchase_date', 'id'], name='devices_device_bought_id'),
        ),
        migrations.AddField(
            model_name='estatecount',
            name='business_unit',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.businessunit'),
        ),
        migrations.AddField(
            model_name='estatecount',
            name='device_model',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='devices.devicemodel'),
        ),
        migrations.AddConstraint(
            model_name='estatecount',
            constraint=models.UniqueConstraint(fields=('business_unit', 'device_model', 'status'), name='devices_estatecount_unique_unit_model_status'),
        ),
        migrations.RunPython(create_counts, drop_counts, elidable=False),
    ]
