"""On PostgreSQL, refuse UPDATE and DELETE on the estate's audit records, from any door
(raw SQL included): the lifecycle log (a device's chain of custody), the field history
simple-history keeps for every tracked model, and an import run once it has finished
(a run is updated while queued or running, by its worker's compare-and-swaps, never
after). Existing rows are untouched; only later changes to them are refused. SQLite
has no triggers: nothing happens there.

What still changes these tables on purpose: nothing. No service updates or deletes an
event or a history row (corrections are new rows); TRUNCATE, an operator's reset, is
not a row operation and stays possible.
"""

from django.db import migrations

from core.db import append_only

HISTORY_TABLES = (
    "devices_historicaldevice",
    "devices_historicaldevicemodel",
    "devices_historicalentitlement",
    "devices_historicalentitlementexception",
    "devices_historicalperson",
    "devices_historicalroleprofile",
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_append_only_function"),
        ("devices", "0005_estate_rules_historical_atcheck_exception_approval"),
    ]

    operations = [
        append_only("devices_deviceevent", *HISTORY_TABLES),
        append_only("devices_importrun", unless="OLD.status IN ('queued', 'running')"),
    ]
