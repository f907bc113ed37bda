"""The scenario comparison's groups, kept by the database on every write to
``refresh_deviceeligibility`` the way 0009 keeps ``EligibilityCount``:
``ScenarioGroupCount`` (unit x category x policy x purchase month x forced x reclaim
x in use -> devices).

The same machinery as 0009 (PostgreSQL: one AFTER ... FOR EACH STATEMENT trigger per
event with transition tables, one upsert per statement in key order, nothing for a
rewrite that moved no key, TRUNCATE empties the counts; SQLite: row triggers), with
one difference 0009's ``Counts`` cannot express: a key column is not always a column
of the counted table. The purchase month is computed from ``purchase_date`` (the
first day of its month, null without one), in each vendor's SQL, so ``Counts`` here
takes each key column with the expression that fills it. It is copied rather than
imported and subclassed: every one of its statements changes.

A missing purchase month is a key of its own: the unique index coalesces it to
0001-01-02 (a day no month starts on), and the upserts name that expression as
their conflict target. Triggers before the backfill, inside the migration's
transaction, as in 0009. A later migration that makes SQLite rebuild the eligibility
table drops these triggers with it and must run ``create_counts`` again.
"""

import datetime
import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models



# The purchase month per vendor, from a row prefix ("" in a set query, "NEW." and
# "OLD." in SQLite's row triggers).
PURCHASE_MONTH = {
    "postgresql": "date_trunc('month', {row}purchase_date)::date",
    "sqlite": "date({row}purchase_date, 'start of month')",
}


