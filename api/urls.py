"""/api/v1/: each app's router is mounted here."""

from django.urls import include, path

urlpatterns = [
    path("", include("devices.api.urls")),
    path("refresh/", include("refresh.api.urls")),
    path("procurement/", include("procurement.api.urls")),
    path("disposals/", include("disposals.api.urls")),
    path("reports/", include("reports.api.urls")),
]
