import datetime as dt

import pytest

from devices.models import Category
from refresh import services
from refresh.models import RefreshPolicy

TODAY = dt.date(2025, 6, 15)


@pytest.fixture
def policies(db):
    """The business-case lifecycles, in force since 2020."""
    made = {}
    for category, months in [
        (Category.LAPTOP, 48),
        (Category.DESKTOP, 60),
        (Category.MONITOR, 84),
        (Category.SMARTPHONE, 36),
        (Category.TABLET, 48),
    ]:
        made[category] = services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2020, 1, 1),
            lifecycle_months=months,
            repair_threshold=3,
            idle_days=90,
            os_end_of_support_forces_refresh=True,
        )
    return made


@pytest.fixture
def recompute():
    def _run(today=TODAY):
        return services.eligibility_recompute(today=today)

    return _run


def policy_for(category):
    return RefreshPolicy.objects.filter(category=category).order_by("-effective_from").first()
