"""/api/v1/: each app's router is mounted here."""

from django.urls import include, path

urlpatterns = [
    path("", include("devices.api.urls")),
]
