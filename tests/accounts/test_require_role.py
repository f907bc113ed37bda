import pytest
from django.core.exceptions import PermissionDenied

from accounts.roles import Role, require_role

pytestmark = pytest.mark.django_db


def test_a_user_without_any_of_the_roles_is_refused_with_the_message(make_user):
    viewer = make_user(Role.UNIT_VIEWER)
    with pytest.raises(PermissionDenied, match="Only asset managers"):
        require_role(viewer, Role.ASSET_MANAGER, message="Only asset managers import the estate.")


def test_holding_any_one_of_the_roles_is_enough(make_user):
    finance = make_user(Role.FINANCE)
    assert require_role(finance, Role.ASSET_MANAGER, Role.FINANCE) is None


def test_a_superuser_passes(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.invalid", "x")
    assert require_role(root, Role.ASSET_MANAGER) is None
