"""Load mix for the production-shaped stack (bench/load.py starts it; README
"Operations", Load test). Only ever against http://127.0.0.1.

- Page users, signed in through the login form: asset managers (device list with a
  search, a device page, their home) and finance officers (the envelope, home).
- API users with a token: list, detail, PATCH with If-Match, bulk upsert with an
  Idempotency-Key (every request named so the targets can tell single-object calls
  from the rest).
- One background user that uploads one import and requests one report run, and
  follows both to the end through their progress pages.

Request names: ``page:*`` (target p95 < 300 ms), ``api:detail``/``api:patch``
(single-object, p95 < 100 ms), ``api:list``/``api:bulk``, ``bg:*``, and
``auth:sign_in`` (the login form's POST: reported, not held to the pages' target,
since its time is the password hash's, slow by design).
Environment: LOAD_API_TOKENS (itsm.integration tokens, comma-separated, one per client), LOAD_UNIT (a unit code),
LOAD_PERIOD (YYYY-MM), LOAD_UNIT_ID (its pk, for the report form).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ops.stack import loopback_cookie_jar  # noqa: E402

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DEVICE_LINK = re.compile(r'href="/devices/(\d+)/"')
SEARCHES = ["", "Dell", "Latitude", "laptop", "HP", "monitor", "iPhone", "Lenovo"]


@events.init.add_listener
def _loopback_only(environment, **kwargs):
    host = environment.host or ""
    if host and urlsplit(host).hostname != "127.0.0.1":
        raise SystemExit(f"this load test runs against 127.0.0.1 only, not {host}")


def sign_in(user: HttpUser, username: str, password: str) -> None:
    user.client.cookies = loopback_cookie_jar()
    page = user.client.get("/login/", name="page:login")
    token = CSRF_INPUT.search(page.text).group(1)
    with user.client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        # Its own name: its time is the password hash's (PBKDF2, slow by design).
        name="auth:sign_in",
        allow_redirects=False,
        catch_response=True,
    ) as response:
        if response.status_code != 302:
            response.failure(f"sign-in refused: {response.status_code}")


def csrf_of(user: HttpUser, path: str, name: str) -> str:
    page = user.client.get(path, name=name)
    return CSRF_INPUT.search(page.text).group(1)


class AssetManager(HttpUser):
    weight = 4
    wait_time = between(1, 3)

    def on_start(self):
        sign_in(self, "asset.manager", os.environ.get("LOAD_ASSET_PASSWORD", "demo-asset-manager"))
        self.device_ids: list[str] = []

    @task(4)
    def device_list(self):
        query = random.choice(SEARCHES)  # noqa: S311 - a load mix, not security
        response = self.client.get(
            "/devices/", params={"q": query} if query else None, name="page:device_list"
        )
        found = DEVICE_LINK.findall(response.text)
        if found:
            self.device_ids = found

    @task(4)
    def device_page(self):
        if not self.device_ids:
            return self.device_list()
        pk = random.choice(self.device_ids)  # noqa: S311
        self.client.get(f"/devices/{pk}/", name="page:device")

    @task(2)
    def home(self):
        self.client.get("/", name="page:home")


class FinanceOfficer(HttpUser):
    weight = 1
    wait_time = between(1, 3)

    def on_start(self):
        sign_in(
            self, "finance.officer", os.environ.get("LOAD_FINANCE_PASSWORD", "demo-finance-officer")
        )

    @task(3)
    def envelope(self):
        self.client.get("/procurement/", name="page:envelope")

    @task(1)
    def home(self):
        self.client.get("/", name="page:home")


# Each API user is its own integration client with its own token (the rate limit is
# per token).
_client_numbers = itertools.count()


class Integration(HttpUser):
    weight = 5
    wait_time = between(0.5, 2)

    def on_start(self):
        tokens = os.environ["LOAD_API_TOKENS"].split(",")
        self.client.headers["Authorization"] = (
            f"Token {tokens[next(_client_numbers) % len(tokens)]}"
        )
        self.ids = [
            d["id"] for d in self.client.get("/api/v1/devices/", name="api:list").json()["results"]
        ]
        self.unit = os.environ.get("LOAD_UNIT", "CE")

    @task(4)
    def list_devices(self):
        response = self.client.get(
            "/api/v1/devices/",
            params={"category": random.choice(["laptop", "desktop", "monitor"])},
            name="api:list",  # noqa: S311
        )
        results = response.json().get("results") or []
        if results:
            self.ids = [d["id"] for d in results]

    @task(6)
    def detail(self):
        pk = random.choice(self.ids)  # noqa: S311
        self.client.get(f"/api/v1/devices/{pk}/", name="api:detail")

    @task(2)
    def patch(self):
        pk = random.choice(self.ids)  # noqa: S311
        current = self.client.get(f"/api/v1/devices/{pk}/", name="api:detail")
        with self.client.patch(
            f"/api/v1/devices/{pk}/",
            json={"location": f"Load test {random.randint(1, 50)}"},  # noqa: S311
            headers={"If-Match": current.headers["ETag"]},
            name="api:patch",
            catch_response=True,
        ) as response:
            # A 412 is the API doing its job (another user changed it first), not an error.
            if response.status_code == 412:
                response.success()

    @task(1)
    def bulk(self):
        key = str(uuid.uuid4())
        body = [
            {
                "serial_number": f"LOAD-{uuid.uuid4().hex[:12]}",
                "manufacturer": "Dell",
                "model": "Latitude 5440",
                "category": "laptop",
                "business_unit": self.unit,
            }
            for _ in range(20)
        ]
        self.client.post(
            "/api/v1/devices/bulk/", json=body, headers={"Idempotency-Key": key}, name="api:bulk"
        )


class Background(HttpUser):
    """One import and one report run, in the background of everyone else."""

    fixed_count = 1
    wait_time = between(2, 3)

    def on_start(self):
        sign_in(self, "asset.manager", os.environ.get("LOAD_ASSET_PASSWORD", "demo-asset-manager"))
        self.import_url = self._upload()
        self.report_url = self._report()

    def _upload(self) -> str | None:
        token = csrf_of(self, "/devices/import/", "bg:import_page")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["serial_number", "manufacturer", "model", "category", "business_unit", "location"]
        )
        for n in range(2000):
            writer.writerow(
                [
                    f"LOADIMP-{n:05d}",
                    "HP",
                    "EliteBook 840",
                    "laptop",
                    os.environ.get("LOAD_UNIT", "CE"),
                    "Load",
                ]
            )
        response = self.client.post(
            "/devices/import/",
            data={"csrfmiddlewaretoken": token, "mode": "valid-rows", "mapping": "default"},
            files={"file": ("load.csv", buffer.getvalue().encode(), "text/csv")},
            name="bg:import_upload",
            allow_redirects=False,
        )
        return response.headers.get("Location")

    def _report(self) -> str | None:
        token = csrf_of(self, "/reports/", "bg:reports_page")
        response = self.client.post(
            "/reports/generate/",
            data={
                "csrfmiddlewaretoken": token,
                "kind": "stewardship",
                "unit": os.environ.get("LOAD_UNIT_ID", ""),
                "period": os.environ.get("LOAD_PERIOD", ""),
            },
            name="bg:report_request",
            allow_redirects=False,
        )
        return response.headers.get("Location")

    @task
    def follow(self):
        for url, name in (
            (self.import_url, "bg:import_progress"),
            (self.report_url, "bg:report_progress"),
        ):
            if url:
                self.client.get(url, name=name)
