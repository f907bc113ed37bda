"""The API's URLs alone, as config/urls.py mounts them, so the API suite does not
depend on the other apps' pages importing cleanly while they are being built.
test_schema.py checks the real config/urls.py mounts the same views."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/", include("devices.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
