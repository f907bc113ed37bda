from django.urls import path

from devices import import_views
from devices.views import detail, lists

app_name = "devices"

urlpatterns = [
    path("", lists.device_list, name="device_list"),
    path("<int:pk>/", detail.device_detail, name="device_detail"),
    path("import/", import_views.import_list, name="import_list"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("import/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
]
