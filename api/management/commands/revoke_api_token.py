"""Revoke (delete) API tokens: knox refuses a deleted token at once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import api_token_revoke
from core.errors import DomainError


class Command(BaseCommand):
    help = "Revoke USERNAME's API token named by --token-prefix, or all of them with --all."

    def add_arguments(self, parser):
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--all", action="store_true", dest="all_tokens")
        group.add_argument(
            "--token-prefix", help="The token's public prefix, as create_api_token printed it."
        )

    def handle(self, *args, username, all_tokens, token_prefix, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            count = api_token_revoke(user=user, token_prefix=token_prefix, all_tokens=all_tokens)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if count == 0:
            raise CommandError(f"No matching token for {username}.")
        self.stdout.write(f"Revoked {count} token(s) for {username}.")
