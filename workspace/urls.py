"""Workspace pages. ``config.urls`` mounts them; the device page keeps its name in the
``devices`` namespace (see ``config.urls``)."""

from django.urls import path

from workspace.views import device, device_actions

app_name = "workspace"

# The landing page ("/", ``workspace.views.home``) is mounted by ``config.urls`` under
# its old name ``dashboard``.
urlpatterns: list = []

# The device page and its actions, mounted under /devices/ in the ``devices`` namespace
# (``config.urls`` joins them to ``devices.urls``), so ``devices:device_detail`` and
# ``devices:device_<action>`` reverse to /devices/<pk>/ and /devices/<pk>/<action>/.
DEVICE_ACTION_PATHS = {
    "deploy": "deploy",
    "reassign": "reassign",
    "return": "return",
    "repair": "repair",
    "repair_done": "repair-done",
    "lost": "lost-or-stolen",
    "found": "found",
    "note": "note",
    "at_check": "at-check",
    "disposal": "start-disposal",
}
device_patterns = [
    path("<int:pk>/", device.device_detail, name="device_detail"),
    *(
        path(
            f"<int:pk>/{segment}/",
            device_actions.device_action,
            {"action": action},
            name=f"device_{action}",
        )
        for action, segment in DEVICE_ACTION_PATHS.items()
    ),
]
