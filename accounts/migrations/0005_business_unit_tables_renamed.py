"""The business-unit tables take accounts' names (a rename: no rows move).

Its own step, after every foreign key was pointed at the moved model, so that no
deferred constraint SQL names a table that was renamed in the same transaction."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_business_unit_constraints_renamed"),
        ("devices", "0004_business_unit_moved_to_accounts"),
    ]

    operations = [
        migrations.AlterModelTable(name="businessunit", table=None),
        migrations.AlterModelTable(name="historicalbusinessunit", table=None),
    ]
