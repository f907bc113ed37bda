import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ROLE_SLUGS
from accounts.services import user_create
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create (or update) a user with one role and an optional business-unit scope."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role", required=True, help=f"One of: {', '.join(sorted(ROLE_SLUGS))}"
        )
        parser.add_argument(
            "--unit", action="append", default=[], help="Business unit code; repeatable."
        )
        parser.add_argument(
            "--password-env", help="Read the password from this environment variable."
        )
        parser.add_argument(
            "--no-password", action="store_true", help="Integration accounts: token only."
        )

    def handle(self, *args, username, role, unit, password_env, no_password, **options):
        if role not in ROLE_SLUGS:
            raise CommandError(
                f"Unknown role {role!r}; choose one of {', '.join(sorted(ROLE_SLUGS))}."
            )
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"Environment variable {password_env} is empty or not set.")
        elif not no_password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            user = user_create(username=username, role=role, password=password, unit_codes=unit)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        scope = ", ".join(unit) if unit else "all units"
        self.stdout.write(self.style.SUCCESS(f"User {user.username}: {role}, {scope}."))
