"""Commercial fields in API answers: present for finance and commercial officers,
absent for every other caller, always described in the schema."""

from __future__ import annotations

from accounts.roles import can_see_commercial


def _describing_the_schema(context: dict) -> bool:
    """drf-spectacular builds each view it describes with ``swagger_fake_view`` set; the
    schema then documents every field (the commercial ones marked conditional), whoever
    asked for it, so one caller's request never shapes the schema served to the next."""
    view = context.get("view")
    return bool(getattr(view, "swagger_fake_view", False))


class CommercialFieldsMixin:
    """Drop ``commercial_fields`` unless the caller may see commercial data."""

    commercial_fields: tuple[str, ...] = ()

    def get_fields(self):
        fields = super().get_fields()
        if _describing_the_schema(self.context):
            return fields
        request = self.context.get("request")
        user = getattr(request, "user", None)
        # No request at all is the schema generator too (tests build it that way); the
        # API itself refuses anonymous callers before any serializer runs.
        if getattr(user, "is_authenticated", False) and not can_see_commercial(user):
            for name in self.commercial_fields:
                fields.pop(name, None)
        return fields
