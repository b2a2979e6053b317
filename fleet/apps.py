from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "fleet"
    label = "fleet"
    verbose_name = "Fleet and charging"
