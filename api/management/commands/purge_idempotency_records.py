"""Delete idempotency records past their 24-hour expiry (schedule it daily)."""

from django.core.management.base import BaseCommand

from api.services import idempotency_records_purge


class Command(BaseCommand):
    help = "Delete expired Idempotency-Key records."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {idempotency_records_purge()} expired record(s).")
