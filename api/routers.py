"""The router every app's API uses."""

from rest_framework.routers import DefaultRouter


class ApiRouter(DefaultRouter):
    """DRF's default router without the ``.json`` twin of every URL: the API speaks
    JSON only (``Accept`` chooses nothing else), and the twins reached views whose
    extra actions take no ``format`` argument, so they answered 500."""

    include_format_suffixes = False
