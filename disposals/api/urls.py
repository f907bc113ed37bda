from django.urls import path

from disposals.api import views

urlpatterns = [
    path(
        "sanitisation-results/",
        views.SanitisationResultsView.as_view(),
        name="disposals-sanitisation-results",
    ),
    path(
        "devices/<int:device_id>/custody/",
        views.DeviceCustodyView.as_view(),
        name="disposals-device-custody",
    ),
]
