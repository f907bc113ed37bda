"""A POST /api/v1/devices/bulk/ with an ``Idempotency-Key`` that dies half-way, for
tests/api/test_idempotency_killed_request.py: ``python -m tests.api.killed_request
<user pk> <key> <body.json>``.

Runs the real view in this process against ``DATABASE_URL`` (the test database).
After the bulk upsert has written its devices, still inside the request's
transaction, it prints ``WRITTEN`` and sleeps: the test then asks for the same key
from its own process and ``kill -9``s this one, as a gunicorn worker dies.
"""

from __future__ import annotations

import json
import os
import sys
import time

import django


def main(user_pk: str, key: str, body_path: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from devices.api import bulk

    real_upsert = bulk.bulk_upsert

    def upsert_then_hang(**kwargs):
        outcome = real_upsert(**kwargs)
        print("WRITTEN", flush=True)
        time.sleep(600)
        return outcome

    bulk.bulk_upsert = upsert_then_hang
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=int(user_pk)))
    with open(body_path) as handle:
        body = json.load(handle)
    client.post("/api/v1/devices/bulk/", body, format="json", headers={"Idempotency-Key": key})


if __name__ == "__main__":
    main(*sys.argv[1:4])
