"""``manage.py demo_users``: create or update one demo login per role and print them."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from demo.users import demo_users_ensure


class Command(BaseCommand):
    help = "Create or update one demo user per role (after seed_demo) and print their logins."

    def handle(self, *args, **options):
        try:
            rows = demo_users_ensure()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.WARNING(
                "These are DEMO logins with published passwords (set DEMO_PASSWORD to choose "
                "your own). Never use them on a real estate."
            )
        )
        header = ("username", "password", "role", "scope")
        table = [header] + [
            (username, password or "(none: API token only)", role, scope)
            for username, password, role, scope in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for n, row in enumerate(table):
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        tokenless = [username for username, password, *_ in rows if password is None]
        for username in tokenless:
            self.stdout.write(
                f"Get an API token for {username} with: "
                f"python manage.py create_api_token {username}"
            )
