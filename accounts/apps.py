from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, roles and scope"

    def ready(self):
        # Sign-ins, failed sign-ins and lockouts go to the security log.
        from accounts import security_events  # noqa: F401
