import pytest
from django.core.management import CommandError, call_command

from accounts.models import UserScope
from accounts.roles import Role, user_roles
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db


def test_create_user_gives_the_role_and_the_unit_scope(monkeypatch, django_user_model):
    unit = BusinessUnitFactory(code="CE")
    monkeypatch.setenv("NEW_PASSWORD", "a-long-enough-passphrase")

    call_command(
        "create_user",
        "lead.ce",
        "--role",
        "unit-viewer",
        "--unit",
        "CE",
        "--password-env",
        "NEW_PASSWORD",
    )

    user = django_user_model.objects.get(username="lead.ce")
    assert user_roles(user) == {Role.UNIT_VIEWER}
    assert list(UserScope.objects.filter(user=user).values_list("business_unit", flat=True)) == [
        unit.pk
    ]
    assert user.check_password("a-long-enough-passphrase")


def test_an_unknown_role_is_a_clear_error():
    with pytest.raises(CommandError, match="Unknown role 'boss'"):
        call_command("create_user", "x", "--role", "boss", "--no-password")


def test_an_unknown_unit_is_a_clear_error_and_creates_no_user(django_user_model):
    with pytest.raises(CommandError, match="Unknown business unit NOPE"):
        call_command("create_user", "x", "--role", "finance", "--unit", "NOPE", "--no-password")
    assert not django_user_model.objects.filter(username="x").exists()


def test_a_unit_viewer_needs_a_unit():
    with pytest.raises(CommandError, match="needs at least one --unit"):
        call_command("create_user", "x", "--role", "unit-viewer", "--no-password")


def test_an_empty_password_variable_is_refused(monkeypatch):
    monkeypatch.delenv("MISSING_VAR", raising=False)
    with pytest.raises(CommandError, match="MISSING_VAR"):
        call_command("create_user", "x", "--role", "finance", "--password-env", "MISSING_VAR")


def test_integration_accounts_can_be_token_only(django_user_model):
    call_command("create_user", "itsm", "--role", "integration", "--no-password")
    assert not django_user_model.objects.get(username="itsm").has_usable_password()
