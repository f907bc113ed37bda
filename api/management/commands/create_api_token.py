"""Create an API token for an integration account; the key is printed once, alone
on the last line, so scripts can take it with ``tail -n 1``."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import api_token_create
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print its key (shown once, never stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--expires-in", type=int, metavar="DAYS", help="Expire after DAYS days (default never)."
        )
        parser.add_argument("--description", default="", help="What the token is for.")

    def handle(self, *args, username, expires_in, description, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create it with manage.py create_user.")
        try:
            token, key = api_token_create(
                user=user, expires_in_days=expires_in, description=description
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        expiry = f"expires {token.expiry:%Y-%m-%d %H:%M} UTC" if token.expiry else "no expiry"
        self.stderr.write(
            f"Token {token.token_key} for {username} ({expiry}). "
            "The key is shown once; store it now. Revoke with "
            f"manage.py revoke_api_token {username} --token-prefix {token.token_key}."
        )
        self.stdout.write(key)
