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
    path(
        "devices/<int:device_id>/route/",
        views.DeviceRouteView.as_view(),
        name="disposals-device-route",
    ),
    path(
        "devices/<int:device_id>/route/sign-off/",
        views.RouteOverrideSignOffView.as_view(),
        name="disposals-route-override-sign-off",
    ),
    path(
        "devices/<int:device_id>/route/reject/",
        views.RouteOverrideRejectView.as_view(),
        name="disposals-route-override-reject",
    ),
]
