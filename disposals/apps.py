from django.apps import AppConfig


class DisposalsConfig(AppConfig):
    name = "disposals"
    verbose_name = "Disposals"
