"""Browser-facing safeguards: CSP with nonces and no 'unsafe-inline', security headers,
no caching of what a signed-in user sees, sessions ended by a password change, and
the API schema and docs for signed-in users only."""

import base64
import hashlib
import re
from pathlib import Path

import drf_spectacular
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import Role
from api.services import api_token_create

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))
SWAGGER_TEMPLATE = (
    Path(drf_spectacular.__file__).parent / "templates" / "drf_spectacular" / "swagger_ui.html"
)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def runs_inline(attrs: str) -> bool:
    """An inline script the browser runs: no src, and not a JSON data block."""
    return "src=" not in attrs and "application/json" not in attrs


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_pages_carry_a_csp_whose_nonce_every_inline_script_has(client, asset_manager):
    client.force_login(asset_manager)
    response = client.get("/")
    assert response.status_code == 200
    policy = csp(response)

    header = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header
    nonces = [s for s in policy["script-src"] if s.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    html = response.content.decode()
    inline = [attrs for attrs in SCRIPT_TAG.findall(html) if runs_inline(attrs)]
    assert inline, "the base page has inline scripts (GOV.UK's js-enabled, initAll)"
    for attrs in inline:
        assert f'nonce="{nonce}"' in attrs, attrs
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_each_response_gets_its_own_nonce(client, asset_manager):
    client.force_login(asset_manager)
    first, second = (csp(client.get("/"))["script-src"] for _ in range(2))
    assert first != second


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_inline_script_in_a_template_carries_the_nonce(path):
    for attrs in SCRIPT_TAG.findall(path.read_text()):
        if runs_inline(attrs):
            assert 'nonce="{{ request.csp_nonce }}"' in attrs, f"{path.name}: <script{attrs}>"


def test_every_inline_style_is_allowed_by_its_hash_and_nothing_else_inline():
    allowed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    missing = []
    for path in [*TEMPLATE_FILES, SWAGGER_TEMPLATE]:
        text = path.read_text()
        found = re.findall(r"<style[^>]*>(.*?)</style>", text, re.S)
        found += re.findall(r"\sstyle=\"([^\"]*)\"", text)
        missing += [
            f"{path.name}: {s.strip()[:60]!r} {sha256(s)}"
            for s in found
            if sha256(s) not in allowed
        ]
    assert not missing, "add to CSP_INLINE_STYLE_HASHES (or move to app.css):\n" + "\n".join(
        missing
    )
    assert "'unsafe-inline'" not in allowed


def test_no_inline_style_is_allowed_that_no_template_has():
    """An allowance outlives the style it was for only as a hole in the policy."""
    found = set()
    for path in [*TEMPLATE_FILES, SWAGGER_TEMPLATE]:
        text = path.read_text()
        styles = re.findall(r"<style[^>]*>(.*?)</style>", text, re.S)
        styles += re.findall(r"\sstyle=\"([^\"]*)\"", text)
        found |= {sha256(s) for s in styles}
    assert set(settings.CSP_INLINE_STYLE_HASHES) - found == set()


def test_htmx_is_configured_for_the_csp(client, asset_manager):
    client.force_login(asset_manager)
    html = client.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_security_headers_on_pages(client, asset_manager):
    client.force_login(asset_manager)
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_a_signed_in_user_s_pages_and_api_answers_are_never_stored(client, asset_manager):
    client.force_login(asset_manager)
    assert "no-store" in client.get("/")["Cache-Control"]
    _token, key = api_token_create(user=asset_manager)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert "no-store" in api.get("/api/v1/devices/")["Cache-Control"]


def test_a_password_change_signs_out_every_other_session(asset_manager):
    other = Client()
    other.force_login(asset_manager)
    assert other.get("/").status_code == 200

    asset_manager.set_password("a-new-long-passphrase-2025")
    asset_manager.save()

    response = other.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_anonymous_gets_no_api_description(client, path):
    response = client.get(path)
    if path == "/api/schema/":
        assert response.status_code in (401, 403)
        assert "paths" not in response.content.decode()
    else:
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_signed_in_users_read_the_schema_and_docs_with_no_inline_script(client, make_user):
    client.force_login(make_user(Role.UNIT_VIEWER, units=()))
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert not [attrs for attrs in SCRIPT_TAG.findall(html) if runs_inline(attrs)]
    assert client.get("/api/docs/?script=").status_code == 200


def test_an_integration_token_reads_the_schema(make_user):
    _token, key = api_token_create(user=make_user(Role.INTEGRATION))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/schema/").status_code == 200
