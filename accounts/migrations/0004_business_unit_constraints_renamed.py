"""Business units' constraints take accounts' names; scope rows point at the moved model."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_business_unit_moved_from_devices'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='businessunit',
            name='devices_businessunit_code_not_blank',
        ),
        migrations.RemoveConstraint(
            model_name='businessunit',
            name='devices_businessunit_not_own_parent',
        ),
        migrations.AlterField(
            model_name='userscope',
            name='business_unit',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='user_scopes', to='accounts.businessunit'),
        ),
        migrations.AddConstraint(
            model_name='businessunit',
            constraint=models.CheckConstraint(condition=models.Q(('code', ''), _negated=True), name='accounts_businessunit_code_not_blank'),
        ),
        migrations.AddConstraint(
            model_name='businessunit',
            constraint=models.CheckConstraint(condition=models.Q(('parent', models.F('pk')), _negated=True), name='accounts_businessunit_not_own_parent'),
        ),
    ]
