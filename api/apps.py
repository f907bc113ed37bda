from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Integration API"

    def ready(self):
        # Registers the OpenAPI description of the token authentication.
        from api import schema  # noqa: F401
