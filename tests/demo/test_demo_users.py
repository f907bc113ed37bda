"""Demo logins: one per role, scoped right, idempotent, and refused before the estate exists."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import BusinessUnit, UserScope
from accounts.roles import ROLE_SLUGS, user_roles
from accounts.scoping import unit_scope
from core.errors import DomainError
from demo.users import DEMO_USERS, demo_users_ensure
from devices.demo import DEMO_VIEWER_UNIT, reference_data_ensure

User = get_user_model()


@pytest.fixture
def demo_units(db):
    """The business units seed_demo creates (the rest of the estate is not needed here)."""
    reference_data_ensure()


def test_one_user_per_role_with_the_documented_passwords(demo_units, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    rows = demo_users_ensure()
    assert {role for _, _, role, _ in rows} == set(ROLE_SLUGS)
    for spec in DEMO_USERS:
        user = User.objects.get(username=spec.username)
        assert user_roles(user) == {ROLE_SLUGS[spec.role]}
        if spec.password:
            assert user.check_password(spec.password)
        else:
            # The integration account is token only.
            assert not user.has_usable_password()


def test_the_unit_viewer_sees_one_command_and_the_units_beneath_it(demo_units):
    demo_users_ensure()
    viewer = User.objects.get(username="unit.viewer")
    command = BusinessUnit.objects.get(code=DEMO_VIEWER_UNIT)
    visible = unit_scope(viewer).filter(BusinessUnit.objects.all(), field="")
    assert set(visible) == set(BusinessUnit.objects.filter(path__startswith=command.path))
    assert visible.count() >= 3
    assert not visible.filter(code="MET").exists()


def test_the_other_roles_are_unrestricted(demo_units):
    demo_users_ensure()
    for username in ("asset.manager", "finance.officer", "finance.approver", "commercial.officer"):
        assert unit_scope(User.objects.get(username=username)).unrestricted


def test_running_twice_changes_nothing(demo_units):
    demo_users_ensure()
    before = (User.objects.count(), UserScope.objects.count())
    demo_users_ensure()
    assert (User.objects.count(), UserScope.objects.count()) == before


def test_demo_password_replaces_every_published_password(demo_units, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "a-long-local-secret")
    rows = demo_users_ensure()
    for username, password, _, _ in rows:
        user = User.objects.get(username=username)
        if password is not None:
            assert password == "a-long-local-secret"
            assert user.check_password("a-long-local-secret")


@pytest.mark.django_db
def test_refused_with_a_clear_message_before_the_estate_is_seeded():
    with pytest.raises(DomainError, match="seed_demo"):
        demo_users_ensure()
    assert not User.objects.exists()


def test_command_prints_the_logins_and_how_to_get_a_token(demo_units, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    out = StringIO()
    call_command("demo_users", stdout=out)
    text = out.getvalue()
    assert "DEMO logins" in text
    for spec in DEMO_USERS:
        assert spec.username in text
        if spec.password:
            assert spec.password in text
    assert "create_api_token itsm.integration" in text


@pytest.mark.django_db
def test_command_fails_cleanly_before_the_estate_is_seeded():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_users", stdout=StringIO())
