from django.apps import AppConfig


class RefreshConfig(AppConfig):
    name = "refresh"
    verbose_name = "Refresh planning"

    def ready(self):
        from devices.signals import estate_changed
        from refresh.receivers import eligibility_recompute_on_estate_change

        estate_changed.connect(
            eligibility_recompute_on_estate_change, dispatch_uid="refresh.eligibility_recompute"
        )
