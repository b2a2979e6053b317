from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "workforce"
    label = "workforce"
    verbose_name = "Workforce"