class Counts:
    """One kept count: ``table`` holds ``count(*)`` of ``source`` per key, where
    ``key`` maps each key column of ``table`` to the SQL that fills it from a row of
    ``source`` (per vendor, or one string for both, with ``{row}`` before each source
    column), and ``conflict`` is the unique index's expressions."""

    def __init__(self, *, name, table, source, key, watched, conflict, column):
        self.name = name
        self.table = table
        self.source = source
        self.key = key
        self.columns = list(key)
        self.watched = watched  # the source columns the key is computed from
        self.conflict = conflict
        self.column = column

    @property
    def function(self) -> str:
        return f"{self.table}_apply"

    @property
    def targets(self) -> str:
        return ", ".join(self.columns)

    @property
    def positions(self) -> str:
        return ", ".join(str(i + 1) for i in range(len(self.columns)))

    def expressions(self, vendor: str, row: str = "") -> list[str]:
        out = []
        for expression in self.key.values():
            if isinstance(expression, dict):
                expression = expression[vendor]
            out.append(expression.format(row=row))
        return out

    def selected(self, vendor: str, row: str = "") -> str:
        return ", ".join(self.expressions(vendor, row))

    @property
    def upsert_tail(self) -> str:
        return (
            f"ON CONFLICT ({self.conflict}) DO UPDATE "
            f"SET {self.column} = {self.table}.{self.column} + EXCLUDED.{self.column}"
        )

    def postgresql_function(self) -> str:
        table, column, tail = self.table, self.column, self.upsert_tail
        targets, at, key = self.targets, self.positions, self.selected("postgresql")
        return f"""
CREATE OR REPLACE FUNCTION {self.function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {table} ({targets}, {column})
        SELECT {key}, count(*) FROM new_rows GROUP BY {at} ORDER BY {at}
        {tail};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {table} ({targets}, {column})
        SELECT {key}, -count(*) FROM old_rows GROUP BY {at} ORDER BY {at}
        {tail};
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {table} ({targets}, {column})
        SELECT {targets}, sum(n) FROM (
            SELECT {key}, count(*) AS n FROM new_rows GROUP BY {at}
            UNION ALL
            SELECT {key}, -count(*) FROM old_rows GROUP BY {at}
        ) AS delta ({targets}, n)
        GROUP BY {at} HAVING sum(n) <> 0 ORDER BY {at}
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
        values = self.selected("sqlite", f"{row}.")
        return (
            f"INSERT INTO {self.table} ({self.targets}, {self.column}) SELECT {values}, 1 "
            f"WHERE true {self.upsert_tail};"
        )

    def _sqlite_subtract(self, row: str) -> str:
        # An UPDATE, never an insert: a flush (DELETE FROM every table, in any order)
        # may already have emptied the counts or the rows they refer to.
        match = " AND ".join(
            f"{c} IS {e}"
            for c, e in zip(self.columns, self.expressions("sqlite", f"{row}."), strict=True)
        )
        return f"UPDATE {self.table} SET {self.column} = {self.column} - 1 WHERE {match};"

    def sqlite_triggers(self) -> dict[str, str]:
        s, n = self.source, self.name
        moved = " OR ".join(
            f"{old} IS NOT {new}"
            for old, new in zip(
                self.expressions("sqlite", "OLD."), self.expressions("sqlite", "NEW."), strict=True
            )
        )
        return {
            f"{n}_insert": f"AFTER INSERT ON {s} BEGIN {self._sqlite_add('NEW')} END",
            f"{n}_delete": f"AFTER DELETE ON {s} BEGIN {self._sqlite_subtract('OLD')} END",
            f"{n}_update": f"AFTER UPDATE OF {', '.join(self.watched)} ON {s} WHEN {moved} "
            f"BEGIN {self._sqlite_subtract('OLD')} {self._sqlite_add('NEW')} END",
        }

    def backfill(self, vendor: str) -> str:
        return (
            f"INSERT INTO {self.table} ({self.targets}, {self.column}) "
            f"SELECT {self.selected(vendor)}, count(*) FROM {self.source} "
            f"GROUP BY {self.positions} ORDER BY {self.positions}"
        )


SCENARIO_GROUPS = Counts(
    name="refresh_scenario_group_counts",
    table="refresh_scenariogroupcount",
    source="refresh_deviceeligibility",
    key={
        "business_unit_id": "{row}business_unit_id",
        "category": "{row}category",
        "policy_id": "{row}policy_id",
        "purchase_month": PURCHASE_MONTH,
        "forced": "{row}forced",
        "reclaim": "{row}reclaim",
        "in_use": "{row}in_use",
    },
    watched=("business_unit_id", "category", "policy_id", "purchase_date", "forced", "reclaim", "in_use"),
    # The unique index's expressions (ScenarioGroupCount.Meta.constraints).
    conflict="business_unit_id, category, policy_id, COALESCE(purchase_month, '0001-01-02'), "
    "forced, reclaim, in_use",
    column="devices",
)
KEPT = (SCENARIO_GROUPS,)


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
        else:  # a vendor without these triggers would serve wrong scenarios: say so now
            raise NotImplementedError(f"scenario count triggers for {vendor}")
        schema_editor.execute(f"DELETE FROM {counts.table}")
        schema_editor.execute(counts.backfill(vendor))


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
        ('refresh', '0010_failure_rate_snapshot'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScenarioGroupCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('category', models.CharField(choices=[('laptop', 'Laptop'), ('desktop', 'Desktop'), ('monitor', 'Monitor'), ('smartphone', 'Smartphone'), ('tablet', 'Tablet (legacy)')], max_length=16)),
                ('purchase_month', models.DateField(blank=True, null=True)),
                ('forced', models.BooleanField()),
                ('reclaim', models.BooleanField()),
                ('in_use', models.BooleanField()),
                ('devices', models.BigIntegerField(default=0)),
                ('business_unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.businessunit')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='refresh.refreshpolicy')),
            ],
            options={
                'constraints': [models.UniqueConstraint(models.F('business_unit'), models.F('category'), models.F('policy'), django.db.models.functions.comparison.Coalesce('purchase_month', models.Value(datetime.date(1, 1, 2))), models.F('forced'), models.F('reclaim'), models.F('in_use'), name='refresh_scenariogroupcount_unique_key')],
            },
        ),
        migrations.RunPython(create_counts, drop_counts, elidable=False),
    ]
