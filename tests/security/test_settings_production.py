"""Production settings fail closed, and `manage.py check --deploy` is clean with the
production variables. Each case loads the settings in a fresh interpreter with
exactly the environment given (nothing inherited from the test run's own)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security import pip_audit_gate

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "devices.example.police.uk",
}
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "names = {names!r}; print(json.dumps({{n: getattr(s, n, None) for n in names}}, default=str))"
)


def _env(env: dict) -> dict:
    # Drop every setting the test run itself exported (pytest-env), keep PATH and friends.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "EMAIL", "DATABASE_URL", "REDIS_URL"))
    }
    return {**base, **env, "DJANGO_SETTINGS_MODULE": "config.settings"}


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, *args], cwd=ROOT, env=_env(env), capture_output=True, text=True
    )


def settings_in(env: dict, *names: str) -> dict:
    out = _run(["-c", PROBE.format(names=list(names))], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is not set"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS is not set"),
    ],
)
def test_production_refuses_to_start_without(missing, message):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    out = _run(["-c", "import django; django.setup()"], env)
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr and message in out.stderr


def test_debug_on_starts_with_no_environment_as_make_run_does():
    values = settings_in(
        {"DJANGO_DEBUG": "1"},
        "DEBUG",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "EMAIL_BACKEND",
        "SESSION_COOKIE_SECURE",
    )
    assert values["DEBUG"] is True and "127.0.0.1" in values["ALLOWED_HOSTS"]
    assert values["SECURE_SSL_REDIRECT"] is False and values["SESSION_COOKIE_SECURE"] is False
    assert values["EMAIL_BACKEND"].endswith("console.EmailBackend")


def test_production_is_https_only_with_secure_cookies():
    v = settings_in(
        PRODUCTION,
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_AGE",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "SECURE_PROXY_SSL_HEADER",
        "EMAIL_BACKEND",
        "CONTENT_SECURITY_POLICY",
    )
    assert v["DEBUG"] is False and v["SECURE_SSL_REDIRECT"] is True
    assert v["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert v["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and v["SECURE_HSTS_PRELOAD"] is False
    assert v["SESSION_COOKIE_SECURE"] and v["CSRF_COOKIE_SECURE"] and v["SESSION_COOKIE_HTTPONLY"]
    assert 0 < v["SESSION_COOKIE_AGE"] <= 12 * 3600
    assert v["SECURE_CONTENT_TYPE_NOSNIFF"] and v["SECURE_REFERRER_POLICY"] == "same-origin"
    assert v["SECURE_PROXY_SSL_HEADER"] is None
    assert v["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
    assert "unsafe-inline" not in json.dumps(v["CONTENT_SECURITY_POLICY"])


def test_a_tls_terminating_proxy_is_configured_from_the_environment():
    v = settings_in(
        {
            **PRODUCTION,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https",
        },
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
    )
    assert v == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_a_malformed_proxy_header_setting_refuses_to_start():
    out = _run(
        ["-c", "import django; django.setup()"],
        {**PRODUCTION, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
    )
    assert out.returncode != 0 and "DJANGO_SECURE_PROXY_SSL_HEADER" in out.stderr


def test_smtp_and_sender_come_from_the_environment():
    v = settings_in(
        {
            **PRODUCTION,
            "DJANGO_EMAIL_HOST": "smtp.example.police.uk",
            "DJANGO_EMAIL_PORT": "2525",
            "DJANGO_EMAIL_HOST_USER": "svc",
            "DJANGO_EMAIL_HOST_PASSWORD": "pw",
            "DJANGO_DEFAULT_FROM_EMAIL": "devices@example.uk",
        },
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "DEFAULT_FROM_EMAIL",
        "EMAIL_BACKEND",
    )
    assert v["EMAIL_HOST"] == "smtp.example.police.uk" and v["EMAIL_PORT"] == 2525
    assert (v["EMAIL_HOST_USER"], v["EMAIL_HOST_PASSWORD"]) == ("svc", "pw")
    assert v["EMAIL_USE_TLS"] is True and v["DEFAULT_FROM_EMAIL"] == "devices@example.uk"
    assert v["EMAIL_BACKEND"].endswith("smtp.EmailBackend")


def test_check_deploy_is_clean_with_the_production_variables():
    out = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_deploy_fails_with_a_weak_secret_key():
    out = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "DJANGO_SECRET_KEY": "short"},
    )
    assert out.returncode != 0 and "security.W009" in out.stdout + out.stderr


# --- Dependency audit and static analysis (make test) ----------------------------------


def test_bandit_finds_nothing_in_the_code():
    out = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("bandit")), "-q", "-c", "pyproject.toml", "-r", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


def test_pip_audit_gate_fails_on_a_vulnerability():
    report = {
        "dependencies": [
            {
                "name": "django",
                "version": "5.2.0",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.1"]}],
            }
        ]
    }
    code, message = pip_audit_gate.verdict(1, json.dumps(report), "")
    assert code == 1 and "django 5.2.0: PYSEC-1" in message


def test_pip_audit_gate_passes_a_clean_report():
    assert pip_audit_gate.verdict(0, json.dumps({"dependencies": []}), "")[0] == 0


def test_pip_audit_gate_warns_but_passes_when_the_service_is_unreachable():
    stderr = "requests.exceptions.ConnectionError: Max retries exceeded with url: /pypi/x/json"
    code, message = pip_audit_gate.verdict(1, "", stderr)
    assert code == 0 and "NOT AUDITED" in message


def test_pip_audit_gate_fails_on_any_other_error():
    assert pip_audit_gate.verdict(1, "", "ERROR: requirement has no hash")[0] == 1
