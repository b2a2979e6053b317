from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "lastmile.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"
