from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices import views as device_views
from devices.forms import SignInForm

# /api/v1/: each app's API router, mounted here (the api app is plumbing and knows no app).
api_v1 = [
    path("", include("devices.api.urls")),
    path("refresh/", include("refresh.api.urls")),
    path("procurement/", include("procurement.api.urls")),
    path("disposals/", include("disposals.api.urls")),
    path("reports/", include("reports.api.urls")),
]

urlpatterns = [
    path("", device_views.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("devices/", include("devices.urls")),
    path("refresh/", include("refresh.urls")),
    path("procurement/", include("procurement.urls")),
    path("disposals/", include("disposals.urls")),
    path("reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # GOV.UK Frontend's precompiled CSS asks for its images and fonts at /assets/.
    re_path(
        r"^assets/(?P<path>[\w./-]+)$",
        RedirectView.as_view(url=static("vendor/govuk/assets/") + "%(path)s", permanent=True),
    ),
]
