"""Workspace pages. ``config.urls`` mounts them; the device page keeps its name in the
``devices`` namespace (see ``config.urls``)."""

app_name = "workspace"

urlpatterns: list = []
