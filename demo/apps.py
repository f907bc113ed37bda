from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of every app and the demo logins. It sits above all the apps, so
    it imports each one's ``demo`` module directly; no app imports it."""

    name = "demo"
    verbose_name = "Demo data"
