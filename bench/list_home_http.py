"""The landing pages and the device list at 1,000,000 devices, over HTTP (issue 14:
every page under 300 ms, the whole-estate dashboard included).

Seeds the demo estate (devices.demo.estate_seed) when the database is empty, starts
gunicorn on 127.0.0.1 with DEBUG off (as production runs), signs users in by
session cookie and times each page with ``requests``: the median and p95 of
``--runs`` requests after one warm-up, and the bytes of HTML.

    createdb -h 127.0.0.1 -U postgres bench_listhome
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_listhome .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_listhome .venv/bin/python bench/list_home_http.py

``--code DIR`` serves another copy of the code against the same database, for a
before/after (``git archive HEAD | tar -x -C /tmp/before``; the old code's pages
only, ``--old``: no sort, cursor or home parameters).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess  # noqa: S404 - starts gunicorn from this repository's virtualenv
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BENCH_ENV = {
    "DJANGO_SECRET_KEY": "bench-only-key-never-used-to-serve-anything-0123456789",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
}
for key, value in BENCH_ENV.items():
    os.environ.setdefault(key, value)
os.environ.pop("DJANGO_DEBUG", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import BusinessUnit  # noqa: E402
from accounts.services import user_create  # noqa: E402
from devices.demo import estate_seed  # noqa: E402
from devices.models import Device  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def user(username: str, role: str, **kwargs):
    from django.contrib.auth import get_user_model

    existing = get_user_model().objects.filter(username=username).first()
    return existing or user_create(username=username, role=role, password=None, **kwargs)


def cursor(segment, value, pk: int) -> str:
    from devices.listing import encode_cursor

    return encode_cursor(segment, value, pk)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def timed(session: requests.Session, base: str, url: str, runs: int, worker: int):
    """Median and p95 wall time, the web worker's mean CPU per request, and the size.

    The wall time on a shared machine mostly measures waiting for a core; the
    worker's CPU time (Python, templates, the driver) does not."""
    session.get(base + url, timeout=60)  # warm up: connection, caches, plans
    times = []
    cpu_before = cpu_seconds(worker)
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(base + url, timeout=60)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    cpu = (cpu_seconds(worker) - cpu_before) / runs
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, cpu, len(response.content)


def pages(old: bool, units, sample: Device) -> list[tuple[str, str, str]]:
    """(label, who, url): who is "manager", "viewer" or "finance"."""
    command = units["command"]
    middle = Device.objects.filter(last_seen__isnull=False).order_by("last_seen", "id")
    mid = middle[Device.objects.count() // 2]
    last_id = Device.objects.order_by("-id").values_list("id", flat=True)[0]
    common = [
        ("home: dashboard, whole estate (asset manager)", "manager", "/"),
        ("home: dashboard, one command (unit viewer)", "viewer", "/"),
        ("device list, first page", "manager", "/devices/"),
        ("search, exact asset tag", "manager", f"/devices/?q={sample.asset_tag}"),
        (
            "filter: command + status",
            "manager",
            f"/devices/?business_unit={command.code}&status=in_repair",
        ),
        ("device list, unit viewer", "viewer", "/devices/"),
    ]
    if old:
        return [
            *common,
            ("device list, deep page (after=id)", "manager", f"/devices/?after={last_id - 1000}"),
        ]
    deep = cursor("v", None, last_id - 1000)
    return [
        *common,
        ("home: envelope (finance officer)", "finance", "/"),
        ("device list, deep page (added order)", "manager", f"/devices/?after={deep}"),
        ("sort last seen, newest first", "manager", "/devices/?sort=last_seen&order=desc"),
        (
            "sort last seen, deep (middle of the estate)",
            "manager",
            f"/devices/?sort=last_seen&after={cursor('v', mid.last_seen.isoformat(), mid.pk)}",
        ),
        ("sort asset tag", "manager", "/devices/?sort=asset_tag"),
        ("sort serial, Z to A", "manager", "/devices/?sort=serial_number&order=desc"),
        ("sort purchase date", "manager", "/devices/?sort=purchase_date"),
        ("sort model", "manager", "/devices/?sort=model"),
        ("sort status, Z to A", "manager", "/devices/?sort=status&order=desc"),
        ("sort unit", "manager", "/devices/?sort=business_unit"),
        ("sort last seen, unit viewer", "viewer", "/devices/?sort=last_seen&order=desc"),
        (
            "sort unit, filtered lost or stolen",
            "manager",
            "/devices/?sort=business_unit&status=lost_stolen",
        ),
        ("unknown parameter (400)", "manager", None),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--code", type=Path, default=ROOT, help="the code gunicorn serves")
    parser.add_argument("--old", action="store_true", help="only the pages the old code has")
    args = parser.parse_args()

    if not Device.objects.exists():
        started = time.monotonic()
        estate_seed(devices=args.devices, seed="bench", today=dt.date(2025, 11, 1))
        print(f"seeded {args.devices:,} devices in {time.monotonic() - started:.0f}s", flush=True)
    total = Device.objects.count()
    command = BusinessUnit.objects.filter(level=BusinessUnit.Level.COMMAND).order_by("path").first()
    cookies = {
        "manager": session_cookie(user("bench-manager", "asset-manager")),
        "viewer": session_cookie(user("bench-viewer", "unit-viewer", unit_codes=[command.code])),
        "finance": session_cookie(user("bench-finance", "finance")),
    }
    sample = Device.objects.filter(asset_tag__isnull=False).order_by("id")[total // 2]
    port = free_port()
    env = dict(os.environ, **BENCH_ENV)
    env.pop("DJANGO_DEBUG", None)
    server = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
            "--timeout",
            "120",
        ],
        cwd=args.code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # gunicorn imports the project first: up to a minute under load
            try:
                requests.get(base + "/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.5)
        sessions = {}
        for who, value in cookies.items():
            s = requests.Session()
            s.headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={value}"
            sessions[who] = s
        print(
            f"{total:,} devices, gunicorn (1 worker, DEBUG off) serving {args.code}, "
            f"median and p95 of {args.runs} requests; load {os.getloadavg()[0]:.1f}"
        )
        worker = worker_pid(server.pid)
        print(f"{'page':52} {'median ms':>10} {'p95 ms':>8} {'web CPU ms':>10} {'KB':>6}")
        for label, who, url in pages(args.old, {"command": command}, sample):
            if url is None:
                response = sessions[who].get(base + "/devices/?serial=1", timeout=60)
                print(f"{label:52} status {response.status_code}")
                continue
            median, p95, cpu, size = timed(sessions[who], base, url, args.runs, worker)
            print(
                f"{label:52} {median * 1000:10.1f} {p95 * 1000:8.1f} {cpu * 1000:10.1f} "
                f"{size / 1024:6.0f}"
            )
        print(f"load after: {os.getloadavg()}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
