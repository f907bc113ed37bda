import pytest


@pytest.mark.django_db
def test_govuk_css_asset_urls_lead_to_the_vendored_assets(client):
    response = client.get("/assets/images/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/vendor/govuk/assets/images/favicon.ico"
