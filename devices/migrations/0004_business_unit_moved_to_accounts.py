"""The estate's foreign keys point at ``accounts.BusinessUnit``."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_business_unit_constraints_renamed'),
        ('devices', '0003_device_unit_id_index'),
    ]

    # The tables are now accounts' (renamed by accounts 0004); only Django's record of
    # the old models is dropped here, after every app's foreign keys point at the new
    # ones (refresh, procurement and reports run their steps before this one).
    operations = [
        migrations.AlterField(
            model_name='historicaldevice',
            name='business_unit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.businessunit'),
        ),
        migrations.AlterField(
            model_name='device',
            name='business_unit',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='devices', to='accounts.businessunit'),
        ),
        migrations.AlterField(
            model_name='person',
            name='business_unit',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='people', to='accounts.businessunit'),
        ),
        migrations.AlterField(
            model_name='historicalperson',
            name='business_unit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.businessunit'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='historicalbusinessunit',
                    name='parent',
                ),
                migrations.RemoveField(
                    model_name='historicalbusinessunit',
                    name='history_user',
                ),
                migrations.DeleteModel(
                    name='BusinessUnit',
                ),
                migrations.DeleteModel(
                    name='HistoricalBusinessUnit',
                ),
            ],
            database_operations=[],
        ),
    ]
