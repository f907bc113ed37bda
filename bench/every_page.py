"""Every page each role can reach, timed on a big estate (issue 14: every page under
300 ms at 1,000,000 devices).

Loads the demo into its own database if empty (as ``bench/finance_pages.py`` does,
without the reports app's step, which runs for tens of minutes at 1,000,000 devices:
``--with-reports`` includes it), then, for an asset manager, a finance officer and a unit viewer
scoped to one command, follows the links of every page from the home page (same site,
GET only; no admin, API, downloads, sign-out, or page-through links), keeps two pages
per URL shape (``/devices/<n>/`` twice, not every device), and renders each through
Django's test client: the median of ``--runs`` after one warm-up, with its query count.

    createdb -h 127.0.0.1 -U postgres bench_pages
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pages .venv/bin/python manage.py migrate
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pages .venv/bin/python bench/every_page.py --devices 1000000
    dropdb -h 127.0.0.1 -U postgres bench_pages
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import BusinessUnit  # noqa: E402
from accounts.services import user_create  # noqa: E402
from devices.demo import DEMO_VIEWER_UNIT  # noqa: E402
from devices.models import Device  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finance_pages import load, seed  # noqa: E402

TARGET_MS = 300
HREF = re.compile(r'href="(/[^"#]*)"')
# Not pages: the admin, the API and its docs, files, static assets, signing out, and
# links that page through or re-sort a list already visited.
SKIP = re.compile(
    r"^/(admin|api|static|assets|media|logout|login|accounts)/"
    r"|export|download|\.(csv|xlsx|pdf|png|ico)$|format=|cursor=|after=|before=|sort="
)
PER_SHAPE = 2


def shape(url: str) -> str:
    path, _, query = url.partition("?")
    return re.sub(r"/\d+/", "/<n>/", path) + ("?" + re.sub(r"=[^&]*", "=", query) if query else "")


def crawl(client: Client, limit: int) -> list[str]:
    """Pages reachable from the home page, two per URL shape, breadth first."""
    queue, seen, per_shape = ["/"], [], {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen or per_shape.get(shape(url), 0) >= PER_SHAPE:
            continue
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        seen.append(url)
        per_shape[shape(url)] = per_shape.get(shape(url), 0) + 1
        for href in HREF.findall(response.content.decode()):
            href = href.replace("&amp;", "&")
            if not SKIP.search(href) and href not in seen:
                queue.append(href)
    return seen


def timed(client: Client, url: str, runs: int) -> tuple[float, int, int]:
    client.get(url)  # warm the connection and the caches
    times, queries, status = [], 0, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            status = client.get(url).status_code
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
    return statistics.median(times) * 1000, queries, status


def user(username: str, role: str, **kwargs):
    from django.contrib.auth import get_user_model

    existing = get_user_model().objects.filter(username=username).first()
    return existing or user_create(username=username, role=role, password=None, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=80, help="pages per role at most")
    parser.add_argument("--with-reports", action="store_true")
    args = parser.parse_args()
    if not Device.objects.exists():
        seed(args.devices, skip_reports=not args.with_reports)
    command = BusinessUnit.objects.get(code=DEMO_VIEWER_UNIT)
    roles = [
        ("asset manager", user("bench.pages.manager", "asset-manager")),
        ("finance officer", user("bench.pages.finance", "finance")),
        ("unit viewer", user("bench.pages.viewer", "unit-viewer", unit_codes=[command.code])),
    ]
    print(f"{Device.objects.count():,} devices; load {load()}")
    over = 0
    for name, who in roles:
        client = Client()
        client.force_login(who)
        pages = crawl(client, args.limit)
        print(f"\n{name}: {len(pages)} pages")
        print(f"| page | ms | queries | < {TARGET_MS} ms |\n|---|---:|---:|---|")
        for url in pages:
            ms, queries, status = timed(client, url, args.runs)
            met = "met" if ms < TARGET_MS else "**no**"
            over += ms >= TARGET_MS
            print(
                f"| `{url}`{'' if status == 200 else f' ({status})'} | {ms:.0f} | {queries} | {met} |"
            )
    print(f"\npages over {TARGET_MS} ms: {over}; load {load()}")


if __name__ == "__main__":
    main()
