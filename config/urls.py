from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views import defaults
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.middleware import API_PREFIX, api_not_found, api_server_error
from devices import urls as devices_urls
from devices.forms import SignInForm
from workspace import urls as workspace_urls
from workspace.views import home as workspace_home

# /api/v1/: each app's API router, mounted here (the api app is plumbing and knows no app).
api_v1 = [
    path("", include("devices.api.urls")),
    path("refresh/", include("refresh.api.urls")),
    path("procurement/", include("procurement.api.urls")),
    path("disposals/", include("disposals.api.urls")),
    path("reports/", include("reports.api.urls")),
]

urlpatterns = [
    # Each role's landing page (workspace.views.home), still named "dashboard".
    path("", workspace_home.home, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The device page and its actions live in workspace (it gathers every app's view of
    # a device) but keep their names in the devices namespace: devices:device_detail.
    path(
        "devices/",
        include((devices_urls.urlpatterns + workspace_urls.device_patterns, "devices")),
    ),
    path("refresh/", include("refresh.urls")),
    path("procurement/", include("procurement.urls")),
    path("disposals/", include("disposals.urls")),
    path("reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # The schema and its Swagger UI describe every endpoint: signed-in users only
    # (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]; the page sends others to sign in).
    # The split view serves Swagger UI's start-up script as a file, not inline (CSP).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    # GOV.UK Frontend's precompiled CSS asks for its images and fonts at /assets/.
    re_path(
        r"^assets/(?P<path>[\w./-]+)$",
        RedirectView.as_view(url=static("vendor/govuk/assets/") + "%(path)s", permanent=True),
    ),
]


def handler404(request, exception):
    """Under /api/ a 404 is the API's JSON error shape; pages keep the HTML one."""
    if request.path.startswith(API_PREFIX):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    """Under /api/ a 500 is the API's JSON error shape, never an HTML page."""
    if request.path.startswith(API_PREFIX):
        return api_server_error(request)
    return defaults.server_error(request)
