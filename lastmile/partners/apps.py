from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "lastmile.partners"
    label = "partners"
    verbose_name = "Partners"
