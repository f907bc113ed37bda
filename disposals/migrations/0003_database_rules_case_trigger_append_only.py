"""Disposal rules in the database (PostgreSQL), so raw SQL meets them too.

* A device in awaiting sanitisation, sanitised or disposed must have a disposal
  case, unless it is ``historical`` (disposed before records began): a CONSTRAINT
  TRIGGER on ``devices_device``, deferred to commit so a service may open the case
  and move the device in either order. It lives here, not in ``devices``, because
  it reads disposals' table (disposals may know devices, never the reverse).
* An override away from a suggested resale cannot take its case to "route chosen"
  until a finance or commercial officer has signed it off; the sign-off must be by
  a finance or commercial officer who did not ask for the override.
* Sanitisation records, residual-value assessments, route decisions and their
  sign-offs, and residual-value rules (with their history) are append-only
  (``core.db.append_only``); disposal cases and consignments move status, so they
  may be updated but never deleted.

Existing rows (``repair_rows``, on every database): a disposed device with no case
was disposed before disposal cases existed, so it is marked ``historical``. A device
awaiting sanitisation with no case gets its case opened (so it is in a queue on the
board). A device recorded as sanitised with no case has no sanitisation record to
prove the wipe: it is booked for sanitisation again (device back to awaiting
sanitisation, with an event saying why) and its case opened, so the wipe is
evidenced before it goes anywhere. The triggers only look at rows as they change.
"""

from django.conf import settings
from django.db import migrations

from core.db import append_only

MIGRATION_SOURCE = "migration:disposals.0003"
DISPOSAL_STATUSES = ("awaiting_sanitisation", "sanitised", "disposed")
# accounts.roles.Role values, frozen here as a migration must be.
SIGN_OFF_GROUPS = ("Finance officers", "Commercial officers")
BATCH = 2000


def repair_rows(apps, schema_editor):
    from django.db.models import Exists, F, OuterRef
    from django.utils import timezone

    Device = apps.get_model("devices", "Device")
    DeviceEvent = apps.get_model("devices", "DeviceEvent")
    DisposalCase = apps.get_model("disposals", "DisposalCase")
    no_case = Device.objects.filter(
        ~Exists(DisposalCase.objects.filter(device_id=OuterRef("pk"))), historical=False
    )
    no_case.filter(status="disposed").update(historical=True)
    now = timezone.now()
    unproven = list(no_case.filter(status="sanitised").values_list("pk", flat=True))
    for start in range(0, len(unproven), BATCH):
        ids = unproven[start : start + BATCH]
        Device.objects.filter(pk__in=ids, status="sanitised").update(
            status="awaiting_sanitisation", version=F("version") + 1, updated_at=now
        )
        DeviceEvent.objects.bulk_create(
            DeviceEvent(
                device_id=pk,
                kind="disposal",
                occurred_at=now,
                from_status="sanitised",
                to_status="awaiting_sanitisation",
                source=MIGRATION_SOURCE,
                details={
                    "step": "case_opened",
                    "reason": "Recorded as sanitised with no sanitisation record; booked "
                    "for sanitisation again so the wipe is evidenced.",
                },
            )
            for pk in ids
        )
    rebooked = set(unproven)  # these already have their event, written above
    waiting = list(no_case.filter(status="awaiting_sanitisation").values_list("pk", flat=True))
    for start in range(0, len(waiting), BATCH):
        ids = waiting[start : start + BATCH]
        DisposalCase.objects.bulk_create(
            DisposalCase(
                device_id=pk,
                status="awaiting_sanitisation",
                opened_at=now,
                status_changed_at=now,
            )
            for pk in ids
        )
        DeviceEvent.objects.bulk_create(
            DeviceEvent(
                device_id=pk,
                kind="disposal",
                occurred_at=now,
                from_status="awaiting_sanitisation",
                to_status="awaiting_sanitisation",
                source=MIGRATION_SOURCE,
                details={"step": "case_opened"},
            )
            for pk in ids
            if pk not in rebooked
        )


# No percent signs in the SQL below: the driver would read them as placeholders.
DEVICE_NEEDS_CASE = """
CREATE OR REPLACE FUNCTION disposals_device_needs_case() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current_status varchar;
    is_historical boolean;
BEGIN
    -- Deferred to commit: read the row as it is now, not as it was when queued.
    SELECT status, historical INTO current_status, is_historical
        FROM devices_device WHERE id = NEW.id;
    IF NOT FOUND OR is_historical
       OR current_status NOT IN ('awaiting_sanitisation', 'sanitised', 'disposed') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM disposals_disposalcase WHERE device_id = NEW.id) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'Device ' || NEW.id || ' is ' || current_status
                || ' without a disposal case',
            ERRCODE = 'integrity_constraint_violation',
            HINT = 'Open a disposal case (Disposals) before moving a device into disposal.';
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS disposals_device_needs_case ON devices_device;
CREATE CONSTRAINT TRIGGER disposals_device_needs_case
    AFTER INSERT OR UPDATE OF status ON devices_device
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.status IN ('awaiting_sanitisation', 'sanitised', 'disposed') AND NOT NEW.historical)
    EXECUTE FUNCTION disposals_device_needs_case();
"""

