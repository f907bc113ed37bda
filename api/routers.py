"""The router every app's API uses."""

from rest_framework.routers import DefaultRouter


class ApiRouter(DefaultRouter):
    """DRF's default router without the ``.json`` twin of every URL: the API speaks
    JSON only (``Accept`` chooses nothing else), and the twins reached views whose
    extra actions take no ``format`` argument, so they answered 500."""

    include_format_suffixes = False

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        """A viewset looked up by its integer primary key only matches digits, so
        ``/purchase-orders/null,null/approve/`` is the API's 404, never a lookup that
        fails converting the text to a number. Viewsets keyed by something else (a
        unit code, a staff number) keep DRF's pattern or set their own."""
        lookup_field = getattr(viewset, "lookup_field", "pk")
        if getattr(viewset, "lookup_value_regex", None) is None and lookup_field in ("pk", "id"):
            viewset.lookup_value_regex = r"[0-9]+"
        return super().get_lookup_regex(viewset, lookup_prefix)
