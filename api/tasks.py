"""Thin Celery wrappers for the API's housekeeping."""

from celery import shared_task

from api.services import api_tokens_expired_purge, idempotency_records_purge


@shared_task
def idempotency_records_purge_task() -> int:
    """Delete Idempotency-Key records past their 24-hour expiry."""
    return idempotency_records_purge()


@shared_task
def api_tokens_expired_purge_task() -> int:
    """Delete API tokens past their expiry."""
    return api_tokens_expired_purge()
