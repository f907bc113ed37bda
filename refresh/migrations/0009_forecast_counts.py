"""The forecast's counts, kept by the database on every write to the tables they
count, the way devices 0007 keeps ``EstateCount``:

- ``EligibilityCount`` (unit x category x due financial year x reclaim x forced x
  in use -> devices) from ``refresh_deviceeligibility``;
- ``PersonCount`` (unit -> people) from ``devices_person``.

PostgreSQL: one AFTER ... FOR EACH STATEMENT trigger per event with transition
tables. The eligibility recompute is one INSERT ... ON CONFLICT DO UPDATE (its INSERT
trigger sees the rows it inserted, its UPDATE trigger the rows it rewrote) and one
DELETE of stale rows: each statement adds its new rows and subtracts its old rows
grouped by the key, one upsert per statement however many rows it wrote, and nothing
for a rewrite that moved no key (a priority, a reason, computed_at; a person's
dates). Upserts go in key order, so two statements never lock the same count rows in
opposite orders (the recomputes also hold an advisory lock). TRUNCATE of a counted
table (or of one it cascades from) empties its counts.

SQLite: row triggers (SQLite has no statement triggers), the same arithmetic. A later
migration that makes SQLite rebuild a counted table (most ALTERs of a column) drops
its triggers with the old table, and must run ``create_counts`` again.

A missing due year (a device without a purchase date) is a key of its own: the
unique index coalesces it to -1, and the upserts name that expression as their
conflict target. The triggers are created before the backfill, inside the
migration's transaction: on PostgreSQL CREATE TRIGGER locks the counted table
against writes until the commit, so no write falls between the backfill's snapshot
and the triggers.
"""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models


class Counts:
    """One kept count: ``table`` holds ``count(*)`` of ``source`` per ``key``, with
    ``conflict`` the unique index's expressions (the upserts' conflict target)."""

    def __init__(self, *, name, table, source, key, conflict, column):
        self.name = name
        self.table = table
        self.source = source
        self.key = key
        self.columns = [c.strip() for c in key.split(",")]
        self.conflict = conflict
        self.column = column

    @property
    def function(self) -> str:
        return f"{self.table}_apply"

    @property
    def upsert_tail(self) -> str:
        return (
            f"ON CONFLICT ({self.conflict}) DO UPDATE "
            f"SET {self.column} = {self.table}.{self.column} + EXCLUDED.{self.column}"
        )

    def postgresql_function(self) -> str:
        key, table, column, tail = self.key, self.table, self.column, self.upsert_tail
        return f"""
CREATE OR REPLACE FUNCTION {self.function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {table} ({key}, {column})
        SELECT {key}, count(*) FROM new_rows GROUP BY {key} ORDER BY {key}
        {tail};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {table} ({key}, {column})
        SELECT {key}, -count(*) FROM old_rows GROUP BY {key} ORDER BY {key}
        {tail};
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {table} ({key}, {column})
        SELECT {key}, sum(n) FROM (
            SELECT {key}, count(*) AS n FROM new_rows GROUP BY {key}
            UNION ALL
            SELECT {key}, -count(*) FROM old_rows GROUP BY {key}
        ) AS delta
        GROUP BY {key} HAVING sum(n) <> 0 ORDER BY {key}
        {tail};
    ELSIF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {table};
    END IF;
    RETURN NULL;
END;
$$;
"""

    def postgresql_triggers(self) -> dict[str, str]:
        s, n = self.source, self.name
        return {
            f"{n}_insert": f"AFTER INSERT ON {s} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
            f"{n}_update": f"AFTER UPDATE ON {s} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
            f"{n}_delete": f"AFTER DELETE ON {s} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
            f"{n}_truncate": f"AFTER TRUNCATE ON {s} FOR EACH STATEMENT",
        }

    def _sqlite_add(self, row: str) -> str:
        values = ", ".join(f"{row}.{c}" for c in self.columns)
        return (
            f"INSERT INTO {self.table} ({self.key}, {self.column}) SELECT {values}, 1 "
            f"WHERE true {self.upsert_tail};"
        )

    def _sqlite_subtract(self, row: str) -> str:
        # An UPDATE, never an insert: a flush (DELETE FROM every table, in any order)
        # may already have emptied the counts or the units they refer to.
        match = " AND ".join(f"{c} IS {row}.{c}" for c in self.columns)
        return f"UPDATE {self.table} SET {self.column} = {self.column} - 1 WHERE {match};"

    def sqlite_triggers(self) -> dict[str, str]:
        s, n = self.source, self.name
        moved = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in self.columns)
        return {
            f"{n}_insert": f"AFTER INSERT ON {s} BEGIN {self._sqlite_add('NEW')} END",
            f"{n}_delete": f"AFTER DELETE ON {s} BEGIN {self._sqlite_subtract('OLD')} END",
            f"{n}_update": f"AFTER UPDATE OF {self.key} ON {s} WHEN {moved} "
            f"BEGIN {self._sqlite_subtract('OLD')} {self._sqlite_add('NEW')} END",
        }

    def backfill(self) -> str:
        return (
            f"INSERT INTO {self.table} ({self.key}, {self.column}) "
            f"SELECT {self.key}, count(*) FROM {self.source} GROUP BY {self.key} ORDER BY {self.key}"
        )


