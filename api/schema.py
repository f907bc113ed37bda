"""drf-spectacular extensions for the API's own classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ExpiringTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; create a key with `manage.py create_api_token`.",
        }
