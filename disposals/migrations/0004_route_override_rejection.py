"""A finance or commercial officer may reject a route override request, not only sign
it off: the decision row (``RouteOverrideSignOff``, append-only) gains an ``outcome``
and the rejection's ``reason``.

On PostgreSQL the trigger that keeps an unsigned resale override from reaching
"route chosen" now lets the case through on the route the review decided: the route
asked for when signed off, the suggested route (resale) when rejected. The trigger
that insists the reviewer is a finance or commercial officer other than the requester
applies to rejections too, unchanged (it fires on every insert).
"""

from django.db import migrations, models

# No percent signs in the SQL below: the driver would read them as placeholders.
CASE_ROUTE_REVIEWED = """
CREATE OR REPLACE FUNCTION disposals_case_route_signed_off() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM disposals_routedecision d
        WHERE d.case_id = NEW.id AND d.suggested_route = 'resale' AND d.route <> 'resale'
          AND NOT EXISTS (
              SELECT 1 FROM disposals_routeoverridesignoff s
              WHERE s.decision_id = d.id
                AND ((s.outcome = 'signed_off' AND NEW.route = d.route)
                     OR (s.outcome = 'rejected' AND NEW.route = d.suggested_route)))
    ) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'Disposal case ' || NEW.id
                || ': an override of a suggested resale awaits finance sign-off'
                || ' (or the case is not on the route its review decided)',
            ERRCODE = 'integrity_constraint_violation',
            HINT = 'A finance or commercial officer other than the requester signs it off '
                || 'or rejects it.';
    END IF;
    RETURN NEW;
END;
$$;
"""

# As migration 0003 left it, for the way back.
CASE_ROUTE_SIGNED_OFF_0003 = """
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
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("disposals", "0003_database_rules_case_trigger_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="routeoverridesignoff",
            name="outcome",
            field=models.CharField(
                choices=[("signed_off", "Signed off"), ("rejected", "Rejected")],
                default="signed_off",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="routeoverridesignoff",
            name="reason",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddConstraint(
            model_name="routeoverridesignoff",
            constraint=models.CheckConstraint(
                condition=models.Q(("outcome", "rejected"), _negated=True)
                | models.Q(("reason", ""), _negated=True),
                name="disposals_routeoverridesignoff_rejection_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="routeoverridesignoff",
            constraint=models.CheckConstraint(
                condition=models.Q(("outcome__in", ["signed_off", "rejected"])),
                name="disposals_routeoverridesignoff_outcome_known",
            ),
        ),
        migrations.RunPython(
            _on_postgresql(CASE_ROUTE_REVIEWED),
            _on_postgresql(CASE_ROUTE_SIGNED_OFF_0003),
            elidable=False,
        ),
    ]
