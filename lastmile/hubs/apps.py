from django.apps import AppConfig


class HubsConfig(AppConfig):
    name = "lastmile.hubs"
    label = "hubs"
    verbose_name = "Hubs"
