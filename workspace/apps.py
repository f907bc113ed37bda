from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The pages where people act on what every app knows: the device page (estate,
    refresh, disposals and entitlement about one device, with the actions the viewer's
    role may take) and each role's landing page with its "for you" list.

    It sits above every domain app and imports each directly; no app imports it."""

    name = "workspace"
    verbose_name = "Workspace"
