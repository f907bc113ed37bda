"""Query parameters every API list checks before it filters (issue 16): a parameter the
list does not know, or a business unit the caller cannot see, is a 400 naming it.
Silently ignoring either would answer with everything the caller may see.

``KnownParametersFilterBackend`` is the project's default filter backend
(``REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"]``): django-filter's backend, with the
check first. A list knows:

- its filterset's parameters (a range filter's ``_after``/``_before`` and the like),
- its pagination's (``cursor``, ``page_size``, ``page``, ``limit``, ``offset``),
- its other filter backends' (``ordering``, ``search``),
- ``format`` (DRF's format override),
- the query parameters its schema documents (``extend_schema(parameters=...)``), for
  a view that reads parameters itself,
- and any names in the view's ``query_parameters`` attribute.

A view that sets ``filter_backends`` itself keeps the check by listing this backend.
"""

from __future__ import annotations

from django.db.models import Q
from django_filters import rest_framework as django_filters
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from accounts.models import BusinessUnit

# Parameters naming a business unit (by code, or by id): the caller must be able to see it.
UNIT_PARAMETERS = ("business_unit",)
SAFE_METHODS = ("GET", "HEAD")


def _filterset_parameters(filterset_class) -> set[str]:
    names: set[str] = set()
    for name, filter_ in filterset_class.base_filters.items():
        widget = filter_.field_class.widget if hasattr(filter_.field_class, "widget") else None
        widget = filter_.extra.get("widget", widget)
        suffixes = getattr(widget, "suffixes", None)
        if suffixes:
            names.update(f"{name}_{suffix}" if suffix else name for suffix in suffixes)
        else:
            names.add(name)
    return names


def _documented_parameters(view, request) -> set[str]:
    """The query parameters the view's schema documents for this action."""
    handler = getattr(view, getattr(view, "action", None) or request.method.lower(), None)
    schema_class = getattr(handler, "kwargs", {}).get("schema")
    schema = schema_class() if schema_class else getattr(view, "schema", None)
    if schema is None or not hasattr(schema, "get_override_parameters"):
        return set()
    schema.view, schema.method, schema.path = view, request.method, request.path
    try:
        parameters = schema.get_override_parameters()
    except (AttributeError, TypeError):  # a schema class that cannot answer outside generation
        return set()
    return {
        p.name
        for p in parameters
        if isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
    }


def known_parameters(view, request, queryset=None) -> set[str]:
    known = {api_settings.URL_FORMAT_OVERRIDE} - {None}
    known.update(getattr(view, "query_parameters", ()))
    paginator = getattr(view, "paginator", None)
    for attribute in (
        "cursor_query_param",
        "page_size_query_param",
        "page_query_param",
        "limit_query_param",
        "offset_query_param",
    ):
        name = getattr(paginator, attribute, None)
        if name:
            known.add(name)
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, django_filters.DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known |= _filterset_parameters(filterset_class)
        for attribute in ("ordering_param", "search_param"):
            name = getattr(backend, attribute, None)
            if name:
                known.add(name)
    return known | _documented_parameters(view, request)


def _unit_visible(user, value: str) -> bool:
    match = Q(code=value)
    if value.isdigit() and len(value) <= 18:
        match |= Q(pk=int(value))
    return BusinessUnit.objects.visible_to(user).filter(match).exists()


def check_query_parameters(request, view, queryset=None) -> None:
    """Raise a 400 naming each unknown parameter and each business unit the caller
    cannot see (the same words whether it exists elsewhere or not at all)."""
    # Lists only: one object (``retrieve``) is found by its address, and writes carry
    # their input in the body.
    if request.method not in SAFE_METHODS or getattr(view, "action", None) == "retrieve":
        return
    params = request.query_params
    if not params:
        return
    known = known_parameters(view, request, queryset)
    errors: dict[str, list[str]] = {}
    for name in sorted(set(params) - known):
        shown = name if len(name) <= 40 else f"{name[:40]}…"
        errors[shown] = [
            f"Unknown parameter. This list's parameters are: {', '.join(sorted(known))}."
        ]
    for name in getattr(view, "unit_parameters", UNIT_PARAMETERS):
        value = params.get(name)
        if name in known and value and not _unit_visible(request.user, value):
            shown = value if len(value) <= 40 else f"{value[:40]}…"
            errors[name] = [f"Business unit {shown} is not a unit you can see."]
    if errors:
        raise ValidationError(errors)


class KnownParametersFilterBackend(django_filters.DjangoFilterBackend):
    """django-filter's backend, refusing unknown parameters and unseen units first."""

    def filter_queryset(self, request, queryset, view):
        check_query_parameters(request, view, queryset)
        # One object is found by its address within the caller's scope (the view's
        # queryset); a list's filters do not apply to it, and building the filter set
        # was a quarter of a device's GET. (A detail route's own list, such as a
        # device's events, still has its parameters checked above.)
        if getattr(view, "detail", False):
            return queryset
        return super().filter_queryset(request, queryset, view)
