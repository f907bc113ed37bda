from django.urls import path

from devices import import_views
from devices.views import lists

app_name = "devices"

# The device page (/devices/<pk>/, ``devices:device_detail``) and its actions are
# workspace's: ``config.urls`` adds ``workspace.urls.device_patterns`` to this namespace.

urlpatterns = [
    path("", lists.device_list, name="device_list"),
    path("columns/", lists.device_list_columns, name="device_list_columns"),
    path("bulk/", lists.device_bulk, name="device_bulk"),
    path("import/", import_views.import_list, name="import_list"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("import/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
]