CASE_ROUTE_SIGNED_OFF = """
CREATE OR REPLACE FUNCTION disposals_case_route_signed_off() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM disposals_routedecision d
        WHERE d.case_id = NEW.id AND d.suggested_route = 'resale' AND d.route <> 'resale'
          AND NOT EXISTS (
              SELECT 1 FROM disposals_routeoverridesignoff s WHERE s.decision_id = d.id)
    ) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'Disposal case ' || NEW.id
                || ': an override of a suggested resale awaits finance sign-off',
            ERRCODE = 'integrity_constraint_violation',
            HINT = 'A finance or commercial officer other than the requester signs it off.';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS disposals_case_route_signed_off ON disposals_disposalcase;
CREATE TRIGGER disposals_case_route_signed_off
    BEFORE UPDATE OF status ON disposals_disposalcase
    FOR EACH ROW
    WHEN (OLD.status = 'value_assessed' AND NEW.status = 'route_chosen')
    EXECUTE FUNCTION disposals_case_route_signed_off();
"""

SIGN_OFF_BY_ANOTHER_OFFICER = """
CREATE OR REPLACE FUNCTION disposals_sign_off_by_another_officer() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM disposals_routedecision d
        WHERE d.id = NEW.decision_id AND d.decided_by_id = NEW.signed_off_by_id
    ) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'A route override is signed off by someone other than its requester',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM {user_groups} ug JOIN {groups} g ON g.id = ug.group_id
        WHERE ug.{user_column} = NEW.signed_off_by_id AND g.name IN ({group_names})
    ) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'A route override is signed off by a finance or commercial officer',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS disposals_sign_off_by_another_officer ON disposals_routeoverridesignoff;
CREATE TRIGGER disposals_sign_off_by_another_officer
    BEFORE INSERT ON disposals_routeoverridesignoff
    FOR EACH ROW EXECUTE FUNCTION disposals_sign_off_by_another_officer();
"""

REFUSE_DELETE = """
CREATE OR REPLACE FUNCTION disposals_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'DELETE on ' || TG_TABLE_NAME || ': disposal records are never deleted',
        ERRCODE = 'integrity_constraint_violation',
        HINT = 'Retention is a policy for an audited archive process, not a delete.';
END;
$$;
DROP TRIGGER IF EXISTS disposals_disposalcase_never_deleted ON disposals_disposalcase;
CREATE TRIGGER disposals_disposalcase_never_deleted BEFORE DELETE ON disposals_disposalcase
    FOR EACH ROW EXECUTE FUNCTION disposals_refuse_delete();
DROP TRIGGER IF EXISTS disposals_consignment_never_deleted ON disposals_consignment;
CREATE TRIGGER disposals_consignment_never_deleted BEFORE DELETE ON disposals_consignment
    FOR EACH ROW EXECUTE FUNCTION disposals_refuse_delete();
"""

DROP_ALL = """
DROP TRIGGER IF EXISTS disposals_device_needs_case ON devices_device;
DROP FUNCTION IF EXISTS disposals_device_needs_case();
DROP TRIGGER IF EXISTS disposals_case_route_signed_off ON disposals_disposalcase;
DROP FUNCTION IF EXISTS disposals_case_route_signed_off();
DROP TRIGGER IF EXISTS disposals_sign_off_by_another_officer ON disposals_routeoverridesignoff;
DROP FUNCTION IF EXISTS disposals_sign_off_by_another_officer();
DROP TRIGGER IF EXISTS disposals_disposalcase_never_deleted ON disposals_disposalcase;
DROP TRIGGER IF EXISTS disposals_consignment_never_deleted ON disposals_consignment;
DROP FUNCTION IF EXISTS disposals_refuse_delete();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    User = apps.get_model(settings.AUTH_USER_MODEL)
    through = User.groups.through
    Group = User.groups.field.related_model
    sign_off = SIGN_OFF_BY_ANOTHER_OFFICER.format(
        user_groups=through._meta.db_table,
        groups=Group._meta.db_table,
        user_column=through._meta.get_field(User._meta.model_name).column,
        group_names=", ".join(f"'{name}'" for name in SIGN_OFF_GROUPS),
    )
    for sql in (DEVICE_NEEDS_CASE, CASE_ROUTE_SIGNED_OFF, sign_off, REFUSE_DELETE):
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_ALL)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_append_only_function"),
        ("devices", "0005_estate_rules_historical_atcheck_exception_approval"),
        ("disposals", "0002_route_override_sign_off"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(repair_rows, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
        append_only(
            "disposals_sanitisationrecord",
            "disposals_residualvalueassessment",
            "disposals_routedecision",
            "disposals_routeoverridesignoff",
            "disposals_residualvaluerule",
            "disposals_historicalresidualvaluerule",
        ),
    ]