ELIGIBILITY = Counts(
    name="refresh_eligibility_counts",
    table="refresh_eligibilitycount",
    source="refresh_deviceeligibility",
    key="business_unit_id, category, due_financial_year, reclaim, forced, in_use",
    # The unique index's expressions (EligibilityCount.Meta.constraints).
    conflict="business_unit_id, category, COALESCE(due_financial_year, -1), reclaim, forced, in_use",
    column="devices",
)
PEOPLE = Counts(
    name="refresh_person_counts",
    table="refresh_personcount",
    source="devices_person",
    key="business_unit_id",
    conflict="business_unit_id",
    column="people",
)
KEPT = (ELIGIBILITY, PEOPLE)


def create_counts(apps, schema_editor, kept=KEPT):
    vendor = schema_editor.connection.vendor
    for counts in kept:
        if vendor == "postgresql":
            schema_editor.execute(counts.postgresql_function())
            for name, definition in counts.postgresql_triggers().items():
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {counts.source}")
                schema_editor.execute(
                    f"CREATE TRIGGER {name} {definition} EXECUTE FUNCTION {counts.function}()"
                )
        elif vendor == "sqlite":
            for name, definition in counts.sqlite_triggers().items():
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
                schema_editor.execute(f"CREATE TRIGGER {name} {definition}")
        else:  # a vendor without these triggers would serve a wrong forecast: say so now
            raise NotImplementedError(f"forecast count triggers for {vendor}")
        schema_editor.execute(f"DELETE FROM {counts.table}")
        schema_editor.execute(counts.backfill())


def drop_counts(apps, schema_editor, kept=KEPT):
    vendor = schema_editor.connection.vendor
    for counts in kept:
        if vendor == "postgresql":
            for name in counts.postgresql_triggers():
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {counts.source}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {counts.function}()")
        elif vendor == "sqlite":
            for name in counts.sqlite_triggers():
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_business_unit_history_append_only'),
        ('devices', '0009_person_start_and_leaver_indexes'),
        ('refresh', '0008_swap_steps_and_partial_eligibility_runs'),
    ]

    operations = [
        migrations.CreateModel(
            name='PersonCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('people', models.BigIntegerField(default=0)),
                ('business_unit', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.businessunit')),
            ],
        ),
        migrations.CreateModel(
            name='EligibilityCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('category', models.CharField(choices=[('laptop', 'Laptop'), ('desktop', 'Desktop'), ('monitor', 'Monitor'), ('smartphone', 'Smartphone'), ('tablet', 'Tablet (legacy)')], max_length=16)),
                ('due_financial_year', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('reclaim', models.BooleanField()),
                ('forced', models.BooleanField()),
                ('in_use', models.BooleanField()),
                ('devices', models.BigIntegerField(default=0)),
                ('business_unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.businessunit')),
            ],
            options={
                'constraints': [models.UniqueConstraint(models.F('business_unit'), models.F('category'), django.db.models.functions.comparison.Coalesce('due_financial_year', -1), models.F('reclaim'), models.F('forced'), models.F('in_use'), name='refresh_eligibilitycount_unique_key')],
            },
        ),
        migrations.RunPython(create_counts, drop_counts, elidable=False),
    ]
