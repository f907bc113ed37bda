"""Database guards the apps' migrations share: append-only tables.

Audit records (device events, sanitisation records, approval records, field
history, ...) are added, never changed. The services never update or delete them,
and on PostgreSQL a row trigger refuses an UPDATE or DELETE from any door, raw SQL
included. SQLite (development and the fast suite) has no such trigger; the tests of
the rule run on PostgreSQL.

In an app's migration (after ``("core", "0001_append_only_function")``)::

    operations = [append_only("devices_deviceevent", "devices_historicaldevice")]
    operations = [append_only("devices_importrun", unless="OLD.status IN ('queued', 'running')")]
"""

from __future__ import annotations

from django.db import migrations

FUNCTION = "core_refuse_change"

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No percent signs anywhere here: the driver would read them as placeholders.
    RAISE EXCEPTION USING
        MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ': these records are append-only',
        ERRCODE = 'integrity_constraint_violation',
              HINT = 'Record a new row (a correction, a reversal) instead of changing this one.';
END;
$$;
"""
DROP_FUNCTION = f"DROP FUNCTION IF EXISTS {FUNCTION}();"


def trigger_name(table: str) -> str:
    return f"{table}_append_only"


def _on_postgresql(sql_for):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in sql_for():
                schema_editor.execute(statement)

    return run


def append_only(*tables: str, unless: str | None = None) -> migrations.RunPython:
    """A migration operation: on PostgreSQL, refuse UPDATE and DELETE on ``tables``.

    ``unless`` is an SQL condition on ``OLD`` under which a change is still allowed
    (an import run is updated while it is queued or running, never after).
    TRUNCATE is not a row operation and stays possible for an operator's reset.
    """
    when = f" WHEN (NOT ({unless}))" if unless else ""

    def create():
        for table in tables:
            yield f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table};"
            yield (
                f"CREATE TRIGGER {trigger_name(table)} BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW{when} EXECUTE FUNCTION {FUNCTION}();"
            )

    def drop():
        for table in tables:
            yield f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table};"

    return migrations.RunPython(_on_postgresql(create), _on_postgresql(drop), elidable=False)
